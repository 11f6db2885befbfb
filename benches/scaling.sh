#!/usr/bin/env bash
# How avscan's scan time grows: with threads, with the archive's size, and with the number of signatures
# (clamscan beside it for the last), in one run, with a plot.
#
#   benches/scaling.sh                               # about 10 minutes once built (generating 1 GB: 2 more)
#   SIZES="1 10 100" SIGS="1 1000" RUNS=2 benches/scaling.sh   # a smoke test
#   RECORD_DIR=/tmp benches/scaling.sh               # write the record somewhere else than benches/record/
#
# Installs clamav, hyperfine, jq, python3 and libdeflate-tools from Debian when missing; builds `avscan`,
# `gen-inputs` and `gen-scan-corpus` in release. Every avscan run reports every match (--all-matches) under
# limits that cut nothing, and each is checked once to find exactly what it must with no code but a detection.
#
#   threads:    avscan scan --jobs J --db sigs-10000 CORPUS    (the 300 MB whole-scan corpus, J = 1..cores)
#   size:       avscan scan --jobs 1 --db sigs-10000 data.tar.gz, and libdeflate-gunzip -c data.tar.gz, for
#               data.tar.gz of $SIZES MB of content (gen-inputs; 1 to 1000 MB)
#   signatures: avscan scan --jobs 1 --db sigs-N data.tar.gz and clamscan -d sigs-N/bench.ndb data.tar.gz
#               (100 MB of content), N in $SIGS
#
# Times all with hyperfine (medians of $RUNS whole-process runs), then writes $RECORD_DIR/<date>-scaling.md
# with a table per figure and $RECORD_DIR/<date>-scaling.svg (benches/plot.py).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MB=300 # the whole-scan corpus of the threads figure, as scan-peers.sh's
SIZES=${SIZES:-1 10 100 1000}
SIGS=${SIGS:-1 1000 10000 100000}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
CORES=$(nproc)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing clamscan:clamav hyperfine:hyperfine jq:jq python3:python3 libdeflate-gunzip:libdeflate-tools

DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan, gen-inputs and gen-scan-corpus (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-inputs --bin gen-scan-corpus
AVSCAN=$TARGET/release/avscan

say "the whole-scan corpus and the signature sets"
INFO=$(BENCH_MB=$MB "$TARGET/release/gen-scan-corpus")
CORPUS=$(awk '$1 == "corpus" { print $2 }' <<< "$INFO")
CORPUS_BYTES=$(awk '$1 == "bytes" { print $2 }' <<< "$INFO")
sig_dir() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $3 }' <<< "$INFO"; }
sig_ndb() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $4 }' <<< "$INFO"; }
for n in $SIGS 10000; do
    [[ -n $(sig_ndb "$n") ]] || die "no signature set of $n (the generator writes 1, 1000, 10000 and 100000)"
done
declare -A GZ GZ_BYTES
for size in $SIZES 100; do
    [[ -n ${GZ[$size]:-} ]] && continue
    say "data.tar.gz of $size MB of content"
    line=$(BENCH_MB=$size "$TARGET/release/gen-inputs" --only tar.gz | awk '$1 == "tar.gz"')
    GZ[$size]=$(cut -d' ' -f2 <<< "$line")
    GZ_BYTES[$size]=$(cut -d' ' -f3 <<< "$line")
done

LIMITS="--all-matches --max-extract-size 4294967294 --max-cumulative-extract-size 2147483648 --max-extract-time 0 --max-file-count 0"
ours() { echo "$AVSCAN scan --jobs $1 $LIMITS --db $(sig_dir "$2") $3"; }
theirs() { echo "clamscan --allmatch --no-summary --alert-exceeds-max=yes --max-filesize=2000M --max-scansize=4000M --max-recursion=50 --max-files=0 --max-scantime=0 -d $(sig_ndb "$1") $2"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# Check once: nothing cut, nothing unreadable, the planted detections of the corpus (the data.tar.gz inputs
# hold no signature).
check() {
    local status=0 codes
    $1 --json > "$WORK/check.json" || status=$?
    [[ $status = 0 || $status = 1 ]] || die "exit status $status: $1"
    codes=$(jq -r '.codes[] | select(. != "AVS_RESULT_VIRUS_FOUND" and . != "DEC_RESULT_OUTER_CONTAINER_IS_MIME")' \
        "$WORK/check.json" | sort -u)
    [[ -z $codes ]] || die "$codes: $1"
}
want=$(awk '$1 == "planted" && $2 < 10000 { print $3 }' <<< "$INFO" | sort -u | wc -l)
for ((jobs = 1; jobs <= CORES; jobs++)); do
    check "$(ours "$jobs" 10000 "$CORPUS")"
    got=$(jq -r 'select(.detections | length > 0) | .path' "$WORK/check.json" | sort -u | wc -l)
    [[ $got = "$want" ]] || die "avscan --jobs $jobs found $got infected files in the corpus, not $want"
done
for size in $SIZES; do
    check "$(ours 1 10000 "${GZ[$size]}")"
    [[ $(jq '.detections | length' "$WORK/check.json") = 0 ]] || die "a detection in ${GZ[$size]}"
done
for n in $SIGS; do
    check "$(ours 1 "$n" "${GZ[100]}")"
    status=0
    out=$($(theirs "$n" "${GZ[100]}") 2>&1) || status=$?
    [[ $status = 0 && $out = *": OK" ]] || die "clamscan with sigs-$n on ${GZ[100]}: $out"
done
say "every command checked: nothing cut, the expected detections"

names=() commands=()
for ((jobs = 1; jobs <= CORES; jobs++)); do
    names+=("threads $jobs")
    commands+=("$(ours "$jobs" 10000 "$CORPUS")")
done
for size in $SIZES; do
    names+=("size avscan $size" "size libdeflate $size")
    commands+=("$(ours 1 10000 "${GZ[$size]}")" "libdeflate-gunzip -c ${GZ[$size]}")
done
for n in $SIGS; do
    names+=("sigs avscan $n" "sigs clamscan $n")
    commands+=("$(ours 1 "$n" "${GZ[100]}")" "$(theirs "$n" "${GZ[100]}")")
done
time_commands scaling

POINTS=$WORK/points.tsv
T=$'\t'
{
    echo "#panel${T}threads${T}Threads (300 MB corpus, 10,000 signatures)${T}threads${T}MB/s of input${T}linear${T}linear"
    echo "#panel${T}size${T}Archive size (.tar.gz, one thread)${T}MB of content${T}seconds${T}log${T}log"
    echo "#panel${T}sigs${T}Signatures (100 MB .tar.gz, one core)${T}signatures${T}seconds${T}log${T}log"
} > "$POINTS"
ROWS=$WORK/rows.md
{
    echo "### Threads: \`avscan scan --jobs J\` of the $CORPUS_BYTES-byte whole-scan corpus, 10,000 signatures"
    echo
    echo "| threads | median s | MB/s of input | speed-up over 1 thread |"
    echo "|---|---|---|---|"
} > "$ROWS"
for ((jobs = 1; jobs <= CORES; jobs++)); do
    m=${MEDIAN[threads $jobs]}
    awk -v j="$jobs" -v m="$m" -v b="$CORPUS_BYTES" -v one="${MEDIAN[threads 1]}" \
        'BEGIN { printf "| %d | %.3f | %.1f | %.2f |\n", j, m, b / 1e6 / m, one / m }' >> "$ROWS"
    awk -v j="$jobs" -v m="$m" -v b="$CORPUS_BYTES" 'BEGIN { printf "threads\tavscan scan\t%d\t%.2f\n", j, b / 1e6 / m }' >> "$POINTS"
done
{
    echo
    echo "### Archive size: one thread, data.tar.gz (gen-inputs, gzip -6), 10,000 signatures"
    echo
    echo "| MB of content | .tar.gz bytes | avscan scan s | MB/s of content | libdeflate-gunzip -c s | avscan / libdeflate |"
    echo "|---|---|---|---|---|---|"
} >> "$ROWS"
for size in $SIZES; do
    a=${MEDIAN[size avscan $size]} l=${MEDIAN[size libdeflate $size]}
    awk -v s="$size" -v g="${GZ_BYTES[$size]}" -v a="$a" -v l="$l" \
        'BEGIN { printf "| %d | %d | %.3f | %.1f | %.3f | %.2f |\n", s, g, a, s / a, l, a / l }' >> "$ROWS"
    printf 'size\tavscan scan\t%s\t%s\nsize\tlibdeflate-gunzip -c\t%s\t%s\n' "$size" "$a" "$size" "$l" >> "$POINTS"
done
{
    echo
    echo "### Signatures: one core, the 100 MB data.tar.gz, sigs-N (random 16-32 byte body signatures)"
    echo
    echo "| signatures | avscan s | clamscan s | clamscan / avscan | avscan time / time at ${SIGS%% *} | clamscan time / time at ${SIGS%% *} |"
    echo "|---|---|---|---|---|---|"
} >> "$ROWS"
first=${SIGS%% *}
for n in $SIGS; do
    a=${MEDIAN[sigs avscan $n]} c=${MEDIAN[sigs clamscan $n]}
    awk -v n="$n" -v a="$a" -v c="$c" -v a1="${MEDIAN[sigs avscan $first]}" -v c1="${MEDIAN[sigs clamscan $first]}" \
        'BEGIN { printf "| %d | %.3f | %.3f | %.2f | %.2f | %.2f |\n", n, a, c, c / a, a / a1, c / c1 }' >> "$ROWS"
    printf 'sigs\tavscan scan --jobs 1\t%s\t%s\nsigs\tclamscan\t%s\t%s\n' "$n" "$a" "$n" "$c" >> "$POINTS"
done
SVG=${RECORD%.md}.svg
python3 "$ROOT/benches/plot.py" "$POINTS" "$SVG"
commit=$(commit_description "$DIRTY_AT_BUILD")
{
    echo "# Scaling: threads, archive size, signatures ($DATE)"
    echo
    echo "- Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(rustc --version), commit $commit; $(clamscan --version | cut -d/ -f1); $(hyperfine --version)"
    echo "- Method: hyperfine, median of $RUNS whole-process runs after $WARMUP warm-up, warm page cache, output to" \
        "/dev/null. avscan: \`$(ours J N TARGET | sed "s|$AVSCAN|avscan|; s|--db [^ ]*|--db sigs-N|")\`; clamscan with" \
        "limits that cut nothing, as in scan-peers.sh. Every command was checked once: no limit hit, nothing" \
        "unreadable, the planted detections in the corpus and none in the .tar.gz inputs."
    echo "- Other work may have shared the cores during the run: treat differences under about 10 % as noise."
    echo
    echo "![scaling]($(basename "$SVG"))"
    echo
    cat "$ROWS"
} > "$RECORD"
cat "$RECORD"
say "written to $RECORD and $SVG"
summary_record "$RECORD"
