/*
 * testutils-distro.h: boot and drive the Debian 12 test guest
 * (tests/guest/debian/) through libvirt, by direct kernel boot or by its own
 * bootloader under UEFI (OVMF with an NVRAM file).
 *
 * Builds on testutils-guest.h: a TgDistro lives in a TgEnv (one embedded
 * driver root per process), and its serial console is a TgGuest (see
 * tgDistroGuest() for tgSerialWait() and friends).
 *
 * Environment:
 *   TG_DISTRO_BUILD  tests/guest/debian/build-debian-guest.sh (set by meson);
 *                    run once per process, it builds the image once per
 *                    machine (cached; minutes the first time)
 *   TG_DISTRO_DIR    where the image is (default
 *                    /var/lib/libvirt-clone/debian-guest); with it and
 *                    without TG_DISTRO_BUILD the image is only used
 *
 * Each guest boots from its own qcow2 overlay on the shared image, made in
 * the TgEnv's root; under UEFI its NVRAM is made by libvirt from OVMF's
 * template, also in the root.  The guest prints
 *   DEBTEST failed UNIT                   (per failed unit)
 *   DEBTEST ready STATE stack=S machine-id=ID uptime=SECONDS
 * on its serial console once systemd has finished booting.
 *
 * All functions returning int return 0 on success and -1 with @err set on
 * failure; pointer-returning ones return NULL with @err set.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

#include "testutils-guest.h"

typedef struct _TgDistro TgDistro;

/* Where the guest's NIC goes. */
typedef enum {
    TG_DISTRO_NIC_USER = 0,        /* QEMU user-mode network (DHCP by slirp) */
    TG_DISTRO_NIC_NONE,            /* no NIC */
    TG_DISTRO_NIC_BRIDGE,          /* <interface type='bridge'>: nic_source */
    TG_DISTRO_NIC_NETWORK,         /* <interface type='network'>: nic_source */
} TgDistroNic;

/* Zero-initialised fields mean "default". */
typedef struct {
    const char *name_prefix;       /* "debtest": names are PREFIX-PID-N */
    const char *stack;             /* lvc.netstack: networkd (default), netplan,
                                    * networkmanager, ifupdown, none */
    gboolean uefi;                 /* OVMF + the disk's grub, with an NVRAM file;
                                    * else direct kernel boot */
    guint memory_mib;              /* 1024 */
    TgDistroNic nic;               /* user */
    const char *nic_source;        /* bridge or libvirt network name */
    const char *mac;               /* the NIC's MAC (default: libvirt's choice) */
    gboolean with_genid;           /* add <genid/> */
    const char *extra_cmdline;     /* direct kernel boot only */
    const char *extra_devices_xml; /* appended inside <devices> */
    gboolean transient;            /* create, not define + start */
    guint boot_timeout_ms;         /* wait for "DEBTEST ready", 300000 */
} TgDistroOpts;

/* A "DEBTEST ready" line and the "DEBTEST failed" lines before it. */
typedef struct {
    char state[32];                /* systemctl is-system-running */
    char stack[32];                /* the stack the guest chose */
    char machine_id[33];
    double uptime_s;               /* /proc/uptime when the line was printed */
    char failed[1024];             /* failed units, space-separated, or "" */
} TgDistroReady;

/* The image the guests boot from: build it if needed (see TG_DISTRO_BUILD).
 * Called by tgDistroStart(); call it first to time the build apart. */
int tgDistroImageEnsure(GError **err);

/* The image's directory and a value of its "info" file (CMDLINE, ROOT_UUID,
 * KERNEL_VERSION, OVMF_CODE, OVMF_VARS, BUILD_SECONDS, INPUTS), or NULL
 * before tgDistroImageEnsure(). */
const char *tgDistroImageDir(void);
const char *tgDistroImageInfo(const char *key);

/* Make the overlay, define (or create) and start the domain, and wait for
 * its ready line.  @opts may be NULL. */
TgDistro *tgDistroStart(TgEnv *env, const TgDistroOpts *opts, GError **err);

/* Wrap a domain started by someone else (e.g. a live clone of a TgDistro).
 * Takes its own reference on @dom; tgDistroFree() destroys and undefines
 * it but deletes none of its files. */
TgDistro *tgDistroAdopt(TgEnv *env, virDomainPtr dom, GError **err);

/* Make tgDistroFree() of an adopted guest delete its files too: the top
 * image of its disk, its NVRAM and its serial log, as its live XML names
 * them (a transient clone's files outlive it when no hook removes them). */
void tgDistroOwnFiles(TgDistro *d);

/* Wait for the next "DEBTEST ready" line (after a (re)boot). */
int tgDistroWaitReady(TgDistro *d, guint timeout_ms, TgDistroReady *ready,
                      GError **err);

/* Destroy and undefine the domain (with its NVRAM); for guests made by
 * tgDistroStart also delete their NVRAM, serial log and every image of
 * their disk's chain in the TgEnv's root (their overlay, and the tops that
 * live clones added): free a source's clones first. */
void tgDistroFree(TgDistro *d);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TgDistro, tgDistroFree)

virDomainPtr tgDistroDomain(TgDistro *d);
const char *tgDistroName(TgDistro *d);
TgGuest *tgDistroGuest(TgDistro *d);           /* serial console helpers */
const TgDistroReady *tgDistroReadyInfo(TgDistro *d); /* of tgDistroStart */
double tgDistroBootSeconds(TgDistro *d);       /* start to ready line, host time */
/* The NVRAM file from the live XML (NULL without UEFI); g_free() it. */
char *tgDistroNvramPath(TgDistro *d);

/* ---- guest agent (qemu-ga from Debian's package) ----------------------- */

/* Send @json through virDomainQemuAgentCommand, retrying while qemu-ga has
 * not opened its port, up to @timeout_ms; @reply (optional) gets the answer. */
int tgDistroAgentCommand(TgDistro *d, const char *json, guint timeout_ms,
                         char **reply, GError **err);

/* guest-ping until it answers. */
int tgDistroAgentPing(TgDistro *d, guint timeout_ms, GError **err);

/* Run @argv (argv[0] found in the agent's PATH) with guest-exec, wait for it
 * with guest-exec-status, up to @timeout_ms in all.  @exit_code gets its exit
 * status (128 + N if killed by signal N); @out and @errout (both optional)
 * its output.  A command that runs and fails is not an error. */
int tgDistroExec(TgDistro *d, const char *const *argv, guint timeout_ms,
                 int *exit_code, char **out, char **errout, GError **err);

/* tgDistroExec() of a command that must exit 0: its stdout, stripped. */
char *tgDistroExecOut(TgDistro *d, const char *const *argv, guint timeout_ms,
                      GError **err);
