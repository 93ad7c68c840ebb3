#!/bin/bash
# build-guest.sh OUTDIR [KERNEL_ROOT [QGA_ROOT]]
#
# Build the test guest from local Debian packages (no network):
#   OUTDIR/vmlinuz        copy of KERNEL_ROOT/boot/vmlinuz
#   OUTDIR/initramfs.img  gzip'd newc cpio: busybox + applet links, /init,
#                         /bin/clonetest-workload, the udhcpc script, the
#                         virtio/9p/fw_cfg modules and /etc/clonetest-modules
#                         (load order), qemu-ga with the shared libraries it
#                         links and the dynamic loader
#
# KERNEL_ROOT is an unpacked linux-image .deb (default
# /var/lib/libvirt-clone/kernel/root), QGA_ROOT an unpacked qemu-guest-agent
# .deb (default: $QGA_ROOT, else /var/lib/libvirt-clone/qga/root); both are
# made by scripts/install-deps.sh.  qemu-ga's libraries are the host's copies
# (resolved with ldd), so the host must have them: install-deps.sh installs
# the package's dependencies.
# OUTDIR/workload is used if it is newer than workload.c (meson builds it
# there), otherwise it is compiled with ${CC:-cc} -static.
# OUTDIR/clonetest_attack.ko (attack/build-attack.sh), if there, goes to
# /lib/modules/clonetest_attack.ko: the workload's "attack" and "module"
# commands load it.
set -euo pipefail

srcdir=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
# modules the guest needs; their dependencies are added automatically
wanted=(virtio_pci virtio_blk virtio_net virtio_console 9pnet_virtio 9p qemu_fw_cfg)

die() {
    echo "build-guest: $*" >&2
    exit 1
}

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
    die "usage: build-guest.sh OUTDIR [KERNEL_ROOT [QGA_ROOT]]"
fi
outdir=$1
kroot=${2:-/var/lib/libvirt-clone/kernel/root}
qroot=${3:-${QGA_ROOT:-/var/lib/libvirt-clone/qga/root}}

[ -e "$kroot/boot/vmlinuz" ] ||
    die "no kernel at '$kroot/boot/vmlinuz' (run scripts/install-deps.sh)"
kvers=("$kroot"/lib/modules/*/)
if [ ${#kvers[@]} -ne 1 ] || [ ! -d "${kvers[0]}" ]; then
    die "expected exactly one '$kroot/lib/modules/<version>/' directory"
fi
moddir=${kvers[0]%/}
kver=${moddir##*/}

qga=
for d in usr/sbin usr/bin sbin bin; do
    if [ -x "$qroot/$d/qemu-ga" ]; then
        qga=$d/qemu-ga
        break
    fi
done
[ -n "$qga" ] ||
    die "no qemu-ga under '$qroot' (an unpacked qemu-guest-agent package: run scripts/install-deps.sh)"

busybox=$(command -v busybox || true)
[ -n "$busybox" ] || die "busybox not found (install busybox-static)"
if ldd "$busybox" >/dev/null 2>&1; then
    die "$busybox is dynamically linked (install busybox-static)"
fi

mkdir -p -- "$outdir"
outdir=$(cd -- "$outdir" && pwd)
stage=$(mktemp -d "$outdir/.initramfs.XXXXXX")
trap 'rm -rf -- "$stage"' EXIT

# --- workload -------------------------------------------------------------
workload=$outdir/workload
if [ ! -x "$workload" ] || [ "$srcdir/workload.c" -nt "$workload" ] ||
   [ "$srcdir/clonetest-format.h" -nt "$workload" ]; then
    "${CC:-cc}" -static -O2 -pthread -o "$workload" "$srcdir/workload.c" ||
        die "cannot build the workload"
fi

# --- modules --------------------------------------------------------------
declare -A modpath=()   # module name -> path relative to $moddir
declare -A builtin=()
declare -A seen=()
order=()

while IFS= read -r -d '' f; do
    name=${f##*/}
    name=${name%.ko}
    modpath[${name//-/_}]=${f#"$moddir"/}
done < <(find "$moddir/kernel" -name '*.ko' -print0)
[ ${#modpath[@]} -gt 0 ] ||
    die "no uncompressed .ko modules under $moddir/kernel"

if [ -f "$moddir/modules.builtin" ]; then
    while IFS= read -r f; do
        name=${f##*/}
        name=${name%.ko}
        builtin[${name//-/_}]=1
    done < "$moddir/modules.builtin"
fi

moddeps() {
    tr '\0' '\n' < "$moddir/$1" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# depth-first: dependencies before the module itself
resolve() {
    local name=${1//-/_} dep
    [ -z "${seen[$name]:-}" ] || return 0
    seen[$name]=1
    [ -z "${builtin[$name]:-}" ] || return 0
    [ -n "${modpath[$name]:-}" ] || die "module $name not found under $moddir"
    for dep in $(moddeps "${modpath[$name]}"); do
        resolve "$dep"
    done
    order+=("${modpath[$name]}")
}

for m in "${wanted[@]}"; do
    resolve "$m"
done

# --- qemu-ga's shared libraries -------------------------------------------
# ldd prints "NAME => PATH (ADDR)" for libraries and "PATH (ADDR)" for the
# dynamic loader; linux-vdso has neither.
ldd_out=$(ldd "$qroot/$qga" 2>&1) || die "ldd $qroot/$qga failed: $ldd_out"
libs=()
while read -r line; do
    case $line in
        *' => not found'*) die "qemu-ga needs ${line%% =>*}, which this host lacks (run scripts/install-deps.sh)" ;;
        *' => /'*) path=${line#* => } ;;
        /*) path=$line ;;
        *) continue ;;
    esac
    libs+=("${path%% (*}")
done <<< "$ldd_out"
[ ${#libs[@]} -gt 0 ] || die "ldd found no libraries for $qroot/$qga"

# --- initramfs tree -------------------------------------------------------
mkdir -p "$stage"/{bin,sbin,usr/bin,usr/sbin,etc,proc,sys,dev,mnt,tmp,root} \
    "$stage"/{run,var/log,etc/udhcpc}
ln -s ../run "$stage/var/run"
cp -- "$busybox" "$stage/bin/busybox"
while IFS= read -r applet; do
    [ -e "$stage/$applet" ] || [ -L "$stage/$applet" ] ||
        ln -s /bin/busybox "$stage/$applet"
done < <("$busybox" --list-full)
[ -e "$stage/bin/sh" ] || ln -s busybox "$stage/bin/sh"

install -m 0755 -- "$srcdir/init" "$stage/init"
install -m 0755 -- "$workload" "$stage/bin/clonetest-workload"
install -m 0755 -- "$srcdir/udhcpc.script" "$stage/etc/udhcpc/default.script"
install -D -m 0755 -- "$qroot/$qga" "$stage/$qga"
for lib in "${libs[@]}"; do
    # at the path ldd found it (the loader's default directories), the
    # file itself rather than the host's symlinks
    install -D -m 0755 -- "$(readlink -f -- "$lib")" "$stage$lib"
done
for m in "${order[@]}"; do
    install -D -m 0644 -- "$moddir/$m" "$stage/lib/modules/$kver/$m"
done
printf '%s\n' "${order[@]}" > "$stage/etc/clonetest-modules"
if [ -f "$outdir/clonetest_attack.ko" ]; then
    install -m 0644 -- "$outdir/clonetest_attack.ko" "$stage/lib/modules/clonetest_attack.ko"
fi

# --- archives -------------------------------------------------------------
(cd "$stage" && find . -mindepth 1 -print0 | LC_ALL=C sort -z |
    cpio --quiet --null -o -H newc -R 0:0 --reproducible) |
    gzip -6n > "$outdir/initramfs.img.tmp"
mv -f -- "$outdir/initramfs.img.tmp" "$outdir/initramfs.img"
cp -L -- "$kroot/boot/vmlinuz" "$outdir/vmlinuz.tmp"
mv -f -- "$outdir/vmlinuz.tmp" "$outdir/vmlinuz"

echo "build-guest: $outdir/vmlinuz $outdir/initramfs.img (kernel $kver, ${#order[@]} modules, qemu-ga + ${#libs[@]} libraries)"
