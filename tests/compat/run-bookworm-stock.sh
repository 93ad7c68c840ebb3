#!/bin/bash
# The project on Debian 12's own libvirt 9.0 and QEMU 7.2 (no backports).
#
# usage: run-bookworm-stock.sh [SOURCE-DIR]
#
# Makes (once) a debootstrap'd bookworm chroot, minbase, from the mirror the
# host's apt uses, with bookworm, bookworm-updates and bookworm-security but
# never bookworm-backports, and installs there what
# "scripts/install-deps.sh --stock --minimal" installs: libvirt 9.0.x,
# QEMU 7.2, swtpm, the build dependencies, the guest agent and kernel for the
# test guest.  The chroot is kept in $LVC_COMPAT_ROOT (default
# /var/lib/libvirt-clone/compat/bookworm-stock) and made again only when it
# is missing or incomplete or scripts/install-deps.sh (the package list)
# changed.
#
# Then, in new mount, PID and network namespaces (everything mounted there,
# and every process started there, QEMU included, goes away with the
# namespaces however the script ends), with /dev, /proc, /sys and the source
# tree (read-only) mounted into the chroot, it builds the project with
# -Dwerror=true in a build directory inside the chroot and runs the
# real-guest tests $LVC_COMPAT_TESTS (default: test-guest-boot
# test-clone-live) under the embedded driver (qemu:///embed, no daemon).
#
# Prints TAP on stdout: the chroot's versions, the build, then every case of
# every test.  Skips ("1..0 # SKIP") only when it cannot run at all: not
# root, no debootstrap, the Debian mirror out of reach.  Diagnostics go to
# stderr.  See docs/compat.md.
set -euo pipefail

self=$(realpath "$0")
# shellcheck source=../tap.sh
. "$(dirname "$self")/../tap.sh"
format=1   # bump to make every cached chroot again

# ---- in the chroot: build and test, print TAP --------------------------------
if [ "${1:-}" = --in-chroot ]; then
    src=/src
    build=/var/tmp/lvc-compat-build
    read -r -a tests <<<"${LVC_COMPAT_TESTS:-test-guest-boot test-clone-live}"
    export PYTHONDONTWRITEBYTECODE=1

    libvirt_v=$(dpkg-query -W -f '${Version}' libvirt0)
    qemu_v=$(dpkg-query -W -f '${Version}' qemu-system-x86)
    echo "# libvirt0 $libvirt_v, qemu-system-x86 $qemu_v"
    if [[ "$libvirt_v" == 9.0.* && "$qemu_v" == 1:7.2* ]] &&
        ! grep -rqs backports /etc/apt/sources.list /etc/apt/sources.list.d/; then
        tap_pass "bookworm's own libvirt 9.0 and QEMU 7.2, no backports"
    else
        tap_fail "bookworm's own libvirt 9.0 and QEMU 7.2, no backports"
    fi

    # meson, ninja and the tests write only into $build
    setup=(meson setup "$build" "$src" -Dwerror=true -Dbuildtype=debugoptimized
           -Dintegration_tests=enabled)
    [ ! -d "$build/meson-private" ] || setup+=(--reconfigure)
    if "${setup[@]}" >&2 && ninja -C "$build" -j 2 >&2; then
        tap_pass "build with -Dwerror=true against libvirt $libvirt_v"
    else
        tap_fail "build with -Dwerror=true against libvirt $libvirt_v"
        tap_done || exit 1
    fi

    rm -f "$build/meson-logs/testlog.json"
    rm -rf /var/tmp/tg-*   # what a killed earlier run left
    # LVC_COMPAT_TEST_ARGS: arguments for every test program (-s PATH skips
    # a case: CI leaves out the long ones that add nothing version-specific)
    meson test -C "$build" --no-rebuild --print-errorlogs \
        ${LVC_COMPAT_TEST_ARGS:+--test-args "$LVC_COMPAT_TEST_ARGS"} "${tests[@]}" >&2 || true
    # every case of every test, as TAP; a test that did not run or whose
    # own TAP is incomplete fails
    python3 - "$build/meson-logs/testlog.json" "$tap_n" "${tests[@]}" <<'PY' || tap_failed=1
import json, re, sys

log, n, wanted = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
results = {}
try:
    for line in open(log):
        r = json.loads(line)
        # "project:suite / name"
        results[r["name"].split(" / ")[-1]] = r
except OSError:
    pass
failed = False
for name in wanted:
    r = results.get(name)
    if r is None:
        n += 1
        print(f"not ok {n} - {name}: did not run")
        failed = True
        continue
    cases = 0
    for line in (r.get("stdout") or "").splitlines():
        m = re.match(r"^(not ok|ok)\s+\d+\s*-?\s*(.*)$", line)
        if m:
            n += 1
            cases += 1
            print(f"{m.group(1)} {n} - {name} {m.group(2)}")
            # "not ok ... # TODO": a known failure, shown as such
            failed |= m.group(1) == "not ok" and "# TODO" not in m.group(2)
        elif line.startswith("#"):
            print(f"# {name}: {line[1:].strip()}")
    n += 1
    ok = r["result"] == "OK" and cases > 0
    print(f"{'ok' if ok else 'not ok'} {n} - {name}: {r['result']} "
          f"({cases} cases, {r['duration']:.0f} s)")
    failed |= not ok
print(f"1..{n}")
sys.exit(1 if failed else 0)
PY
    exit "$tap_failed"
fi

root=${LVC_COMPAT_ROOT:-/var/lib/libvirt-clone/compat/bookworm-stock}
kdir=/var/lib/libvirt-clone/kernel   # the guest kernel, shared with the host

# mount_common ROOT SRC: the source tree read-only at ROOT/src, the host's
# unpacked guest kernel (if any) read-only over the chroot's, /proc
mount_common() {
    local r=$1 s=$2
    mkdir -p "$r/src" "$r$kdir"
    mount --bind "$s" "$r/src"
    mount -o remount,bind,ro "$r/src"
    if [ -e "$kdir/root/boot/vmlinuz" ]; then
        mount --bind "$kdir" "$r$kdir"
        mount -o remount,bind,ro "$r$kdir"
    fi
    mount -t proc proc "$r/proc"
}

# shellcheck disable=SC2317  # called from the traps
unmount_all() {  # everything mounted under ROOT, deepest first
    local r=$1 m
    while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done < <(awk -v r="$r" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
}

# ---- in a private mount namespace: install the packages ----------------------
if [ "${1:-}" = --ns-install ]; then
    r=$2
    s=$3
    trap 'unmount_all "$r"' EXIT
    mount_common "$r" "$s"
    cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
    # no daemon may start in the chroot
    printf '#!/bin/sh\nexit 101\n' > "$r/usr/sbin/policy-rc.d"
    chmod 755 "$r/usr/sbin/policy-rc.d"
    # group kvm with the host's GID: install-deps.sh's chgrp of /dev/kvm
    # (not mounted now anyway) can never change the host's
    if gid=$(getent group kvm | cut -d: -f3) && [ -n "$gid" ]; then
        chroot "$r" getent group kvm >/dev/null || chroot "$r" groupadd -r -g "$gid" kvm
    fi
    # bookworm as a Debian 12 machine has it: with its updates
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive sh -c 'apt-get update -q && apt-get upgrade -y -q'
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        /src/scripts/install-deps.sh --stock --minimal
    chroot "$r" apt-get clean
    exit 0
fi

# ---- PID 1 of new PID, mount and network namespaces: build and test ----------
if [ "${1:-}" = --ns-test ]; then
    r=$2
    s=$3
    trap 'unmount_all "$r"' EXIT
    # the chroot's / a mount point of its own: libvirt makes it a slave
    # mount for each QEMU's mount namespace (else "Failed disable mount
    # propagation out of the root filesystem: Invalid argument")
    mount --bind "$r" "$r"
    mount_common "$r" "$s"
    # sysfs of this network namespace; the host's cgroups for libvirt
    mount -t sysfs sysfs "$r/sys"
    if mountpoint -q /sys/fs/cgroup; then
        mount --rbind /sys/fs/cgroup "$r/sys/fs/cgroup"
    fi
    # the host's /dev (/dev/kvm, /dev/net/tun ...), with a devpts and a
    # /dev/shm of its own: libvirt 9.0 moves the mounts under /dev into each
    # QEMU's mount namespace, and with the host's (stacked) ones there QEMU
    # failed "to create PTY: No such file or directory"
    mount --bind /dev "$r/dev"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$r/dev/pts"
    mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
    ip link set lo up
    chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        LVC_COMPAT_TESTS="${LVC_COMPAT_TESTS:-}" LVC_COMPAT_TEST_ARGS="${LVC_COMPAT_TEST_ARGS:-}" \
        TG_QEMU_NAMESPACES=0 \
        /src/tests/compat/run-bookworm-stock.sh --in-chroot
    exit $?
fi

# ---- outside -----------------------------------------------------------------
src=$(realpath "${1:-$(dirname "$self")/../..}")
[ "$(id -u)" = 0 ] || tap_skip_all "needs root (debootstrap, chroot, namespaces)"
command -v debootstrap >/dev/null || tap_skip_all "needs debootstrap (scripts/install-deps.sh installs it)"
for prog in unshare chroot flock ip; do
    command -v "$prog" >/dev/null || tap_skip_all "needs $prog"
done
unshare --mount --net --pid --fork --mount-proc true 2>/dev/null ||
    tap_skip_all "cannot create mount, network and PID namespaces"
[ -x "$src/scripts/install-deps.sh" ] || tap_bail "no $src/scripts/install-deps.sh"

# the host's own Debian mirror (apt's sources), for each suite
site() {
    # shellcheck disable=SC2016  # apt's own $(SITE) syntax
    apt-get indextargets --format '$(SITE) $(RELEASE)' 'Identifier: Packages' 2>/dev/null |
        awk -v s="$1" '$2 == s { print $1; exit }'
}
mirror=$(site bookworm)
mirror=${mirror:-http://deb.debian.org/debian}
security=$(site bookworm-security)
security=${security:-http://deb.debian.org/debian-security}

mkdir -p "$(dirname "$root")"
# the mounts are made in private namespaces only: were one visible here,
# removing an old chroot could reach into /dev or the source tree
if awk -v r="$root" 'index($2, r) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    tap_bail "something is mounted under $root"
fi
exec 9>"$root.lock"
flock 9   # one run at a time on this chroot

stamp="format $format; $(sha256sum < "$src/scripts/install-deps.sh" | cut -d' ' -f1)"
if [ ! -f "$root/.lvc-compat-stamp" ] || [ "$(cat "$root/.lvc-compat-stamp")" != "$stamp" ]; then
    /usr/lib/apt/apt-helper download-file "$mirror/dists/bookworm/InRelease" \
        "$root.probe" >/dev/null 2>&1 || tap_skip_all "the Debian mirror $mirror is out of reach"
    rm -f "$root.probe"
    start=$(date +%s)
    echo "compat: making the bookworm chroot in $root from $mirror" >&2
    rm -rf "$root.new"
    if ! unshare --mount --propagation private \
            debootstrap --variant=minbase bookworm "$root.new" "$mirror" >&2; then
        rm -rf "$root.new"
        tap_fail "debootstrap bookworm from $mirror"
        tap_done || exit 1
    fi
    rm -f "$root.new/etc/apt/sources.list"
    cat > "$root.new/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    if ! unshare --mount --propagation private "$self" --ns-install "$root.new" "$src" >&2; then
        rm -rf "$root.new"
        tap_fail "install the packages into the chroot (install-deps.sh --stock --minimal)"
        tap_done || exit 1
    fi
    echo "$stamp" > "$root.new/.lvc-compat-stamp"
    rm -rf "$root"
    mv "$root.new" "$root"
    echo "# chroot made in $(($(date +%s) - start)) s"
else
    echo "# chroot cached: $root"
fi

start=$(date +%s)
rc=0
LVC_COMPAT_TESTS="${LVC_COMPAT_TESTS:-}" LVC_COMPAT_TEST_ARGS="${LVC_COMPAT_TEST_ARGS:-}" \
    unshare --mount --net --pid --fork --kill-child \
    --propagation private "$self" --ns-test "$root" "$src" || rc=$?
echo "# build and tests in the chroot: $(($(date +%s) - start)) s"
exit "$rc"
