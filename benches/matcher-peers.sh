#!/usr/bin/env bash
# The matcher on raw files: avscan against yara, on the same files with the same signatures, one core each.
#
#   benches/matcher-peers.sh                          # 100 MB of raw files, 1,000 to 100,000 signatures
#   BENCH_MB=20 RUNS=2 SIGS="1000" benches/matcher-peers.sh   # a smoke test
#   RECORD_DIR=/tmp benches/matcher-peers.sh          # write the record somewhere else than benches/record/
#
# Installs yara, hyperfine, jq and GNU time from Debian when missing; builds `avscan`, `gen-inputs` and
# `gen-scan-corpus` in release. The files are the members of gen-inputs' data.tar (BENCH_MB MB of logs, CSV,
# prose, binary records and executable-like files; none is a container), extracted to a temporary directory,
# plus three copies of the first member with signature 0, 1 or 2 written into their middle. The signatures are
# the whole-scan sets sigs-N (random 16-32 byte strings, src/scan_corpus.rs), as a ClamAV .ndb for avscan and
# as yara rules with one hex string each (`rule Bench_Sig_<i> { strings: $a = { .. } condition: $a }`),
# compiled once with yarac so that neither side's timing includes compiling more than loading.
#
#   ours:   avscan scan --jobs 1 --all-matches --db sigs-N <limits that cut nothing> RAW
#   theirs: yara -C -r -p 1 sigs-N.yarc RAW
#
# Checks once that both report exactly the three planted (file, signature) pairs, then times each with
# hyperfine (whole process, warm page cache) and peak RSS with one more run under /usr/bin/time, and writes a
# Markdown table to $RECORD_DIR/<date>-matcher.md (<date>-matcher-<MB>mb.md for another size).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MB=${BENCH_MB:-100}
SCAN_MB=${SCAN_MB:-300}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SIGS=${SIGS:-1000 10000 100000}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing yara:yara yarac:yara hyperfine:hyperfine jq:jq /usr/bin/time:time tar:tar python3:python3

DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan, gen-inputs and gen-scan-corpus (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-inputs --bin gen-scan-corpus
AVSCAN=$TARGET/release/avscan

say "raw files of $MB MB, and the signature sets"
TAR=$(BENCH_MB=$MB "$TARGET/release/gen-inputs" | awk '$1 == "tar" { print $2 }')
INFO=$(BENCH_MB=$SCAN_MB "$TARGET/release/gen-scan-corpus")
sig_dir() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $3 }' <<< "$INFO"; }
sig_ndb() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $4 }' <<< "$INFO"; }
for n in $SIGS; do
    [[ -n $(sig_ndb "$n") ]] || die "no signature set of $n (the generator writes 1, 1000, 10000 and 100000)"
    ((n >= 3)) || die "every set must hold the three planted signatures (SIGS=$SIGS)"
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
RAW=$WORK/raw
mkdir -p "$RAW"
tar -xf "$TAR" -C "$RAW"
FIRST=$(find "$RAW" -type f | sort | head -n 1)
first_set=$(sig_ndb "${SIGS%% *}")
for k in 0 1 2; do
    hex=$(sed -n "$((k + 1))p" "$first_set" | cut -d: -f4)
    size=$(stat -c %s "$FIRST")
    {
        head -c $((size / 2)) "$FIRST"
        python3 -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$hex"
        tail -c +$((size / 2 + 1)) "$FIRST"
    } > "$RAW/planted-$k.bin"
done
FILES=$(find "$RAW" -type f | wc -l)
BYTES=$(find "$RAW" -type f -printf '%s\n' | awk '{ s += $1 } END { print s }')
EXPECTED=$(printf 'planted-%d.bin Bench.Sig-%d\n' 0 0 1 1 2 2)

# Yara rules from the .ndb: the same bytes, one hex string per rule, compiled once.
for n in $SIGS; do
    awk -F: '{
        name = $1; gsub(/[^A-Za-z0-9_]/, "_", name)
        hex = ""
        for (i = 1; i <= length($4); i += 2) hex = hex substr($4, i, 2) " "
        printf "rule %s { strings: $a = { %s} condition: $a }\n", name, hex
    }' "$(sig_ndb "$n")" > "$WORK/sigs-$n.yar"
    yarac "$WORK/sigs-$n.yar" "$WORK/sigs-$n.yarc"
done

ours() { echo "$AVSCAN scan --jobs 1 --all-matches --max-extract-size 4294967294 --max-cumulative-extract-size 2147483648 --max-extract-time 0 --max-file-count 0 --db $(sig_dir "$1") $RAW"; }
theirs() { echo "yara -C -r -p 1 $WORK/sigs-$1.yarc $RAW"; }

# Check once: the planted pairs, and nothing else, from both; and avscan saw every file as one raw part.
for n in $SIGS; do
    status=0
    $(ours "$n") --json > "$WORK/ours.json" || status=$?
    [[ $status = 1 ]] || die "avscan exited with $status with sigs-$n"
    got=$(jq -r --arg prefix "$RAW/" '.path as $p | .detections[] | "\($p | ltrimstr($prefix)) \(.name)"' "$WORK/ours.json" | sort -u)
    [[ $got = "$EXPECTED" ]] || die "avscan with sigs-$n found:
$got"
    parts=$(jq -s 'map(.parts) | add' "$WORK/ours.json")
    [[ $parts = "$FILES" ]] || die "avscan's walk found $parts parts in $FILES raw files: some file is a container"
    got=$($(theirs "$n") | awk -v prefix="$RAW/" '{ sub(prefix, "", $2); sub(/_/, ".", $1); sub(/_/, "-", $1); print $2, $1 }' | sort -u)
    [[ $got = "$EXPECTED" ]] || die "yara with sigs-$n found:
$got"
done
say "both report exactly the planted signatures"

names=() commands=()
for n in $SIGS; do
    names+=("avscan $n" "yara $n")
    commands+=("$(ours "$n")" "$(theirs "$n")")
done
time_commands matcher 100

peak_rss_each "$WORK"

ROWS=$WORK/rows.md
: > "$ROWS"
for n in $SIGS; do
    summary_row "matcher, one core" "$FILES raw files, $MB MB, $n sigs" "avscan scan --jobs 1" "yara -p 1" \
        "${MEDIAN[avscan $n]}" "${MEDIAN[yara $n]}" "${RSS[avscan $n]}" "${RSS[yara $n]}"
    for engine in avscan yara; do
        awk -v n="$n" -v e="$engine" -v m="${MEDIAN[$engine $n]}" -v b="$BYTES" -v o="${MEDIAN[avscan $n]}" \
            -v t="${MEDIAN[yara $n]}" -v r="${RSS[$engine $n]}" 'BEGIN {
                printf "| %s | %s | %.3f | %.1f | %.2f | %.0f |\n", n, e, m, b / 1e6 / m, o / t, r / 1024
            }' >> "$ROWS"
    done
done
commit=$(commit_description "$DIRTY_AT_BUILD")
{
    echo "# The matcher on raw files: avscan against yara, $DATE"
    echo
    echo "- Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(rustc --version), commit $commit; yara $(yara --version); $(hyperfine --version)"
    echo "- Files: the $((FILES - 3)) members of gen-inputs' data.tar ($MB MB of logs, CSV, prose, binary records and" \
        "executable-like files) and three copies of the first with signature 0, 1 or 2 in their middle: $FILES files," \
        "$BYTES bytes. Signatures: sigs-N of the whole-scan sets (random 16-32 byte strings), as an .ndb for avscan and" \
        "as one yara rule with one hex string each, compiled with yarac before timing. Both were checked to report" \
        "exactly the three planted (file, signature) pairs; avscan's walk found no container."
    echo "- Commands (one core each): \`$(ours N | sed "s|$AVSCAN|avscan|; s|--db [^ ]*|--db sigs-N|; s|$RAW|RAW|")\` and" \
        "\`yara -C -r -p 1 sigs-N.yarc RAW\`."
    echo "- Method: hyperfine, median of $RUNS whole-process runs after $WARMUP warm-up, warm page cache, output to" \
        "/dev/null; peak RSS from one more run under /usr/bin/time -v. MB/s is MB (10^6 bytes) of files per second." \
        "\"ours/theirs\" is avscan's time over yara's: below 1 we are faster. avscan also detects each file's type" \
        "and hashes nothing (no hash signature); yara evaluates no condition but one string each."
    echo "- Other work may have shared the 2 cores during the run: treat differences under about 10 % as noise."
    echo
    echo "| signatures | engine | median s | MB/s | ours/theirs (time) | peak RSS MiB |"
    echo "|---|---|---|---|---|---|"
    cat "$ROWS"
} > "$RECORD"
cat "$RECORD"
say "written to $RECORD"
summary_record "$RECORD"
