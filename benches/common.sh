# Shared by peers.sh, scan-peers.sh and daemon-peers.sh: progress lines, installing the peers, and telling whether the code under
# test differs from the commit. Sourced, not run.

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

# time_commands KIND: times the commands of the arrays `names` and `commands` (one name each) with hyperfine,
# $RUNS runs after $WARMUP warm-up, whole processes, exit statuses ignored (1 "infected" is expected). Sets
# DATE, RECORD to $RECORD_DIR/$DATE-KIND.md ($DATE-KIND-<MB>mb.md when $MB is not 300) and EXPORT to hyperfine's
# exports beside it ($EXPORT.json and .md), and fills the associative array MEDIAN[name] with each median in
# seconds.
time_commands() {
    local kind=$1 i args=()
    for ((i = 0; i < ${#names[@]}; i++)); do
        args+=(-n "${names[i]}" "${commands[i]}")
    done
    mkdir -p "$RECORD_DIR"
    DATE=$(date +%F)
    RECORD=$RECORD_DIR/$DATE-$kind.md
    [[ $MB = 300 ]] || RECORD=$RECORD_DIR/$DATE-$kind-${MB}mb.md
    EXPORT=${RECORD%.md}.hyperfine
    say "timing ${#names[@]} commands, $RUNS runs each after $WARMUP warm-up"
    hyperfine -N -i --style basic --warmup "$WARMUP" --runs "$RUNS" --export-json "$EXPORT.json" \
        --export-markdown "$EXPORT.md" "${args[@]}" >&2
    declare -gA MEDIAN
    for ((i = 0; i < ${#names[@]}; i++)); do
        MEDIAN[${names[i]}]=$(jq ".results[$i].median" "$EXPORT.json")
    done
}
