#!/usr/bin/env bash
# The daemons: `avscan serve` against clamd, both driven by the real clamdscan, on the same files with the same
# signature database, in one run.
#
#   benches/daemon-peers.sh                     # the 300 MB whole-scan corpus: about 6 minutes once built
#   BENCH_MB=20 RUNS=2 benches/daemon-peers.sh  # a smoke test
#   SIGS=1 RUNS=5 WARMUP=2 benches/daemon-peers.sh
#   RECORD_DIR=/tmp benches/daemon-peers.sh     # write the record somewhere else than benches/record/
#
# Installs clamav-daemon (clamd), clamdscan, hyperfine, jq and python3 from Debian when missing; builds `avscan`
# and `gen-scan-corpus` in release and uses the whole-scan corpus of scan-peers.sh (src/scan_corpus.rs: zips
# holding zips and tar.gz, tar.gz/bz2/xz, one 100 MB gzip, 295 mails with base64 attachments) and its
# signature set sigs-$SIGS (default 10000). Then:
#
# 1. starts both daemons on Unix sockets in a temporary directory, each with every core (clamd MaxThreads,
#    avscan max_concurrency), limits that cut nothing and a stream limit above the largest file (1000M);
#    clamd with AlertExceedsMax, so that anything a limit skipped would show as a detection;
# 2. checks once, through clamdscan --stream, that each daemon reports exactly the files planted with a
#    signature of the set;
# 3. times two ways of asking, with hyperfine (daemons already up, so database loading is not timed):
#      sequential: clamdscan --stream CORPUS            one connection per file, one file at a time: an MTA
#                                                        asking about one message after another
#      parallel:   clamdscan --multiscan --stream CORPUS one IDSESSION with every file's INSTREAM pipelined,
#                                                        so each daemon scans files on all its threads
# 4. reads each daemon's peak RSS (VmHWM) after the runs;
# 5. prints a Markdown table (files/s, MB/s of input, ratio clamd time / avscan time, peak RSS) and writes it with
#    the machine's description to $RECORD_DIR/<date>-daemon.md (<date>-daemon-<MB>mb.md for another size), and
#    hyperfine's exports beside it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MB=${BENCH_MB:-300}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SIGS=${SIGS:-10000}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
CORES=$(nproc)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# 1. Tools (Debian package names).
install_missing clamd:clamav-daemon clamdscan:clamdscan hyperfine:hyperfine jq:jq python3:python3

DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan and gen-scan-corpus (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-scan-corpus
AVSCAN=$TARGET/release/avscan

say "corpus of about $MB MB"
INFO=$(BENCH_MB=$MB "$TARGET/release/gen-scan-corpus")
key() { awk -v k="$1" '$1 == k { print $2; exit }' <<< "$INFO"; }
CORPUS=$(key corpus)
BYTES=$(key bytes)
FILES=$(key files)
NDB=$(awk -v n="$SIGS" '$1 == "sigs" && $2 == n { print $4 }' <<< "$INFO")
[[ -n $NDB ]] || die "no signature set of $SIGS (the generator writes 1, 1000, 10000 and 100000)"
EXPECTED=$(awk -v n="$SIGS" '$1 == "planted" && $2 < n { print $3 }' <<< "$INFO" | sort -u)

WORK=$(mktemp -d)
chmod 755 "$WORK"
CLAMD_PID='' AVSCAN_PID=''
cleanup() {
    [[ -z $CLAMD_PID ]] || kill "$CLAMD_PID" 2> /dev/null || true
    [[ -z $AVSCAN_PID ]] || kill "$AVSCAN_PID" 2> /dev/null || true
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/db" "$WORK/tmp"
chmod 777 "$WORK/tmp"
cp "$NDB" "$WORK/db/bench.ndb"

# 2. The daemons. Limits that cut nothing, as scan-peers.sh's: clamd files up to 2000 MB, 4000 MB per
# container, 50 levels, no file-count or time limit, text normalized up to 1000 MB; avscan the largest sizes.
cat > "$WORK/clamd.conf" << EOF
Foreground yes
LocalSocket $WORK/clamd.sock
DatabaseDirectory $WORK/db
TemporaryDirectory $WORK/tmp
LogFile $WORK/clamd.log
MaxThreads $CORES
StreamMaxLength 1000M
MaxFileSize 2000M
MaxScanSize 4000M
MaxRecursion 50
MaxFiles 0
MaxScanTime 0
MaxScriptNormalize 1000M
AlertExceedsMax yes
EOF
cat > "$WORK/avscan.toml" << EOF
definitions = ["$WORK/db"]
local_socket = "$WORK/avscan.sock"
max_concurrency = $CORES
max_extract_size = 4294967294
max_cumulative_extract_size = 2147483648
max_extract_time = 0
max_file_count = 0
stream_max_length = 1048576000
EOF
for daemon in clamd avscan; do
    printf 'LocalSocket %s/%s.sock\nStreamMaxLength 1000M\n' "$WORK" "$daemon" > "$WORK/client-$daemon.conf"
done

say "starting clamd and avscan serve ($CORES threads each)"
(cd / && exec clamd -c "$WORK/clamd.conf" > "$WORK/clamd.out" 2>&1) &
CLAMD_PID=$!
"$AVSCAN" serve --config "$WORK/avscan.toml" > "$WORK/avscan.log" 2>&1 &
AVSCAN_PID=$!
for daemon in clamd avscan; do
    for ((i = 0; i < 600; i++)); do
        ping_daemon "$WORK/$daemon.sock" && break
        sleep 0.1
    done
    ping_daemon "$WORK/$daemon.sock" || die "$daemon did not start: $(tail -n 5 "$WORK/$daemon".{log,out} 2> /dev/null)"
done

client() { echo "clamdscan -c $WORK/client-$1.conf --no-summary $2 $CORPUS"; }

# 3. Check once: the planted files and nothing else, no error, from both.
for daemon in clamd avscan; do
    status=0
    $(client "$daemon" --stream) > "$WORK/$daemon.txt" 2> "$WORK/$daemon.err" || status=$?
    [[ $status = 1 ]] || die "clamdscan through $daemon exited with $status: $(head -n 5 "$WORK/$daemon.err")"
    ! grep -v ' FOUND$' "$WORK/$daemon.txt" | grep -q . || die "through $daemon: $(grep -v ' FOUND$' "$WORK/$daemon.txt" | head -n 5)"
    got=$(sed -n 's/^\(.*\): [^ ]* FOUND$/\1/p' "$WORK/$daemon.txt" | sed "s|^$CORPUS/||" | sort -u)
    [[ $got = "$EXPECTED" ]] || die "through $daemon the infected files are:
$got
instead of:
$EXPECTED"
done
say "both daemons report exactly the planted files"

# 4. Time. Names: <daemon> <way>.
names=() commands=()
for way in sequential parallel; do
    flags=--stream
    [[ $way = parallel ]] && flags="--multiscan --stream"
    for daemon in avscan clamd; do
        names+=("$daemon $way")
        commands+=("$(client "$daemon" "$flags")")
    done
done
time_commands daemon
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
declare -A RSS=([avscan]=$(hwm "$AVSCAN_PID") [clamd]=$(hwm "$CLAMD_PID"))

summary_row "daemon, $CORES threads" "corpus, $MB MB, $SIGS sigs, clamdscan --stream" "avscan serve" "clamd" \
    "${MEDIAN[avscan sequential]}" "${MEDIAN[clamd sequential]}" "${RSS[avscan]}" "${RSS[clamd]}"
summary_row "daemon, $CORES threads" "corpus, $MB MB, $SIGS sigs, clamdscan --multiscan --stream" "avscan serve" "clamd" \
    "${MEDIAN[avscan parallel]}" "${MEDIAN[clamd parallel]}" "${RSS[avscan]}" "${RSS[clamd]}"

# 5. The record.
ROWS=$WORK/rows.md
: > "$ROWS"
for way in sequential parallel; do
    for daemon in avscan clamd; do
        awk -v w="$way" -v d="$daemon" -v m="${MEDIAN[$daemon $way]}" -v f="$FILES" -v b="$BYTES" \
            -v ours="${MEDIAN[avscan $way]}" -v theirs="${MEDIAN[clamd $way]}" -v r="${RSS[$daemon]}" 'BEGIN {
                printf "| %s | %s | %.3f | %.1f | %.1f | %.2f | %.0f |\n", w, d == "avscan" ? "avscan serve" : "clamd", m,
                    f / m, b / 1e6 / m, theirs / ours, r / 1024
            }' >> "$ROWS"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
SEQUENTIAL=$(ratio "${MEDIAN[clamd sequential]}" "${MEDIAN[avscan sequential]}")
PARALLEL=$(ratio "${MEDIAN[clamd parallel]}" "${MEDIAN[avscan parallel]}")
COMMIT=$(commit_description "$DIRTY_AT_BUILD")
{
    echo "# The daemons: avscan serve against clamd, through clamdscan --stream ($DATE)"
    echo
    echo "Written by \`benches/daemon-peers.sh\` (RUNS=$RUNS WARMUP=$WARMUP BENCH_MB=$MB SIGS=$SIGS), avscan at $COMMIT."
    echo "Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "$(clamd --version | head -n 1 | sed 's|/.*||') (Debian), clamdscan of the same release as the client of both."
    echo
    echo "Corpus: $FILES files, $BYTES bytes (the whole-scan corpus of scan-peers.sh), signature set sigs-$SIGS. Both daemons"
    echo "report exactly the planted files. Daemons up before timing (database load not timed), $CORES threads each,"
    echo "limits that cut nothing. Hyperfine medians of whole clamdscan runs."
    echo
    echo "| clamdscan | daemon | median s | files/s | MB/s of input | clamd time / avscan time | daemon peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "- sequential: \`clamdscan --stream CORPUS\`, one connection per file, one file at a time: avscan serve is"
    echo "  **${SEQUENTIAL}x** as fast as clamd."
    echo "- parallel: \`clamdscan --multiscan --stream CORPUS\`, one IDSESSION with every INSTREAM pipelined, files"
    echo "  scanned on all threads: **${PARALLEL}x**."
} > "$RECORD"
cat "$RECORD"
say "record: $RECORD"
summary_record "$RECORD"
