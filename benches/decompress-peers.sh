#!/usr/bin/env bash
# The decomposer against one-level decompressors, on the same generated inputs, in one run.
#
#   benches/decompress-peers.sh                 # 100 MB of content (about 10 minutes with the build and the inputs)
#   BENCH_MB=20 benches/decompress-peers.sh     # a quick check
#   RUNS=10 WARMUP=2 benches/decompress-peers.sh
#   RECORD_DIR=/tmp benches/decompress-peers.sh  # write the record somewhere else than benches/record/
#
# Installs its tools from Debian when missing, builds `avscan` and `gen-inputs` in release, generates (or
# reuses) the inputs under target/bench-inputs/, checks once that every command writes (or extracts) what it
# should, times each with hyperfine (whole process, warm page cache, output to /dev/null), measures peak RSS
# with one extra run under /usr/bin/time, then prints a Markdown table and writes it with the machine's
# description to $RECORD_DIR/<date>-decompose.md (<date>-decompose-<MB>mb.md for another size).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MB=${BENCH_MB:-100}
RUNS=${RUNS:-5}
WARMUP=${WARMUP:-1}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# 1. Tools (Debian package names).
install_missing libdeflate-gunzip:libdeflate-tools 7zz:7zip hyperfine:hyperfine gzip:gzip pigz:pigz \
    xz:xz-utils unzip:unzip bsdtar:libarchive-tools jq:jq /usr/bin/time:time bzip2:bzip2 lbzip2:lbzip2 tar:tar

# 2. Our binaries (noting whether the code under test differs from the commit, now and at the end).
DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan and gen-inputs (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-inputs
AVSCAN=$TARGET/release/avscan

# 3. Inputs: lines of `format path compressed_bytes output_bytes all_levels_bytes`.
say "inputs of $MB MB of content"
INPUTS=$(BENCH_MB=$MB "$TARGET/release/gen-inputs")
DIR=$(dirname "$(awk 'NR == 1 { print $2 }' <<< "$INPUTS")")
field() { awk -v f="$1" -v k="$2" '$1 == f { print $k }' <<< "$INPUTS"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# avscan keeps its default memory policy (children over 8 MiB spill to an unnamed temporary file) and gets
# limits that cut nothing (the CLI's largest cumulative size without the override is 2 GiB).
OURS="$AVSCAN decompose --max-extract-size 4294967294 --max-cumulative-extract-size 2147483648 --max-extract-time 0 --max-file-count 0"
# The same with CSAPI prefer_mem: children stay in RAM, and deflate streams whose size is declared are
# inflated in one call by libdeflate.
OURS_MEM="$OURS --prefer-mem"

ROWS=$WORK/rows.md
: > "$ROWS"

# bench FORMAT NAME COMMAND [NAME COMMAND]...: the first two commands are ours (default, prefer_mem).
bench() {
    local format=$1
    shift
    local file output all_levels
    file=$(field "$format" 2)
    output=$(field "$format" 4)
    all_levels=$(field "$format" 5)
    local names=() commands=() args=()
    while (($#)); do
        names+=("$1")
        commands+=("$2 $file")
        shift 2
    done
    # Check once that each command really does the work: ours extracts everything with no code, the
    # peers write exactly the decompressed output.
    local tree ours
    for ours in "$OURS" "$OURS_MEM"; do
        tree=$($ours "$file")
        if grep -q '^  ! ' <<< "$tree" || ! grep -q " and $all_levels bytes extracted" <<< "$tree"; then
            echo "decompress-peers.sh: $ours did not extract all $all_levels bytes of $file:" >&2
            grep -E '^(  !|=)' <<< "$tree" >&2
            exit 1
        fi
    done
    local i written
    for ((i = 2; i < ${#names[@]}; i++)); do
        written=$(${commands[i]} | wc -c)
        if [[ $written != "$output" ]]; then
            echo "decompress-peers.sh: ${names[i]} wrote $written bytes of $file, not $output" >&2
            exit 1
        fi
    done
    say "timing $format: ${names[*]}"
    for ((i = 0; i < ${#names[@]}; i++)); do
        args+=(-n "${names[i]}" "${commands[i]}")
    done
    hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$WORK/$format.json" "${args[@]}" >&2
    local ours_median ours_mem_median rss median cpu ours_rss=
    ours_median=$(jq '.results[0].median' "$WORK/$format.json")
    ours_mem_median=$(jq '.results[1].median' "$WORK/$format.json")
    for ((i = 0; i < ${#names[@]}; i++)); do
        /usr/bin/time -f %M -o "$WORK/rss" ${commands[i]} > /dev/null
        rss=$(tail -n 1 "$WORK/rss")
        median=$(jq ".results[$i].median" "$WORK/$format.json")
        ((i > 0)) || ours_rss=$rss
        ((i < 2)) || summary_row "decompression" "$format ($MB MB)" "avscan decompose" "${names[i]}" \
            "$ours_median" "$median" "$ours_rss" "$rss"
        cpu=$(jq ".results[$i] | .user + .system" "$WORK/$format.json")
        awk -v f="$format" -v n="${names[i]}" -v m="$median" -v o="$ours_median" -v p="$ours_mem_median" \
            -v b="$output" -v c="$cpu" -v r="$rss" 'BEGIN {
                printf "| %s | %s | %.3f | %.0f | %.2f | %.2f | %.2f | %.0f |\n", f, n, m, b / 1e6 / m,
                    o / m, p / m, c, r / 1024
            }' >> "$ROWS"
    done
}

bench tar "ours (avscan decompose)" "$OURS" \
    "ours, prefer_mem" "$OURS_MEM" \
    "tar -xOf" "tar -xOf" \
    "bsdtar -xOf" "bsdtar -xOf" \
    "7zz x -so" "7zz x -so"
bench tar.gz "ours (avscan decompose)" "$OURS" \
    "ours, prefer_mem" "$OURS_MEM" \
    "libdeflate-gunzip -c" "libdeflate-gunzip -c" \
    "gzip -dc" "gzip -dc" \
    "pigz -dc" "pigz -dc" \
    "7zz x -so" "7zz x -so"
bench tar.bz2 "ours (avscan decompose)" "$OURS" \
    "ours, prefer_mem" "$OURS_MEM" \
    "bzip2 -dc" "bzip2 -dc" \
    "lbzip2 -dc" "lbzip2 -dc" \
    "7zz x -so" "7zz x -so"
bench zip "ours (avscan decompose)" "$OURS" \
    "ours, prefer_mem" "$OURS_MEM" \
    "7zz x -so" "7zz x -so" \
    "unzip -p" "unzip -p" \
    "bsdtar -xOf" "bsdtar -xOf"
bench tar.xz "ours (avscan decompose)" "$OURS" \
    "ours, prefer_mem" "$OURS_MEM" \
    "xz -dc" "xz -dc" \
    "7zz x -so" "7zz x -so"

# 4. The record.
DATE=$(date +%F)
mkdir -p "$RECORD_DIR"
RECORD=$RECORD_DIR/$DATE-decompose.md
[[ $MB = 100 ]] || RECORD=$RECORD_DIR/$DATE-decompose-${MB}mb.md
commit=$(commit_description "$DIRTY_AT_BUILD")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
{
    echo "# Decomposition throughput against peers, $DATE"
    echo
    echo "- Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(rustc --version), commit $commit"
    echo "- Peers: libdeflate-gunzip $(libdeflate-gunzip -V 2>&1 | head -n 1 | grep -o "v[0-9.]*"); $(gzip --version | head -n 1); $(pigz --version 2>&1);" \
        "$(bzip2 --help 2>&1 | head -n 1 | cut -d, -f1-2); $(lbzip2 --version 2>&1 | head -n 1); $(tar --version | head -n 1);" \
        "$(xz --version | head -n 1); $(7zz | sed -n 2p | cut -d: -f1 | xargs); $(unzip -v | head -n 1 | cut -d, -f1);" \
        "$(bsdtar --version | cut -d' ' -f1-2); $(hyperfine --version)"
    echo "- Inputs (\`gen-inputs\`, seed fixed, generator $(sed -n 's/^generator //p' "$DIR/manifest.txt")):" \
        "$(sed -n 's/^members //p' "$DIR/manifest.txt") members, $MB MB of content" \
        "(logs, CSV, prose, binary records, executable-like); data.tar $(sed -n 's/^tar_bytes //p' "$DIR/manifest.txt") bytes;" \
        "data.tar.bz2 $(field tar.bz2 3) bytes (bzip2 -9, $(ratio "$(field tar.bz2 4)" "$(field tar.bz2 3)"):1)," \
        "data.tar.gz $(field tar.gz 3) bytes (gzip -6, $(ratio "$(field tar.gz 4)" "$(field tar.gz 3)"):1)," \
        "data.zip $(field zip 3) bytes (deflate -6, $(ratio "$(field zip 4)" "$(field zip 3)"):1)," \
        "data.tar.xz $(field tar.xz 3) bytes (xz -6, one block, $(ratio "$(field tar.xz 4)" "$(field tar.xz 3)"):1)"
    echo "- Method: hyperfine, median of $RUNS whole-process runs after $WARMUP warm-up, warm page cache, output" \
        "to /dev/null. MB/s is MB (10^6 bytes) of decompressed output per second: the tar for .tar.gz, .tar.bz2" \
        "and .tar.xz, the members' contents for .zip and .tar, which is what each peer writes. \"ours/theirs\" is our median" \
        "time over theirs (default policy, then prefer_mem): above 1 we are slower. CPU s is user + system (mean), which shows the peers that use" \
        "more than one thread (pigz and lbzip2 do). Peak RSS is from one more run under /usr/bin/time."
    echo "- Ours does more than the peers: it also splits the tar into its members and hands each to the sink" \
        "(here avscan's tree printer). With its default memory policy a child over 8 MiB (the whole tar of a" \
        ".tar.gz or .tar.xz) is spilled to an unnamed temporary file in \$TMPDIR and read back, and only" \
        "deflate outputs up to 8 MiB are inflated whole by libdeflate; with prefer_mem children stay in RAM and" \
        "every deflate stream of declared size (gzip ISIZE, zip entry size) within the limits is inflated whole."
    echo "- Other work may have shared the 2 cores during the run: treat differences under about 10 % as noise."
    echo
    echo "| input | tool | median s | MB/s out | ours/theirs (time) | ours prefer_mem/theirs | CPU s | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
} > "$RECORD"
cat "$RECORD"
say "written to $RECORD"
summary_record "$RECORD"
