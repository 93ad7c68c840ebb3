#!/bin/bash
# build-attack.sh OUT.ko KERNEL_ROOT HEADERS_ROOT SRCDIR
#
# Build tests/guest/attack/clonetest_attack.c as an out-of-tree module
# ("make -C HEADERS M=DIR") against the headers of the test guest's kernel:
# KERNEL_ROOT is the unpacked linux-image package (its lib/modules/RELEASE
# names the release), HEADERS_ROOT the unpacked linux-headers-RELEASE,
# -common and linux-kbuild packages (both made by scripts/install-deps.sh).
# The headers' Makefile compiles with the compiler Debian built the kernel
# with (gcc-12); the module is not signed (the kernel does not require it).
set -euo pipefail

die() {
    echo "build-attack: $*" >&2
    exit 1
}

[ $# -eq 4 ] || die "usage: build-attack.sh OUT.ko KERNEL_ROOT HEADERS_ROOT SRCDIR"
out=$1
kroot=$2
hroot=$3
srcdir=$4

kvers=("$kroot"/lib/modules/*/)
if [ ${#kvers[@]} -ne 1 ] || [ ! -d "${kvers[0]}" ]; then
    die "expected exactly one '$kroot/lib/modules/<version>/' directory"
fi
kver=$(basename -- "${kvers[0]}")
hdir=$hroot/usr/src/linux-headers-$kver
[ -f "$hdir/Makefile" ] ||
    die "no headers for $kver at $hdir (run scripts/install-deps.sh)"
cc=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*\) .*/\1/p' "$hdir/.config")
command -v "${cc:-gcc-12}" >/dev/null ||
    die "the kernel was built with '$cc', which is not installed"

work=$(mktemp -d "${TMPDIR:-/tmp}/clonetest-attack.XXXXXX")
trap 'rm -rf -- "$work"' EXIT
cp -- "$srcdir/clonetest_attack.c" "$srcdir/Kbuild" "$work/"
make -s -C "$hdir" M="$work" modules >"$work/build.log" 2>&1 ||
    { cat "$work/build.log" >&2; die "make failed"; }
# kbuild's only news is that it has no vmlinux for BTF; anything else is shown
grep -v -e 'Skipping BTF generation' "$work/build.log" >&2 || true
cp -- "$work/clonetest_attack.ko" "$out.tmp"
mv -f -- "$out.tmp" "$out"
