/*
 * clone_internal.h: definitions shared by the files of libvirt-clone.so
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#define VIR_ENUM_SENTINELS
#include "config.h"

#include <glib.h>
#include <glib/gi18n-lib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "libvirt-clone/libvirt-clone.h"

#define CLONE_EXPORT __attribute__((visibility("default")))

/* runtime state of clones (sandbox alert watchers), root only */
#define CLONE_RUN_DIR "/run/libvirt-clone"

/* XML namespace of the metadata that marks a domain as a clone */
#define CLONE_METADATA_NS "http://libvirt.org/schemas/clone/1.0"
#define CLONE_METADATA_PREFIX "clone"

/* Rejects unknown flags the way libvirt's virCheckFlags does. */
#define cloneCheckFlags(supported, retval) \
    do { \
        unsigned int unknown_ = flags & ~(unsigned int)(supported); \
        if (unknown_) { \
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, \
                                _("unsupported flags (0x%1$x) in function %2$s"), \
                                unknown_, __func__); \
            return retval; \
        } \
    } while (0)

#define cloneCheckNonNull(arg, retval) \
    do { \
        if (!(arg)) { \
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, \
                                _("argument '%1$s' must not be NULL in function %2$s"), \
                                #arg, __func__); \
            return retval; \
        } \
    } while (0)

/* The strategy flags (PRECOPY, BACKGROUND) exclude each other, and the
 * statistics come as a pair or not at all. */
#define cloneCheckJobArgs(precopyFlag, backgroundFlag, stats, nstats, retval) \
    do { \
        if ((flags & (precopyFlag)) && (flags & (backgroundFlag))) { \
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s", \
                                _("flags PRECOPY and BACKGROUND are mutually exclusive")); \
            return retval; \
        } \
        if (((stats) == NULL) != ((nstats) == NULL)) { \
            virCloneReportError(VIR_CLONE_ERR_INVALID_ARG, "%s", \
                                _("stats and nstats must both be set or both be NULL")); \
            return retval; \
        } \
    } while (0)

/* Declares ENUMToString/ENUMFromString for an enum ending in _LAST, in the way
 * of libvirt's VIR_ENUM_DECL/VIR_ENUM_IMPL, with a compile-time size check. */
#define CLONE_ENUM_DECL(name) \
    const char *name##TypeToString(int type); \
    int name##TypeFromString(const char *type)

#define CLONE_ENUM_IMPL(name, lastVal, ...) \
    static const char *const name##TypeList[] = { __VA_ARGS__ }; \
    G_STATIC_ASSERT(G_N_ELEMENTS(name##TypeList) == lastVal); \
    const char *name##TypeToString(int type) \
    { \
        if (type < 0 || type >= (int)G_N_ELEMENTS(name##TypeList)) \
            return NULL; \
        return name##TypeList[type]; \
    } \
    int name##TypeFromString(const char *type) \
    { \
        if (!type) \
            return -1; \
        for (size_t i_ = 0; i_ < G_N_ELEMENTS(name##TypeList); i_++) \
            if (g_str_equal(name##TypeList[i_], type)) \
                return (int)i_; \
        return -1; \
    }

/* clone_error.c */
void virCloneReportErrorFull(int code, int libvirtCode,
                             const char *file, const char *func, int line,
                             const char *fmt, ...) G_GNUC_PRINTF(6, 7);
#define virCloneReportError(code, ...) \
    virCloneReportErrorFull(code, 0, __FILE__, __func__, __LINE__, __VA_ARGS__)

void virCloneReportLibvirtErrorFull(virErrorPtr lverr, int code,
                                    const char *file, const char *func, int line,
                                    const char *fmt, ...) G_GNUC_PRINTF(6, 7);
/* Reports an error whose message ends with libvirt's last error message.
 * libvirt's error is saved first: every public libvirt call, even
 * virDomainGetName() in the arguments, resets it. */
#define virCloneReportLibvirtError(code, ...) \
    do { \
        virErrorPtr lverr_ = virSaveLastError(); \
        virCloneReportLibvirtErrorFull(lverr_, code, __FILE__, __func__, __LINE__, __VA_ARGS__); \
        virFreeError(lverr_); \
    } while (0)

void virCloneReportSystemErrorFull(int errnum,
                                   const char *file, const char *func, int line,
                                   const char *fmt, ...) G_GNUC_PRINTF(5, 6);
#define virCloneReportSystemError(errnum, ...) \
    virCloneReportSystemErrorFull(errnum, __FILE__, __func__, __LINE__, __VA_ARGS__)

/* Saves and restores the thread's last error around cleanup code that may
 * itself fail, so that the first error is the one the caller sees. */
typedef struct _virCloneSavedError virCloneSavedError;
virCloneSavedError *virCloneSaveLastError(void);
void virCloneRestoreLastError(virCloneSavedError *saved);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virCloneSavedError, virCloneRestoreLastError);

void virCloneLog(int priority, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
#define CLONE_DEBUG(...) virCloneLog(VIR_CLONE_LOG_DEBUG, __VA_ARGS__)
#define CLONE_INFO(...) virCloneLog(VIR_CLONE_LOG_INFO, __VA_ARGS__)
#define CLONE_WARN(...) virCloneLog(VIR_CLONE_LOG_WARN, __VA_ARGS__)

/* Library-wide one-time initialisation (gettext). */
void virCloneInitialize(void);

/* autoptr for libvirt handles */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virDomain, virDomainFree);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(virConnect, virConnectClose);
