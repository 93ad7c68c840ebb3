#!/bin/bash
# test-netstacks.sh: tests/test-netstacks.c under a private libvirtd with
# libvirt's default network (tests/daemon/run-in-daemon.sh).
#
# usage: test-netstacks.sh RUN-IN-DAEMON BUILD-DEBIAN-GUEST PROGRAM [ARGS...]
#
# The Debian guest's image is built (or found up to date) here, before the
# daemon's namespaces: its build needs Debian's registry, which the private
# network namespace cannot reach.  If it cannot be built, the Debian cases
# skip and the busybox ones still run.  QEMU runs as root (--qemu-root): the
# Debian harness shares one image between tests without DAC labels.
set -euo pipefail

run_in_daemon=$1
build_debian=$2
shift 2
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

[ "$(id -u)" = 0 ] || tap_skip_all "needs root"
unset TG_DISTRO_BUILD
if dir=$("$build_debian" 2>/tmp/test-netstacks-build.$$); then
    export TG_DISTRO_DIR=$dir
else
    sed 's/^/# /' "/tmp/test-netstacks-build.$$" | tail -n 20
    export TG_DISTRO_DIR=/nonexistent/debian-guest
fi
rm -f "/tmp/test-netstacks-build.$$"
exec "$run_in_daemon" --qemu-root -- "$@"
