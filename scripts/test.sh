#!/usr/bin/env bash
# The project's whole test run, as CI runs it: lint, unit/integration/property/corpus tests, and the fuzz
# targets built and replayed over their seed corpora. Installs what it needs on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked

# Peak RSS of the bombs under default limits (64 MiB budget).
./scripts/bomb-rss.sh

# Every fuzz target built (ASan) and replayed over its seeds and corpus/regressions.
./fuzz/replay.sh
