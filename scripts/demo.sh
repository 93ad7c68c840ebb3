#!/bin/bash
# The main job, from a fresh Debian 12 machine: install what is missing,
# build, boot the bundled demo guest under libvirt's embedded QEMU driver
# (no daemon), live-clone it into a sandbox with virt-clone-live, and show
# what happened: the clone runs from the source's memory, reaches nothing,
# and everything it tries is reported; then eight sandboxes from one
# template, their memory shared, and one reset to the template's instant.
# Run as root.  Options after "--" go
# to "virt-clone-live clone-live" (default: --sandbox).
#
# libvirt's own log (its version, "tainted: high-privileges" and other
# warnings, which the embedded driver prints on the terminal when no log
# output is configured) goes to /tmp/libvirt-clone-demo-libvirt.log;
# virsh and virt-clone-live report every error themselves.  Set
# LIBVIRT_LOG_OUTPUTS (e.g. 3:stderr) to see it on the terminal again.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
keep=0
if [ "${1:-}" = "--keep" ]; then keep=1; shift; fi
[ "${1:-}" = "--" ] && shift

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "installing dependencies (Debian packages; libvirt and QEMU from bookworm-backports)"
scripts/install-deps.sh >/tmp/libvirt-clone-demo-install.log 2>&1 ||
    { cat /tmp/libvirt-clone-demo-install.log; exit 1; }

say "building libvirt-clone and the demo guest (Debian kernel + busybox + workload)"
build=build-demo
[ -d "$build" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
guestdir=$build/tests/guest
accel=$(cat "$guestdir/accel")
echo "accelerator: $accel ($( [ "$accel" = qemu ] && echo 'TCG: /dev/kvm cannot boot the guest here' || echo KVM))"

root=/var/tmp/lvc-demo
uri="qemu:///embed?root=$root"
libvirtlog=/tmp/libvirt-clone-demo-libvirt.log
if [ -z "${LIBVIRT_LOG_OUTPUTS:-}" ] && [ -z "${LIBVIRT_DEBUG:-}" ]; then
    : >"$libvirtlog"
    export LIBVIRT_LOG_OUTPUTS="3:file:$libvirtlog"
fi
netbr=lvcdemo0            # the demo guest's network: a bridge, the host at .1
virsh() { command virsh -q -c "$uri" "$@"; }
vcl() { "$build/tools/virt-clone-live" -c "$uri" "$@"; }
[ $# -gt 0 ] || set -- --sandbox

cleanup() {
    if [ "$keep" = 1 ]; then
        echo "kept: $root (virsh -c '$uri' list --all)"
        return
    fi
    for d in $(virsh list --all --name 2>/dev/null); do
        virsh destroy "$d" >/dev/null 2>&1 || true
        virsh undefine "$d" >/dev/null 2>&1 || true
    done
    # the clones are gone: reap removes the unused sandbox bridge
    vcl reap >/dev/null 2>&1 || true
    ip link del "$netbr" 2>/dev/null || true
    rm -rf "$root"
}
trap cleanup EXIT

rm -rf "$root"
ip link del "$netbr" 2>/dev/null || true
ip link add "$netbr" type bridge
ip addr add 10.78.0.1/24 dev "$netbr"
ip link set "$netbr" up
mkdir -p "$root/etc" "$root/images"
# the embedded driver reads ROOT/etc/qemu.conf, not /etc/libvirt/qemu.conf
# stdio_handler "file": QEMU writes its own logs, no virtlogd (not running
# on a machine without systemd)
printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\nremember_owner = 0\n' > "$root/etc/qemu.conf"
qemu-img create -q -f qcow2 "$root/images/demo.qcow2" 64M
# the domain of every test guest (tests/guest/domainxml.c)
"$guestdir/guest-domain-xml" --guest-dir "$guestdir" --name demo --memory 512 --genid \
    --workload "clonetest.mode=busy clonetest.mib=128 clonetest.ip=10.78.0.10/24 clonetest.gw=10.78.0.1 clonetest.probe=10.78.0.1" \
    --bridge "$netbr" --disk "$root/images/demo.qcow2" --log "$root/demo-serial.log" \
    > "$root/demo.xml"

say "booting the demo guest 'demo' under $uri (network: bridge $netbr, the guest 10.78.0.10 pings 10.78.0.1 every second)"
virsh define "$root/demo.xml" >/dev/null
virsh start demo >/dev/null
for _ in $(seq 120); do
    grep -q 'CLONETEST ready' "$root/demo-serial.log" 2>/dev/null && break
    sleep 1
done
grep 'CLONETEST ready' "$root/demo-serial.log" || { echo "the guest did not boot"; exit 1; }
sleep 3
echo "its workload, before the clone:"
grep 'CLONETEST stat' "$root/demo-serial.log" | tail -n 2

say "virt-clone-live clone-live demo --name demo-clone $*"
vcl clone-live demo --name demo-clone "$@"

say "both domains run"
virsh list --all
echo
echo "the clone's identity:"
command virsh -c "$uri" dumpxml demo-clone |
    grep -E "<name>|<uuid>|<genid>|mac address|source file|clone:parent"
echo
echo "the source now writes to a new top; its former top backs both:"
command virsh -c "$uri" domblklist demo

sleep 3
say "serial consoles after the clone (the clone continued from the same memory)"
echo "source:"; grep 'CLONETEST stat' "$root/demo-serial.log" | tail -n 2
if [ -s "$root/demo-clone-serial.log" ]; then
    echo "clone:";  grep 'CLONETEST stat' "$root/demo-clone-serial.log" | tail -n 2
fi

if command virsh -c "$uri" dumpxml demo-clone | grep -q lvcsandbox0; then
    say "the sandbox: the clone's NIC is on an isolated port of a bridge without uplink or address"
    command virsh -c "$uri" domiflist demo-clone
    addrs=$(ip -br addr show dev lvcsandbox0 | awk '{$1=""; $2=""; print}' | xargs)
    echo "addresses of lvcsandbox0: ${addrs:-none}"
    # "bridge link show master X" does not filter in this iproute2: ask per port
    for port in $(ip -o link show master lvcsandbox0 | awk -F': ' '{print $2}' | cut -d@ -f1); do
        echo "port $port: $(ip -d link show dev "$port" | grep -o 'isolated [a-z]*')"
    done
    say "what the clone tries (it still believes it is 10.78.0.10), for 5 s: virt-clone-live sandbox-watch demo-clone"
    vcl sandbox-watch demo-clone --timeout 5 || true
fi

# Templates: eight sandboxes from one instant, their RAM shared
# copy-on-write, and one of them put back at that instant.
private_mib() {   # Private_Clean + Private_Dirty of a domain's QEMU, MiB
    local pid
    pid=$(pgrep -f -- "-name guest=$1,debug-threads" | head -n 1)
    awk '/^Private_(Clean|Dirty):/ {kib += $2} END {printf "%d", kib / 1024}' "/proc/$pid/smaps_rollup"
}
say "virt-clone-live clone-live demo --count 8 --sandbox (a template made for these 8, gone with the last)"
vcl clone-live demo --count 8 --sandbox
vcl template-list
sleep 5
say "their memory: each of the 512 MiB guests holds only the pages it wrote (its workload writes 128 MiB)"
template=$(vcl template-list --json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["name"])')
# the template's domains: their libvirt metadata names it
domains=()
for d in $(virsh list --name); do
    xml=$(virsh dumpxml "$d")
    if [[ $xml == *"name='$template'"* || $xml == *"name=\"$template\""* ]]; then
        domains+=("$d")
    fi
done
if [ ${#domains[@]} -eq 0 ]; then
    echo "demo: no domain of template $template is running" >&2
    exit 1
fi
printf '%-24s %s\n' DOMAIN "PRIVATE MEMORY (MiB)"
for d in "${domains[@]}"; do
    printf '%-24s %s\n' "$d" "$(private_mib "$d")"
done
echo "the template's RAM file, shared by all of them: $(( $(stat -c %s "$root/run/libvirt-clone/templates/$template/ram") >> 20 )) MiB"
first=${domains[0]}
say "virt-clone-live reset $first (back at the template's instant, same name and identity)"
grep 'CLONETEST stat' "$root/$first-serial.log" 2>/dev/null | tail -n 1 || true
laststat() { grep 'CLONETEST stat' "$root/$first-serial.log" 2>/dev/null | tail -n 1 || true; }
before=$(laststat)
time vcl reset "$first"
# its next stat line (one every few seconds)
for _ in $(seq 1 20); do
    now=$(laststat)
    [ -n "$now" ] && [ "$now" != "$before" ] && break
    sleep 1
done
echo "its workload after the reset starts again from the instant:"
grep 'CLONETEST stat' "$root/$first-serial.log" 2>/dev/null | tail -n 2 || true

if [ "${LIBVIRT_LOG_OUTPUTS:-}" = "3:file:$libvirtlog" ]; then
    echo
    echo "libvirt's own log (its notes and warnings, kept off the terminal): $libvirtlog"
fi
