#!/bin/bash
# Build the Debian 12 test guest (tests/guest/debian/README.md) once per
# machine, from Debian's package registry with debootstrap; never a
# downloaded image.
#
#   build-debian-guest.sh [OUTDIR]
#
# OUTDIR (default /var/lib/libvirt-clone/debian-guest) gets:
#   disk.qcow2     GPT: ESP (grub BOOTX64.EFI) + ext4 root; boots by itself under UEFI
#   vmlinuz, initrd.img   the image's kernel and initrd, for direct kernel boot
#   info           KEY=VALUE lines: CMDLINE, ROOT_UUID, KERNEL_VERSION,
#                  OVMF_CODE, OVMF_VARS, INPUTS, BUILD_SECONDS
# and prints OUTDIR on stdout.  It is rebuilt only when missing or when its
# inputs (this script, rootfs/, the package list) change; a lock serialises
# concurrent callers.  Debian's .debs are cached in OUTDIR.debs.
#
# No loop device and no mount: the ext4 root is made by mkfs.ext4 -d, the
# FAT ESP by mkfs.vfat + mtools, the partition table by sfdisk, and the
# pieces are put together with dd.  debootstrap itself mounts /proc and /sys
# inside its chroot, as it always does.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-/var/lib/libvirt-clone/debian-guest}
mirror=${DEBIAN_GUEST_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

packages=(
    systemd systemd-sysv udev dbus libpam-systemd
    linux-image-amd64 initramfs-tools zstd
    qemu-guest-agent iproute2 iputils-ping procps
    netplan.io network-manager ifupdown isc-dhcp-client
)

esp_mib=64
disk_mib=3072
ovmf_code=/usr/share/OVMF/OVMF_CODE_4M.fd
ovmf_vars=/usr/share/OVMF/OVMF_VARS_4M.fd

log() { echo "build-debian-guest: $*" >&2; }

inputs_hash() {
    {
        sha256sum <"${BASH_SOURCE[0]}"
        (cd "$here/rootfs" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
        find "$here/rootfs" -type f -perm -u+x -printf '%P x\n' | sort
        echo "$mirror $suite ${packages[*]}"
    } | sha256sum | cut -d' ' -f1
}

up_to_date() {
    [ -s "$out/disk.qcow2" ] && [ -s "$out/vmlinuz" ] && [ -s "$out/initrd.img" ] &&
        grep -qx "INPUTS=$1" "$out/info" 2>/dev/null
}

for tool in debootstrap mkfs.ext4 mkfs.vfat mmd mcopy sfdisk grub-mkstandalone qemu-img; do
    if ! command -v "$tool" >/dev/null; then
        log "missing $tool (scripts/install-deps.sh installs it)"
        exit 1
    fi
done
for f in "$ovmf_code" "$ovmf_vars"; do
    [ -f "$f" ] || { log "missing $f (package ovmf)"; exit 1; }
done

hash=$(inputs_hash)
mkdir -p "$(dirname "$out")"
exec 9>"$out.lock"
flock 9
if up_to_date "$hash"; then
    echo "$out"
    exit 0
fi

start=$(date +%s)
work=$(mktemp -d "$(dirname "$out")/debian-guest.XXXXXX")
cleanup() {
    # debootstrap may leave its mounts behind when it fails
    for m in proc sys dev/pts dev; do
        mountpoint -q "$work/root/$m" 2>/dev/null && umount -l "$work/root/$m" || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
root=$work/root
mkdir -p "$out.debs"

log "debootstrap $suite into $root (packages cached in $out.debs)"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" --cache-dir="$out.debs" \
    "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -n 30 "$work/debootstrap.log" >&2
    cp "$root/debootstrap/debootstrap.log" "$out.failed.log" 2>/dev/null &&
        log "dpkg's log: $out.failed.log"
    exit 1
}

kver=$(basename "$(ls -d "$root"/lib/modules/*/ | head -n1)")
uuid=$(cat /proc/sys/kernel/random/uuid)

log "configure the image (kernel $kver, root UUID $uuid)"
cp -a --no-preserve=ownership "$here/rootfs/." "$root/"
echo debtest >"$root/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tdebtest\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
    >"$root/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$uuid" >"$root/etc/fstab"
# first boot: systemd generates and commits a machine ID of its own
: >"$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
ln -s /etc/machine-id "$root/var/lib/dbus/machine-id"
# no login on the consoles (the agent is the way in); no e2scrub (it took
# 35-50 s of each boot under TCG)
for u in getty@.service serial-getty@.service e2scrub_reap.service e2scrub_all.timer \
    e2scrub_all.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$u"
done
# every stack off in the image: lvc-netstack-generator turns one on per boot
chroot "$root" systemctl disable -q NetworkManager.service networking.service \
    systemd-networkd.service systemd-networkd.socket \
    systemd-networkd-wait-online.service NetworkManager-wait-online.service \
    NetworkManager-dispatcher.service 2>/dev/null || true
chroot "$root" systemctl enable -q lvc-netstack-setup.service debtest-ready.service
# a small initrd (fast under TCG): only what finds a virtio/ext4 root
sed -i 's/^MODULES=.*/MODULES=list/' "$root/etc/initramfs-tools/initramfs.conf"
printf '%s\n' virtio_pci virtio_blk virtio_scsi sd_mod ext4 crc32c_generic \
    >>"$root/etc/initramfs-tools/modules"
chroot "$root" update-initramfs -u -k "$kver" >"$work/initramfs.log" 2>&1 || {
    cat "$work/initramfs.log" >&2
    exit 1
}
cp "$root/boot/vmlinuz-$kver" "$work/vmlinuz"
cp "$root/boot/initrd.img-$kver" "$work/initrd.img"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/locale/*

cmdline="root=UUID=$uuid ro console=ttyS0 systemd.firstboot=off"

log "bootloader: grub-mkstandalone BOOTX64.EFI"
cat >"$work/grub.cfg" <<EOF
set timeout=0
search --no-floppy --fs-uuid --set=root $uuid
linux /boot/vmlinuz-$kver $cmdline
initrd /boot/initrd.img-$kver
boot
EOF
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" \
    --install-modules="part_gpt ext2 fat search search_fs_uuid linux normal configfile echo test boot all_video" \
    --modules="part_gpt ext2" --locales="" --fonts="" --themes="" \
    "boot/grub/grub.cfg=$work/grub.cfg"

log "disk: GPT, ESP ${esp_mib} MiB, ext4 root, ${disk_mib} MiB in all"
# layout in MiB: 1 (GPT) | ESP | root | 1 (backup GPT)
root_mib=$((disk_mib - esp_mib - 2))
mkfs.vfat -n EFI -C "$work/esp.img" $((esp_mib * 1024)) >/dev/null
mmd -i "$work/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$work/esp.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
truncate -s "${root_mib}M" "$work/root.img"
mkfs.ext4 -q -F -L debtest-root -U "$uuid" -d "$root" "$work/root.img"
truncate -s "${disk_mib}M" "$work/disk.raw"
sfdisk -q "$work/disk.raw" <<EOF
label: gpt
start=1MiB, size=${esp_mib}MiB, type=uefi, name=esp
start=$((1 + esp_mib))MiB, size=${root_mib}MiB, type=linux, name=root
EOF
dd if="$work/esp.img" of="$work/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$work/disk.raw" bs=1M seek=$((1 + esp_mib)) conv=notrunc,sparse status=none
qemu-img convert -f raw -O qcow2 "$work/disk.raw" "$work/disk.qcow2"

cat >"$work/info" <<EOF
CMDLINE=$cmdline
ROOT_UUID=$uuid
KERNEL_VERSION=$kver
OVMF_CODE=$ovmf_code
OVMF_VARS=$ovmf_vars
BUILD_SECONDS=$(($(date +%s) - start))
INPUTS=$hash
EOF

rm -rf "$out.new"
mkdir -p "$out.new"
mv "$work/disk.qcow2" "$work/vmlinuz" "$work/initrd.img" "$work/info" "$out.new/"
chmod 644 "$out.new"/*
rm -rf "$out.old"
[ ! -e "$out" ] || mv "$out" "$out.old"
mv "$out.new" "$out"
rm -rf "$out.old"
log "done in $(($(date +%s) - start)) s: $(du -sh "$out/disk.qcow2" | cut -f1) disk"
echo "$out"
