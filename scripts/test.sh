#!/usr/bin/env bash
# The project's whole test run, as CI runs it: lint, unit/integration/property/corpus tests (the daemon's
# included), and the fuzz targets built and replayed over their seed corpora. Installs what it needs on a fresh
# machine.
set -euo pipefail
cd "$(dirname "$0")/.."

# ClamAV's clamscan is the oracle of the scanner's differential test (scanner/tests/clamav.rs), ClamAV's test
# files are inputs of the scanner's tests, and the daemon's client tests (scanner/tests/daemon_clients.rs) drive
# `avscan serve` with the real clamdscan and the Python clamd package: all must run here rather than skip.
if ! command -v clamscan >/dev/null || ! command -v clamdscan >/dev/null || [ ! -d /usr/share/clamav-testfiles ]; then
    echo "test.sh: installing clamav, clamdscan and clamav-testfiles for the scanner's tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav clamdscan clamav-testfiles >/dev/null
fi
if ! python3 -c 'import clamd' 2>/dev/null; then
    echo "test.sh: installing the Python clamd package (PyPI clamd 1.0.2) for the daemon's client tests"
    python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore clamd==1.0.2
fi
export AVSCAN_REQUIRE_CLAMAV=1

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
cargo test --workspace --locked 2>&1 | tee "$log"

# Peak RSS of the bombs under default limits (64 MiB budget).
./scripts/bomb-rss.sh

# Every fuzz target built (ASan) and replayed over its seeds and corpus/regressions.
./fuzz/replay.sh

# The cargo test totals, as the closing line.
awk '/^test result:/ { passed += $4; failed += $6 } END { printf "tests: %d passed, %d failed\n", passed, failed }' "$log"
