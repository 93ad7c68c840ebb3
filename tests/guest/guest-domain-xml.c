/*
 * guest-domain-xml.c: print the domain XML of the test guest (domainxml.h),
 * for the tests and scripts that are not in C.
 *
 *   guest-domain-xml --guest-dir DIR --name NAME --disk QCOW2 --log FILE
 *                    [--memory MIB] [--genid] [--workload ARGS]
 *                    [--bridge BR | --network NET | --user-nic]
 *
 * DIR holds the guest's vmlinuz, initramfs.img and accel (see
 * detect-accel.sh; $TG_ACCEL overrides it).  ARGS: the workload's
 * clonetest.* kernel parameters (README.md).  No NIC unless asked.
 * Exit status: 0, or 2 on a usage error or an unusable DIR.
 */
#include <stdio.h>

#include "domainxml.h"


int
main(int argc, char **argv)
{
    g_autofree char *guest_dir = NULL;
    g_autofree char *name = NULL;
    g_autofree char *disk = NULL;
    g_autofree char *log = NULL;
    g_autofree char *workload = NULL;
    g_autofree char *bridge = NULL;
    g_autofree char *network = NULL;
    gboolean user_nic = FALSE;
    gboolean genid = FALSE;
    gint memory_mib = 256;
    GOptionEntry entries[] = {
        { "guest-dir", 0, 0, G_OPTION_ARG_FILENAME, &guest_dir,
          "the test guest's images (the build's tests/guest)", "DIR" },
        { "name", 0, 0, G_OPTION_ARG_STRING, &name, "domain name", "NAME" },
        { "disk", 0, 0, G_OPTION_ARG_FILENAME, &disk, "vda, a qcow2 file", "QCOW2" },
        { "log", 0, 0, G_OPTION_ARG_FILENAME, &log, "the serial console's log", "FILE" },
        { "memory", 0, 0, G_OPTION_ARG_INT, &memory_mib, "RAM in MiB (256)", "MIB" },
        { "genid", 0, 0, G_OPTION_ARG_NONE, &genid, "a VM generation ID", NULL },
        { "workload", 0, 0, G_OPTION_ARG_STRING, &workload,
          "the workload's kernel parameters", "ARGS" },
        { "bridge", 0, 0, G_OPTION_ARG_STRING, &bridge, "a NIC on this bridge", "BR" },
        { "network", 0, 0, G_OPTION_ARG_STRING, &network,
          "a NIC on this libvirt network", "NET" },
        { "user-nic", 0, 0, G_OPTION_ARG_NONE, &user_nic, "a user-mode NIC", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("- print the test guest's domain XML");
    g_autoptr(GError) err = NULL;
    g_autofree char *accel = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *kernel = NULL;
    g_autofree char *initrd = NULL;
    g_autofree char *cmdline = NULL;
    g_autofree char *xml = NULL;
    TgDomainXmlOpts o = { 0 };

    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "guest-domain-xml: %s\n", err->message);
        return 2;
    }
    if (argc != 1 || !guest_dir || !name || !disk || !log || memory_mib <= 0 ||
        (!!bridge + !!network + !!user_nic) > 1) {
        fprintf(stderr, "usage: guest-domain-xml --guest-dir DIR --name NAME --disk QCOW2 "
                "--log FILE [--memory MIB] [--genid] [--workload ARGS] "
                "[--bridge BR | --network NET | --user-nic]\n");
        return 2;
    }
    if (!(accel = tgGuestDirAccel(guest_dir, &err))) {
        fprintf(stderr, "guest-domain-xml: %s\n", err->message);
        return 2;
    }
    dir = g_canonicalize_filename(guest_dir, NULL);
    kernel = g_build_filename(dir, "vmlinuz", NULL);
    initrd = g_build_filename(dir, "initramfs.img", NULL);
    cmdline = tgGuestCmdline(workload);

    o.type = accel;
    o.name = name;
    o.memory_mib = memory_mib;
    o.genid = genid;
    o.kernel = kernel;
    o.initrd = initrd;
    o.cmdline = cmdline;
    o.disk = disk;
    o.serial_log = log;
    if (bridge) {
        o.nic = TG_DOMAIN_NIC_BRIDGE;
        o.nic_source = bridge;
    } else if (network) {
        o.nic = TG_DOMAIN_NIC_NETWORK;
        o.nic_source = network;
    } else if (user_nic) {
        o.nic = TG_DOMAIN_NIC_USER;
    }
    xml = tgDomainXml(&o);
    fputs(xml, stdout);
    return fflush(stdout) == 0 ? 0 : 2;
}
