#!/bin/bash
# Run a program against a private libvirtd: qemu:///system, the stock QEMU
# user (libvirt-qemu), libvirt's `default` NAT network, and this build's
# libvirt qemu hook installed as `meson install` installs it.
#
# usage: run-in-daemon.sh [OPTIONS] -- PROGRAM [ARGS...]
#
# Options:
#   --build DIR     meson build directory: `meson install --destdir` of it;
#                   its installed hook goes into the private
#                   /etc/libvirt/hooks/qemu.d/, its installed prefix appears
#                   at the prefix (see below).  Without it no hook is installed.
#   --meson PATH    the meson to install with (default: meson on PATH)
#   --qemu-root     QEMU and swtpm as root, without DAC labels (the old
#                   configuration of tests/test-hook.sh); default: libvirt's
#                   stock qemu.conf (user/group libvirt-qemu, DAC labels,
#                   dynamic ownership), plus stdio_handler = "file"
#   --no-network    do not define and start the `default` network
#   --log-level N   libvirtd's log level (1 debug .. 4 errors; default 3)
#   --keep          keep the work directory (printed on stderr)
#
# How: the script re-runs itself in new mount, network and PID namespaces
# (unshare(1)) as PID 1 there.  Empty directories of a work directory (under
# /var/tmp) are bind-mounted over /etc/libvirt, /run/libvirt,
# /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt, /var/log/swtpm
# (libvirt's swtpm logs), /var/lib/swtpm-localca (swtpm's local CA) and
# /run/libvirt-clone, with the owners and modes
# of the host's directories (so that QEMU as libvirt-qemu can reach them);
# sysfs is mounted again for the new network namespace.  The host's
# daemon, configuration, state, networks and firewall are never touched.
# When PROGRAM ends, however it ends, the kernel kills everything in the
# PID namespace (libvirtd, QEMU, swtpm, dnsmasq) and the bridges go with
# the network namespace; the work directory is removed from outside.
#
# The installed build: DESTDIR/PREFIX is laid over PREFIX with a read-only
# overlay mount inside the mount namespace (the host's files under PREFIX
# stay visible below it), so the library, CLI and hook are found at their
# installed paths (the library spawns PREFIX/bin/virt-clone-live for the
# sandbox watcher).  A private /etc/ld.so.cache (ldconfig -C, bind-mounted)
# lists the installed library for every process of the namespace, including
# those libvirtd starts with a clean environment; PROGRAM gets
# LD_LIBRARY_PATH=LIBDIR too, so that a test program built in the tree loads
# the installed library, not the build's (LD_LIBRARY_PATH comes before a
# RUNPATH).
#
# PROGRAM runs with:
#   LIBVIRT_DEFAULT_URI, TG_URI  qemu:///system
#   TG_ROOT_BASE     /var/lib/libvirt/images: tests/testutils-guest.c makes
#                    its images there, where libvirt-qemu can reach them
#   LVC_DAEMON_CTL   a command: `$LVC_DAEMON_CTL start|stop|restart|log|pid`
#                    (log prints the path of libvirtd's log file)
#   LVC_DAEMON_LOG   libvirtd's log file
#   LVC_DAEMON_HOOK  the installed hook (empty without --build)
#   LVC_DAEMON_NETWORK  "default" (empty with --no-network)
#   LVC_DAEMON_QEMU_USER  the user QEMU runs as (libvirt-qemu or root)
#   LIBVIRT_CLONE_CLI  the installed virt-clone-live (with --build)
# and exits with PROGRAM's status.  Without root, unshare, libvirtd or QEMU
# it prints a TAP skip line ("1..0 # SKIP ...") and exits 0; a setup that
# fails prints "Bail out! ..." with the end of libvirtd's log and exits 1.
set -euo pipefail

self=$(realpath "$0")
# shellcheck source=../tap.sh
. "$(dirname "$self")/../tap.sh"

# ---- the control verbs (LVC_DAEMON_CTL), inside the namespaces ---------------
pidfile=/run/libvirt/libvirtd.pid
logfile=/var/log/libvirt/libvirtd.log

daemon_start() {
    local i
    libvirtd -d -p "$pidfile" || return 1
    for i in $(seq 150); do
        virsh -q -c qemu:///system uri >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    echo "run-in-daemon: libvirtd does not answer" >&2
    return 1
}

daemon_stop() {
    local pid i
    pid=$(cat "$pidfile" 2>/dev/null) || return 0
    kill "$pid" 2>/dev/null || return 0
    for i in $(seq 150); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.2
    done
    echo "run-in-daemon: libvirtd ($pid) does not stop; killing it" >&2
    kill -KILL "$pid" 2>/dev/null
    return 1
}

if [ "${1:-}" = --ctl ]; then
    [ -n "${LVC_DAEMON_INSIDE:-}" ] || { echo "run-in-daemon: --ctl only inside" >&2; exit 2; }
    case "${2:-}" in
        start) daemon_start ;;
        stop) daemon_stop ;;
        restart) daemon_stop && daemon_start ;;
        log) echo "$logfile" ;;
        pid) echo "$(cat "$pidfile")" ;;
        *) echo "usage: \$LVC_DAEMON_CTL start|stop|restart|log|pid" >&2; exit 2 ;;
    esac
    exit $?
fi

# ---- options -----------------------------------------------------------------
build=''
meson=meson
qemu_root=no
network=yes
log_level=3
keep=no
while [ $# -gt 0 ]; do
    case "$1" in
        --build) build=$(realpath "$2"); shift 2 ;;
        --meson) meson=$2; shift 2 ;;
        --qemu-root) qemu_root=yes; shift ;;
        --no-network) network=no; shift ;;
        --log-level) log_level=$2; shift 2 ;;
        --keep) keep=yes; shift ;;
        --) shift; break ;;
        *) echo "usage: run-in-daemon.sh [--build DIR] [--meson PATH] [--qemu-root]" \
                "[--no-network] [--log-level N] [--keep] -- PROGRAM [ARGS...]" >&2
           exit 2 ;;
    esac
done
[ $# -gt 0 ] || { echo "run-in-daemon: no PROGRAM" >&2; exit 2; }

# libvirt's directories, bind-mounted over by a private copy
# (and swtpm's local CA: swtpm_setup runs as tss here, while tests under
# the embedded driver run it as root, whose files there tss cannot lock)
libvirt_dirs=(/etc/libvirt /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt
              /run/libvirt-clone /var/log/swtpm /var/lib/swtpm-localca)

# ---- outside: checks, the installed build, the namespaces ----------------------
if [ -z "${LVC_DAEMON_INSIDE:-}" ]; then
    [ "$(id -u)" = 0 ] || tap_skip_all "needs root (runs a private libvirtd)"
    for prog in unshare libvirtd virsh ip mount qemu-system-x86_64 qemu-img ldconfig; do
        command -v "$prog" >/dev/null || tap_skip_all "needs $prog"
    done
    if [ "$network" = yes ]; then
        for prog in dnsmasq iptables; do
            command -v "$prog" >/dev/null || tap_skip_all "needs $prog (scripts/install-deps.sh)"
        done
        [ -e /usr/share/libvirt/networks/default.xml ] ||
            tap_skip_all "needs libvirt's default network (libvirt-daemon-config-network)"
    fi
    for d in "${libvirt_dirs[@]:0:5}"; do
        [ -d "$d" ] || tap_skip_all "needs the directory $d (libvirt-daemon installed)"
    done
    getent passwd libvirt-qemu >/dev/null || tap_skip_all "needs the user libvirt-qemu"
    unshare --mount --net --pid --fork --mount-proc true 2>/dev/null ||
        tap_skip_all "cannot create mount, network and PID namespaces"
    # mount points: the project's run directory and swtpm's logs (the
    # library and libvirt make them on first use anyway)
    mkdir -p -m 0700 /run/libvirt-clone
    mkdir -p -m 0711 /var/log/swtpm
    mkdir -p -m 0750 /var/lib/swtpm-localca

    work=$(mktemp -d /var/tmp/lvc-daemon.XXXXXX)
    chmod 0755 "$work"
    if [ "$keep" = yes ]; then
        echo "run-in-daemon: work directory $work (kept)" >&2
    else
        trap 'rm -rf "$work"' EXIT
    fi
    trap 'exit 143' TERM
    trap 'exit 130' INT
    trap 'exit 129' HUP

    if [ -n "$build" ]; then
        # the install paths of this build: {build path: install path}
        installed=$("$meson" introspect "$build" --installed) ||
            tap_bail "meson introspect $build failed"
        prefix=$("$meson" introspect "$build" --buildoptions |
                 python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
        pick() {  # pick REGEX: the install path that matches
            python3 -c 'import json,re,sys
for v in json.load(sys.stdin).values():
    if re.search(sys.argv[1], v): print(v); break' "$1" <<<"$installed"
        }
        hook_path=$(pick '/libvirt/hooks/qemu\.d/libvirt-clone$')
        lib_path=$(pick '/libvirt-clone\.so\.[0-9]+\.[0-9]+\.[0-9]+$')
        cli_path=$(pick '/bin/virt-clone-live$')
        [ -n "$hook_path" ] && [ -n "$lib_path" ] ||
            tap_bail "$build installs no hook or library"
        [ -d "$prefix" ] || tap_skip_all "the build's prefix $prefix does not exist (mount point)"
        if ! "$meson" install -C "$build" --destdir "$work/dest" --no-rebuild --quiet \
                > "$work/install.log" 2>&1; then
            tap_bail "meson install -C $build failed" "$work/install.log"
        fi
        export LVC_DAEMON_PREFIX=$prefix LVC_DAEMON_HOOK_SRC=$hook_path
        export LVC_DAEMON_LIBDIR=${lib_path%/*} LVC_DAEMON_CLI=$cli_path
    fi

    rc=0
    LVC_DAEMON_INSIDE=$work LVC_DAEMON_QEMU_ROOT=$qemu_root LVC_DAEMON_NET=$network \
        LVC_DAEMON_LOG_LEVEL=$log_level \
        unshare --mount --net --pid --fork --kill-child --mount-proc --propagation private \
        "$self" -- "$@" || rc=$?
    exit "$rc"
fi

# ---- inside: PID 1 of a new PID namespace ------------------------------------
work=$LVC_DAEMON_INSIDE

bail() { tap_bail "run-in-daemon: $*" "$logfile"; }

# skeleton HOST-DIR COPY: COPY gets HOST-DIR's owner and mode, and so do the
# directories below it (two levels; no files)
skeleton() {
    local host=$1 copy=$2 mode owner rel
    mkdir -p "$copy"
    if [ -d "$host" ]; then
        chown --reference="$host" "$copy"
        chmod --reference="$host" "$copy"
        while IFS= read -r -d '' rel; do
            mkdir -p "$copy/$rel"
            chown --reference="$host/$rel" "$copy/$rel"
            chmod --reference="$host/$rel" "$copy/$rel"
        done < <(find "$host" -mindepth 1 -maxdepth 2 -type d -printf '%P\0')
    fi
}

private_dirs() {
    local d copy
    for d in "${libvirt_dirs[@]}"; do
        copy=$work/root$d
        skeleton "$d" "$copy"
        mount --bind "$copy" "$d" || return 1
    done
    # an empty local CA of swtpm's user, as the package makes it
    if getent passwd tss >/dev/null; then
        chown tss:root /var/lib/swtpm-localca && chmod 0750 /var/lib/swtpm-localca || return 1
    fi
    # the images of tests (TG_ROOT_BASE): QEMU as libvirt-qemu walks through
    mkdir -p -m 0711 /var/lib/libvirt/images
    # /sys/class/net of this network namespace: libvirt isolates a tap there
    umount -l /sys && mount -t sysfs sysfs /sys || return 1
    ip link set lo up
}

write_config() {
    local levels
    levels="log_outputs = \"$LVC_DAEMON_LOG_LEVEL:file:$logfile\""
    [ "$LVC_DAEMON_LOG_LEVEL" != 1 ] ||
        levels+=$'\nlog_filters = "3:object 3:json 3:event 3:util.threadjob 3:rpc 3:util.command 3:util.file"'
    printf '# written by tests/daemon/run-in-daemon.sh\n%s\n' "$levels" \
        > /etc/libvirt/libvirtd.conf
    {
        echo '# written by tests/daemon/run-in-daemon.sh'
        echo '# no virtlogd without systemd: QEMU writes its own logs'
        echo 'stdio_handler = "file"'
        if [ "$LVC_DAEMON_QEMU_ROOT" = yes ]; then
            echo 'user = "root"'
            echo 'group = "root"'
            echo 'swtpm_user = "root"'
            echo 'swtpm_group = "root"'
            echo 'dynamic_ownership = 0'
            echo 'security_driver = "none"'
        fi
    } > /etc/libvirt/qemu.conf
    # the nftables backend cannot start a NAT network on this kernel (its
    # DHCP checksum rule needs a missing tc action module)
    printf '# written by tests/daemon/run-in-daemon.sh\nfirewall_backend = "iptables"\n' \
        > /etc/libvirt/network.conf
}

# DESTDIR/PREFIX over PREFIX, the hook into qemu.d, a private ld.so.cache
install_build() {
    local dest=$work/dest
    [ -n "${LVC_DAEMON_PREFIX:-}" ] || return 0
    mount -t overlay overlay -o "lowerdir=$dest$LVC_DAEMON_PREFIX:$LVC_DAEMON_PREFIX" \
        "$LVC_DAEMON_PREFIX" || return 1
    mkdir -p /etc/libvirt/hooks/qemu.d
    # sysconfdir may lie outside the prefix (prefix /usr: /etc)
    install -m 0755 "$dest$LVC_DAEMON_HOOK_SRC" /etc/libvirt/hooks/qemu.d/libvirt-clone || return 1
    cmp -s /etc/libvirt/hooks/qemu.d/libvirt-clone "$dest$LVC_DAEMON_HOOK_SRC" || return 1
    ldconfig -X -C "$work/ld.so.cache" "$LVC_DAEMON_LIBDIR" || return 1
    touch /etc/ld.so.cache
    mount --bind "$work/ld.so.cache" /etc/ld.so.cache || return 1
    export LD_LIBRARY_PATH=$LVC_DAEMON_LIBDIR${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
    export LVC_DAEMON_HOOK=/etc/libvirt/hooks/qemu.d/libvirt-clone
    [ -z "$LVC_DAEMON_CLI" ] || export LIBVIRT_CLONE_CLI=$LVC_DAEMON_CLI
}

start_network() {
    [ "$LVC_DAEMON_NET" = yes ] || { export LVC_DAEMON_NETWORK=''; return 0; }
    virsh -q -c qemu:///system net-define /usr/share/libvirt/networks/default.xml >/dev/null &&
        virsh -q -c qemu:///system net-autostart default >/dev/null &&
        virsh -q -c qemu:///system net-start default >/dev/null || return 1
    export LVC_DAEMON_NETWORK=default
}

private_dirs || bail "cannot set up the private libvirt directories"
write_config
install_build || bail "cannot install the build's hook and library"
daemon_start || bail "libvirtd does not start"
start_network || bail "cannot start the default network"

# the control command for PROGRAM
cat > "$work/daemon-ctl" <<EOF
#!/bin/sh
exec "$self" --ctl "\$@"
EOF
chmod 0755 "$work/daemon-ctl"

if [ "$LVC_DAEMON_QEMU_ROOT" = yes ]; then
    LVC_DAEMON_QEMU_USER=root
else
    LVC_DAEMON_QEMU_USER=libvirt-qemu
fi
export LVC_DAEMON_CTL=$work/daemon-ctl LVC_DAEMON_LOG=$logfile LVC_DAEMON_QEMU_USER
export LVC_DAEMON_HOOK=${LVC_DAEMON_HOOK:-}
export LIBVIRT_DEFAULT_URI=qemu:///system TG_URI=qemu:///system
export TG_ROOT_BASE=/var/lib/libvirt/images
unset LVC_DAEMON_HOOK_SRC LVC_DAEMON_LIBDIR LVC_DAEMON_CLI LVC_DAEMON_NET LVC_DAEMON_LOG_LEVEL

# PID 1 ignores signals it has no handler for: pass them on to PROGRAM
child=''
trap '[ -z "$child" ] || kill -TERM "$child" 2>/dev/null' TERM INT HUP
rc=0
"$@" &
child=$!
while :; do
    wait "$child" && rc=0 || rc=$?
    # wait returns > 128 when a trapped signal interrupts it
    kill -0 "$child" 2>/dev/null || break
done
daemon_stop || true
exit "$rc"
