#!/bin/bash
# The man pages agree with the program and the API:
# - virt-clone-live(1) documents exactly the options that "virt-clone-live
#   --help" and "virt-clone-live COMMAND --help" list, with the same short
#   options and argument names, command by command, and a section for
#   exactly the commands of --help;
# - libvirt-clone(3) names every exported function (libvirt-clone.syms) and
#   every flag, phase, statistic, error code, log priority and event type
#   of include/libvirt-clone/libvirt-clone.h;
# - the pages that rst2man built render without a groff warning.
# Usage: test-manpage.sh VIRT-CLONE-LIVE SOURCE-ROOT MAN-PAGE...
set -u
vcl=$1
src=$2
shift 2
rst1=$src/docs/man/virt-clone-live.rst
rst3=$src/docs/man/libvirt-clone.rst
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the option lists of --help in English, whatever the caller's locale
export LC_ALL=C.UTF-8 LANGUAGE=
# shellcheck source=tap.sh
. "$(dirname "$0")/tap.sh"

# "-c, --connect URI" / "--name NAME" / "-q, --quiet", one a line, sorted
helpOptions() {  # helpOptions [COMMAND]
    "$vcl" "$@" --help |
        grep -E '^ +(-[[:alnum:]], )?--[[:alnum:]]' |
        sed -E 's/^ +//; s/  .*//; s/=/ /' | sort
}

# the same from the definition-list terms (**-c**, **--connect** *URI*) of
# section OPTIONS ("global") or of the subsection COMMAND of COMMANDS
rstOptions() {  # rstOptions FILE SECTION
    awk -v want="$2" '
        { line[NR] = $0 }
        END {
            for (i = 1; i <= NR; i++) {
                if (line[i + 1] ~ /^=+$/ && line[i] != "") { top = line[i]; sub_ = ""; continue }
                if (line[i + 1] ~ /^-+$/ && line[i] != "" && line[i] !~ /^-+$/) { sub_ = line[i]; continue }
                key = top == "OPTIONS" ? "global" : (top == "COMMANDS" ? sub_ : "")
                if (key == want && line[i] ~ /^\*\*-/) {
                    t = line[i]
                    gsub(/\*/, "", t); gsub(/\\ /, "", t)
                    print t
                }
            }
        }' "$1" | sort
}

rstCommands() {  # the subsections of COMMANDS
    awk '{ line[NR] = $0 }
         END {
            for (i = 1; i <= NR; i++) {
                if (line[i + 1] ~ /^=+$/) top = line[i]
                else if (top == "COMMANDS" && line[i + 1] ~ /^-+$/ && line[i] != "") print line[i]
            }
         }' "$1" | sort
}

sameSet() {  # sameSet NAME HELP-FILE RST-FILE
    if [ ! -s "$2" ]; then
        echo "no options found in --help"
        return 1
    fi
    diff -u --label "--help" --label "man page" "$2" "$3"
}

"$vcl" --help | sed -n '/^Commands:/,/^$/p' | grep -E '^  [a-z]' | awk '{ print $1 }' | sort >"$tmp/commands"
rstCommands "$rst1" >"$tmp/rst-commands"
tap_ok "virt-clone-live(1) has a section for each command of --help, and no other" \
    sameSet commands "$tmp/commands" "$tmp/rst-commands"

helpOptions >"$tmp/help-global"
rstOptions "$rst1" global >"$tmp/rst-global"
tap_ok "global options: --help and virt-clone-live(1) agree" sameSet global "$tmp/help-global" "$tmp/rst-global"
while read -r cmd; do
    helpOptions "$cmd" >"$tmp/help-$cmd"
    rstOptions "$rst1" "$cmd" >"$tmp/rst-$cmd"
    tap_ok "$cmd: --help and virt-clone-live(1) agree" sameSet "$cmd" "$tmp/help-$cmd" "$tmp/rst-$cmd"
done <"$tmp/commands"

# every word of the API in libvirt-clone(3)
apiNames() {
    sed -n 's/^ *\(vir[A-Za-z]*\);$/\1/p' "$src/src/clone/libvirt-clone.syms"
    grep -oE '\b(VIR_DOMAIN_CLONE|VIR_CLONE)_[A-Z0-9_]+\b' "$src/include/libvirt-clone/libvirt-clone.h" |
        grep -v '_LAST$'
}
undocumented() {
    local word missing=0
    for word in $(apiNames | sort -u); do
        if ! grep -qw -- "$word" "$rst3"; then
            echo "libvirt-clone(3) does not mention $word"
            missing=1
        fi
    done
    [ "$missing" = 0 ]
}
tap_ok "libvirt-clone(3) names every function, flag, statistic and error code" undocumented

for page in "$@"; do
    tap_ok "$(basename "$page") renders without a warning" \
        bash -c 'out=$(groff -ww -z -man "$1" 2>&1) && [ -z "$out" ] || { echo "$out"; false; }' _ "$page"
done

# the status of the last command, not "exit": see test-cli.sh
tap_done
