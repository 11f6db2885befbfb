#!/usr/bin/env bash
# Fuzzes each target in turn for SECONDS (default 60) with its dictionary, under -rss_limit_mb=512 and
# -timeout=10, and prints per target the executions, the rate, the corpus growth and whether it crashed.
#
#   fuzz/run.sh [SECONDS] [TARGET...]        e.g. fuzz/run.sh 300, fuzz/run.sh 60 zip tar
#
# New inputs go to fuzz/target/corpus/<target>/ (kept between runs, never committed); the committed seeds are
# read, not written. A crash, OOM or timeout stops that target (unless FUZZ_ARGS="-fork=1 -ignore_crashes=1"),
# leaves its input under fuzz/artifacts/<target>/ and its log under fuzz/target/fuzz-logs/, and makes the
# script exit non-zero after the remaining targets have run. One target runs at a time, on one core.
# The build is ASan's (common.sh); FUZZ_SANITIZER=none fuzz/run.sh 300 runs the faster sanitizer-free one.
# Each target's run is appended to fuzz/hours.tsv (end time, target, seconds, executions, ok or crash, the
# commit when it started):
# commit it, so that the time each target has had adds up across sessions.
# Extra libFuzzer flags: FUZZ_ARGS="-max_len=65536" fuzz/run.sh 60.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

seconds="${1:-60}"
shift || true
targets=("$@")
((${#targets[@]})) || targets=("${TARGETS[@]}")
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

ensure_cargo_fuzz
echo "building the fuzz targets (cargo fuzz build ${BUILD_FLAGS[*]})"
build_targets 2>&1

row='%-6s %6s %11s %9s %9s  %-22s %6s  %s'
summary=()
failed=()
for target in "${targets[@]}"; do
    mapfile -t dirs < <(seed_dirs "$target")
    work="$FUZZ_DIR/target/corpus/$target"
    log="$FUZZ_DIR/target/fuzz-logs/run-$target.log"
    mkdir -p "$work" "$(dirname "$log")"
    echo "fuzzing $target for ${seconds}s (log: $log)"
    mkdir -p "$FUZZ_DIR/artifacts/$target"
    before=$(find "$FUZZ_DIR/artifacts/$target" -type f | sort)
    start=$(date +%s)
    commit=$(git -C "$FUZZ_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)
    status=0
    run_target "$target" -dict="$FUZZ_DIR/dict/$target.dict" -max_total_time="$seconds" -max_len=16384 \
        "${LIMIT_ARGS[@]}" -print_final_stats=1 "${extra_args[@]}" "$work" "${dirs[@]}" >"$log" 2>&1 || status=$?
    elapsed=$(($(date +%s) - start))
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    # In fork mode (FUZZ_ARGS="-fork=1 -ignore_crashes=1") there are no final stats: take the last status line.
    [[ -n "$execs" ]] || execs=$(sed -n 's/^#\([0-9]*\): cov:.*/\1/p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    [[ -n "$rate" || -z "$execs" ]] || rate=$((execs / (elapsed > 0 ? elapsed : 1)))
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    new_artifacts=$(comm -13 <(echo "$before") <(find "$FUZZ_DIR/artifacts/$target" -type f | sort) | grep . || true)
    if ((status == 0)) && [[ -z "$new_artifacts" ]]; then
        result="ok"
    else
        failed+=("$target")
        kind=$(grep -m1 -oE 'panicked at [^ ]+|memory allocation of [0-9]+ bytes failed|ERROR: libFuzzer: [a-z-]+( \(malloc\([0-9]+\)\))?' "$log" || true)
        kind="${kind%%$'\n'*}"
        count=$(grep -c . <<<"$new_artifacts" || true)
        # An input libFuzzer had saved before has the same name, so it is not new: take it from the log.
        written=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
        first="${new_artifacts%%$'\n'*}"
        result="CRASH (${kind:-exit $status}): $count new input(s) in artifacts/$target/, ${first:-$written}"
    fi
    # The ledger of fuzzing time, committed: how many minutes each target has had (fuzz/README.md).
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$target" "$elapsed" "${execs:-?}" \
        "$([[ $result = ok ]] && echo ok || echo crash)" "$commit" \
        >>"$FUZZ_DIR/hours.tsv"
    summary+=("$(printf "$row" "$target" "${elapsed}s" "${execs:-?}" "${rate:-?}/s" "${rss:-?} MB" \
        "${cov:-?}" "$(find "$work" -type f | wc -l)" "$result")")
    echo "    ${summary[-1]}"
done

echo
printf "$row\n" target time executions rate "peak rss" coverage corpus result
printf '%s\n' "${summary[@]}"
if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (reproducers under $FUZZ_DIR/artifacts/)" >&2
    exit 1
fi
