#!/bin/bash
# The translations: every po/LL.po compiles with its format strings checked,
# the Traditional Chinese one translates every message of the CLI and the
# hook, and LANGUAGE=zh_TW switches what virt-clone-live prints: its own
# messages, its --help, the library's errors, and a plural form.
#
# The program binds its messages to LOCALEDIR, fixed at configure time
# (PREFIX/share/locale), so the check runs a build of this source
# configured with a temporary prefix, into which "meson install --tags
# i18n" puts the .mo files: the way they are found after a real install.
# Usage: test-translation.sh SOURCE-ROOT MESON MSGFMT MSGATTRIB
set -u
src=$1
meson=$2
msgfmt=$3
msgattrib=$4
tmp=$(mktemp -d /var/tmp/lvc-i18n.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

# checkRun NAME EXPECTED-EXIT EXPECTED-OUTPUT-PART ENV... -- ARGS...: the
# program's standard output and error together must contain the part
checkRun() {
    local name=$1 want=$2 part=$3 rc
    local -a envs=()
    shift 3
    while [ "$1" != "--" ]; do envs+=("$1"); shift; done
    shift
    # its own build's library, not the one meson test puts on LD_LIBRARY_PATH
    env -u LC_ALL -u LC_MESSAGES -u LANG -u LANGUAGE -u LD_LIBRARY_PATH "${envs[@]}" \
        "$vcl" "$@" >"$tmp/out" 2>&1
    rc=$?
    if [ "$rc" = "$want" ] && grep -qF -- "$part" "$tmp/out"; then
        tap_report "$name" 0
    else
        echo "expected exit $want and: $part" >>"$tmp/out"
        echo "got exit $rc" >>"$tmp/out"
        tap_report "$name" 1 "$tmp/out"
    fi
}

langs=$(grep -v '^[[:space:]]*#' "$src/po/LINGUAS")
for lang in $langs; do
    "$msgfmt" --check --statistics -o /dev/null "$src/po/$lang.po" >"$tmp/msgfmt.log" 2>&1
    tap_report "po/$lang.po compiles, its format strings match: $(tail -n1 "$tmp/msgfmt.log")" $? "$tmp/msgfmt.log"
done

# the programs' own messages, all of them
for kind in untranslated only-fuzzy; do
    "$msgattrib" --"$kind" --no-obsolete "$src/po/zh_TW.po" 2>&1 |
        grep -A3 '^#: .*\(tools/\|src/qemu_clone_hooks/\)' >"$tmp/attrib.log"
    tap_report "po/zh_TW.po: no $kind message of tools/ and src/qemu_clone_hooks/" \
        "$([ -s "$tmp/attrib.log" ] && echo 1 || echo 0)" "$tmp/attrib.log"
done

if ! "$meson" setup "$tmp/build" "$src" --prefix="$tmp/prefix" --buildtype=plain \
        -Dintegration_tests=disabled >"$tmp/build.log" 2>&1 ||
    ! "$meson" compile -C "$tmp/build" virt-clone-live "libvirt-clone-gmo" >>"$tmp/build.log" 2>&1 ||
    ! "$meson" install -C "$tmp/build" --no-rebuild --tags i18n >>"$tmp/build.log" 2>&1; then
    tail -n 30 "$tmp/build.log" >"$tmp/build.tail"
    tap_report "build with prefix $tmp/prefix and install its translations" 1 "$tmp/build.tail"
else
    tap_report "build with prefix $tmp/prefix and install its translations" 0
    vcl=$tmp/build/tools/virt-clone-live
    zh=(LANG=C.UTF-8 LANGUAGE=zh_TW)
    for lang in $langs; do
        test -f "$tmp/prefix/share/locale/$lang/LC_MESSAGES/libvirt-clone.mo"
        tap_report "installed share/locale/$lang/LC_MESSAGES/libvirt-clone.mo" $?
    done
    checkRun "LANGUAGE unset: English" 0 "Usage: virt-clone-live [-c URI] COMMAND" LANG=C.UTF-8 -- --help
    checkRun "zh_TW: --help" 0 "用法：virt-clone-live [-c URI] COMMAND" "${zh[@]}" -- --help
    checkRun "zh_TW: --help lists the commands" 0 "sandbox-watch       即時回報沙箱複本送出的內容" "${zh[@]}" -- --help
    checkRun "zh_TW: clone-live --help (GOption)" 0 "--name=NAME             複本的名稱（預設：DOMAIN-cloneN）" \
        "${zh[@]}" -- clone-live --help
    checkRun "zh_TW: a usage error" 2 "錯誤：policy-validate 需要一個或多個 FILE" "${zh[@]}" -- policy-validate
    checkRun "zh_TW: an unknown option" 2 "錯誤：未知的選項「--bogus」" "${zh[@]}" -- --bogus
    checkRun "zh_TW: the library's error" 1 \
        "uuid-invalid.xml: 無效的複製原則，第 3 行：UUID「c1c1c1c1-0000-4000-8000-00000000001」無效" \
        "${zh[@]}" -- policy-validate "$src/tests/clonepolicydata/uuid-invalid.xml"
    checkRun "zh_TW: a valid policy" 0 "$src/examples/xml/minimal.xml：有效" \
        "${zh[@]}" -- policy-validate "$src/examples/xml/minimal.xml"
    mkdir -p "$tmp/root/etc"
    printf 'user = "root"\ngroup = "root"\n' >"$tmp/root/etc/qemu.conf"
    checkRun "zh_TW: a plural form (reap)" 0 "已銷毀 0 個過期的複本" \
        "${zh[@]}" -- -c "qemu:///embed?root=$tmp/root" reap
    checkRun "LC_ALL=C.UTF-8, LANGUAGE=zh_TW: also Chinese" 2 "錯誤：reap 不接受任何引數" \
        LC_ALL=C.UTF-8 LANGUAGE=zh_TW -- -c "qemu:///embed?root=$tmp/root" reap extra
fi

# the status of the last command, not "exit": see test-cli.sh
tap_done
