/*
 * domainxml.c: the domain XML of the test guests.  See domainxml.h.
 */
#include "domainxml.h"

#define TG_DOMAIN_XML_ERROR tg_domain_xml_error_quark()
GQuark tg_domain_xml_error_quark(void);
G_DEFINE_QUARK(tg-domain-xml-error-quark, tg_domain_xml_error)


static void
tgDomainXmlOs(GString *xml, const TgDomainXmlOpts *o)
{
    g_autofree char *os = NULL;

    if (o->loader) {
        os = g_markup_printf_escaped(
            "  <os>\n"
            "    <type arch='x86_64' machine='q35'>hvm</type>\n"
            "    <loader readonly='yes' type='pflash'>%s</loader>\n"
            "    <nvram template='%s'>%s</nvram>\n"
            "    <boot dev='hd'/>\n", o->loader, o->nvram_template, o->nvram);
        g_string_append(xml, os);
        if (o->oem_string)
            g_string_append(xml, "    <smbios mode='sysinfo'/>\n");
        g_string_append(xml, "  </os>\n");
        if (o->oem_string) {
            g_autofree char *sysinfo = g_markup_printf_escaped(
                "  <sysinfo type='smbios'>\n"
                "    <oemStrings>\n"
                "      <entry>%s</entry>\n"
                "    </oemStrings>\n"
                "  </sysinfo>\n", o->oem_string);

            g_string_append(xml, sysinfo);
        }
        return;
    }
    os = g_markup_printf_escaped(
        "  <os>\n"
        "    <type arch='x86_64' machine='q35'>hvm</type>\n"
        "    <kernel>%s</kernel>\n"
        "    <initrd>%s</initrd>\n"
        "    <cmdline>%s</cmdline>\n"
        "  </os>\n", o->kernel, o->initrd, o->cmdline ? o->cmdline : "");
    g_string_append(xml, os);
}


static void
tgDomainXmlDisk(GString *xml, const TgDomainXmlOpts *o)
{
    g_autofree char *driver = NULL;
    g_autofree char *source = g_markup_printf_escaped("      <source file='%s'/>\n",
                                                      o->disk);

    if (o->disk_cache)
        driver = g_markup_printf_escaped("      <driver name='qemu' type='qcow2' cache='%s'/>\n",
                                         o->disk_cache);
    else
        driver = g_strdup("      <driver name='qemu' type='qcow2'/>\n");
    g_string_append(xml, "    <disk type='file' device='disk'>\n");
    g_string_append(xml, driver);
    g_string_append(xml, source);
    /* the backing file is shared (by other tests, by daemons whose QEMU
     * runs as another user): libvirt must not relabel it; with
     * remember_owner it would refuse to give a file that another domain
     * uses a different owner */
    if (o->disk_backing) {
        g_autofree char *backing = g_markup_printf_escaped(
            "      <backingStore type='file'>\n"
            "        <format type='qcow2'/>\n"
            "        <source file='%s'>\n"
            "          <seclabel model='dac' relabel='no'/>\n"
            "        </source>\n"
            "        <backingStore/>\n"
            "      </backingStore>\n", o->disk_backing);

        g_string_append(xml, backing);
    }
    g_string_append(xml, "      <target dev='vda' bus='virtio'/>\n"
                         "    </disk>\n");
}


static void
tgDomainXmlNic(GString *xml, const TgDomainXmlOpts *o)
{
    static const char *const types[] = {
        [TG_DOMAIN_NIC_USER] = "user",
        [TG_DOMAIN_NIC_BRIDGE] = "bridge",
        [TG_DOMAIN_NIC_NETWORK] = "network",
    };
    g_autofree char *mac = NULL;
    g_autofree char *source = NULL;

    if (o->nic == TG_DOMAIN_NIC_NONE)
        return;
    if (o->mac)
        mac = g_markup_printf_escaped("      <mac address='%s'/>\n", o->mac);
    if (o->nic != TG_DOMAIN_NIC_USER)
        source = g_markup_printf_escaped("      <source %s='%s'/>\n",
                                         types[o->nic], o->nic_source);
    g_string_append_printf(xml, "    <interface type='%s'>\n%s%s"
                                "      <model type='virtio'/>\n"
                                "    </interface>\n",
                           types[o->nic], mac ? mac : "", source ? source : "");
}


static void
tgDomainXmlDevices(GString *xml, const TgDomainXmlOpts *o)
{
    g_autofree char *serial = g_markup_printf_escaped(
        "    <serial type='pty'>\n"
        "      <log file='%s' append='off'/>\n"
        "      <target port='0'/>\n"
        "    </serial>\n"
        "    <console type='pty'>\n"
        "      <target type='serial' port='0'/>\n"
        "    </console>\n", o->serial_log);

    g_string_append(xml, "  <devices>\n");
    tgDomainXmlDisk(xml, o);
    g_string_append(xml, "    <controller type='usb' model='none'/>\n");
    g_string_append(xml, serial);
    /* libvirt places the channel's socket itself (under its root) */
    if (o->channel) {
        g_autofree char *channel = g_markup_printf_escaped(
            "    <channel type='unix'>\n"
            "      <target type='virtio' name='%s'/>\n"
            "    </channel>\n", o->channel);

        g_string_append(xml, channel);
    }
    if (o->rng)
        g_string_append(xml, "    <rng model='virtio'>\n"
                             "      <backend model='random'>/dev/urandom</backend>\n"
                             "    </rng>\n");
    g_string_append(xml, "    <memballoon model='none'/>\n");
    tgDomainXmlNic(xml, o);
    if (o->tpm)
        g_string_append(xml, "    <tpm model='tpm-crb'>\n"
                             "      <backend type='emulator' version='2.0'/>\n"
                             "    </tpm>\n");
    if (o->extra_devices)
        g_string_append(xml, o->extra_devices);
    g_string_append(xml, "  </devices>\n");
}


char *
tgDomainXml(const TgDomainXmlOpts *o)
{
    GString *xml = g_string_new(NULL);
    g_autofree char *head = g_markup_printf_escaped(
        "<domain type='%s'>\n"
        "  <name>%s</name>\n"
        "  <memory unit='MiB'>%u</memory>\n"
        "  <vcpu>1</vcpu>\n", o->type, o->name, o->memory_mib);
    g_autofree char *events = g_markup_printf_escaped(
        "  <on_poweroff>destroy</on_poweroff>\n"
        "  <on_reboot>%s</on_reboot>\n"
        "  <on_crash>destroy</on_crash>\n", o->on_reboot ? o->on_reboot : "destroy");

    g_string_append(xml, head);
    if (o->genid)
        g_string_append(xml, "  <genid/>\n");
    tgDomainXmlOs(xml, o);
    g_string_append(xml,
                    "  <features><acpi/></features>\n"
                    "  <cpu mode='custom' match='exact' check='none'>\n"
                    "    <model fallback='forbid'>qemu64</model>\n");
    if (o->cpu_features) {
        g_auto(GStrv) names = g_strsplit_set(o->cpu_features, " ", -1);
        char **n;

        for (n = names; *n; n++) {
            g_autofree char *feature = NULL;

            if (!**n)
                continue;
            feature = g_markup_printf_escaped("    <feature policy='require' name='%s'/>\n", *n);
            g_string_append(xml, feature);
        }
    }
    g_string_append(xml,
                    "  </cpu>\n"
                    "  <clock offset='utc'/>\n");
    g_string_append(xml, events);
    tgDomainXmlDevices(xml, o);
    g_string_append(xml, "</domain>\n");
    return g_string_free(xml, FALSE);
}


/* no_timer_check: under TCG on a loaded host the kernel's check that the
 * IO-APIC delivers timer interrupts (timer_irq_works(), a busy wait of a
 * few jiffies counted in TSC cycles) can see too few ticks; it then logs
 * "8254 timer not connected to IO-APIC", tries other routes, and the boot
 * hangs or panics.  QEMU's timer is wired right: skip the check, as
 * distributions' cloud images do. */
char *
tgGuestCmdline(const char *workload)
{
    return g_strdup_printf("console=ttyS0 panic=-1 quiet no_timer_check%s%s",
                           workload && *workload ? " " : "", workload ? workload : "");
}


char *
tgGuestDirAccel(const char *guest_dir, GError **err)
{
    const char *accel = g_getenv("TG_ACCEL");
    g_autofree char *text = NULL;

    if (!accel || !*accel) {
        g_autofree char *path = g_build_filename(guest_dir, "accel", NULL);

        if (!g_file_get_contents(path, &text, NULL, err)) {
            g_prefix_error(err, "run tests/guest/detect-accel.sh: ");
            return NULL;
        }
        accel = g_strstrip(text);
    }
    if (!g_str_equal(accel, "kvm") && !g_str_equal(accel, "qemu")) {
        g_set_error(err, TG_DOMAIN_XML_ERROR, 0,
                    "accelerator '%s' is neither kvm nor qemu", accel);
        return NULL;
    }
    return g_strdup(accel);
}
