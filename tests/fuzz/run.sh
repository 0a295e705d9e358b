#!/usr/bin/env bash
# Builds every libFuzzer harness in tests/fuzz/ with clang (ASan+UBSan) and runs each for
# SECONDS seconds (default 15), all of them under tests/fuzz/ (subfolders too). A harness names the sources it needs on a line
#   /* fuzz-sources: src/api/query.c src/util/log.c */
# Each harness's working corpus (build-fuzz/corpus-NAME, started from tests/fuzz/seeds/NAME) is
# kept between runs, so every run goes on from what the last one found. FUZZ_RUNS=N stops a
# harness after N executions instead (SECONDS is then its upper bound; 0 means none). Crashes are
# kept in build-fuzz/crashes/; turn each into a unit test. One summary line per harness
# (executions, rate, coverage edges, features, corpus size) goes to stdout and build-fuzz/summary.tsv.
# FUZZ_KEEP=1 merges what the run found into tests/fuzz/seeds/NAME (minimized: only the inputs that
# add coverage), to be committed.
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
limits=(-max_total_time="$seconds")
[ -n "${FUZZ_RUNS:-}" ] && limits+=(-runs="$FUZZ_RUNS")
[ "$seconds" = 0 ] && limits=(-runs="${FUZZ_RUNS:?FUZZ_RUNS is needed when SECONDS is 0}")
failed=0
for harness in "${harnesses[@]}"; do
    name=$(basename "$harness" .c)
    sources=$(sed -n 's|.*fuzz-sources:\(.*\)\*/.*|\1|p' "$harness")
    # shellcheck disable=SC2086
    clang "${cflags[@]}" "$harness" $sources $libs -lpthread -o "$out/$name"
    corpus="$out/corpus-$name"
    seeds="tests/fuzz/seeds/$name"
    mkdir -p "$corpus" "$seeds"
    cp -n "$seeds"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: $name (${limits[*]})"
    started=$(date +%s)
    if ! "$out/$name" "${limits[@]}" -artifact_prefix="$out/crashes/$name-" \
        -print_final_stats=1 "$corpus" >"$out/$name.log" 2>&1; then
        echo "fuzz: $name FAILED; see $out/$name.log and $out/crashes/"
        tail -40 "$out/$name.log"
        failed=1
    fi
    elapsed=$(($(date +%s) - started))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/$name.log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/$name.log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$out/$name.log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    printf '%s\texecs=%s\texec/s=%s\tseconds=%s\tcov=%s\tft=%s\tcorpus=%s\n' "$name" "${execs:-?}" \
        "${rate:-?}" "$elapsed" "${cov:-?}" "${ft:-?}" "$(find "$corpus" -type f | wc -l)" |
        tee -a "$out/summary.tsv"
    if [ "${FUZZ_KEEP:-0}" = 1 ]; then
        "$out/$name" -merge=1 "$seeds" "$corpus" >"$out/$name.merge.log" 2>&1
        echo "fuzz: $name seeds now $(find "$seeds" -type f | wc -l) files"
    fi
done
exit $failed
