#!/bin/bash
# detect-accel.sh OUTDIR
#
# Print the libvirt domain type the test guests should use: "kvm" if
# OUTDIR/vmlinuz + OUTDIR/initramfs.img really boot under KVM (the workload's
# "CLONETEST ready" line shows up on the serial console within ~20 s), else
# "qemu" (TCG).  Some /dev/kvm (e.g. nested software hypervisors) open fine
# but cannot run a stock kernel, so the only reliable test is to boot.
#
# The answer is cached in OUTDIR/accel (reused while newer than the guest
# images); TG_ACCEL=kvm|qemu overrides the probe.
set -euo pipefail

timeout_s=20     # give up on KVM after this long
stall_s=8        # ... or when the console has been silent this long (a real
                 # KVM boots in ~2 s and prints all the way)

die() {
    echo "detect-accel: $*" >&2
    exit 1
}

[ $# -eq 1 ] || die "usage: detect-accel.sh OUTDIR"
outdir=$1
kernel=$outdir/vmlinuz
initrd=$outdir/initramfs.img
cache=$outdir/accel
if [ ! -r "$kernel" ] || [ ! -r "$initrd" ]; then
    die "no $kernel or $initrd (run build-guest.sh first)"
fi

answer() {
    printf '%s\n' "$1" > "$cache.tmp"
    mv -f -- "$cache.tmp" "$cache"
    echo "$1"
    exit 0
}

if [ -n "${TG_ACCEL:-}" ]; then
    case "$TG_ACCEL" in
        kvm|qemu) answer "$TG_ACCEL" ;;
        *) die "TG_ACCEL must be kvm or qemu" ;;
    esac
fi

if [ -s "$cache" ] && [ "$cache" -nt "$kernel" ] && [ "$cache" -nt "$initrd" ]; then
    cat -- "$cache"
    exit 0
fi

if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
    answer qemu
fi

qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null || die "$qemu not found"

log=$(mktemp "$outdir/.accel-probe.XXXXXX")
pid=
# shellcheck disable=SC2317  # called from the trap
cleanup() {
    if [ -n "$pid" ]; then
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    rm -f -- "$log"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$qemu" -accel kvm -machine q35 -cpu host -m 256 -smp 1 \
    -nographic -no-reboot -nodefaults -monitor none -serial stdio \
    -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 earlyprintk=serial,ttyS0 clonetest.disk=none clonetest.mode=idle clonetest.mib=8 panic=-1" \
    < /dev/null > "$log" 2>&1 &
pid=$!

result=qemu
start=$SECONDS
last_size=-1
last_change=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
    if grep -q 'CLONETEST ready' "$log"; then
        result=kvm
        break
    fi
    size=$(stat -c %s -- "$log")
    if [ "$size" != "$last_size" ]; then
        last_size=$size
        last_change=$SECONDS
    fi
    if [ $((SECONDS - start)) -ge "$timeout_s" ] ||
       [ $((SECONDS - last_change)) -ge "$stall_s" ]; then
        break
    fi
    sleep 0.2
done

if [ "$result" = qemu ]; then
    echo "detect-accel: KVM did not boot the test guest, using TCG; QEMU said:" >&2
    tail -n 5 -- "$log" | sed -e "s/\x1b\[[0-9;?]*[A-Za-z]//g" -e "s/\x1b.//g" -e "s/\r//g" -e "s/^/detect-accel:   /" >&2
fi
answer "$result"
