/*
 * libvirt-clone.h: live cloning of running libvirt/QEMU domains
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The API follows libvirt's conventions: opaque libvirt handles in and out,
 * an "unsigned int flags" argument on every call, unknown flags rejected, and
 * a thread-local last error that the caller reads after a failure.
 *
 * Thread safety: every function may be called from any thread.  Two clones of
 * the same source never run at once; see VIR_DOMAIN_CLONE_LIVE_WAIT.
 *
 * Event loop: a connection to the embedded driver (qemu:///embed?root=DIR)
 * requires the caller to run a libvirt event loop (virEventRegisterDefaultImpl
 * before virConnectOpen, then virEventRunDefaultImpl in a thread).  With other
 * connections an event loop is recommended: without one the library polls QEMU
 * and the source's pause grows by the polling interval.
 */
#ifndef LIBVIRT_CLONE_H
#define LIBVIRT_CLONE_H

#include <libvirt/libvirt.h>

#ifdef __cplusplus
extern "C" {
#endif

/* LIBVIRT_CLONE_VERSION_MAJOR, _MINOR and _MICRO, generated from the
 * project's version in meson.build */
#include <libvirt-clone/libvirt-clone-version.h>

/**
 * virDomainCloneLiveFlags:
 *
 * Flags for virDomainCloneLive() and virDomainCloneLiveFull().
 * PRECOPY and BACKGROUND are mutually exclusive; without either the
 * strategy comes from the policy (default: automatic choice).
 *
 * Since: 0.1.0
 */
typedef enum {
    /* leave the clone paused instead of resuming it (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PAUSED = (1 << 0),
    /* define the clone, so that it survives its shutdown (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PERSISTENT = (1 << 1),
    /* wait for a clone of the same source that is under way instead of
     * failing with VIR_CLONE_ERR_BUSY (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_WAIT = (1 << 2),
    /* force the pre-copy strategy (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PRECOPY = (1 << 3),
    /* force the background-snapshot strategy (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_BACKGROUND = (1 << 4),
} virDomainCloneLiveFlags;

/**
 * virDomainCloneLivePhase:
 *
 * The phases a clone goes through, as reported to the progress callback.
 * Each is reported once, in this order, except that the background
 * strategy pauses the source and forks the disks (SWITCHOVER) before it
 * copies RAM (COPY_RAM).  ROLLBACK replaces the rest after a failure; after
 * the automatic fallback from pre-copy the phases from START_CLONE on are
 * reported again.
 *
 * Since: 0.1.0
 */
typedef enum {
    VIR_DOMAIN_CLONE_LIVE_PHASE_PREPARE = 0, /* checks, clone XML, overlays (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_START_CLONE, /* clone QEMU started in incoming mode (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_COPY_RAM,    /* RAM being copied; percent is valid (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_SWITCHOVER,  /* source paused, disks forked (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_FINISH,      /* source resumed, clone being finished (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_DONE,        /* clone ready (Since: 0.1.0) */
    VIR_DOMAIN_CLONE_LIVE_PHASE_ROLLBACK,    /* undoing a failed clone (Since: 0.1.0) */

#ifdef VIR_ENUM_SENTINELS
    VIR_DOMAIN_CLONE_LIVE_PHASE_LAST
#endif
} virDomainCloneLivePhase;

/**
 * virDomainCloneLiveProgressCallback:
 * @source: the domain being cloned
 * @phase: a virDomainCloneLivePhase
 * @percent: percentage of the source's RAM copied so far (0-100)
 * @opaque: the caller's data
 *
 * Called from the thread that called virDomainCloneLiveFull().  It must not
 * call back into libvirt-clone for the same source.
 *
 * Since: 0.1.0
 */
typedef void (*virDomainCloneLiveProgressCallback)(virDomainPtr source,
                                                   int phase,
                                                   unsigned int percent,
                                                   void *opaque);

/* Names of the statistics returned by virDomainCloneLiveFull(); read them
 * with libvirt's virTypedParamsGet*() functions. */

/* the strategy used: "precopy" or "background" (string) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_STRATEGY "strategy"
/* name of the clone (string) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_NAME "name"
/* UUID of the clone (string) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_UUID "uuid"
/* the source's pause from QEMU's STOP to RESUME event, in microseconds
 * (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_SOURCE_PAUSE "source_pause_us"
/* downtime reported by QEMU, in milliseconds (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_DOWNTIME "downtime_ms"
/* time from the call to a running (or paused, if asked) clone, in
 * microseconds (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_TOTAL "total_us"
/* time spent starting the clone's QEMU, in microseconds (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_CLONE_START "clone_start_us"
/* time spent forking the disks, in microseconds (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_DISK_FORK "disk_fork_us"
/* bytes sent from the source to the clone (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_BYTES "bytes"
/* number of pre-copy passes over RAM (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_PASSES "passes"
/* number of pre-copy attempts abandoned for the background strategy by the
 * automatic choice (ullong) (Since: 0.1.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_FALLBACKS "fallbacks"
/* steps carried out inside the guest by its agent: new MACs, addresses
 * removed, host name, machine-id, new addresses (ullong) (Since: 0.4.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_STEPS "guest_steps"
/* steps inside the guest that failed and were let go, as the policy's
 * <guest-agent on-failure='warn'/> allows (ullong) (Since: 0.4.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_FAILED "guest_steps_failed"
/* time the steps inside the guest took before the links came up, in
 * microseconds (ullong) (Since: 0.4.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_GUEST_IDENTITY "guest_identity_us"
/* time from the clone's resume until its links were up and, where the
 * policy asks for them, its new addresses in place, in microseconds; 0
 * when its links stay down (ullong) (Since: 0.4.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_NETWORK_UP "network_up_us"
/* the automatic choice of the strategy: the source's dirty rate sampled
 * before the copy (QEMU's calc-dirty-rate), in bytes per second; 0 when
 * nothing was sampled: a forced strategy, or QEMU before 8.2 (ullong)
 * (Since: 0.6.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_DIRTY_RATE "dirty_rate"
/* the copy's rate the automatic choice predicted with, in bytes per
 * second: this host's last pre-copies, or the policy's bandwidth; 0 when
 * nothing was sampled (ullong) (Since: 0.6.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_COPY_RATE "copy_rate"
/* the pre-copy passes the automatic choice predicted; 0 when it chose the
 * background snapshot or nothing was sampled (ullong) (Since: 0.6.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_PREDICTED_PASSES "predicted_passes"

virDomainPtr virDomainCloneLive(virDomainPtr dom,
                                const char *policyXML,
                                unsigned int flags);

virDomainPtr virDomainCloneLiveFull(virDomainPtr dom,
                                    const char *policyXML,
                                    virDomainCloneLiveProgressCallback cb,
                                    void *opaque,
                                    virTypedParameterPtr *stats,
                                    int *nstats,
                                    unsigned int flags);

const char *virDomainCloneLivePhaseToString(int phase);

char *virDomainCloneLivePolicyNormalize(const char *policyXML,
                                        unsigned int flags);

int virConnectCloneLiveReap(virConnectPtr conn, unsigned int flags);

/**
 * virCloneErrorNumber:
 *
 * The error codes of libvirt-clone.
 *
 * Since: 0.1.0
 */
typedef enum {
    VIR_CLONE_ERR_OK = 0,            /* no error (Since: 0.1.0) */
    VIR_CLONE_ERR_INTERNAL,          /* internal error (Since: 0.1.0) */
    VIR_CLONE_ERR_INVALID_ARG,       /* invalid argument or flags (Since: 0.1.0) */
    VIR_CLONE_ERR_NO_DOMAIN,         /* the domain does not exist (Since: 0.1.0) */
    VIR_CLONE_ERR_OPERATION_INVALID, /* the domain is not in a state that allows it (Since: 0.1.0) */
    VIR_CLONE_ERR_UNSUPPORTED,       /* a device or configuration that cannot be cloned (Since: 0.1.0) */
    VIR_CLONE_ERR_BUSY,              /* another clone or a libvirt job runs on the source (Since: 0.1.0) */
    VIR_CLONE_ERR_POLICY,            /* invalid clone policy (Since: 0.1.0) */
    VIR_CLONE_ERR_LIBVIRT,           /* a libvirt call failed (Since: 0.1.0) */
    VIR_CLONE_ERR_QEMU,              /* QEMU refused a command (Since: 0.1.0) */
    VIR_CLONE_ERR_MIGRATION,         /* the memory copy failed (Since: 0.1.0) */
    VIR_CLONE_ERR_DISK,              /* a disk could not be forked (Since: 0.1.0) */
    VIR_CLONE_ERR_SYSTEM,            /* a system call failed (Since: 0.1.0) */
    VIR_CLONE_ERR_TIMEOUT,           /* an operation took too long (Since: 0.1.0) */
    VIR_CLONE_ERR_GUEST,             /* a step inside the guest failed, or no guest agent (Since: 0.4.0) */
    VIR_CLONE_ERR_NO_TEMPLATE,       /* the template does not exist (Since: 0.5.0) */

#ifdef VIR_ENUM_SENTINELS
    VIR_CLONE_ERR_LAST
#endif
} virCloneErrorNumber;

typedef struct _virCloneError virCloneError;
typedef virCloneError *virCloneErrorPtr;

/**
 * virCloneError:
 *
 * The last error of the calling thread.
 *
 * Since: 0.1.0
 */
struct _virCloneError {
    int code;         /* virCloneErrorNumber */
    int libvirtCode;  /* the virErrorNumber behind it, or 0 */
    char *message;    /* a whole, translated sentence */
};

virCloneErrorPtr virCloneGetLastError(void);
const char *virCloneGetLastErrorMessage(void);
void virCloneResetLastError(void);

/**
 * virCloneLogPriority:
 *
 * Since: 0.1.0
 */
typedef enum {
    VIR_CLONE_LOG_DEBUG = 1,   /* (Since: 0.1.0) */
    VIR_CLONE_LOG_INFO,        /* (Since: 0.1.0) */
    VIR_CLONE_LOG_WARN,        /* (Since: 0.1.0) */
    VIR_CLONE_LOG_ERROR,       /* (Since: 0.1.0) */
} virCloneLogPriority;

/**
 * virCloneLogFunc:
 *
 * Receives the library's log messages (the library itself never prints).
 *
 * Since: 0.1.0
 */
typedef void (*virCloneLogFunc)(int priority, const char *message, void *opaque);

void virCloneSetLogFunc(virCloneLogFunc func, void *opaque);

/**
 * virDomainCloneSandboxEventType:
 *
 * What a virDomainCloneSandboxEvent reports.
 *
 * Since: 0.3.0
 */
typedef enum {
    /* frames the clone sent to one destination (Since: 0.3.0) */
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_TRAFFIC = 0,
    /* frames the kernel dropped before the watch could read them (the
     * clone sent faster than the watch reads); @count says how many, on
     * @device; the protocol and destination fields are NULL (Since: 0.3.0) */
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST,
    /* every watched tap device is gone (the clone stopped): the last event
     * of the watch, which stays registered until it is unwatched
     * (Since: 0.3.0) */
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_END,
    /* the guest kernel differs from its baseline (a watch of
     * virDomainCloneIntegrityWatch()): @integrity says what, @address,
     * @oldValue, @newValue and @cpu where, @action what the watch did; the
     * network fields are NULL, @dstPort -1, @count 1 (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY,

#ifdef VIR_ENUM_SENTINELS
    VIR_DOMAIN_CLONE_SANDBOX_EVENT_LAST
#endif
} virDomainCloneSandboxEventType;

typedef struct _virDomainCloneSandboxEvent virDomainCloneSandboxEvent;

/**
 * virDomainCloneSandboxEvent:
 *
 * A summary of frames a watched clone sent: one event for the first frame
 * to a new destination, as soon as it is seen, then one per second with
 * the number of frames to that destination since the last event, while
 * they continue.  A destination is the tuple (device, protocol, kind,
 * dstMac, dstAddr, dstPort).
 *
 * A watch remembers at most 4096 destinations; when a clone contacts more
 * within 10 seconds, the frames to further new destinations are summed per
 * device, protocol and kind, with dstAddr "*", dstMac NULL and dstPort -1.
 *
 * The library owns the event and its strings; they are valid during the
 * callback only.  Fields may be added at the end in later versions: never
 * allocate this structure.
 *
 * Since: 0.3.0
 */
struct _virDomainCloneSandboxEvent {
    int type;             /* virDomainCloneSandboxEventType */
    long long timeMs;     /* when the first frame counted in this event was
                           * seen, in milliseconds since the Epoch; for
                           * VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY, when
                           * the check that found the difference ended,
                           * before the action */
    const char *clone;    /* the clone's name */
    const char *device;   /* the tap device the frames came from ("vnet3");
                           * NULL for VIR_DOMAIN_CLONE_SANDBOX_EVENT_END */
    const char *protocol; /* "arp", "icmp", "icmpv6", "udp", "tcp", "ipv4"
                           * (another IPv4 protocol or a fragment), "ipv6",
                           * or "other" (another ethertype) */
    const char *kind;     /* a detail, or NULL: tcp "syn" (a connection
                           * attempt), "syn-ack", "rst" or "segment"; ICMP
                           * and ICMPv6 types ("echo-request", "type-42");
                           * arp "request", "reply", "probe", "announce";
                           * ipv4/ipv6 "proto-47", "fragment"; other
                           * "ethertype-0x88cc" or "llc" */
    const char *dstMac;   /* destination MAC ("ff:ff:ff:ff:ff:ff") */
    const char *dstAddr;  /* destination IPv4 or IPv6 address; for ARP and
                           * neighbour solicitations the address asked
                           * for; NULL for other ethertypes */
    int dstPort;          /* TCP or UDP destination port, or -1 */
    unsigned int count;   /* frames summed in this event */

    /* the fields below are set by VIR_DOMAIN_CLONE_SANDBOX_EVENT_INTEGRITY
     * events only (Since: 0.7.0) */
    const char *integrity; /* what differs: "text" or "rodata" (kernel
                            * image bytes), "idt-gate", "idtr", "gdt-entry",
                            * "gdtr", "cr0.wp", "cr4.smep", "cr4.smap",
                            * "mapping" (a read-only kernel page remapped or
                            * made writable), "cpus" (vCPU count) */
    unsigned long long address;  /* the kernel virtual address of the first
                                  * byte changed, the gate, the entry, the
                                  * page or the table base; 0 for a bit */
    unsigned long long oldValue; /* the baseline's value: up to 8 bytes of
                                  * text (little-endian), a gate's target,
                                  * a table base, a bit (0 or 1) */
    unsigned long long newValue; /* the value found now, the same way */
    int cpu;                     /* the vCPU of a register difference, -1
                                  * for a memory difference */
    const char *action;          /* what the watch did on this event:
                                  * "alert" (nothing but this report),
                                  * "paused" (the clone), or "destroying"
                                  * (the clone is paused, and destroyed
                                  * right after this event: an END event
                                  * follows once it is gone) */
};

/**
 * virDomainCloneSandboxEventCallback:
 * @clone: the watched domain; NULL for a watch made with
 *         virDomainCloneSandboxWatchDevices()
 * @event: what the clone sent
 * @opaque: the caller's data
 *
 * Called from the watch's own thread, one call at a time per watch.  It
 * must return quickly: frames that arrive while it runs wait in the
 * kernel's socket buffer and are lost (VIR_DOMAIN_CLONE_SANDBOX_EVENT_LOST)
 * when it is full.  It may call virDomainCloneSandboxUnwatch(), also for
 * its own watch; no event follows that call.
 *
 * Since: 0.3.0
 */
typedef void (*virDomainCloneSandboxEventCallback)(virDomainPtr clone,
                                                   const virDomainCloneSandboxEvent *event,
                                                   void *opaque);

int virDomainCloneSandboxWatch(virDomainPtr clone,
                               virDomainCloneSandboxEventCallback cb,
                               void *opaque,
                               virFreeCallback freecb,
                               unsigned int flags);

int virDomainCloneSandboxWatchDevices(const char *cloneName,
                                      const char *const *devices,
                                      virDomainCloneSandboxEventCallback cb,
                                      void *opaque,
                                      virFreeCallback freecb,
                                      unsigned int flags);

int virDomainCloneSandboxUnwatch(int watchID);

const char *virDomainCloneSandboxEventTypeToString(int type);

/* ---- templates ----------------------------------------------------------- */

/**
 * virCloneTemplate:
 *
 * A template: a running domain captured at one instant (its RAM in a file,
 * its device state saved once, its disks' images at that instant made
 * read-only bases), from which any number of domains start, each mapping
 * the RAM copy-on-write.  A template belongs to a connection's host (the
 * run directory of its driver, as the job records do) and outlives the
 * process that made it and libvirtd restarts, not the host's reboot.  The
 * handle is a name within a connection, like libvirt's object handles.
 *
 * Since: 0.5.0
 */
typedef struct _virCloneTemplate virCloneTemplate;
typedef virCloneTemplate *virCloneTemplatePtr;

/**
 * virCloneTemplateCreateFlags:
 *
 * Flags for virDomainCloneTemplateCreate(); WAIT, PRECOPY and BACKGROUND
 * mean what the VIR_DOMAIN_CLONE_LIVE_ flags of the same values mean.
 *
 * Since: 0.5.0
 */
typedef enum {
    /* wait for a clone or template of the same source under way (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CREATE_WAIT = (1 << 2),
    /* force the pre-copy strategy (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CREATE_PRECOPY = (1 << 3),
    /* force the background-snapshot strategy (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CREATE_BACKGROUND = (1 << 4),
    /* delete the template when the last domain started from it is gone
     * (destroyed, shut down or undefined), once one has been (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE = (1 << 5),
} virCloneTemplateCreateFlags;

/**
 * virCloneTemplateCloneFlags:
 *
 * Flags for virCloneTemplateCreateDomain() and virDomainCloneReset().
 *
 * Since: 0.5.0
 */
typedef enum {
    /* leave the domain paused (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CLONE_PAUSED = (1 << 0),
    /* define the domain (not for virDomainCloneReset()) (Since: 0.5.0) */
    VIR_CLONE_TEMPLATE_CLONE_PERSISTENT = (1 << 1),
} virCloneTemplateCloneFlags;

/**
 * virCloneTemplateProgressCallback:
 * @tmpl: the template a domain starts from
 * @phase: a virDomainCloneLivePhase: PREPARE, START_CLONE, COPY_RAM (the
 *         saved device state being loaded), FINISH, DONE, or ROLLBACK
 * @percent: 0 until DONE, then 100
 * @opaque: the caller's data
 *
 * Since: 0.5.0
 */
typedef void (*virCloneTemplateProgressCallback)(virCloneTemplatePtr tmpl,
                                                 int phase,
                                                 unsigned int percent,
                                                 void *opaque);

/* Keys of virCloneTemplateGetInfo() (Since: 0.5.0 for each) */
/* the source domain's name and UUID (string) */
#define VIR_CLONE_TEMPLATE_INFO_SOURCE_NAME "source_name"
#define VIR_CLONE_TEMPLATE_INFO_SOURCE_UUID "source_uuid"
/* when the template was made, seconds since the Epoch (ullong) */
#define VIR_CLONE_TEMPLATE_INFO_CREATED "created"
/* the guest's RAM, bytes (ullong) */
#define VIR_CLONE_TEMPLATE_INFO_MEMORY "memory"
/* the domains that start from it and still exist (uint) */
#define VIR_CLONE_TEMPLATE_INFO_CLONES "clones"
/* the directory of its files (string) */
#define VIR_CLONE_TEMPLATE_INFO_DIRECTORY "directory"
/* 1 when its domains share its RAM copy-on-write, 0 when each copies it (int) */
#define VIR_CLONE_TEMPLATE_INFO_SHARING "sharing"
/* 1 when made with VIR_CLONE_TEMPLATE_CREATE_AUTO_DELETE (int) */
#define VIR_CLONE_TEMPLATE_INFO_AUTO_DELETE "auto_delete"

/* The template a domain was started from, in virDomainCloneLiveFull()'s
 * and virCloneTemplateCreateDomainFull()'s statistics (string) (Since: 0.5.0) */
#define VIR_DOMAIN_CLONE_LIVE_STATS_TEMPLATE "template"

virCloneTemplatePtr virDomainCloneTemplateCreate(virDomainPtr dom,
                                                 const char *name,
                                                 const char *policyXML,
                                                 unsigned int flags);

virCloneTemplatePtr virDomainCloneTemplateCreateFull(virDomainPtr dom,
                                                     const char *name,
                                                     const char *policyXML,
                                                     virDomainCloneLiveProgressCallback cb,
                                                     void *opaque,
                                                     virTypedParameterPtr *stats,
                                                     int *nstats,
                                                     unsigned int flags);

virCloneTemplatePtr virCloneTemplateLookupByName(virConnectPtr conn,
                                                 const char *name,
                                                 unsigned int flags);

int virConnectListAllCloneTemplates(virConnectPtr conn,
                                    virCloneTemplatePtr **templates,
                                    unsigned int flags);

const char *virCloneTemplateGetName(virCloneTemplatePtr tmpl);

int virCloneTemplateGetInfo(virCloneTemplatePtr tmpl,
                            virTypedParameterPtr *params,
                            int *nparams,
                            unsigned int flags);

int virCloneTemplateDelete(virCloneTemplatePtr tmpl, unsigned int flags);

int virCloneTemplateFree(virCloneTemplatePtr tmpl);

virDomainPtr virCloneTemplateCreateDomain(virCloneTemplatePtr tmpl,
                                          const char *policyXML,
                                          unsigned int flags);

virDomainPtr virCloneTemplateCreateDomainFull(virCloneTemplatePtr tmpl,
                                              const char *policyXML,
                                              virCloneTemplateProgressCallback cb,
                                              void *opaque,
                                              virTypedParameterPtr *stats,
                                              int *nstats,
                                              unsigned int flags);

int virDomainCloneReset(virDomainPtr clone, unsigned int flags);

/* ---- guest memory -------------------------------------------------------- */

/**
 * virDomainCloneMemoryFlags:
 *
 * Flags for virDomainCloneMemoryPeek() and virDomainCloneMemoryDump().
 *
 * Since: 0.7.0
 */
typedef enum {
    /* read the memory of a domain that is not a clone: a production
     * domain's memory holds its keys and passwords, so reading it must be
     * the caller's explicit choice (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_MEMORY_FORCE = (1 << 0),
    /* virDomainCloneMemoryDump() only: all of RAM as it was at one instant,
     * through a background snapshot; the guest pauses once, as briefly as
     * for a live clone (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_MEMORY_CONSISTENT = (1 << 1),
    /* virDomainCloneMemoryDump() only, raw format, for a domain started
     * from a template: its RAM as it was at the template's instant, from
     * the template's RAM file (what the domain wrote since is not in it);
     * no pause, no snapshot (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_MEMORY_TEMPLATE_INSTANT = (1 << 2),
} virDomainCloneMemoryFlags;

/**
 * virDomainCloneMemoryDumpFormat:
 *
 * Formats of virDomainCloneMemoryDump().
 *
 * Since: 0.7.0
 */
typedef enum {
    /* all guest-physical memory, the byte at guest-physical address A at
     * offset A of the file; holes (a sparse file) where there is no RAM
     * (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_MEMORY_DUMP_RAW = 0,
    /* an ELF core file: one PT_LOAD per RAM range (p_paddr its
     * guest-physical address) and a PT_NOTE with an NT_PRSTATUS and a
     * "QEMU" CPU state per vCPU, as QEMU's dump-guest-memory writes them
     * (crash, gdb) (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_MEMORY_DUMP_ELF = 1,

#ifdef VIR_ENUM_SENTINELS
    VIR_DOMAIN_CLONE_MEMORY_DUMP_LAST
#endif
} virDomainCloneMemoryDumpFormat;

int virDomainCloneMemoryPeek(virDomainPtr clone,
                             unsigned long long start,
                             size_t size,
                             void *buffer,
                             unsigned int flags);

int virDomainCloneMemoryDump(virDomainPtr clone,
                             const char *file,
                             unsigned int format,
                             unsigned int flags);

/* ---- kernel integrity watch ---------------------------------------------- */

/**
 * virDomainCloneIntegrityAction:
 *
 * What virDomainCloneIntegrityWatch() does to the clone on its first
 * alert.
 *
 * Since: 0.7.0
 */
typedef enum {
    /* report only (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_INTEGRITY_ALERT = 0,
    /* pause the clone (virDomainSuspend), keeping it for a look
     * (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_INTEGRITY_PAUSE = 1,
    /* destroy the clone (virDomainDestroy) (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_INTEGRITY_DESTROY = 2,

#ifdef VIR_ENUM_SENTINELS
    VIR_DOMAIN_CLONE_INTEGRITY_LAST
#endif
} virDomainCloneIntegrityAction;

/**
 * virDomainCloneIntegrityFlags:
 *
 * Flags for virDomainCloneIntegrityWatch().
 *
 * Since: 0.7.0
 */
typedef enum {
    /* watch a domain that is not a clone: the watch reads its memory,
     * which holds a production guest's secrets (Since: 0.7.0) */
    VIR_DOMAIN_CLONE_INTEGRITY_FORCE = (1 << 0),
} virDomainCloneIntegrityFlags;

int virDomainCloneIntegrityWatch(virDomainPtr clone,
                                 unsigned int intervalMs,
                                 int action,
                                 virDomainCloneSandboxEventCallback cb,
                                 void *opaque,
                                 virFreeCallback freecb,
                                 unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* LIBVIRT_CLONE_H */
