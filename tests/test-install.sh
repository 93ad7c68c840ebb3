#!/bin/bash
# "meson install" of this build into a DESTDIR, and what a user does with
# the result:
# - the tree: library, header and .pc file, CLI, the libvirt hook in
#   SYSCONFDIR/libvirt/hooks/qemu.d, schema, example policies, man pages,
#   translations (and the Python module when the build has one); nothing
#   outside the prefix and SYSCONFDIR;
# - the installed CLI runs against the installed library and checks the
#   installed example policies; "man virt-clone-live" and "man 3
#   libvirt-clone" find and render the installed pages;
# - tests/pkgconfig-example.c, a program outside the tree, compiles with
#   "cc $(pkg-config --cflags --libs libvirt-clone)" against the DESTDIR
#   (PKG_CONFIG_SYSROOT_DIR) with every warning an error, and loads the
#   installed library;
# - "example" mode also boots the test guest under the embedded driver,
#   and the example program clones it (root and TG_GUEST_DIR needed).
#
# Usage: test-install.sh destdir|example
# Environment (tests/meson.build): BUILD_ROOT, SOURCE_ROOT, MESON,
# PROJECT_VERSION, SANITIZE (b_sanitize), PREFIX, BINDIR, LIBDIR,
# INCLUDEDIR, DATADIR, MANDIR, LOCALEDIR, SYSCONFDIR (absolute paths),
# PYTHON_MODULE_DIR (empty without the Python binding); TG_GUEST_DIR in
# "example" mode.
set -u
mode=$1
tmp=$(mktemp -d /var/tmp/lvc-install.XXXXXX)
dest=$tmp/dest
root=$tmp/root
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

cleanup() {
    if [ -d "$root" ] && command -v virsh >/dev/null; then
        local d
        for d in $(virsh -q -c "qemu:///embed?root=$root" list --all --name 2>/dev/null); do
            virsh -q -c "qemu:///embed?root=$root" destroy "$d" >/dev/null 2>&1
            virsh -q -c "qemu:///embed?root=$root" undefine "$d" >/dev/null 2>&1
        done
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

# ---- the tree -------------------------------------------------------------

version=$PROJECT_VERSION
expected() {
    echo "$BINDIR/virt-clone-live"
    echo "$LIBDIR/libvirt-clone.so"
    echo "$LIBDIR/libvirt-clone.so.${version%%.*}"
    echo "$LIBDIR/libvirt-clone.so.$version"
    echo "$LIBDIR/pkgconfig/libvirt-clone.pc"
    echo "$INCLUDEDIR/libvirt-clone/libvirt-clone.h"
    echo "$INCLUDEDIR/libvirt-clone/libvirt-clone-version.h"
    echo "$SYSCONFDIR/libvirt/hooks/qemu.d/libvirt-clone"
    echo "$LIBEXECDIR/libvirt-clone/libvirt-clone-guardian"
    echo "$DATADIR/libvirt-clone/schemas/clonepolicy.rng"
    for f in "$SOURCE_ROOT"/examples/xml/*.xml; do
        echo "$DATADIR/doc/libvirt-clone/examples/${f##*/}"
    done
    echo "$MANDIR/man1/virt-clone-live.1"
    echo "$MANDIR/man3/libvirt-clone.3"
    for lang in $(grep -v '^[[:space:]]*#' "$SOURCE_ROOT/po/LINGUAS"); do
        echo "$LOCALEDIR/$lang/LC_MESSAGES/libvirt-clone.mo"
    done
}

checkTree() {
    local f bad=0
    for f in $(expected); do
        if [ ! -f "$dest$f" ] && [ ! -L "$dest$f" ]; then
            echo "missing: $f"
            bad=1
        fi
    done
    for f in "$BINDIR/virt-clone-live" "$SYSCONFDIR/libvirt/hooks/qemu.d/libvirt-clone" \
             "$LIBEXECDIR/libvirt-clone/libvirt-clone-guardian"; do
        [ -x "$dest$f" ] || { echo "not executable: $f"; bad=1; }
    done
    # nothing outside the prefix and SYSCONFDIR (the hook's directory)
    (cd "$dest" && find . -type f -o -type l) | sed 's/^\.//' | sort >"$tmp/installed"
    while read -r f; do
        case $f in
        "$PREFIX"/* | "$SYSCONFDIR"/*) ;;
        *) echo "installed outside $PREFIX and $SYSCONFDIR: $f"; bad=1 ;;
        esac
    done <"$tmp/installed"
    echo "installed:"
    sed 's/^/  /' "$tmp/installed"
    [ "$bad" = 0 ]
}

# the module and its extension in the interpreter's site directory under
# the prefix, importable from there with the installed library
checkPython() {
    local dir=$PYTHON_MODULE_DIR
    ls "$dest$dir"/libvirt_clone.py "$dest$dir"/_libvirt_clone*.so || return 1
    case $dir in "$PREFIX"/*) ;; *) echo "$dir is not under $PREFIX"; return 1 ;; esac
    "$PYTHON" - "$dir" "$PREFIX" <<'PY' || return 1
import os, site, sys
d, prefix = sys.argv[1:3]
sites = [os.path.normpath(p) for p in site.getsitepackages()]
under = [p for p in sites if p.startswith(prefix + os.sep)]
print("site directories:", " ".join(sites))
# a prefix the interpreter knows: the module must be on its path
sys.exit(0 if d in sites or not under else 1)
PY
    if [ "${SANITIZE:-none}" != none ]; then
        # python3 itself is not built with the sanitizer's runtime
        echo "not imported: the extension is built with -fsanitize=$SANITIZE"
        return 0
    fi
    PYTHONPATH=$dest$dir LD_LIBRARY_PATH=$dest$LIBDIR PYTHONDONTWRITEBYTECODE=1 \
        "$PYTHON" -c 'import libvirt_clone, _libvirt_clone; print(libvirt_clone.__file__)'
}

runInstalled() {  # with the installed library (not the build's, that meson test adds)
    LD_LIBRARY_PATH=$dest$LIBDIR "$@"
}

checkCli() {
    local out
    out=$(runInstalled "$dest$BINDIR/virt-clone-live" --version) || return 1
    [ "$out" = "virt-clone-live $version" ] || { echo "--version: $out"; return 1; }
    runInstalled ldd "$dest$BINDIR/virt-clone-live" | grep "libvirt-clone.so" |
        grep -qF "$dest$LIBDIR/" || { echo "the CLI does not load the installed library"; return 1; }
    runInstalled "$dest$BINDIR/virt-clone-live" policy-validate \
        "$dest$DATADIR"/doc/libvirt-clone/examples/*.xml
}

checkSchema() {
    xmllint --noout --relaxng "$dest$DATADIR/libvirt-clone/schemas/clonepolicy.rng" \
        "$dest$DATADIR"/doc/libvirt-clone/examples/*.xml
}

checkMan() {  # checkMan SECTION PAGE NAME-LINE
    local page
    page=$(MANPATH=$dest$MANDIR man -w "$1" "$2") || return 1
    [ "$page" = "$dest$MANDIR/man$1/$2.$1" ] || { echo "man finds $page"; return 1; }
    MANPATH=$dest$MANDIR MANWIDTH=80 LC_ALL=C.UTF-8 man "$1" "$2" >"$tmp/page" 2>&1 || return 1
    grep -qF -- "$3" "$tmp/page" || { echo "no '$3' in:"; head -n 20 "$tmp/page"; return 1; }
}

# PKG_CONFIG_SYSROOT_DIR prefixes the paths of every .pc file with the
# DESTDIR: libvirt's own lie under /usr and are filtered out as system
# directories, or prefixed too.  The DESTDIR's pkgconfig directory first.
pkgconf() {
    PKG_CONFIG_SYSROOT_DIR=$dest \
        PKG_CONFIG_PATH=$dest$LIBDIR/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH} \
        pkg-config "$@"
}

checkPkgconfig() {
    local flags modversion
    modversion=$(pkgconf --modversion libvirt-clone) || return 1
    [ "$modversion" = "$version" ] || { echo "--modversion: $modversion"; return 1; }
    flags=$(pkgconf --cflags --libs libvirt-clone) || return 1
    echo "pkg-config --cflags --libs libvirt-clone: $flags"
    case " $flags " in
    *" -I$dest$INCLUDEDIR "*) ;;
    *) [ "$INCLUDEDIR" = /usr/include ] || { echo "no -I$dest$INCLUDEDIR"; return 1; } ;;
    esac
    case " $flags " in *" -lvirt-clone "*" -lvirt "*) ;; *) echo "no -lvirt-clone -lvirt"; return 1 ;; esac
}

example=$tmp/pkgconfig-example
compileExample() {
    local -a sanitize=()
    # a program that links a sanitized library is built with the sanitizer
    [ "${SANITIZE:-none}" = none ] || sanitize=(-fsanitize="$SANITIZE")
    # shellcheck disable=SC2046 # the flags are words
    cc -std=c99 -Wall -Wextra -Werror "${sanitize[@]}" -o "$example" \
        "$SOURCE_ROOT/tests/pkgconfig-example.c" $(pkgconf --cflags --libs libvirt-clone) || return 1
    # without arguments it only prints its usage: it links and loads
    runInstalled "$example" >"$tmp/usage" 2>&1
    if [ $? != 2 ] || ! grep -q "usage:" "$tmp/usage"; then
        cat "$tmp/usage"
        return 1
    fi
    runInstalled ldd "$example" | grep "libvirt-clone.so"
    runInstalled ldd "$example" | grep "libvirt-clone.so" | grep -qF "$dest$LIBDIR/"
}

"$MESON" install -C "$BUILD_ROOT" --destdir "$dest" --no-rebuild --quiet >"$tmp/install.log" 2>&1
tap_report "meson install --destdir" $? "$tmp/install.log"
tap_ok -v "the installed tree (prefix $PREFIX, sysconfdir $SYSCONFDIR)" checkTree
if [ -n "${PYTHON_MODULE_DIR:-}" ]; then
    tap_ok -v "the Python module in $PYTHON_MODULE_DIR, the site directory of $PYTHON" checkPython
else
    tap_skip "the Python module" "this build has no Python binding"
fi
tap_ok -v "the installed virt-clone-live runs with the installed library, on the installed examples" checkCli
if command -v xmllint >/dev/null; then
    tap_ok -v "the installed examples are valid under the installed schema" checkSchema
else
    tap_skip "the installed schema" "no xmllint"
fi
tap_ok -v "man virt-clone-live" checkMan 1 virt-clone-live "virt-clone-live - live-clone running libvirt domains"
tap_ok -v "man 3 libvirt-clone" checkMan 3 libvirt-clone "libvirt-clone - live cloning of running libvirt/QEMU domains in C"
tap_ok -v "pkg-config --cflags --libs libvirt-clone against the DESTDIR" checkPkgconfig
tap_ok -v "tests/pkgconfig-example.c compiles with pkg-config's flags and loads the installed library" compileExample

# ---- example mode: the example program clones a real guest ---------------

# a small guest, as scripts/demo.sh boots it, without a network: the
# domain of every test guest (tests/guest/domainxml.c)
guestXml() {  # guestXml NAME
    "$TG_GUEST_DIR/guest-domain-xml" --guest-dir "$TG_GUEST_DIR" --name "$1" \
        --memory 256 --workload "clonetest.mode=idle clonetest.mib=16 clonetest.disk=none" \
        --disk "$root/images/$1.qcow2" --log "$root/$1-serial.log"
}

bootGuest() {
    local vsh=(virsh -q -c "qemu:///embed?root=$root")
    mkdir -p "$root/etc" "$root/images"
    printf 'user = "root"\ngroup = "root"\nstdio_handler = "file"\n' >"$root/etc/qemu.conf"
    qemu-img create -q -f qcow2 "$root/images/src.qcow2" 64M || return 1
    guestXml src >"$root/src.xml" || return 1
    # one process per embedded root: virsh exits before the example runs
    "${vsh[@]}" define "$root/src.xml" && "${vsh[@]}" start src || return 1
    for _ in $(seq 300); do
        grep -q 'CLONETEST ready' "$root/src-serial.log" 2>/dev/null && return 0
        sleep 1
    done
    echo "the guest did not boot; its serial console:"
    tail -n 20 "$root/src-serial.log"
    return 1
}

runExample() {
    local out
    out=$(runInstalled "$example" "$root" src) || { echo "$out"; return 1; }
    echo "the example printed: $out"
    [ "$out" = "src-clone1" ] || return 1
    # the clone runs, with a disk of its own over the source's former top
    [ "$(virsh -q -c "qemu:///embed?root=$root" domstate src-clone1)" = running ] || return 1
    [ "$(virsh -q -c "qemu:///embed?root=$root" domstate src)" = running ] || return 1
    out=$(virsh -q -c "qemu:///embed?root=$root" domblklist src-clone1) || return 1
    echo "the clone's disks: $out"
    grep -v "$root/images/src.qcow2\$" <<<"$out" | grep -q vda
}

if [ "$mode" = example ]; then
    # the embedded driver's log, as virt-clone-live does: virsh and the
    # example still print their errors
    export LIBVIRT_LOG_OUTPUTS=${LIBVIRT_LOG_OUTPUTS:-4:file:/dev/null}
    if [ "$(id -u)" != 0 ]; then
        tap_skip "the example program clones the test guest" "not root"
    elif [ -z "${TG_GUEST_DIR:-}" ] || [ ! -f "${TG_GUEST_DIR:-}/accel" ]; then
        tap_skip "the example program clones the test guest" "no test guest"
    else
        tap_ok -v "boot the test guest under qemu:///embed?root=$root" bootGuest &&
            tap_ok -v "the example program (installed library) clones it" runExample
    fi
fi

# the status of the last command, not "exit": see test-cli.sh
tap_done
