#!/bin/bash
# The qemu hook (src/qemu_clone_hooks/) under a real libvirtd and QEMU.
#
# usage: test-hook.sh HOOK-PROGRAM
#
# The daemon is private: the script re-runs itself in new mount, network and
# PID namespaces (unshare(1)), where empty directories of a work directory
# are bind-mounted over /etc/libvirt, /run/libvirt, /var/lib/libvirt,
# /var/cache/libvirt and /var/log/libvirt, and sysfs is mounted again for the
# new network namespace.  libvirtd started there has its own config (hook
# installed, qemu.conf with user/group root), sockets, state and domains,
# and its bridges and taps live in a network namespace of their own: the
# host's libvirtd, /etc/libvirt, /run/libvirt and networks are never
# touched, whether or not a daemon runs on the host.  When the script ends,
# however it ends, the kernel kills everything in the PID namespace
# (libvirtd, QEMU) and the namespaces go away with the bridge; the work
# directory is removed from outside.  No cgroup file system is mounted
# inside, so libvirt runs QEMU without cgroups.
#
# The scenario of the sandbox issue: a persistent sandbox clone is defined,
# the daemon restarted, the bridge deleted; the clone starts (the hook makes
# the bridge again, libvirt isolates the tap), is destroyed (the hook deletes
# the bridge) and a migration is refused by the hook.  Also: a failing
# "prepare" refuses a start, a failing "started" makes libvirt stop the
# domain, a transient ephemeral clone's overlay is removed on release.
set -u
hook=${1:?usage: test-hook.sh HOOK-PROGRAM}
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

# ---- outside: checks, the work directory, the namespaces ---------------------
if [ -z "${LVC_HOOK_TEST_WORK:-}" ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (runs a private libvirtd)"
    for prog in unshare libvirtd virsh ip qemu-system-x86_64 qemu-img; do
        command -v "$prog" >/dev/null || tap_skip_all "needs $prog"
    done
    for d in /etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt; do
        [ -d "$d" ] || tap_skip_all "needs the directory $d (libvirt-daemon installed)"
    done
    unshare --mount --net --pid --fork --mount-proc true 2>/dev/null ||
        tap_skip_all "cannot create mount, network and PID namespaces"
    work=$(mktemp -d /var/tmp/lvc-hook.XXXXXX)
    trap 'rm -rf "$work"' EXIT
    LVC_HOOK_TEST_WORK=$work unshare --mount --net --pid --fork --kill-child --mount-proc \
        --propagation private "$0" "$(realpath "$hook")"
    exit $?
fi

# ---- inside: PID 1 of a new PID namespace ------------------------------------
work=$LVC_HOOK_TEST_WORK
br=lvcsandbox0
dom=lvc-hook-sandbox
uri=qemu:///system
bail() { tap_bail "$*" "$work/log/libvirtd.log"; }

vsh() { virsh -q -c "$uri" "$@"; }

private_dirs() {
    local d
    mkdir -p "$work"/{etc,run,lib,cache,log} "$work/etc/hooks/qemu.d" "$work/images"
    mount --bind "$work/etc" /etc/libvirt &&
        mount --bind "$work/run" /run/libvirt &&
        mount --bind "$work/lib" /var/lib/libvirt &&
        mount --bind "$work/cache" /var/cache/libvirt &&
        mount --bind "$work/log" /var/log/libvirt || return 1
    # /sys/class/net of this network namespace: libvirt isolates a tap there
    umount -l /sys && mount -t sysfs sysfs /sys || return 1
    ip link set lo up
    for d in qemu/channel/target qemu/nvram qemu/ram; do mkdir -p "/var/lib/libvirt/$d"; done
}

write_config() {
    cat > /etc/libvirt/libvirtd.conf <<'EOF'
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
EOF
    cat > /etc/libvirt/qemu.conf <<'EOF'
user = "root"
group = "root"
dynamic_ownership = 0
security_driver = "none"
stdio_handler = "file"
namespaces = [ ]
EOF
    install -m 0755 "$hook" /etc/libvirt/hooks/qemu.d/libvirt-clone
}

daemon_start() {
    local i
    libvirtd -d -p /run/libvirt/libvirtd.pid || return 1
    for i in $(seq 100); do
        vsh uri >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

daemon_stop() {
    local pid i
    pid=$(cat /run/libvirt/libvirtd.pid 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    return 1
}

# domain_xml NAME EPHEMERAL SANDBOX [DISK-IMAGE]: a clone, for the hook;
# with SANDBOX yes the metadata of a sandbox clone and an isolated NIC on the
# sandbox bridge, link down.  No OS: SeaBIOS finds nothing to boot and waits.
domain_xml() {
    local name=$1 ephemeral=$2 sandbox=$3 image=${4:-} base='' disk='' nic=''
    if [ "$sandbox" = yes ]; then
        nic="<interface type='bridge'>
      <source bridge='$br'/>
      <port isolated='yes'/>
      <link state='down'/>
      <model type='virtio'/>
      <rom enabled='no'/>
    </interface>"
        sandbox="<clone:sandbox bridge='$br'/>"
    else
        sandbox=''
    fi
    if [ -n "$image" ]; then
        base="<clone:base target='vda' path='$work/images/base.qcow2' format='qcow2' overlay='$image'/>"
        disk="<disk type='file' device='disk'><driver name='qemu' type='qcow2'/>
      <source file='$image'/><target dev='vda' bus='virtio'/></disk>"
    fi
    cat <<EOF
<domain type='qemu'>
  <name>$name</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <metadata>
    <clone:clone xmlns:clone='http://libvirt.org/schemas/clone/1.0'>
      <clone:parent name='lvc-hook-parent' uuid='2b1f6a8e-0c57-4f0e-9d0b-6a4c3f1e2d90'/>
      $sandbox
      <clone:lifecycle ephemeral='$ephemeral'/>
      $base
    </clone:clone>
  </metadata>
  <devices>
    $disk
    $nic
  </devices>
</domain>
EOF
}

# ---- checks -----------------------------------------------------------------

no_link() { ! ip link show dev "$1" >/dev/null 2>&1; }

running() { [ "$(vsh domstate "$1" 2>/dev/null)" = running ]; }
not_running() { ! running "$1"; }

tap_of() { vsh domiflist "$1" 2>/dev/null | awk 'NF { print $1; exit }'; }

# The bridge as the hook leaves it, and the domain's tap on it, isolated.
sandbox_isolated() {
    local tap=$1 d
    d=$(ip -d link show dev "$br") || return 1
    grep -q ',UP' <<<"$d" || { echo "bridge down: $d"; return 1; }
    grep -q 'addrgenmode none' <<<"$d" || { echo "IPv6 address generation on: $d"; return 1; }
    grep -q 'mcast_snooping 0' <<<"$d" || { echo "multicast snooping on: $d"; return 1; }
    [ "$(cat /proc/sys/net/ipv6/conf/$br/disable_ipv6)" = 1 ] || { echo "disable_ipv6 = 0"; return 1; }
    [ -z "$(ip -o addr show dev "$br")" ] || { ip addr show dev "$br"; return 1; }
    [ "$(ip -o link show master "$br" | wc -l)" = 1 ] || { ip link show master "$br"; return 1; }
    d=$(ip -d link show dev "$tap") || return 1
    grep -q "master $br" <<<"$d" || { echo "tap $tap not on $br: $d"; return 1; }
    grep -q 'isolated on' <<<"$d" || { echo "tap $tap not isolated: $d"; return 1; }
}

hook_direct() {  # hook_direct OP XML-FILE: the hook as libvirt runs it
    local out
    out=$("$hook" "$dom" "$2" begin - < "$1") || return 1
    [ -z "$out" ] || { echo "output on stdout: $out"; return 1; }
}

# ---- the scenario ---------------------------------------------------------------

private_dirs || bail "cannot set up the private libvirt directories"
write_config
daemon_start || bail "libvirtd does not start"

domain_xml "$dom" no yes > "$work/clone.xml"
tap_ok "define a persistent sandbox clone" vsh define "$work/clone.xml"
tap_ok "restart the daemon" daemon_stop
daemon_start || bail "libvirtd does not start again"
ip link del dev "$br" 2>/dev/null
tap_ok "the sandbox bridge is gone" no_link "$br"

tap_ok "start the clone" vsh start "$dom"
tap_ok "prepare made the bridge again; libvirt isolated the tap" sandbox_isolated "$(tap_of "$dom")"
tap_ok "destroy the clone" vsh destroy "$dom"
tap_ok "release deleted the unused bridge" no_link "$br"

tap_ok "start the clone again" vsh start "$dom"
tap_fails_with "virsh migrate: the hook refuses it on the destination" \
    "sandbox clone '$dom' cannot be migrated off this host" \
    vsh migrate --live "$dom" "$uri" --migrateuri tcp://127.0.0.1:49152
tap_ok "the clone still runs here" running "$dom"
tap_fails_with "the hook itself, 'migrate' with the incoming XML: exit 1" \
    "sandbox clone '$dom' cannot be migrated off this host" hook_direct "$work/clone.xml" migrate
tap_ok "destroy the clone" vsh destroy "$dom"

# started: a port that is not isolated on the bridge
ip link add dev "$br" type bridge
ip link add lvchookv type veth peer name lvchookp
ip link set dev lvchookv master "$br" up
tap_fails_with "a failing 'started' hook fails the start" \
    "has an unexpected port 'lvchookv' (not isolated)" vsh start "$dom"
tap_ok "... and libvirt stopped the domain it had started" not_running "$dom"
ip link del dev lvchookv
ip link del dev "$br"

# prepare: an interface of the bridge's name that is not a bridge
ip link add "$br" type veth peer name lvchookp
tap_fails_with "a failing 'prepare' hook refuses the start" \
    "network interface '$br' is not a bridge" vsh start "$dom"
tap_ok "... and the domain is not running" not_running "$dom"
ip link del dev "$br"
tap_ok "undefine the clone" vsh undefine "$dom"

# release: a transient ephemeral clone's own overlay goes with it
qemu-img create -q -f qcow2 "$work/images/base.qcow2" 16M
qemu-img create -q -f qcow2 -F qcow2 -b "$work/images/base.qcow2" "$work/images/eph.qcow2"
domain_xml lvc-hook-ephemeral yes yes "$work/images/eph.qcow2" > "$work/ephemeral.xml"
tap_ok "create a transient ephemeral sandbox clone" vsh create "$work/ephemeral.xml"
tap_ok "destroy it" vsh destroy lvc-hook-ephemeral
tap_ok "release removed its overlay" test ! -e "$work/images/eph.qcow2"
tap_ok "... and not the base image" test -e "$work/images/base.qcow2"
tap_ok "... and the bridge" no_link "$br"

# a clone that is not a sandbox: the hook lets its migration through, and
# libvirt's own same-host check, which comes after the hook, refuses it
domain_xml lvc-hook-plain no no > "$work/plainclone.xml"
tap_ok "create a transient clone that is not a sandbox" vsh create "$work/plainclone.xml"
tap_fails_with "virsh migrate: the hook lets it through to libvirt's same-host check" \
    "Attempt to migrate guest to the same host" \
    vsh migrate --live lvc-hook-plain "$uri" --migrateuri tcp://127.0.0.1:49152
tap_ok "destroy it" vsh destroy lvc-hook-plain

# a domain that is not a clone: the hook stays out of its way
printf '<domain type="qemu"><name>plain</name></domain>\n' > "$work/plain.xml"
tap_ok "not a clone: the hook exits 0 for every operation, silently" \
    bash -c 'for op in prepare start started stopped release migrate restore reconnect attach; do
                 out=$("$0" plain $op begin - < "$1" 2>&1) || exit 1; [ -z "$out" ] || exit 1
             done' "$hook" "$work/plain.xml"

daemon_stop
tap_done
