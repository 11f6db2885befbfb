# Shared by replay.sh and run.sh: the targets, the build and where things are. Sourced, not run.
#
# Build: release with debug assertions and overflow checks (`-O -a`) and AddressSanitizer (cargo-fuzz's
# default), with libFuzzer's coverage instrumentation; README.md says why. FUZZ_SANITIZER=none builds without
# a sanitizer (faster, but blind to large allocations made in C), in a target directory of its own.

FUZZ_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TARGETS=(walk zip tar gzip bzip2 xz mime signature scan clamd)
FUZZ_SANITIZER="${FUZZ_SANITIZER:-address}"
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
# The default build is where `cargo fuzz run -O -a <target>` puts it; another sanitizer's build has a target
# directory of its own, so that it never replaces the default binaries.
CARGO_TARGET="$FUZZ_DIR/target"
[[ "$FUZZ_SANITIZER" == address ]] || CARGO_TARGET="$FUZZ_DIR/target/sanitizer-$FUZZ_SANITIZER"
BUILD_FLAGS=(-O -a -s "$FUZZ_SANITIZER" --target "$TRIPLE" --target-dir "$CARGO_TARGET")
# The limits every run is held to: a zip bomb must cost milliseconds and megabytes, not seconds and gigabytes.
LIMIT_ARGS=(-rss_limit_mb=512 -timeout=10)

# cargo-fuzz needs nightly flags (-Z sanitizer options, -Cpasses=sancov-module); the toolchain is stable 1.95.
export RUSTC_BOOTSTRAP=1
# ASan holds freed memory in a quarantine of 256 MiB by default, which the RSS limit would count: 16 MiB
# keeps use-after-free detection for the short lifetimes here and the RSS near what the code really uses.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=16}"
# A panic's stack in the crash report.
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"

ensure_cargo_fuzz() {
    if ! cargo fuzz --version >/dev/null 2>&1; then
        echo "installing cargo-fuzz" >&2
        cargo install cargo-fuzz --locked
    fi
}

build_targets() {
    (cd "$FUZZ_DIR" && cargo fuzz build "${BUILD_FLAGS[@]}")
}

# Runs the built binary of a target with libFuzzer flags, as `cargo fuzz run` would but without its rebuild
# check, so that every target of one script run tests the same build. Crash inputs go to artifacts/<target>/.
run_target() {
    local target="$1"
    shift
    mkdir -p "$FUZZ_DIR/artifacts/$target"
    "$CARGO_TARGET/$TRIPLE/release/$target" -artifact_prefix="$FUZZ_DIR/artifacts/$target/" "$@"
}

# The committed seed directories of a target: its own; for `walk` also every other target's and the
# workspace's corpus fixtures; for every target the workspace's corpus/regressions/ (inputs that once broke
# the decomposer, each with a test in decomposer/tests/regressions.rs). libFuzzer reads directories recursively.
seed_dirs() {
    local target="$1"
    local dirs=("$FUZZ_DIR/corpus/$target")
    if [[ "$target" == walk || "$target" == scan ]]; then
        local other
        for other in zip tar gzip bzip2 xz mime; do
            dirs+=("$FUZZ_DIR/corpus/$other")
        done
        [[ -d "$FUZZ_DIR/../corpus/fixtures" ]] && dirs+=("$FUZZ_DIR/../corpus/fixtures")
    fi
    [[ -d "$FUZZ_DIR/../corpus/regressions" ]] && dirs+=("$FUZZ_DIR/../corpus/regressions")
    printf '%s\n' "${dirs[@]}"
}
