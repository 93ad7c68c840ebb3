#!/bin/bash
# A program outside the tree builds against the build tree, the way the Go
# binding's tests do: pkg-config with PKG_CONFIG_PATH=BUILD/meson-uninstalled
# finds libvirt-clone-uninstalled.pc, whose flags name the public headers
# (include/ of the source tree, and of the build tree for the generated
# libvirt-clone-version.h) and the library.  tests/pkgconfig-example.c
# compiles with them, every warning an error, and loads the build's
# library; a program that prints LIBVIRT_CLONE_VERSION_* prints the
# project's version.  (test-install.sh does the same against an install.)
#
# Environment (meson.build): BUILD_ROOT, SOURCE_ROOT, PROJECT_VERSION,
# SANITIZE (b_sanitize), LIBRARY (the built libvirt-clone.so).
set -u
tmp=$(mktemp -d /var/tmp/lvc-pc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
libdir=$(dirname "$LIBRARY")
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

# only the build tree's .pc, however the caller's pkg-config is set up
pc() {
    env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR -u PKG_CONFIG_DISABLE_UNINSTALLED \
        PKG_CONFIG_PATH="$BUILD_ROOT/meson-uninstalled" pkg-config "$@"
}

checkFlags() {
    local flags
    flags=$(pc --cflags --libs libvirt-clone) || return 1
    echo "pkg-config --cflags --libs libvirt-clone: $flags"
    pc --exists libvirt-clone-uninstalled || { echo "libvirt-clone-uninstalled.pc not found"; return 1; }
    for want in "-I$SOURCE_ROOT/include" "-I$BUILD_ROOT/include" "-L$libdir" "-lvirt-clone" "-lvirt"; do
        case " $flags " in
        *" $want "*) ;;
        *) echo "missing: $want"; return 1 ;;
        esac
    done
}

# cc FILE OUTPUT: with the flags of the uninstalled .pc
compile() {
    local -a sanitize=()
    # a program that links a sanitized library is built with the sanitizer
    [ "${SANITIZE:-none}" = none ] || sanitize=(-fsanitize="$SANITIZE")
    # shellcheck disable=SC2046 # the flags are words
    cc -std=c99 -Wall -Wextra -Werror "${sanitize[@]}" -o "$2" "$1" \
        $(pc --cflags --libs libvirt-clone)
}

compileExample() {
    compile "$SOURCE_ROOT/tests/pkgconfig-example.c" "$tmp/example" || return 1
    # without arguments it only prints its usage: it links and loads
    LD_LIBRARY_PATH=$libdir "$tmp/example" >"$tmp/usage" 2>&1
    if [ $? != 2 ] || ! grep -q "usage:" "$tmp/usage"; then
        cat "$tmp/usage"
        return 1
    fi
    LD_LIBRARY_PATH=$libdir ldd "$tmp/example" | grep "libvirt-clone.so" | grep -qF "$libdir/"
}

checkVersion() {
    local got
    cat >"$tmp/version.c" <<'C'
#include <stdio.h>
#include <libvirt-clone/libvirt-clone.h>

int
main(void)
{
    printf("%d.%d.%d\n", LIBVIRT_CLONE_VERSION_MAJOR, LIBVIRT_CLONE_VERSION_MINOR,
           LIBVIRT_CLONE_VERSION_MICRO);
    return 0;
}
C
    compile "$tmp/version.c" "$tmp/version" || return 1
    got=$(LD_LIBRARY_PATH=$libdir "$tmp/version") || return 1
    echo "LIBVIRT_CLONE_VERSION_*: $got, project: $PROJECT_VERSION"
    [ "$got" = "$PROJECT_VERSION" ]
}

tap_ok "pkg-config --cflags --libs libvirt-clone with PKG_CONFIG_PATH=meson-uninstalled" checkFlags
tap_ok "tests/pkgconfig-example.c compiles with the uninstalled .pc and loads the build's library" compileExample
tap_ok "the header's LIBVIRT_CLONE_VERSION_* is the project's version" checkVersion

# the status of the last command, not "exit": see test-cli.sh
tap_done
