#!/bin/bash
# Install everything libvirt-clone needs on a fresh Debian 12 (bookworm) machine.
# libvirt and QEMU come from bookworm-backports (libvirt 11.x, QEMU 10.x): QEMU 7.2's
# pre-copy migration under TCG loses guest writes (see docs/design.md).
#
# Options (tests/compat/run-bookworm-stock.sh uses both, in a bookworm chroot):
#   --stock    Debian 12's own libvirt 9.0 and QEMU 7.2: no bookworm-backports
#   --minimal  only what the build and the busybox real-guest tests need (no
#              valgrind, clang-format, Go, pytest, tcpdump, man-db, the daemon's
#              network, the Debian guest's tools)
set -euo pipefail

stock=0
minimal=0
for arg in "$@"; do
    case "$arg" in
        --stock) stock=1 ;;
        --minimal) minimal=1 ;;
        *) echo "install-deps: unknown option '$arg'" >&2; exit 1 ;;
    esac
done
# where the virtualisation stack and the guest agent come from
virt_release=(-t bookworm-backports)
[ "$stock" = 0 ] || virt_release=()

if [ "$(id -u)" != 0 ]; then
    echo "install-deps: must run as root" >&2
    exit 1
fi

bp=/etc/apt/sources.list.d/bookworm-backports.sources
if [ "$stock" = 0 ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    cat > "$bp" <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q

# Virtualisation stack from backports (--stock: from bookworm).
apt-get install -y -q "${virt_release[@]}" --no-install-recommends \
    qemu-system-x86 qemu-utils libvirt-daemon libvirt-daemon-driver-qemu \
    libvirt-clients libvirt-dev libvirt0 python3-libvirt swtpm swtpm-tools

# libvirt's default NAT network for a private qemu:///system
# (tests/daemon/run-in-daemon.sh): the network driver, the network's
# definition, dnsmasq for its DHCP and iptables (its firewall backend there)
# (not with --minimal; bookworm's own libvirt 9.0 has that driver in libvirt-daemon)
if [ "$minimal" = 0 ]; then
    net_pkgs=(libvirt-daemon-config-network dnsmasq-base iptables)
    [ "$stock" = 1 ] || net_pkgs+=(libvirt-daemon-driver-network)
    apt-get install -y -q "${virt_release[@]}" --no-install-recommends "${net_pkgs[@]}"
fi

# Build tools and libraries from bookworm.
apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config gettext \
    libxml2-dev libxml2-utils libglib2.0-dev libjson-glib-dev \
    libnl-3-dev libnl-route-3-dev \
    busybox-static cpio gzip iproute2 python3-docutils
# The other tests' and the developer's tools.
if [ "$minimal" = 0 ]; then
    apt-get install -y -q --no-install-recommends \
        tcpdump python3-dev python3-pytest clang-format valgrind \
        man-db groff-base golang-go golang-github-libvirt-libvirt-go-dev
    # test-memory opens its ELF dumps with crash and gdb when they are there
    apt-get install -y -q --no-install-recommends crash gdb
fi

# virt-manager's clone button (contrib/virt-manager/, tests/ui/): Debian's
# virt-manager, patch, an X server, a session bus, the accessibility bus
# and dogtail to drive the dialog.
if [ "$minimal" = 0 ]; then
    apt-get install -y -q --no-install-recommends \
        virt-manager patch xvfb dbus-daemon at-spi2-core python3-dogtail \
        python3-pyatspi gir1.2-atspi-2.0 gir1.2-gtk-3.0
fi

# The Debian test guest (tests/guest/debian/build-debian-guest.sh; debootstrap
# for tests/compat/ too): debootstrap,
# UEFI firmware (OVMF) and the tools that make its GPT disk without loop devices.
if [ "$minimal" = 0 ]; then
    apt-get install -y -q --no-install-recommends \
        debootstrap ovmf mtools dosfstools fdisk grub-efi-amd64-bin e2fsprogs
fi

# Guest kernel and its modules: unpack Debian's kernel image package (without
# installing it as the host's kernel) for tests/guest/build-guest.sh.
kdir=/var/lib/libvirt-clone/kernel
if [ ! -e "$kdir/root/boot" ]; then
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q linux-image-amd64 &&
        dep=$(dpkg-deb -f linux-image-amd64_*.deb Depends | sed -E 's/^([^ ,|]+).*/\1/') &&
        apt-get download -q "$dep")
    rm -rf "$kdir"
    mkdir -p "$kdir/root"
    for d in "$tmp"/linux-image-[0-9]*.deb; do dpkg -x "$d" "$kdir/root"; done
    ln -sf "$(cd "$kdir/root/boot" && ls vmlinuz-* | head -n1)" "$kdir/root/boot/vmlinuz"
    rm -rf "$tmp"
fi

# The guest kernel's headers and kbuild (tests/guest/attack/ builds a module
# against them, out of tree): the linux-headers package of the unpacked
# kernel's release, its -common package and the linux-kbuild package, unpacked
# like the kernel.  Their Makefile includes the -common one by its absolute
# /usr/src path: point it at the unpacked copy.  gcc-12 is the compiler
# Debian built the kernel with (linux-compiler-gcc-12-x86).
hdir=/var/lib/libvirt-clone/kheaders
kmods=("$kdir"/root/lib/modules/*/)
krel=
[ -d "${kmods[0]}" ] && krel=$(basename -- "${kmods[0]}")
if [ -n "$krel" ] && [ ! -e "$hdir/root/usr/src/linux-headers-$krel/Makefile" ]; then
    apt-get install -y -q --no-install-recommends gcc-12 make
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q "linux-headers-$krel" &&
        mapfile -t deps < <(dpkg-deb -f "linux-headers-${krel}"_*.deb Depends |
            tr ',' '\n' | sed -nE 's/^ *(linux-(headers|kbuild)-[^ |(]+).*/\1/p') &&
        [ ${#deps[@]} -gt 0 ] && apt-get download -q "${deps[@]}")
    rm -rf "$hdir"
    mkdir -p "$hdir/root"
    for d in "$tmp"/linux-headers-*.deb "$tmp"/linux-kbuild-*.deb; do dpkg -x "$d" "$hdir/root"; done
    sed -i -E "s|^include /usr/src/|include $hdir/root/usr/src/|" \
        "$hdir/root/usr/src/linux-headers-$krel/Makefile"
    rm -rf "$tmp"
fi

# The same kernel's debug image, for crash(8) on the guests' memory dumps
# (tests/test-memory): its vmlinux only (about 600 MiB unpacked; the package
# is 860 MiB and takes minutes to unpack, so it is kept once unpacked).
if [ "$minimal" = 0 ] && [ -n "$krel" ]; then
    kver=$krel
    ddir=/var/lib/libvirt-clone/kernel-dbg
    if [ ! -s "$ddir/vmlinux-$kver" ]; then
        tmp=$(mktemp -d)
        chmod 755 "$tmp"
        (cd "$tmp" && apt-get download -q "linux-image-$kver-dbg" &&
            dpkg-deb --fsys-tarfile linux-image-"$kver"-dbg_*.deb |
            tar -x -C "$tmp" "./usr/lib/debug/boot/vmlinux-$kver")
        mkdir -p "$ddir"
        mv "$tmp/usr/lib/debug/boot/vmlinux-$kver" "$ddir/vmlinux-$kver.part"
        mv "$ddir/vmlinux-$kver.part" "$ddir/vmlinux-$kver"
        rm -rf "$tmp"
    fi
fi

# The guest's qemu-guest-agent: unpack Debian's package (backports' if it has
# one, else bookworm's; not installed on the host) for build-guest.sh, which
# copies qemu-ga and the host's copies of the libraries it links into the
# initramfs: install those libraries (the package's Depends) on the host.
qdir=/var/lib/libvirt-clone/qga
if [ ! -x "$qdir/root/usr/sbin/qemu-ga" ] || [ ! -s "$qdir/depends" ]; then
    tmp=$(mktemp -d)
    chmod 755 "$tmp"
    (cd "$tmp" && apt-get download -q "${virt_release[@]}" qemu-guest-agent)
    rm -rf "$qdir"
    mkdir -p "$qdir/root"
    dpkg -x "$tmp"/qemu-guest-agent_*.deb "$qdir/root"
    dpkg-deb -f "$tmp"/qemu-guest-agent_*.deb Version > "$qdir/version"
    dpkg-deb -f "$tmp"/qemu-guest-agent_*.deb Depends > "$qdir/depends"
    rm -rf "$tmp"
fi
# first alternative of each dependency, without its version
mapfile -t qdeps < <(tr ',' '\n' < "$qdir/depends" | sed -nE 's/^ *([^ |(]+).*/\1/p')
apt-get install -y -q --no-install-recommends "${qdeps[@]}"

# libvirtd without systemd needs these.
getent group kvm >/dev/null || groupadd -r kvm
# (libvirt 9.0 creates neither without libvirt-daemon-system; its QEMU
# driver refuses to start without the group: "Failed to parse group")
getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu
getent passwd libvirt-qemu >/dev/null || useradd -r -g kvm -G libvirt-qemu -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu
mkdir -p /var/log/libvirt /var/run/libvirt

# What udev does on a normal host: /dev/kvm belongs to group kvm.  Without it
# libvirt finds KVM "enabled when probing but not available now", throws its
# QEMU capabilities cache away on every lookup and re-probes QEMU (~4 s each).
if [ -c /dev/kvm ]; then
    chgrp kvm /dev/kvm
    chmod 0660 /dev/kvm
fi
