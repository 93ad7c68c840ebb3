/*
 * domainxml.h: the domain XML of the test guests, in one place.
 *
 * Every consumer of the test guest (tests/testutils-guest.c,
 * tests/testutils-distro.c, the Go and Python binding tests,
 * tests/test-install.sh, scripts/demo.sh) makes its domain from
 * tgDomainXml(): the C ones call it, the others run the guest-domain-xml
 * program (guest-domain-xml.c) built beside the guest's images.
 */
#pragma once

#include <glib.h>

/* Where the NIC goes. */
typedef enum {
    TG_DOMAIN_NIC_NONE = 0,        /* no NIC */
    TG_DOMAIN_NIC_USER,            /* QEMU's user-mode network (slirp) */
    TG_DOMAIN_NIC_BRIDGE,          /* <interface type='bridge'>: nic_source */
    TG_DOMAIN_NIC_NETWORK,         /* <interface type='network'>: nic_source */
} TgDomainNic;

/* Zero/NULL fields are left out (or libvirt's default). */
typedef struct {
    const char *type;              /* domain type: "kvm" or "qemu" (TCG),
                                    * see tgGuestDirAccel() */
    const char *name;
    guint memory_mib;
    gboolean genid;                /* <genid/> */

    /* boot: the kernel directly, or UEFI firmware when loader is set */
    const char *kernel;
    const char *initrd;
    const char *cmdline;
    const char *loader;            /* OVMF code (pflash, read-only) */
    const char *nvram_template;    /* OVMF variables */
    const char *nvram;             /* this domain's copy of them */
    const char *oem_string;        /* an SMBIOS OEM string (with loader) */
    const char *on_reboot;         /* "destroy" if NULL */

    /* vda: a qcow2 file */
    const char *disk;
    const char *disk_cache;        /* <driver cache=...> */
    const char *disk_backing;      /* qcow2 backing file of disk, which
                                    * libvirt must not relabel (shared) */

    const char *serial_log;        /* the serial console's log file */
    TgDomainNic nic;
    const char *nic_source;        /* bridge or libvirt network name */
    const char *mac;               /* the NIC's MAC (default: libvirt's) */
    const char *channel;           /* a virtio serial channel of this name */
    gboolean tpm;                  /* TPM 2.0 (CRB) backed by swtpm */
    gboolean rng;                  /* virtio-rng from /dev/urandom */
    const char *extra_devices;     /* appended inside <devices> */
    const char *cpu_features;      /* CPU features the model must have
                                    * beyond qemu64's, blank-separated
                                    * (e.g. "smep smap") */
} TgDomainXmlOpts;

char *tgDomainXml(const TgDomainXmlOpts *o);

/* The kernel command line of the busybox test guest (tests/guest/init):
 * the console, panic=-1, quiet, no_timer_check, then @workload (clonetest.*
 * parameters, see README.md; may be NULL). */
char *tgGuestCmdline(const char *workload);

/* The domain type for the guest images of @guest_dir: $TG_ACCEL, else what
 * detect-accel.sh cached in GUEST_DIR/accel ("kvm" only if KVM really boots
 * the guest).  NULL with @err set if neither says "kvm" or "qemu". */
char *tgGuestDirAccel(const char *guest_dir, GError **err);
