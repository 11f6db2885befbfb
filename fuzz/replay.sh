#!/usr/bin/env bash
# Builds every fuzz target and runs each one once over its committed seeds (`-runs=0`: no new inputs), under
# the same limits as fuzzing (-rss_limit_mb=512 -timeout=10). Exits non-zero if any input crashes, breaks an
# invariant, runs out of memory or times out; the input is then under fuzz/artifacts/<target>/.
# Works from any directory and from a clean checkout (installs cargo-fuzz if it is missing).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ensure_cargo_fuzz
echo "building the fuzz targets (cargo fuzz build ${BUILD_FLAGS[*]})"
build_targets 2>&1

failed=()
for target in "${TARGETS[@]}"; do
    mapfile -t dirs < <(seed_dirs "$target")
    log="$FUZZ_DIR/target/fuzz-logs/replay-$target.log"
    mkdir -p "$(dirname "$log")"
    echo "replay $target: $(find "${dirs[@]}" -type f | wc -l) inputs"
    if run_target "$target" -runs=0 "${LIMIT_ARGS[@]}" "${dirs[@]}" >"$log" 2>&1; then
        { grep -E '^Done [0-9]+ runs' "$log" || true; } | sed 's/^/    /'
    else
        failed+=("$target")
        echo "    FAILED, log: $log" >&2
        { grep -m 10 -E 'panicked|ERROR|Test unit written|memory allocation' "$log" || true; } | sed 's/^/    /' >&2
    fi
done

if ((${#failed[@]})); then
    echo "replay failed: ${failed[*]}" >&2
    exit 1
fi
echo "replay ok: ${TARGETS[*]}"
