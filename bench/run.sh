#!/bin/bash
# bench/run.sh: build (if needed) and run a benchmark.
#
#   bench/run.sh [--bench NAME] [--builddir DIR] [--output FILE.md] [--wait-quiet]
#                [BENCH OPTIONS]
#
#   --bench NAME     clone (default): bench-clone, the live clone against the
#                    alternatives; identity: bench-identity, the time from a
#                    clone's resume to its network, against a cold boot;
#                    template: bench-template, N domains from a template
#                    against live clones, KSM, save + restore, the floor;
#                    diskfork: bench-diskfork, the disk fork of a paused
#                    source, libvirt against raw QMP; memory: bench-memory,
#                    reading all of a clone's RAM against pmemsave,
#                    virDomainMemoryPeek, virsh dump --memory-only, HMP xp
#   --builddir DIR   meson build directory (default: <source>/build-bench; set up
#                    with meson if it does not exist yet)
#   --output FILE    also write the table (markdown) to FILE
#   --wait-quiet     wait until no other qemu-system process runs before starting,
#                    and before each measurement until none has run for 15 s (a
#                    benchmark on a busy 2-core machine measures the others)
#
# BENCH OPTIONS go to the benchmark.  bench-clone: --quick, --reps N,
# --sizes 512,1024, --modes idle,busy, --methods
# precopy,background,auto,raw,snapshot,save, --timeout S, --buffer-mib N,
# --verbose.  bench-identity: --quick, --reps N, --methods dhcp,static,cold,
# --verbose.  bench-template: --counts 1,4,16, --modes idle,busy,
# --settle S, --ksm-settle S, --resets N, --ksm-pages N, --ksm-sleep MS,
# --verbose.  bench-diskfork: --reps N, --depths 1,2,4,8,16, --disks 1,2,4,
# --methods libvirt,qmp, --memory MIB, --boot, --sync, --verbose.
# bench-memory: --memory MIB, --sample-mib N, --xp-sample-kib N,
# --integrity-seconds S, --verbose.  See
# docs/benchmarks.md.
#
# Must run as root (the embedded libvirt driver runs QEMU as root).  The table
# goes to stdout, progress to stderr.
set -euo pipefail

srcdir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
builddir="$srcdir/build-bench"
name=clone
output=
wait_quiet=0
args=()

while [ $# -gt 0 ]; do
    case "$1" in
        --bench) name=$2; shift 2 ;;
        --bench=*) name=${1#*=}; shift ;;
        --builddir) builddir=$2; shift 2 ;;
        --builddir=*) builddir=${1#*=}; shift ;;
        --output|-o) output=$2; shift 2 ;;
        --output=*) output=${1#*=}; shift ;;
        --wait-quiet) wait_quiet=1; args+=(--wait-quiet); shift ;;
        -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) args+=("$1"); shift ;;
    esac
done

case "$name" in
    clone|identity|template|diskfork|memory) ;;
    *) echo "run.sh: unknown benchmark '$name' (clone, identity, template, diskfork, memory)" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "run.sh: run as root (libvirt's embedded driver starts QEMU as root)" >&2
    exit 1
fi

if [ ! -f "$builddir/build.ninja" ]; then
    meson setup "$builddir" "$srcdir" >&2
fi
# everything, so that the test guest (tests/guest: kernel, initramfs, accel)
# is built too
meson compile -C "$builddir" >&2

bench="$builddir/bench/bench-$name"
if [ ! -x "$bench" ]; then
    echo "run.sh: $bench was not built: is subdir('bench') in meson.build, and" \
         "can the test guest be built here (meson's summary: 'integration tests')?" >&2
    exit 1
fi

others() {
    # zombies (<defunct>) of someone else's process do not run
    pgrep -a qemu-system 2>/dev/null | grep -v '<defunct>' || true
}
if [ -n "$(others)" ]; then
    if [ "$wait_quiet" = 1 ]; then
        echo "run.sh: waiting until no other QEMU process has run for 60 s:" >&2
        others | cut -c1-160 >&2
        quiet=0
        while [ "$quiet" -lt 60 ]; do
            sleep 5
            if [ -n "$(others)" ]; then quiet=0; else quiet=$((quiet + 5)); fi
        done
    else
        echo "run.sh: warning: other QEMU processes are running; the numbers will" \
             "show it (use --wait-quiet):" >&2
        others | cut -c1-160 >&2
    fi
fi

table=$(mktemp)
trap 'rm -f "$table"' EXIT

# libvirt's processes log benign warnings (XATTR timestamps, ...) to stderr:
# keep the benchmark's own progress lines only
rc=0
TG_GUEST_DIR="$builddir/tests/guest" "$bench" ${args[@]+"${args[@]}"} >"$table" \
    2> >(grep --line-buffered -v -E '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:.]+\+[0-9]{4}: [0-9]+: (debug|info|warning) : ' >&2) \
    || rc=$?

cat "$table"
if [ -n "$output" ]; then
    cp "$table" "$output"
fi
exit "$rc"
