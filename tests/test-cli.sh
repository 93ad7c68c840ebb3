#!/bin/bash
# The CLI's argument handling and failures, against an empty embedded root:
# clear messages, exit codes 1 (failure) and 2 (usage), nothing left behind.
set -u
vcl=$1
root=$(mktemp -d /var/tmp/lvc-cli.XXXXXX)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/etc"
printf 'user = "root"\ngroup = "root"\n' > "$root/etc/qemu.conf"
uri="qemu:///embed?root=$root"
n=0
fail=0

check() {  # check NAME EXPECTED_EXIT EXPECTED_STDERR_PART -- ARGS...
    local name=$1 want=$2 part=$3
    shift 4
    local err rc
    err=$("$vcl" "$@" 2>&1 >/dev/null)
    rc=$?
    n=$((n + 1))
    if [ "$rc" != "$want" ] || ! grep -qF -- "$part" <<<"$err"; then
        echo "not ok $n - $name (exit $rc, stderr: $err)"
        fail=1
    else
        echo "ok $n - $name"
    fi
}

check "unknown domain" 1 "domain 'nosuch' not found" -- -c "$uri" clone-live nosuch
check "DOMAIN alone means clone-live" 1 "domain 'nosuch' not found" -- -c "$uri" nosuch
check "missing domain" 2 "exactly one DOMAIN" -- -c "$uri" clone-live
check "unknown option" 2 "Unknown option --frobnicate" -- -c "$uri" clone-live x --frobnicate
check "unknown strategy" 2 "unknown strategy 'fast'" -- -c "$uri" clone-live x --strategy fast
check "policy and name" 2 "cannot be combined" -- -c "$uri" clone-live x --policy /dev/null --name y
check "unreadable policy" 2 "cannot read policy" -- -c "$uri" clone-live x --policy /nonexistent
check "bad URI" 1 "cannot connect to 'nosuch:///'" -- -c nosuch:/// clone-live x
check "unknown global option" 2 "unknown option '--bogus'" -- --bogus clone-live x
n=$((n + 1))
if "$vcl" --help | grep -q "clone-live"; then echo "ok $n - --help lists clone-live"; else echo "not ok $n - --help"; fail=1; fi
n=$((n + 1))
if [ -z "$(ls "$root" | grep -v '^etc$\|^run$\|^cache$\|^lib$\|^log$')" ]; then
    echo "ok $n - nothing left in the root"
else
    echo "not ok $n - left: $(ls "$root")"; fail=1
fi
echo "1..$n"
exit $fail
