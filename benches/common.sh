# Shared by peers.sh and scan-peers.sh: progress lines, installing the peers, and telling whether the code under
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
