#!/usr/bin/env bash
# Definitions at real scale: avscan against clamscan and clamd on the same generated ClamAV-shaped set
# (../shared/tools/gen_realdb.py: 8.7 M signatures at scale 1.0, the shape of main + daily of 2024; 0.42 is
# today's official set), in one run.
#
#   benches/realdb-peers.sh                          # scales 0.42 and 1.0: about 45 minutes once built
#   SCALES=0.42 BENCH_MB=20 benches/realdb-peers.sh  # a smoke test
#   RECORD_DIR=/tmp benches/realdb-peers.sh          # write the record somewhere else than benches/record/
#   SCAN_CORPUS=no benches/realdb-peers.sh           # without the corpus scans (clamscan takes 17 minutes at 1.0):
#                                                    # about 12 minutes
#
# Installs clamav, clamav-daemon, hyperfine, jq, python3 and GNU time from Debian when missing; builds `avscan` and
# `gen-scan-corpus` in release; generates each set once under target/bench-inputs/realdb-<scale>/. For each
# scale it measures:
#
# 1. `avscan db compile SET -o FILE` (time, peak RSS, size), then cold loads: `avscan db info --db SET` (from
#    source), `avscan db info --db FILE` (from the compiled form) and `clamscan -d SET EMPTY_FILE` (hyperfine
#    medians, $RUNS runs; peak RSS of one more run under /usr/bin/time -v);
# 2. the daemons, started on Unix sockets with their own copy of the set: avscan twice, first from source (it
#    writes avscan.avdb into its definitions directory, the default compiled_definitions) and then from that
#    compiled form; the time from start to the first PONG, the steady RSS once loaded, the CPU time one
#    INSTREAM scan of 4 KiB costs (realdb.py cpu: the CPU time of the daemon's threads over $CPU_SCANS scans), and
#    two reloads while 10 scans a second keep going (realdb.py reload: a new hash signature appended to
#    daily.hdb, then a new body signature appended to daily.ndb, each followed by RELOAD and the scans of the
#    marker it detects; reload time, peak RSS, scans answered, the longest wait). The second makes avscan build
#    its prefilter again: the first leaves every pattern where it was, so avscan keeps the prefilter it has.
#    clamd runs with its defaults (ConcurrentDatabaseReload yes) and reloads everything both times;
# 3. the whole-corpus scan of scan-peers.sh ($BENCH_MB MB) with the full set, on one core each, with
#    scan-peers.sh's limits that cut nothing and every match reported: `avscan scan --jobs 1`, from the set's
#    source and from its compiled form, against `clamscan` (one run each under GNU time, database load
#    included, as a user runs them).
#
# Writes a Markdown table with the machine's description to $RECORD_DIR/<date>-realdb.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
SCALES=${SCALES:-0.42 1.0}
MB=${BENCH_MB:-300}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-0}
CPU_SCANS=${CPU_SCANS:-200}
SCAN_CORPUS=${SCAN_CORPUS:-yes}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
GEN_REALDB=${GEN_REALDB:-$ROOT/../shared/tools/gen_realdb.py}
CORES=$(nproc)
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

install_missing clamscan:clamav clamd:clamav-daemon hyperfine:hyperfine jq:jq python3:python3 /usr/bin/time:time
[[ -f $GEN_REALDB ]] || die "no set generator at $GEN_REALDB (set GEN_REALDB)"

DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan and gen-scan-corpus (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-scan-corpus
AVSCAN=$TARGET/release/avscan
REALDB_PY=$ROOT/benches/realdb.py

say "corpus of about $MB MB"
INFO=$(BENCH_MB=$MB "$TARGET/release/gen-scan-corpus")
CORPUS=$(awk '$1 == "corpus" { print $2; exit }' <<< "$INFO")
BYTES=$(awk '$1 == "bytes" { print $2; exit }' <<< "$INFO")

WORK=$(mktemp -d)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill "$pid" 2> /dev/null || true; done
    wait 2> /dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
: > "$WORK/empty"
ROWS=$WORK/rows.md
: > "$ROWS"
row() {
    local cell line='|'
    for cell in "$@"; do line+=" $cell |"; done
    echo "$line" >> "$ROWS"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# peer_row LABEL OURS THEIRS: a row comparing the runs named OURS and THEIRS (clamscan) in MEDIAN and RSS.
peer_row() {
    local ours=$2 theirs=$3
    row "$1" \
        "$(printf '%.2f' "${MEDIAN[$ours]}") s, $(mib "${RSS[$ours]}") MiB" \
        "clamscan $(printf '%.2f' "${MEDIAN[$theirs]}") s, $(mib "${RSS[$theirs]}") MiB" \
        "$(ratio "${MEDIAN[$ours]}" "${MEDIAN[$theirs]}")" "$(ratio "${RSS[$ours]}" "${RSS[$theirs]}")"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }


# start_daemon NAME DB: starts clamd or avscan serve on $WORK/NAME.sock over the directory DB; sets DAEMON_PID
# and LOAD_SECONDS (start to the first PONG).
start_daemon() {
    local name=$1 db=$2 started i
    mkdir -p "$WORK/tmp"
    chmod 777 "$WORK/tmp"
    started=$(date +%s.%N)
    if [[ $name = clamd ]]; then
        printf 'Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\nTemporaryDirectory %s\nLogFile %s\nMaxThreads %s\n' \
            "$WORK/clamd.sock" "$db" "$WORK/tmp" "$WORK/clamd.log" "$CORES" > "$WORK/clamd.conf"
        (cd / && exec clamd -c "$WORK/clamd.conf" > "$WORK/clamd.out" 2>&1) &
    else
        printf 'definitions = ["%s"]\nlocal_socket = "%s"\nmax_concurrency = %s\n' \
            "$db" "$WORK/avscan.sock" "$CORES" > "$WORK/avscan.toml"
        "$AVSCAN" serve --config "$WORK/avscan.toml" > "$WORK/avscan.log" 2>&1 &
    fi
    DAEMON_PID=$!
    PIDS+=("$DAEMON_PID")
    for ((i = 0; i < 3000; i++)); do
        ping_daemon "$WORK/$name.sock" && break
        kill -0 "$DAEMON_PID" 2> /dev/null || die "$name exited: $(tail -n 5 "$WORK/$name".{log,out} 2> /dev/null)"
        sleep 0.1
    done
    ping_daemon "$WORK/$name.sock" || die "$name did not start"
    LOAD_SECONDS=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
}

stop_daemon() {
    kill "$DAEMON_PID" 2> /dev/null || true
    wait "$DAEMON_PID" 2> /dev/null || true
    rm -f "$WORK"/*.sock
}

for scale in $SCALES; do
    SET=$TARGET/bench-inputs/realdb-$scale
    if [[ ! -f $SET/daily.ldb ]]; then
        say "generating the set at scale $scale"
        rm -rf "$SET"
        python3 "$GEN_REALDB" "$SET" --scale "$scale" >&2
    fi
    SIGNATURES=$(cat "$SET"/*.?db | wc -l)
    SET_MB=$(du -sm "$SET" | cut -f1)

    # 1. The compiled form, and cold loads.
    COMPILED=$WORK/set-$scale.avdb
    say "compiling the set at scale $scale"
    time_once "$WORK" "$AVSCAN" db compile "$SET" -o "$COMPILED" || die "avscan db compile failed at scale $scale"
    COMPILED_MB=$(du -m "$COMPILED" | cut -f1)
    row "avscan db compile, scale $scale" "$ELAPSED s, $(mib "$PEAK_KIB") MiB; file $COMPILED_MB MB" "-" "-" "-"
    names=("avscan load $scale" "avscan compiled $scale" "clamscan load $scale")
    commands=("$AVSCAN db info --db $SET" "$AVSCAN db info --db $COMPILED" "clamscan --no-summary -d $SET $WORK/empty")
    RECORD_DIR=$WORK MB=300 time_commands "load-$scale"
    peak_rss_each "$WORK"
    for what in load compiled; do
        label="cold load from source, scale $scale ($SIGNATURES lines, $SET_MB MB)"
        [[ $what = compiled ]] && label="cold load from the compiled form, scale $scale"
        peer_row "$label" "avscan $what $scale" "clamscan load $scale"
    done

    # 2. The daemons, each on its own copy of the set (the reload changes it).
    declare -A STEADY=() CPU=() TRIP=() RELOAD=() START=()
    for daemon in avscan clamd; do
        rm -rf "$WORK/db"
        cp -r "$SET" "$WORK/db"
        rm -f "$WORK/db"/*.avdb
        say "$daemon: start, 4 KiB scans, reload at scale $scale"
        start_daemon "$daemon" "$WORK/db"
        START[$daemon]=$LOAD_SECONDS
        if [[ $daemon = avscan ]]; then
            # The first start parsed the set and wrote avscan.avdb; the second decodes it.
            [[ -f $WORK/db/avscan.avdb ]] || die "avscan serve wrote no compiled form into its definitions directory"
            stop_daemon
            start_daemon "$daemon" "$WORK/db"
            START[avscan compiled]=$LOAD_SECONDS
        fi
        sleep 2
        STEADY[$daemon]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status")
        out=$(python3 "$REALDB_PY" cpu "$WORK/$daemon.sock" "$DAEMON_PID" "$CPU_SCANS")
        CPU[$daemon]=$(awk '$1 == "cpu_ms" { print $2 }' <<< "$out")
        TRIP[$daemon]=$(awk '$1 == "round_trip_ms" { print $2 }' <<< "$out")
        RELOAD[$daemon hash]=$(python3 "$REALDB_PY" reload "$WORK/$daemon.sock" "$DAEMON_PID" "$WORK/db" hash)
        RELOAD[$daemon body]=$(python3 "$REALDB_PY" reload "$WORK/$daemon.sock" "$DAEMON_PID" "$WORK/db" body)
        stop_daemon
    done
    key() { awk -v k="$2" '$1 == k { print $2 }' <<< "${RELOAD[$1]}"; }
    row "daemon start to first PONG, scale $scale" \
        "${START[avscan]} s from source (writing avscan.avdb), ${START[avscan compiled]} s from it" \
        "clamd ${START[clamd]} s" "$(ratio "${START[avscan compiled]}" "${START[clamd]}") (compiled)" "-"
    row "daemon steady RSS, scale $scale" "$(mib "${STEADY[avscan]}") MiB" "clamd $(mib "${STEADY[clamd]}") MiB" "-" \
        "$(ratio "${STEADY[avscan]}" "${STEADY[clamd]}")"
    row "one 4 KiB INSTREAM scan, daemon CPU (client round trip), scale $scale" \
        "${CPU[avscan]} ms (${TRIP[avscan]} ms)" "clamd ${CPU[clamd]} ms (${TRIP[clamd]} ms)" \
        "$(ratio "${CPU[avscan]}" "${CPU[clamd]}")" "-"
    for reload in "avscan hash" "clamd hash" "avscan body" "clamd body"; do
        peak=$(key "$reload" peak_kib)
        steady=$(key "$reload" steady_kib)
        changed="daily.hdb"
        [[ $reload = *body ]] && changed="daily.ndb"
        row "reload under 10 scans/s, ${reload% *}, $changed changed, scale $scale" \
            "$(key "$reload" reload_s) s, peak $(mib "$peak") MiB = $(ratio "$peak" "$steady")x steady" \
            "$(key "$reload" answered) of $(key "$reload" sent) scans answered, longest wait $(key "$reload" longest_wait_ms) ms" \
            "-" "-"
    done

    # 3. The whole-corpus scan with the full set, one core each, load included.
    [[ $SCAN_CORPUS = no ]] && continue
    OURS_FLAGS="scan --jobs 1 --all-matches --max-extract-size 4294967294 --max-cumulative-extract-size 2147483648 --max-extract-time 0 --max-file-count 0"
    # One run each (clamscan takes minutes), timed with its peak RSS by GNU time.
    declare -A MEDIAN=() RSS=()
    for name in "avscan corpus" "avscan corpus compiled" "clamscan corpus"; do
        case $name in
            "avscan corpus") command="$AVSCAN $OURS_FLAGS --db $SET $CORPUS" ;;
            "avscan corpus compiled") command="$AVSCAN $OURS_FLAGS --db $COMPILED $CORPUS" ;;
            *) command="clamscan --allmatch --no-summary --max-filesize=2000M --max-scansize=4000M --max-recursion=50 --max-files=0 --max-scantime=0 -d $SET -r $CORPUS" ;;
        esac
        say "$name at scale $scale"
        time_once "$WORK" $command || true
        MEDIAN[$name $scale]=$ELAPSED
        RSS[$name $scale]=$PEAK_KIB
    done
    for what in "corpus" "corpus compiled"; do
        label="whole-corpus scan ($BYTES bytes), one core, scale $scale, set from source"
        [[ $what = "corpus compiled" ]] && label="whole-corpus scan ($BYTES bytes), one core, scale $scale, set from the compiled form"
        peer_row "$label" "avscan $what $scale" "clamscan corpus $scale"
    done
done

DATE=$(date +%F)
mkdir -p "$RECORD_DIR"
RECORD=$RECORD_DIR/$DATE-realdb.md
[[ $SCAN_CORPUS = no ]] && RECORD=$RECORD_DIR/$DATE-realdb-no-corpus.md
COMMIT=$(commit_description "$DIRTY_AT_BUILD")
{
    echo "# Definitions at real scale: avscan against clamscan and clamd ($DATE)"
    echo
    echo "Written by \`benches/realdb-peers.sh\` (SCALES=\"$SCALES\" RUNS=$RUNS BENCH_MB=$MB CPU_SCANS=$CPU_SCANS SCAN_CORPUS=$SCAN_CORPUS), avscan at $COMMIT."
    echo "Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "$(clamscan --version | sed 's|/.*||') (Debian). Sets from gen_realdb.py (8.7 M signatures at scale 1.0)."
    echo
    echo "| what | avscan | peer | time ours/theirs | memory ours/theirs |"
    echo "|---|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "- Cold load: hyperfine median of $RUNS runs; peak RSS of one more run. avscan parses the files in parallel"
    echo "  (one per task, $CORES cores); clamscan on one thread."
    echo "- Reload: a signature for a 4 KiB marker is appended (a hash to daily.hdb, then a body signature to"
    echo "  daily.ndb), then RELOAD; the marker is sent every 100 ms on a new connection until it has been FOUND for"
    echo "  1 s. Reload time: RELOAD to the first FOUND. Peak: VmRSS sampled every 20 ms."
    echo "- The avscan daemon's steady RSS, 4 KiB scan and reloads are measured after its start from the compiled form."
    echo "  A reload shares every unchanged part and parses the changed file. After daily.hdb changed, every pattern is"
    echo "  where it was and the prefilter is kept; after daily.ndb changed, the prefilter is built again beside the one"
    echo "  serving. Then the new set is swapped in and avscan.avdb rewritten."
} > "$RECORD"
cat "$RECORD"
say "record: $RECORD"
