/*
 * testutils-guest.h: boot and drive real test guests (tests/guest/) through
 * libvirt's embedded QEMU driver, for integration tests and benchmarks.
 *
 * Environment:
 *   TG_GUEST_DIR   (required) directory holding vmlinuz, initramfs.img and
 *                  accel, i.e. <builddir>/tests/guest (set by meson)
 *   TG_ROOT_BASE   where per-process roots are made (default /var/tmp); keep
 *                  it short: QEMU's UNIX socket paths live under it
 *   TG_ACCEL       kvm|qemu: overrides TG_GUEST_DIR/accel
 *   TG_QEMU_NAMESPACES=0  the embedded root's qemu.conf turns off QEMU's
 *                  private /dev (namespaces = []), for tests/compat/'s chroot
 *   TG_KEEP=1      keep the root (serial logs, ROOT/libvirt.log, QEMU logs
 *                  in ROOT/log/qemu) and do not start the reaper
 *   TG_URI         a libvirt URI (e.g. qemu:///system of a private daemon,
 *                  tests/daemon/run-in-daemon.sh) to use instead of an
 *                  embedded root: the root then only holds the images, serial
 *                  logs and a copy of the kernel and initramfs, readable by
 *                  the daemon's QEMU user (TG_ROOT_BASE must be a directory
 *                  that user can enter, e.g. /var/lib/libvirt/images); the
 *                  daemon's own qemu.conf applies.  tgEnvFree() destroys and
 *                  undefines EVERY domain of that connection: use a private
 *                  daemon.
 *
 * libvirt initialises its embedded driver once per process and binds it to
 * one root for the life of the process: create ONE TgEnv per process (e.g. in
 * main(), before starting threads) and share it between test cases.  Free
 * every TgGuest before the TgEnv.
 *
 * QEMU processes outlive the process that started them, so tgEnvNew() forks
 * a small reaper: if this process ends while the root still exists (failed
 * assertion, crash, timeout kill), it SIGKILLs the root's QEMUs and removes
 * the root.
 *
 * All functions returning int return 0 on success and -1 with @err set on
 * failure; pointer-returning ones return NULL with @err set.
 */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

typedef struct _TgEnv TgEnv;
typedef struct _TgGuest TgGuest;

/* The virtio serial channel of the guests' qemu-ga. */
#define TG_AGENT_NAME "org.qemu.guest_agent.0"

typedef enum {
    TG_MODE_BUSY = 0,
    TG_MODE_IDLE,
} TgMode;

#define TG_DISK_HZ_UNLIMITED G_MAXUINT

/* Zero-initialised fields mean "default". */
typedef struct {
    const char *name_prefix;       /* "tg": names are PREFIX-PID-N */
    guint memory_mib;              /* guest RAM, 512 (< 2816 for tgDumpRam) */
    guint buffer_mib;              /* workload buffer, 128 */
    TgMode mode;                   /* busy */
    gboolean disk_records_off;     /* workload writes no disk records */
    guint disk_hz;                 /* records/s, 20; TG_DISK_HZ_UNLIMITED: no pause */
    gboolean with_genid;           /* add <genid/> */
    const char *extra_devices_xml; /* appended inside <devices> */
    const char *extra_cmdline;     /* appended to the kernel command line */
    const char *mount9p_tag;       /* guest mounts this 9p tag on /mnt */
    const char *nic_bridge;        /* NIC on this host bridge (default: user) */
    gboolean transient;            /* create, not define + start */
    guint boot_timeout_ms;         /* wait for "CLONETEST ready", 90000 */
    gboolean with_agent;           /* virtio channel org.qemu.guest_agent.0:
                                    * the guest runs qemu-ga on it */
    gboolean with_tpm;             /* TPM 2.0 (CRB) backed by swtpm */
    const char *hostname;          /* the guest's host name, "clonetest" */
    gboolean echo;                 /* TCP echo service on the guest's port 7 */
    gboolean dhcp;                 /* eth0 by DHCP, in the background after
                                    * boot (clonetest.ip/gw are ignored) */
    const char *nic_network;       /* NIC on this libvirt network (before
                                    * nic_bridge) */
    const char *cpu_features;      /* CPU features beyond qemu64's, e.g.
                                    * "smep smap" (TgDomainXmlOpts) */
} TgGuestOpts;

/* A "CLONETEST ready" line. */
typedef struct {
    guint64 nonce;
    guint64 records_found;
    guint64 pages;
    TgMode mode;
    guint64 disk_id;
    guint64 boot;                  /* boot count of the record disk */
    guint64 t_ms;                  /* guest time since boot */
} TgReady;

/* A "CLONETEST stat" line. */
typedef struct {
    guint64 t_ms;                  /* guest time since boot */
    guint64 passes;
    guint64 pages_per_s;
    guint64 records;               /* records committed */
    TgMode mode;
    gboolean disk_on;
} TgStat;

/* A "CLONETEST identity" line; a value the guest does not have is "none". */
typedef struct {
    char hostname[65];
    char machine_id[33];           /* /etc/machine-id: 32 hex digits */
    char boot_id[37];              /* the kernel's boot ID (a UUID) */
    char mac[18];                  /* eth0's */
    char ipv4[256];                /* eth0's: "ADDR/PREFIX,..." */
    char genid[33];                /* VM generation ID as the guest reads it
                                    * from its memory: 32 hex digits, the
                                    * GUID's first three fields little-endian */
} TgIdentity;

/* ---- environment: one embedded-driver root per process ----------------- */
/* For the owner of a TG_ROOT: a process that, when ours ends without
 * having removed @root (a failed assertion), kills the QEMUs of @root and
 * removes it.  Must run before any thread starts; keep @fd open. */
int tgRootReaperStart(const char *root, int *fd, GError **err);
/* SIGKILL every QEMU whose command line mentions @root (the domains', and
 * libvirt's capabilities probe that a killed process may leave). */
void tgRootKillQemu(const char *root);
/* Removes @path and everything below it (a warning if it cannot). */
void tgRemoveTree(const char *path);
/* TG_ROOT=DIR: use the embedded root DIR that another process owns; its
 * guests and files are left as they are when this process ends (see
 * tests/test-faults.c, whose caller must open the root in between). */

TgEnv *tgEnvNew(GError **err);
void tgEnvFree(TgEnv *env);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TgEnv, tgEnvFree)

virConnectPtr tgEnvConn(TgEnv *env);
/* Open the connection again (the daemon restarted); then tgGuestReattach()
 * each guest, which looks its domain up again by name. */
int tgEnvReconnect(TgEnv *env, GError **err);
/* Under tests/daemon/run-in-daemon.sh: stops and starts libvirtd again
 * ($LVC_DAEMON_CTL restart); the caller connects again afterwards. */
int tgDaemonRestart(GError **err);
const char *tgEnvRoot(TgEnv *env);
const char *tgEnvGuestDir(TgEnv *env);   /* TG_GUEST_DIR */
const char *tgEnvAccel(TgEnv *env);      /* "kvm" or "qemu" */
/* A qcow2 disk's cache mode in the root: "none" if it supports O_DIRECT,
 * else "writeback". */
const char *tgEnvDiskCache(TgEnv *env);

/* ---- guests ------------------------------------------------------------ */

/* Create a 64 MiB qcow2 disk, define (or create) and start the domain, and
 * wait for the workload's ready line.  @opts may be NULL. */
TgGuest *tgGuestStart(TgEnv *env, const TgGuestOpts *opts, GError **err);

/* Wrap a domain started by someone else (e.g. a clone); serial log and pty
 * are taken from its live XML.  Takes its own reference on @dom. */
TgGuest *tgGuestAdopt(TgEnv *env, virDomainPtr dom, GError **err);

/* Create the transient domain @xml, or define and start it (a domain that
 * does not start is undefined again).  @name is for the error messages. */
virDomainPtr tgDomainCreate(TgEnv *env, const char *xml, gboolean transient,
                            const char *name, GError **err);

/* Start the (persistent, shut off) domain again and wait for its ready line;
 * tgGuestReady() then describes the new boot. */
int tgGuestBoot(TgGuest *g, guint timeout_ms, GError **err);

/* Destroy and undefine the domain (errors ignored: it may be gone already);
 * for guests made by tgGuestStart also delete the disk and serial log. */
void tgGuestFree(TgGuest *g);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TgGuest, tgGuestFree)

int tgGuestReattach(TgGuest *g, GError **err);
virDomainPtr tgGuestDomain(TgGuest *g);
const char *tgGuestName(TgGuest *g);
const char *tgGuestDiskPath(TgGuest *g);     /* top image of vda */
const char *tgGuestSerialLog(TgGuest *g);
const char *tgGuestEnvRoot(TgGuest *g);
const TgReady *tgGuestReady(TgGuest *g);     /* NULL if no ready line seen */

/* ---- serial console ---------------------------------------------------- */

/* Wait for the next complete line of the serial log, after the guest's read
 * position, matching @regex (GRegex syntax).  Every line read, matching or
 * not, is consumed.  The position restarts at 0 when the domain gets a new
 * QEMU process (new domain ID), as the log is then rewritten.  Fails early if
 * the domain stops running.  @line_out (optional) gets the line without its
 * line ending. */
int tgSerialWait(TgGuest *g, const char *regex, guint timeout_ms,
                 char **line_out, GError **err);

/* Send @line (a newline is added) to the guest's serial pty. */
int tgSerialSend(TgGuest *g, const char *line, GError **err);

/* Send @cmd and wait for "CLONETEST ack CMD" (a nak is an error). */
int tgSerialCommand(TgGuest *g, const char *cmd, guint timeout_ms, GError **err);

/* A guest that changes pace during a clone: as a progress callback of
 * virDomainCloneLiveFull() with a TgPace as opaque, it makes the source
 * rewrite its buffer as fast as it can ("rate 0", "busy") once RAM is
 * being copied, once. */
typedef struct {
    TgGuest *src;
    gboolean sped;                 /* it was told */
} TgPace;

void tgPaceSpeedUpCb(virDomainPtr source, int phase, unsigned int percent, void *opaque);

/* Wait for the next stat line (see tgSerialWait) and parse it. */
int tgSerialWaitStat(TgGuest *g, guint timeout_ms, TgStat *st, GError **err);

/* Parse the newest stat line of the whole log (the read position is not
 * used nor moved). */
int tgLastStat(TgGuest *g, TgStat *st, GError **err);

/* Line parsers; return 0, or -1 if @line is not such a line. */
int tgParseStat(const char *line, TgStat *st);
int tgParseReady(const char *line, TgReady *ready);
int tgParseIdentity(const char *line, TgIdentity *id);

/* ---- guest queries (serial commands, see tests/guest/README.md) -------- */

/* "identity": the guest's host name, machine ID, boot ID, eth0 MAC and
 * IPv4 addresses and VM generation ID. */
int tgGuestIdentity(TgGuest *g, TgIdentity *id, GError **err);

/* "tpm pcrs": the 24 SHA-256 PCRs as lower-case hex strings (@pcrs_out,
 * NULL-terminated, g_strfreev() it); an error if the guest has no TPM. */
int tgGuestTpmPcrs(TgGuest *g, char ***pcrs_out, GError **err);

/* "kmsg SUBSTR": whether the kernel's log buffer has a message containing
 * @substr, and the first such message (@line, optional; NULL if none). */
int tgGuestKmsgFind(TgGuest *g, const char *substr, gboolean *found,
                    char **line, GError **err);

/* "mempattern": eight mlocked pages of the guest, at least one above 4 GiB,
 * that hold clonetestMemWord(@seed, GPA, k) (tests/guest/clonetest-format.h)
 * at their guest-physical addresses @gpas (a GArray of guint64), and the
 * guest's "Kernel code" range [@kstart, @kend]. */
int tgGuestMemPattern(TgGuest *g, guint64 *seed, guint64 *kstart, guint64 *kend,
                      GArray **gpas, GError **err);

/* ---- guest agent ------------------------------------------------------- */

/* Send @json to the guest's qemu-ga (TgGuestOpts.with_agent) through
 * virDomainQemuAgentCommand and give its reply in @reply (optional).
 * libvirt answers "not connected" until qemu-ga has opened its port, a few
 * seconds after the ready line: retry until then, up to @timeout_ms. */
int tgGuestAgentCommand(TgGuest *g, const char *json, guint timeout_ms,
                        char **reply, GError **err);

/* ---- test programs --------------------------------------------------------- */

/* tgGuestStart(), failing the test program (g_error) when it fails. */
TgGuest *tgGuestStartOrDie(TgEnv *env, const TgGuestOpts *opts);

/* The first match of group 1 of @regex in @dom's live XML, or NULL. */
char *tgDomainXMLMatch(virDomainPtr dom, const char *regex);

/* Set @err to "MESSAGE: libvirt's last error" and reset that error. */
void tgVirError(GError **err, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Run @argv (no shell, PATH searched) and fail with its stderr if it does
 * not exit 0. */
int tgRun(const char *const *argv, GError **err);

/* virSetErrorFunc() callback that prints nothing: tests check the errors
 * they expect, libvirt's default handler would print them on stderr. */
void tgQuietErrors(void *opaque, virErrorPtr err);

/* virCloneSetLogFunc() callback: the library's info, warnings and errors
 * as test messages. */
void tgLibLogToTest(int priority, const char *message, void *opaque);

/* ---- leftovers ------------------------------------------------------------ */

/* The names in @dir (a set; empty if it cannot be read). */
GHashTable *tgListDir(const char *dir);

/* How many names @dir has that @before (from tgListDir) had not; each is
 * reported with g_test_message("left behind: ..."). */
guint tgNewEntries(const char *dir, GHashTable *before);

/* Running and defined domains of the environment's connection. */
guint tgNumDomains(TgEnv *env);

/* The PID of the QEMU of domain @name, found by its command line; 0 if none. */
pid_t tgFindQemu(const char *name);

/* ---- state capture ----------------------------------------------------- */

/* Write guest physical memory [0, @bytes) to @path with QMP pmemsave
 * (@bytes 0: the domain's current memory).  Pause the domain first for a
 * consistent dump.  q35 maps all RAM at 0..size only below 2816 MiB: larger
 * dumps are refused. */
int tgDumpRam(virDomainPtr dom, const char *path, guint64 bytes, GError **err);

/* qemu-img convert -U -O raw @qcow2_top @raw_out (works while in use). */
int tgDiskToRaw(const char *qcow2_top, const char *raw_out, GError **err);
