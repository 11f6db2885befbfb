# Shared by the peer scripts (peers.sh runs them all): progress lines, errors, installing the peers, telling whether the code under
# test differs from the commit, describing the machine and the commit in a record, peak RSS. Sourced, not run.

say() { printf '== %s\n' "$*" >&2; }

# install_missing COMMAND:PACKAGE...: installs from Debian the package of every command that is not on PATH.
install_missing() {
    local missing=() tool_package
    for tool_package in "$@"; do
        command -v "${tool_package%%:*}" > /dev/null || missing+=("${tool_package#*:}")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        local sudo=()
        [[ $(id -u) = 0 ]] || sudo=(sudo)
        "${sudo[@]}" apt-get update -qq
        DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}" > /dev/null
    fi
}

# Whether the code under test has uncommitted changes.
dirty() { [[ -n $(git status --porcelain -- decomposer scanner Cargo.toml Cargo.lock 2> /dev/null) ]]; }

# die MESSAGE: prints "<script>: MESSAGE" on stderr and exits 1.
die() {
    printf '%s: %s\n' "$(basename "$0")" "$*" >&2
    exit 1
}

# commit_description DIRTY_AT_BUILD: the short commit, marked when the code under test had uncommitted changes at
# build time (DIRTY_AT_BUILD = yes) or has them now.
commit_description() {
    local commit
    commit=$(git rev-parse --short HEAD 2> /dev/null || echo unknown)
    if [[ $1 = yes ]] || dirty; then
        commit="$commit (with uncommitted changes in decomposer/, scanner/ or the workspace manifest)"
    fi
    echo "$commit"
}

# machine: the CPU model, the cores and the memory, for a record's "Machine:" line.
machine() {
    echo "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(nproc) cores," \
        "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
}

# time_once WORKDIR COMMAND...: runs COMMAND once under /usr/bin/time -v (its output to /dev/null) and sets
# ELAPSED to its wall time in seconds and PEAK_KIB to its peak RSS in KiB; returns the command's exit status.
time_once() {
    local work=$1 status=0
    shift
    /usr/bin/time -v -o "$work/time" "$@" > /dev/null 2>&1 || status=$?
    ELAPSED=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$work/time")
    PEAK_KIB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/time")
    return "$status"
}

# peak_rss_each WORKDIR: fills the associative array RSS[name] with the peak RSS in KiB of one more run of each
# command of the arrays `names` and `commands` under /usr/bin/time -v (exit statuses ignored).
peak_rss_each() {
    local i
    declare -gA RSS
    for ((i = 0; i < ${#names[@]}; i++)); do
        time_once "$1" ${commands[i]} || true
        RSS[${names[i]}]=$PEAK_KIB
    done
}

# ping_daemon SOCKET: whether a clamd-protocol daemon answers zPING on the Unix socket SOCKET within 5 s.
ping_daemon() {
    python3 - "$1" << 'EOF'
import socket, sys
try:
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(sys.argv[1])
    s.sendall(b"zPING\0")
    sys.exit(0 if s.recv(16) == b"PONG\0" else 1)
except OSError:
    sys.exit(1)
EOF
}

# time_commands KIND [DEFAULT_MB]: times the commands of the arrays `names` and `commands` (one name each) with
# hyperfine, $RUNS runs after $WARMUP warm-up, whole processes, exit statuses ignored (1 "infected" is expected).
# Sets DATE, RECORD to $RECORD_DIR/$DATE-KIND.md ($DATE-KIND-<MB>mb.md when $MB is not DEFAULT_MB, by default
# 300) and EXPORT to hyperfine's
# exports beside it ($EXPORT.json and .md), and fills the associative array MEDIAN[name] with each median in
# seconds.
time_commands() {
    local kind=$1 default_mb=${2:-300} i args=()
    for ((i = 0; i < ${#names[@]}; i++)); do
        args+=(-n "${names[i]}" "${commands[i]}")
    done
    mkdir -p "$RECORD_DIR"
    DATE=$(date +%F)
    RECORD=$RECORD_DIR/$DATE-$kind.md
    [[ $MB = "$default_mb" ]] || RECORD=$RECORD_DIR/$DATE-$kind-${MB}mb.md
    EXPORT=${RECORD%.md}.hyperfine
    say "timing ${#names[@]} commands, $RUNS runs each after $WARMUP warm-up"
    hyperfine -N -i --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$EXPORT.json" \
        --export-markdown "$EXPORT.md" "${args[@]}" >&2
    declare -gA MEDIAN
    for ((i = 0; i < ${#names[@]}; i++)); do
        MEDIAN[${names[i]}]=$(jq ".results[$i].median" "$EXPORT.json")
    done
}

# summary_row AREA INPUT OURS PEER OURS_SECONDS PEER_SECONDS OURS_RSS_KIB PEER_RSS_KIB: one headline comparison
# for benches/peers.sh, which sets SUMMARY to the file that collects them (tab-separated); nothing otherwise.
summary_row() {
    [[ -n ${SUMMARY:-} ]] || return 0
    local IFS=$'\t'
    echo "row$IFS$*" >> "$SUMMARY"
}

# summary_record PATH: tells benches/peers.sh (through SUMMARY) where this script wrote its record.
summary_record() {
    [[ -n ${SUMMARY:-} ]] || return 0
    printf 'record\t%s\n' "$1" >> "$SUMMARY"
}
