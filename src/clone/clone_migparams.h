/*
 * clone_migparams.h: the migration capabilities and parameters of a QEMU,
 * saved before a clone changes them and put back after it
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "clone_qmp.h"

/* Migration capability/parameter state of one QEMU, for save and restore. */
typedef struct _cloneMigSettings cloneMigSettings;
struct _cloneMigSettings {
    JsonObject *caps;   /* capability name -> bool, as found */
    JsonObject *params; /* parameter name -> value, as found */
};
void cloneMigSettingsFree(cloneMigSettings *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(cloneMigSettings, cloneMigSettingsFree);

cloneMigSettings *cloneMigSettingsQuery(virDomainPtr dom);
int cloneMigSettingsApply(virDomainPtr dom, JsonObject *caps, JsonObject *params);
int cloneMigSettingsRestore(virDomainPtr dom, cloneMigSettings *saved,
                            JsonObject *touchedCaps, JsonObject *touchedParams);
