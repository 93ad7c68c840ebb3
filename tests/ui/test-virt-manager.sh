#!/bin/bash
# virt-manager's clone button: Debian's virt-manager with the live clone
# patch (contrib/virt-manager/), in an X server of its own (Xvfb), against a
# private libvirtd with this build installed (tests/daemon/run-in-daemon.sh),
# live-clones a running test guest into a sandbox; test-virt-manager (C)
# starts the guest, drives the dialog with virt-manager-live-clone.py and
# checks the clone through libvirt.
#
# usage: test-virt-manager.sh RUN-IN-DAEMON BUILDDIR MESON TEST-PROGRAM SOURCE-ROOT OUTDIR
#
# The patch goes into a copy of /usr/share/virt-manager, bind-mounted over
# it in the daemon's mount namespace only: the host's virt-manager is not
# touched.  OUTDIR gets the dialog's picture (virt-manager-live-clone.png)
# and virt-manager's log.  Prints a TAP skip line when a tool is missing
# (scripts/install-deps.sh installs them all).
#
# SPDX-License-Identifier: LGPL-2.1-or-later
set -euo pipefail

if [ "${1:-}" != --inside ]; then
    [ $# = 6 ] || { echo "usage: test-virt-manager.sh RUN-IN-DAEMON BUILDDIR MESON" \
                         "TEST-PROGRAM SOURCE-ROOT OUTDIR" >&2; exit 2; }
    rid=$1 build=$2 meson=$3 prog=$4 src=$5 out=$6
    skip() { echo "1..0 # SKIP $* (scripts/install-deps.sh)"; exit 0; }
    for p in Xvfb dbus-run-session patch; do
        command -v "$p" >/dev/null || skip "needs $p"
    done
    [ -x /usr/bin/virt-manager ] && [ -d /usr/share/virt-manager/virtManager ] ||
        skip "needs virt-manager"
    /usr/bin/python3 -c 'import dogtail, pyatspi' 2>/dev/null || skip "needs python3-dogtail"
    compgen -G "$build/bindings/python/_libvirt_clone*.so" >/dev/null ||
        skip "needs the Python binding (python3-dev, python3-libvirt)"
    mkdir -p "$out"
    exec "$rid" --build "$build" --meson "$meson" -- "$(realpath "$0")" --inside "$prog" "$src" "$out"
fi

# ---- inside the daemon's namespaces ----------------------------------------
prog=$2 src=$3 out=$4
work=$(mktemp -d /var/tmp/lvc-ui.XXXXXX)
xpid=''
cleanup() {
    [ -z "$xpid" ] || kill "$xpid" 2>/dev/null || true
    umount /usr/share/virt-manager 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# the installed virt-manager, patched as a user patches it
cp -a /usr/share/virt-manager "$work/virt-manager"
if ! "$src/contrib/virt-manager/apply-patch.sh" --root "$work/virt-manager" > "$work/patch.log" 2>&1; then
    echo "Bail out! contrib/virt-manager/apply-patch.sh failed"
    sed 's/^/# /' "$work/patch.log"
    exit 1
fi
sed 's/^/# /' "$work/patch.log"
mount --bind "$work/virt-manager" /usr/share/virt-manager

# an X server; -displayfd picks a free display number
Xvfb -displayfd 3 -screen 0 1280x1024x24 -nolisten tcp 3> "$work/display" 2> "$out/xvfb.log" &
xpid=$!
for _ in $(seq 100); do
    [ -s "$work/display" ] && break
    kill -0 "$xpid" 2>/dev/null || { echo "Bail out! Xvfb did not start"; sed 's/^/# /' "$out/xvfb.log"; exit 1; }
    sleep 0.1
done
[ -s "$work/display" ] || { echo "Bail out! Xvfb gives no display"; exit 1; }
export DISPLAY=":$(head -n1 "$work/display")"
mkdir -m 0700 "$work/xdg"
export XDG_RUNTIME_DIR=$work/xdg HOME=$work
unset NO_AT_BRIDGE
export LVC_UI_DRIVER=$src/tests/ui/virt-manager-live-clone.py LVC_UI_OUTDIR=$out

# a session bus: the accessibility bus (at-spi2-core) starts on it
rc=0
# (the bus's services write to its stdout: keep TAP clean, on fd 3)
dbus-run-session -- sh -c 'exec "$@" >&3 3>&-' sh "$prog" --tap 3>&1 > "$out/dbus.log" || rc=$?
exit "$rc"
