#!/usr/bin/env bash
# Decomposes each generated bomb with the release `avscan` under /usr/bin/time -v and fails when one takes
# more than 64 MiB of peak RSS (default limits). Prints wall time and peak RSS per bomb.
set -euo pipefail
cd "$(dirname "$0")/.."
limit_kib=$((64 * 1024))
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked -q -p scanner --bin avscan -p corpus --bin corpus-gen
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./target/release/corpus-gen "$dir" bomb-42 bomb-fifield-overlap bomb-fifield-quoted >/dev/null
status=0
printf '| bomb | input bytes | wall s | peak RSS KiB | codes |\n|---|---|---|---|---|\n'
for bomb in bomb-42 bomb-fifield-overlap bomb-fifield-quoted; do
  input="$dir/$bomb.bin"
  /usr/bin/time -v ./target/release/avscan decompose "$input" >"$dir/out" 2>"$dir/time"
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time")
  codes=$(awk '/^  ! / {print $2}' "$dir/out" | sort -u | tr '\n' ' ')
  printf '| %s | %s | %s | %s | %s|\n' "$bomb" "$(stat -c %s "$input")" "$wall" "$rss" "$codes"
  if [ "$rss" -gt "$limit_kib" ]; then
    echo "$bomb: peak RSS $rss KiB exceeds $limit_kib KiB" >&2
    status=1
  fi
done
exit $status
