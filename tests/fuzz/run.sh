#!/bin/bash
# Runs the libFuzzer targets for SECONDS in all (default 600), outside CI.
# Builds with clang, ASan and UBSan into build-fuzz/.  Seeds come from the
# golden-test data and the examples; crashes land in build-fuzz/crashes/:
# fix them, then keep each input under tests/fuzz/regressions/TARGET/ so
# that the replay unit tests run it forever after.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
secs=${1:-600}

command -v clang >/dev/null && [ -e /usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a ] ||
    apt-get install -y -q clang-14 libclang-rt-14-dev >/dev/null
scripts/install-deps.sh >/dev/null

build=build-fuzz
[ -d "$build" ] || CC=clang meson setup "$build" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false -Dintegration_tests=disabled \
    -Dc_args=-fsanitize=fuzzer-no-link >/dev/null
ninja -C "$build"

mkdir -p "$build/crashes"
targets=(fuzz-policy fuzz-rewrite)
per=$((secs / ${#targets[@]}))
status=0
for t in "${targets[@]}"; do
    corpus=$build/corpus/$t
    mkdir -p "$corpus"
    case $t in
    fuzz-policy) cp -n examples/xml/*.xml tests/clonepolicydata/*.xml "$corpus/" 2>/dev/null || true ;;
    fuzz-rewrite) cp -n tests/clonexml2xmldata/*.src.xml "$corpus/" 2>/dev/null || true ;;
    esac
    cp -n tests/fuzz/regressions/$t/* "$corpus/" 2>/dev/null || true
    echo "== $t for $per s"
    "$build/tests/fuzz/$t" -max_total_time="$per" -max_len=65536 -timeout=10 \
        -dict=tests/fuzz/xml.dict -artifact_prefix="$build/crashes/$t-" "$corpus" || status=1
done
ls "$build/crashes"
exit $status
