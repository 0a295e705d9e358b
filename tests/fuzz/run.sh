#!/usr/bin/env bash
# Builds every libFuzzer harness in tests/fuzz/ with clang (ASan+UBSan) and runs each for
# SECONDS seconds (default 15), all of them under tests/fuzz/ (subfolders too). A harness names the sources it needs on a line
#   /* fuzz-sources: src/api/query.c src/util/log.c */
# Crashes are kept in build-fuzz/crashes/; turn each into a unit test.
# Usage: tests/fuzz/run.sh [SECONDS] [HARNESS...]
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-15}
shift || true
out=build-fuzz
mkdir -p "$out/crashes"
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || mapfile -t harnesses < <(find tests/fuzz -name 'fuzz_*.c' | sort)
cflags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc)
libs=$(pkg-config --cflags --libs jansson libmicrohttpd libcrypto libavformat libavcodec libavutil)
failed=0
for harness in "${harnesses[@]}"; do
    name=$(basename "$harness" .c)
    sources=$(sed -n 's|.*fuzz-sources:\(.*\)\*/.*|\1|p' "$harness")
    # shellcheck disable=SC2086
    clang "${cflags[@]}" "$harness" $sources $libs -lpthread -o "$out/$name"
    corpus="$out/corpus-$name"
    mkdir -p "$corpus"
    seeds="tests/fuzz/seeds/$name"
    [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $name for ${seconds}s"
    if ! "$out/$name" -max_total_time="$seconds" -artifact_prefix="$out/crashes/$name-" \
        -print_final_stats=0 "$corpus" >"$out/$name.log" 2>&1; then
        echo "fuzz: $name FAILED; see $out/$name.log and $out/crashes/"
        tail -40 "$out/$name.log"
        failed=1
    fi
done
exit $failed
