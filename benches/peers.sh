#!/usr/bin/env bash
# Every peer comparison in one run, and the headline table: README.md links to its record.
#
#   benches/peers.sh                          # about 45 minutes on 2 cores once built
#   RECORD_DIR=/tmp benches/peers.sh          # write the records somewhere else than benches/record/
#   BENCH_MB=20 RUNS=2 benches/peers.sh       # a smoke test (every part at 20 MB)
#
# Runs, one after the other, each script on its own generated inputs (seeded, nothing downloaded) and with
# the signatures it names, every one checking first that ours and the peer do the same work:
#
#   decompress-peers.sh  avscan decompose against libdeflate-gunzip, gzip, pigz, bzip2, lbzip2, xz, 7zz, unzip,
#                        bsdtar and tar on .tar, .tar.gz, .tar.bz2, .zip and .tar.xz (100 MB of content)
#   scan-peers.sh        avscan scan --jobs 1 against clamscan, one core each (300 MB corpus of archives and
#                        mail, 1 to 10,000 body signatures)
#   daemon-peers.sh      avscan serve against clamd, every core, through clamdscan (the same corpus)
#   matcher-peers.sh     avscan scan --jobs 1 against yara -p 1 on raw files (100 MB, 1,000 to 100,000 signatures)
#   scaling.sh           threads, archive size 1 MB to 1 GB, signature count, with a plot
#
# Each writes its own record in $RECORD_DIR (see benches/README.md). Then this script prints the headline
# rows of all (ours against each peer: medians, ratio, peak RSS) and writes them, with the machine, to
# $RECORD_DIR/<date>-peers.md, which links the others. Installing the peers (Debian) is left to each script.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
export RECORD_DIR
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SUMMARY=$(mktemp)
export SUMMARY
trap 'rm -f "$SUMMARY"' EXIT
STARTED=$(date +%s)
DIRTY_AT_START=no
dirty && DIRTY_AT_START=yes
for script in decompress-peers scan-peers daemon-peers matcher-peers scaling; do
    say "$script.sh"
    "$ROOT/benches/$script.sh"
done
MINUTES=$(((($(date +%s) - STARTED) + 59) / 60))

DATE=$(date +%F)
mkdir -p "$RECORD_DIR"
RECORD=$RECORD_DIR/$DATE-peers.md
commit=$(commit_description "$DIRTY_AT_START")
{
    echo "# avscan against its peers, $DATE"
    echo
    echo "Written by \`benches/peers.sh\` in $MINUTES minutes${BENCH_MB:+ (BENCH_MB=$BENCH_MB)}."
    echo
    echo "- Machine: $(machine), $(. /etc/os-release && echo "$PRETTY_NAME"), Linux $(uname -r);" \
        "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(rustc --version), commit $commit"
    echo "- Each row is one comparison of a part's record (linked below), where the method, the inputs, the" \
        "exact commands and the check that both sides did the same work are written out. Times are hyperfine" \
        "medians of whole processes (the daemons: of whole clamdscan runs, daemons already up)." \
        "**ours/theirs is our median time over the peer's: below 1 we are faster.** Peak RSS is of one more run" \
        "(the daemons: VmHWM after all runs)."
    echo "- Other work may have shared the cores during the run: treat differences under about 10 % as noise."
    echo
    echo "| what | input | ours | peer | ours s | peer s | ours/theirs (time) | ours peak RSS MiB | peer peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    awk -F'\t' '$1 == "row" {
        printf "| %s | %s | %s | %s | %.3f | %.3f | %.2f | %.0f | %.0f |\n", $2, $3, $4, $5, $6, $7, $6 / $7, $8 / 1024, $9 / 1024
    }' "$SUMMARY"
    echo
    echo "Records of this run:"
    echo
    awk -F'\t' '$1 == "record" { n = split($2, parts, "/"); printf "- [%s](%s)\n", parts[n], parts[n] }' "$SUMMARY"
} > "$RECORD"
cat "$RECORD"
say "written to $RECORD"
