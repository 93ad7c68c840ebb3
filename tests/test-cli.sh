#!/bin/bash
# The CLI's argument handling and failures, against an empty embedded root:
# clear messages, exit codes 1 (failure) and 2 (usage), nothing left behind.
# The policy commands against the policies of tests/clonepolicydata/ and
# examples/xml/.
set -u
vcl=$1
tests=$(cd "$(dirname "$0")" && pwd)
data=$tests/clonepolicydata
examples=$tests/../examples/xml
root=$(mktemp -d /var/tmp/lvc-cli.XXXXXX)
files=$(mktemp -d /var/tmp/lvc-cli-files.XXXXXX)
trap 'rm -rf "$root" "$files"' EXIT
mkdir -p "$root/etc"
printf 'user = "root"\ngroup = "root"\n' > "$root/etc/qemu.conf"
uri="qemu:///embed?root=$root"
# shellcheck source=tap.sh
. "$tests/tap.sh"

check() {  # check NAME EXPECTED_EXIT EXPECTED_STDERR_PART -- ARGS...
    local name=$1 want=$2 part=$3
    shift 4
    local err rc
    err=$("$vcl" "$@" 2>&1 >/dev/null)
    rc=$?
    if [ "$rc" != "$want" ] || ! grep -qF -- "$part" <<<"$err"; then
        tap_fail "$name (exit $rc, stderr: $err)"
    else
        tap_pass "$name"
    fi
}

check "unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" clone-live nosuch
checkOut() {  # checkOut NAME EXPECTED_EXIT EXPECTED_STDOUT_FILE -- ARGS...
    local name=$1 want=$2 expected=$3
    shift 4
    local rc
    "$vcl" "$@" >"$files/stdout" 2>"$files/stderr"
    rc=$?
    if [ "$rc" != "$want" ] || ! cmp -s "$expected" "$files/stdout"; then
        tap_fail "$name (exit $rc, stderr: $(cat "$files/stderr"))"
        diff -u "$expected" "$files/stdout" | tap_comment
    else
        tap_pass "$name"
    fi
}

check "DOMAIN alone means clone-live" 1 "domain 'nosuch' not found" -- -c "$uri" nosuch
check "missing domain" 2 "exactly one DOMAIN" -- -c "$uri" clone-live
check "unknown option" 2 "Unknown option --frobnicate" -- -c "$uri" clone-live x --frobnicate
check "unknown strategy" 2 "unknown strategy 'fast'" -- -c "$uri" clone-live x --strategy fast
check "policy and name" 2 "cannot be combined" -- -c "$uri" clone-live x --policy /dev/null --name y
check "unreadable policy" 2 "cannot read policy" -- -c "$uri" clone-live x --policy /nonexistent
check "bad URI" 1 "cannot connect to 'nosuch:///'" -- -c nosuch:/// clone-live x
check "unknown global option" 2 "unknown option '--bogus'" -- --bogus clone-live x
check "clone-live: invalid policy, before connecting" 1 \
    "uuid-invalid.xml: invalid clone policy, line 3: invalid UUID" -- \
    -c nosuch:/// clone-live x --policy "$data/uuid-invalid.xml"
if "$vcl" --help | grep -q "clone-live"; then tap_pass "--help lists clone-live"; else tap_fail "--help"; fi
if [ "$("$vcl" --help | grep -c '^  policy-validate\|^  policy-dump')" = 2 ]; then
    tap_pass "--help lists the policy commands"
else
    tap_fail "--help lacks the policy commands"
fi

# policy-validate: "FILE: valid" and exit 0, or the error with its line and exit 1
valid=$files/valid
tmp=$files/policy.xml
for f in "$examples"/*.xml; do echo "$f: valid"; done > "$valid"
checkOut "policy-validate: the examples" 0 "$valid" -- policy-validate "$examples"/*.xml
echo "$data/full.xml: valid" > "$valid"
checkOut "policy-validate: a valid file" 0 "$valid" -- policy-validate "$data/full.xml"
check "policy-validate: an invalid file, with the line" 1 \
    "error: $data/duplicate-element-invalid.xml: invalid clone policy, line 4: element <memory> appears more than once" -- \
    policy-validate "$data/duplicate-element-invalid.xml"
check "policy-validate: not well-formed, with the line" 1 \
    "not-well-formed-invalid.xml: invalid clone policy, line 4: the document is not well-formed XML" -- \
    policy-validate "$data/not-well-formed-invalid.xml"
check "policy-validate: one invalid among valid files" 1 "line 3: unknown element 'serial' in <identity>" -- \
    policy-validate "$data/full.xml" "$data/unknown-nested-element-invalid.xml" "$data/empty.xml"
check "policy-validate: no FILE" 2 "policy-validate takes one or more FILEs" -- policy-validate
check "policy-validate: unreadable file" 1 "cannot read policy" -- policy-validate /nonexistent
printf '<clonepolicy/>\0<bogus/>' > "$tmp"
check "policy-validate: a NUL byte" 1 "contains a NUL byte" -- policy-validate "$tmp"
check "policy-validate: unknown option" 2 "Unknown option --frobnicate" -- policy-validate --frobnicate x

# policy-dump: the effective policy, every default filled in
checkOut "policy-dump: the defaults" 0 "$data/empty.out.xml" -- policy-dump
checkOut "policy-dump: a file" 0 "$data/full.out.xml" -- policy-dump "$data/full.xml"
checkOut "policy-dump: a file with escapes" 0 "$data/name-escaped.out.xml" -- policy-dump "$data/name-escaped.xml"
"$vcl" policy-dump "$examples/fanout-service.xml" > "$tmp"
checkOut "policy-dump: a dump dumps to itself" 0 "$tmp" -- policy-dump "$tmp"
check "policy-dump: an invalid file, with the line" 1 \
    "hostname-keep-text-invalid.xml: invalid clone policy, line 3: <hostname> has a text only with mode='set'" -- \
    policy-dump "$data/hostname-keep-text-invalid.xml"
check "policy-dump: two FILEs" 2 "policy-dump takes at most one FILE" -- policy-dump a b
check "policy-dump: unreadable file" 1 "cannot read policy" -- policy-dump /nonexistent
# sandbox-watch: argument errors
check "sandbox-watch: no clone" 2 "sandbox-watch takes exactly one CLONE" -- sandbox-watch
check "sandbox-watch: --daemon without output" 2 "--daemon needs --log or --exec" -- sandbox-watch --daemon --device lo x
check "sandbox-watch: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" sandbox-watch nosuch
check "sandbox-watch: unknown device" 1 "cannot find network device 'lvc-nosuch'" -- sandbox-watch --device lvc-nosuch x
check "sandbox-watch: --integrity with --device" 2 "--integrity cannot be used with --device" -- sandbox-watch --integrity --device lo x
check "sandbox-watch: unknown --action" 2 "unknown --action 'reboot'" -- sandbox-watch --integrity --action reboot x
# integrity-watch: argument errors, a missing domain, a domain that is not a clone
check "integrity-watch: no clone" 2 "integrity-watch takes exactly one CLONE" -- integrity-watch
check "integrity-watch: unknown --action" 2 "unknown --action 'reboot'" -- integrity-watch --action reboot x
check "integrity-watch: negative --interval" 2 "--interval cannot be negative" -- integrity-watch --interval -1 x
check "integrity-watch: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" integrity-watch nosuch
check "integrity-watch: not a clone" 1 "domain 'test' is not a clone" -- -c test:///default integrity-watch test

# reap: nothing expired in an empty root
printf '0 expired clones destroyed\n' > "$tmp"
checkOut "reap: an empty root" 0 "$tmp" -- -c "$uri" reap
check "reap: no arguments" 2 "reap takes no arguments" -- -c "$uri" reap extra

# templates: usage errors (exit 2, nothing done), then failures against the
# empty embedded root and test:///default (exit 1, the library's message)
check "template-create: no domain" 2 "template-create takes exactly one DOMAIN" -- -c "$uri" template-create
check "template-create: --precopy and --background" 2 "--precopy and --background cannot be combined" -- \
    -c "$uri" template-create x --precopy --background
check "template-create: unreadable policy" 2 "cannot read policy" -- -c "$uri" template-create x --policy /nonexistent
check "template-create: invalid policy, before connecting" 1 \
    "uuid-invalid.xml: invalid clone policy, line 3: invalid UUID" -- \
    -c nosuch:/// template-create x --policy "$data/uuid-invalid.xml"
check "template-create: unknown option" 2 "Unknown option --strategy" -- -c "$uri" template-create x --strategy precopy
check "template-list: an argument" 2 "template-list takes no arguments" -- -c "$uri" template-list x
check "template-info: no template" 2 "template-info takes exactly one TEMPLATE" -- -c "$uri" template-info
check "template-delete: two templates" 2 "template-delete takes exactly one TEMPLATE" -- -c "$uri" template-delete a b
check "clone-from-template: no template" 2 "clone-from-template takes exactly one TEMPLATE" -- -c "$uri" clone-from-template
check "clone-from-template: --count 0" 2 "--count takes a number from 1 to 1000" -- -c "$uri" clone-from-template t --count 0
check "clone-from-template: --count 1001" 2 "--count takes a number from 1 to 1000" -- -c "$uri" clone-from-template t --count 1001
check "clone-from-template: --count not a number" 2 "--count" -- -c "$uri" clone-from-template t --count many
check "clone-from-template: policy and name" 2 "cannot be combined" -- \
    -c "$uri" clone-from-template t --policy "$data/full.xml" --name y
check "clone-from-template: policy and sandbox" 2 "cannot be combined" -- \
    -c "$uri" clone-from-template t --policy "$data/full.xml" --sandbox
check "clone-from-template: invalid policy, before connecting" 1 \
    "uuid-invalid.xml: invalid clone policy, line 3: invalid UUID" -- \
    -c nosuch:/// clone-from-template t --policy "$data/uuid-invalid.xml"
check "clone-live: --count 0" 2 "--count takes a number from 1 to 1000" -- -c "$uri" clone-live x --count 0
check "clone-live: --count -3" 2 "--count takes a number from 1 to 1000" -- -c "$uri" clone-live x --count -3
check "reset: no clone" 2 "reset takes exactly one CLONE" -- -c "$uri" reset
check "reset: unknown option" 2 "Unknown option --persistent" -- -c "$uri" reset x --persistent

check "template-info: unknown template" 1 "cannot find template 'nosuch': no template named 'nosuch'" -- \
    -c "$uri" template-info nosuch
check "template-delete: unknown template" 1 "cannot find template 'nosuch': no template named 'nosuch'" -- \
    -c "$uri" template-delete nosuch
check "clone-from-template: unknown template" 1 "cannot find template 'nosuch': no template named 'nosuch'" -- \
    -c "$uri" clone-from-template nosuch --count 2
check "template-info: invalid name" 1 "invalid template name 'a/b'" -- -c "$uri" template-info a/b
check "template-create: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" template-create nosuch
check "clone-live --count: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" clone-live nosuch --count 2
check "reset: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" reset nosuch
check "memory-dump: no file" 2 "memory-dump takes a CLONE and a FILE" -- -c "$uri" memory-dump x
check "memory-dump: unknown format" 2 "unknown format 'core': use raw or elf" -- \
    -c "$uri" memory-dump x "$files/dump" --format core
check "memory-dump: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" memory-dump nosuch "$files/dump"
check "memory-peek: no size" 2 "memory-peek takes a CLONE, a guest-physical address and a size" -- \
    -c "$uri" memory-peek x 0x1000
check "memory-peek: bad address" 2 "invalid address '0xzz': use a number, 0x for hexadecimal" -- \
    -c "$uri" memory-peek x 0xzz 16
check "memory-peek: bad size" 2 "invalid size '16k'" -- -c "$uri" memory-peek x 0 16k
check "memory-peek: unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" memory-peek nosuch 0 16
: > "$tmp"
checkOut "template-list --json: an empty root, no line" 0 "$tmp" -- -c "$uri" template-list --json
out=$("$vcl" -c "$uri" template-list 2>&1)
rc=$?
if [ "$rc" = 0 ] && [ "$(wc -l <<<"$out")" = 1 ]; then
    tap_pass "template-list: an empty root, the header only"
else
    tap_fail "template-list on an empty root (exit $rc):"; sed 's/^/# /' <<<"$out"
fi
err=$("$vcl" -c "$uri" template-delete nosuch 2>&1 >/dev/null)
if [ "$(wc -l <<<"$err")" = 1 ] && [ "$(grep -o "nosuch" <<<"$err" | wc -l)" = 2 ]; then
    tap_pass "template-delete: the error once, on one line"
else
    tap_fail "template-delete: not one error line:"; sed 's/^/# /' <<<"$err"
fi
check "template-list: not a QEMU connection" 1 "need a local QEMU connection" -- -c test:///default template-list
check "template-create: invalid name" 1 "invalid template name 'a b'" -- \
    -c test:///default template-create test --name "a b"
check "reset: a domain not from a template" 1 \
    "cannot reset domain 'test': domain 'test' was not started from a template" -- -c test:///default reset test
for cmd in template-create template-list template-info template-delete clone-from-template reset; do
    if "$vcl" --help | grep -q "^  $cmd " && "$vcl" "$cmd" --help | grep -q -- "--help"; then
        tap_pass "--help lists $cmd, and $cmd --help works"
    else
        tap_fail "--help of $cmd"
    fi
done
if "$vcl" clone-live --help | grep -q -- "--count=N"; then
    tap_pass "clone-live --help lists --count"
else
    tap_fail "clone-live --help lacks --count"
fi

# libvirt's own log: nowhere unless the user configured it (the command
# reports each error itself); with --debug its warnings and errors, in
# libvirt's format ("TIME: PID: error : FUNCTION:LINE : MESSAGE")
libvirtStderr() {  # libvirtStderr ARGS...: the command's stderr, libvirt's logging not configured
    env -u LIBVIRT_LOG_OUTPUTS -u LIBVIRT_DEBUG "$vcl" "$@" 2>&1 >/dev/null
}
err=$(libvirtStderr -c "$uri" clone-live nosuch)
if [ "$(wc -l <<<"$err")" = 1 ] && grep -q "^error: domain 'nosuch' not found: " <<<"$err"; then
    tap_pass "libvirt's log stays off the terminal: one error line, the command's"
else
    tap_fail "stderr is not only the command's error:"; tap_comment <<<"$err"
fi
err=$(libvirtStderr --debug -c "$uri" clone-live nosuch)
if grep -q ": error : .*Domain not found" <<<"$err" && grep -q "^error: domain 'nosuch' not found: " <<<"$err"; then
    tap_pass "--debug: libvirt's errors on stderr too"
else
    tap_fail "--debug shows no libvirt log line:"; tap_comment <<<"$err"
fi
err=$(LIBVIRT_LOG_OUTPUTS="1:file:$files/libvirt.log" "$vcl" -c "$uri" clone-live nosuch 2>&1 >/dev/null)
if grep -q ": error : .*Domain not found" "$files/libvirt.log" && [ "$(wc -l <<<"$err")" = 1 ]; then
    tap_pass "LIBVIRT_LOG_OUTPUTS set by the user is kept"
else
    tap_fail "LIBVIRT_LOG_OUTPUTS of the user not used"
fi

# every message of the CLI with two or more arguments numbers them
# ("'%1$s': %2$s"): a translation may need another order
positional() {
    local xgettext
    xgettext=$(command -v xgettext) || { echo "# skip: no xgettext"; return 0; }
    command -v python3 >/dev/null || { echo "# skip: no python3"; return 0; }
    "$xgettext" --from-code=UTF-8 --keyword=_ --keyword=N_ --keyword=g_dngettext:2,3 \
        -o "$files/tools.pot" "$tests"/../tools/*.c || return 1
    python3 - "$files/tools.pot" <<'PY'
import re, sys
conv = re.compile(r"%(%|(\d+\$)?[-#0 +'I]*(\d+|\*)?(\.(\d+|\*))?(hh|h|ll|l|L|q|j|z|Z|t)?[diouxXeEfFgGaAcspn])")
bad = 0
for m in re.finditer(r'msgid ((?:"[^\n]*"\n)+)(?:msgid_plural ((?:"[^\n]*"\n)+))?', open(sys.argv[1]).read()):
    for part in m.groups():
        text = ''.join(re.findall(r'"(.*)"', part or ''))
        args = [c for c in conv.findall(text) if c[0] != '%']
        if len(args) >= 2 and any(not c[1] for c in args):
            print("not positional: %s" % text)
            bad = 1
sys.exit(bad)
PY
}
if out=$(positional 2>&1); then
    tap_pass "tools/: messages with two or more arguments use positional ones${out:+ $out}"
else
    tap_fail "tools/: messages with non-positional arguments"; tap_comment <<<"$out"
fi

if [ -z "$(ls "$root" | grep -v '^etc$\|^run$\|^cache$\|^lib$\|^log$')" ]; then
    tap_pass "nothing left in the root"
else
    tap_fail "left: $(ls "$root")"
fi
# the script's status is that of its last command: bash's "exit" builtin
# leaks the command being run, which fails the unit tests under valgrind
tap_done
