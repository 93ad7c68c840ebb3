#!/bin/bash
# Installs what is missing, builds with -Werror, and runs the whole test
# suite: unit tests (also under ASan/UBSan and valgrind) and the integration
# tests that boot real guests under QEMU and libvirt.  Run as root.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps.sh

build=${BUILD_DIR:-build-tests}
san=${build}-sanitize

# -Dtest_faults: the fault-matrix tests stop or kill a clone at each phase
meson setup --reconfigure "$build" -Dwerror=true -Dbuildtype=debugoptimized \
    -Dtest_faults=true >/dev/null ||
    meson setup "$build" -Dwerror=true -Dbuildtype=debugoptimized -Dtest_faults=true
ninja -C "$build"

meson setup --reconfigure "$san" -Dwerror=true -Db_sanitize=address,undefined \
    -Db_lundef=false -Dintegration_tests=disabled >/dev/null ||
    meson setup "$san" -Dwerror=true -Db_sanitize=address,undefined \
        -Db_lundef=false -Dintegration_tests=disabled
ninja -C "$san"

status=0
echo "== unit tests under ASan/UBSan"
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$san" --suite unit --print-errorlogs || status=1
echo "== unit tests under valgrind"
meson test -C "$build" --suite unit --print-errorlogs \
    --wrap='valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --quiet' ||
    status=1
echo "== all tests"
meson test -C "$build" --print-errorlogs --timeout-multiplier 3 || status=1

# One closing line for whoever reads this output: "N passed, N failed".
python3 - "$build/meson-logs/testlog.json" "$san/meson-logs/testlog.json" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        r = json.loads(line)
        if r["result"] in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r["result"] == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
