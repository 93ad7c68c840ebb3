# tests/tap.sh: TAP output for the shell tests, sourced (bash):
#
#   . "$(dirname "$0")/tap.sh"
#
#   tap_pass DESC               ok N - DESC
#   tap_fail DESC               not ok N - DESC (and the run fails)
#   tap_report DESC STATUS [FILE]
#                               ok if STATUS is 0, else not ok with FILE's
#                               lines as comments
#   tap_ok [-v] DESC COMMAND... run COMMAND (no subshell: it may set
#                               variables) and report; its output follows as
#                               comments when it fails (-v: always); returns
#                               its status
#   tap_fails_with DESC TEXT COMMAND...
#                               ok if COMMAND fails with TEXT in its output
#                               (which follows as comments)
#   tap_skip DESC REASON        ok N - DESC # SKIP REASON
#   tap_skip_all REASON         1..0 # SKIP REASON, and exit 0
#   tap_bail MESSAGE [LOG]      Bail out! MESSAGE, the end of LOG as
#                               comments, and exit 1
#   tap_comment [FILE]          FILE (default: stdin) as comments
#   tap_done                    the plan (1..N); its status is 0 if nothing
#                               failed: end the script with it (not "exit",
#                               see test-cli.sh)
#
# tap_n is the number of the last test, tap_failed 1 once one failed.
# shellcheck shell=bash

tap_n=0
tap_failed=0

# the output of tap_ok's command: a file deleted at once, read and written
# again through /proc/self/fd (each open starts at its beginning), so that
# nothing is left behind however the script ends
tap_out=
tap_outOpen() {  # sets tap_out (not in a subshell: it opens a descriptor)
    local f fd

    [ -z "$tap_out" ] || return 0
    f=$(mktemp "${TMPDIR:-/tmp}/tap.XXXXXX") || return 1
    exec {fd}<>"$f"
    rm -f -- "$f"
    tap_out=/proc/self/fd/$fd
}

tap_comment() {  # tap_comment [FILE]
    sed 's/^/# /' "$@"
}

tap_pass() {  # tap_pass DESC
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1"
}

tap_fail() {  # tap_fail DESC
    tap_n=$((tap_n + 1))
    echo "not ok $tap_n - $1"
    tap_failed=1
}

tap_report() {  # tap_report DESC STATUS [FILE]
    if [ "$2" = 0 ]; then
        tap_pass "$1"
    else
        tap_fail "$1"
        if [ -n "${3:-}" ] && [ -f "$3" ]; then
            tap_comment "$3"
        fi
    fi
}

tap_ok() {  # tap_ok [-v] DESC COMMAND...
    local verbose=0 desc rc

    if [ "$1" = -v ]; then
        verbose=1
        shift
    fi
    desc=$1
    shift
    tap_outOpen || { tap_fail "$desc (no temporary file)"; return 1; }
    rc=0
    "$@" >"$tap_out" 2>&1 || rc=$?
    tap_report "$desc" "$rc" "$tap_out"
    if [ "$rc" = 0 ] && [ "$verbose" = 1 ]; then
        tap_comment "$tap_out"
    fi
    return "$rc"
}

tap_fails_with() {  # tap_fails_with DESC TEXT COMMAND...
    local desc=$1 text=$2
    shift 2

    tap_outOpen || { tap_fail "$desc (no temporary file)"; return 1; }
    if "$@" >"$tap_out" 2>&1; then
        tap_fail "$desc (succeeded)"
    elif ! grep -qF -- "$text" "$tap_out"; then
        tap_fail "$desc (no '$text' in the error)"
    else
        tap_pass "$desc"
    fi
    tap_comment "$tap_out"
}

tap_skip() {  # tap_skip DESC REASON
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1 # SKIP $2"
}

tap_skip_all() {  # tap_skip_all REASON
    echo "1..0 # SKIP $*"
    exit 0
}

tap_bail() {  # tap_bail MESSAGE [LOG]
    echo "Bail out! $1"
    if [ -n "${2:-}" ] && [ -f "$2" ]; then
        echo "# the end of $2:"
        tail -n 30 -- "$2" | tap_comment
    fi
    exit 1
}

tap_done() {
    echo "1..$tap_n"
    [ "$tap_failed" = 0 ]
}
