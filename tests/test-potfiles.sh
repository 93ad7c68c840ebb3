#!/bin/bash
# The translation template is complete and current:
# - every C source file of the library, the hook, the CLI and the bindings
#   from which xgettext extracts a message is listed in po/POTFILES.in, and
#   every file listed there exists;
# - po/PACKAGE.pot is what xgettext makes of them now, with the arguments
#   of po/meson.build (the POT-Creation-Date line aside): regenerate it with
#   "ninja -C BUILD PACKAGE-pot" (and merge it into the translations with
#   "ninja -C BUILD PACKAGE-update-po");
# - every po/LL.po of po/LINGUAS has every message of the template.
# Usage: test-potfiles.sh SOURCE-ROOT PACKAGE XGETTEXT MSGCMP XGETTEXT-ARG...
set -u
src=$1
pkg=$2
xgettext=$3
msgcmp=$4
shift 4
potfiles=$src/po/POTFILES.in
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

listed() {  # the entries of POTFILES.in
    grep -v '^[[:space:]]*\(#\|$\)' "$potfiles"
}

# the C files with messages, relative to the source root
: >"$tmp/missing"
for dir in src tools bindings; do
    [ -d "$src/$dir" ] || continue
    (cd "$src" && find "$dir" -name '*.[ch]' -type f) | sort
done >"$tmp/sources"
while read -r f; do
    if [ -n "$(cd "$src" && "$xgettext" "$@" -o - "$f" 2>/dev/null)" ] &&
        ! listed | grep -qxF -- "$f"; then
        echo "$f has translatable messages but is not in po/POTFILES.in" >>"$tmp/missing"
    fi
done <"$tmp/sources"
tap_report "every source file with messages is in po/POTFILES.in" "$([ -s "$tmp/missing" ] && echo 1 || echo 0)" "$tmp/missing"

: >"$tmp/gone"
listed | while read -r f; do
    [ -f "$src/$f" ] || echo "po/POTFILES.in lists $f, which does not exist"
done >"$tmp/gone"
tap_report "every file of po/POTFILES.in exists" "$([ -s "$tmp/gone" ] && echo 1 || echo 0)" "$tmp/gone"

# as meson's i18n module runs it (mesonbuild/scripts/gettext.py)
"$xgettext" --package-name="$pkg" -p "$tmp" -f "$potfiles" -D "$src" -k_ \
    -o "$tmp/$pkg.pot" "$@" >"$tmp/xgettext.log" 2>&1
status=$?
if [ "$status" = 0 ]; then
    diff -u --label "po/$pkg.pot" --label "xgettext now" \
        <(grep -v '^"POT-Creation-Date: ' "$src/po/$pkg.pot") \
        <(grep -v '^"POT-Creation-Date: ' "$tmp/$pkg.pot") >"$tmp/xgettext.log" 2>&1
    status=$?
    [ "$status" = 0 ] || echo "stale: run ninja -C BUILD $pkg-pot" >>"$tmp/xgettext.log"
fi
tap_report "po/$pkg.pot is up to date" "$status" "$tmp/xgettext.log"

for lang in $(grep -v '^[[:space:]]*#' "$src/po/LINGUAS"); do
    # untranslated and fuzzy entries count: this checks the merge only
    "$msgcmp" --use-untranslated --use-fuzzy -N "$src/po/$lang.po" "$src/po/$pkg.pot" >"$tmp/msgcmp.log" 2>&1
    status=$?
    [ "$status" = 0 ] || echo "run ninja -C BUILD $pkg-update-po" >>"$tmp/msgcmp.log"
    tap_report "po/$lang.po has every message of po/$pkg.pot" "$status" "$tmp/msgcmp.log"
done

# the status of the last command, not "exit": see test-cli.sh
tap_done
