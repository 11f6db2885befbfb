#!/usr/bin/env bash
# Peak RSS of every bomb in corpus/ (each case of corpus/manifest.toml named bomb-*, generated at run time) under
# /usr/bin/time -v, with the release `avscan` and default limits, three ways:
#
#   decompose             avscan decompose BOMB               budget 64 MiB
#   scan                  avscan scan --jobs 1 BOMB           budget 64 MiB (the embedded signatures; the
#                                                              verdict's status and every code are printed)
#   decompose, prefer_mem avscan decompose --prefer-mem BOMB  budget 64 MiB + max_cumulative_extract_size
#                                                              (200 MiB by default): children stay in RAM, so
#                                                              memory is bounded by the limits alone (DESIGN.md 2)
#
# Prints a Markdown table (wall time, peak RSS, codes) and fails when any run passes its budget.
set -euo pipefail
cd "$(dirname "$0")/.."
base_kib=$((64 * 1024))
cumulative_kib=$((209715200 / 1024))
if [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq time >/dev/null
fi
cargo build --release --locked -q -p scanner --bin avscan -p corpus --bin corpus-gen
mapfile -t bombs < <(sed -n 's/^name = "\(bomb-[^"]*\)"$/\1/p' corpus/manifest.toml)
[ ${#bombs[@]} -gt 0 ] || { echo "bomb-rss.sh: no bomb-* case in corpus/manifest.toml" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
./target/release/corpus-gen "$dir" "${bombs[@]}" >/dev/null
status=0
printf '| bomb | input bytes | run | wall | peak RSS KiB | budget KiB | codes |\n|---|---|---|---|---|---|---|\n'
for bomb in "${bombs[@]}"; do
  input="$dir/$bomb.bin"
  for run in decompose scan prefer_mem; do
    case $run in
      decompose) command=(./target/release/avscan decompose "$input"); budget=$base_kib ;;
      scan) command=(./target/release/avscan scan --jobs 1 --json "$input"); budget=$base_kib ;;
      prefer_mem) command=(./target/release/avscan decompose --prefer-mem "$input"); budget=$((base_kib + cumulative_kib)) ;;
    esac
    # avscan scan exits 0 (clean), 1 (infected) or 2 (unscannable, as a bomb is): all are answers here.
    run_status=0
    /usr/bin/time -v "${command[@]}" >"$dir/out" 2>"$dir/time" || run_status=$?
    if [ "$run_status" -gt 2 ]; then
      echo "$bomb ($run): exit status $run_status" >&2
      cat "$dir/time" >&2
      status=1
      continue
    fi
    rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time")
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$dir/time")
    if [ "$run" = scan ]; then
      codes="$(sed -n 's/.*"status":"\([A-Z]*\)".*/\1:/p' "$dir/out") $(grep -oE '(DEC|AVS)_RESULT_[A-Z_]+' "$dir/out" | sort -u | tr '\n' ' ' || true)"
    else
      codes=$(awk '/^  ! / {print $2}' "$dir/out" | sort -u | tr '\n' ' ')
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s|\n' "$bomb" "$(stat -c %s "$input")" "$run" "$wall" "$rss" "$budget" "$codes"
    if [ "$rss" -gt "$budget" ]; then
      echo "$bomb ($run): peak RSS $rss KiB exceeds its budget of $budget KiB" >&2
      status=1
    fi
  done
done
exit $status
