#!/usr/bin/env bash
# Whole scans: avscan against clamscan on the same generated corpus and the same signature databases, in one run.
#
#   benches/scan-peers.sh                    # 300 MB corpus (issue 3's size): about 15 minutes once built
#   BENCH_MB=20 RUNS=2 benches/scan-peers.sh # a smoke test
#   SIGS="1 10000" RUNS=5 WARMUP=2 benches/scan-peers.sh
#   RECORD_DIR=/tmp benches/scan-peers.sh    # write the record somewhere else than benches/record/
#
# Installs clamav, hyperfine, jq and GNU time from Debian when missing; builds `avscan` and `gen-scan-corpus` in
# release; generates (or reuses) the corpus and the signature sets under target/bench-inputs/scan-v<N>-<MB>mb/
# (see benches/src/scan_corpus.rs). Then, for each signature set sigs-N (N in $SIGS) and for two targets, the
# whole corpus and the corpus without its mail directory:
#
#   ours:   avscan scan --jobs 1 --all-matches --db sigs-N <limits that cut nothing> TARGET
#   theirs: clamscan --allmatch --no-summary -d sigs-N/bench.ndb <limits that cut nothing> -r TARGET
#
# 1. checks once that both report exactly the planted (file, signature) pairs of sigs-N, that avscan reports no
#    code but VIRUS_FOUND and OUTER_CONTAINER_IS_MIME (nothing cut by a limit, nothing damaged or unreadable)
#    and that clamscan reports no limit
#    (--alert-exceeds-max=yes turns a skipped file into a Heuristics.Limits.Exceeded detection, which the
#    check would see);
# 2. times every command with hyperfine (whole process, warm page cache, output to /dev/null; exit status 1
#    "infected" is expected), plus each engine on an empty directory with each database: start-up and database
#    load, which clamscan pays on every run (subtract it to get its scanning rate alone);
# 3. measures peak RSS with one more run of each under /usr/bin/time -v;
# 4. prints a Markdown table and writes it with the machine's description to $RECORD_DIR/<date>-scan.md
#    (<date>-scan-<MB>mb.md for another size), and hyperfine's own exports beside it
#    (<date>-scan[-<MB>mb].hyperfine.json and .md).
#
# Both engines run on one core: avscan with --jobs 1 (one scanning thread), clamscan is single-threaded.
# ClamAV decodes the base64 attachments of the mail; avscan's decomposer did not decode MIME when this was
# written (a message was one text leaf), so the "without mail" rows are the like-for-like comparison. The record
# says which is the case, from the parts avscan's walk reports in the mail.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
MB=${BENCH_MB:-300}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
SIGS=${SIGS:-1 1000 10000}
RECORD_DIR=${RECORD_DIR:-$ROOT/benches/record}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
[[ $TARGET = /* ]] || TARGET=$ROOT/$TARGET
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# 1. Tools (Debian package names).
install_missing clamscan:clamav hyperfine:hyperfine jq:jq /usr/bin/time:time

# 2. Our binaries (noting whether the code under test differs from the commit, now and at the end).
DIRTY_AT_BUILD=no
dirty && DIRTY_AT_BUILD=yes
say "building avscan and gen-scan-corpus (release)"
cargo build --release --quiet -p scanner --bin avscan -p benches --bin gen-scan-corpus
AVSCAN=$TARGET/release/avscan

# 3. The corpus and the signature sets: `key value...` lines (see src/bin/gen-scan-corpus.rs).
say "corpus of about $MB MB"
INFO=$(BENCH_MB=$MB "$TARGET/release/gen-scan-corpus")
key() { awk -v k="$1" '$1 == k { print $2; exit }' <<< "$INFO"; }
CORPUS=$(key corpus)
ARCHIVES=$(key archives)
EMPTY=$(key empty)
BYTES=$(key bytes)
FILES=$(key files)
MAIL_BYTES=$(key mail_bytes)
MAIL_FILES=$(key mail_files)
CONTENT_BYTES=$(key content_bytes)
ARCHIVE_BYTES=$((BYTES - MAIL_BYTES))
ARCHIVE_FILES=$((FILES - MAIL_FILES))
sig_dir() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $3 }' <<< "$INFO"; }
sig_ndb() { awk -v n="$1" '$1 == "sigs" && $2 == n { print $4 }' <<< "$INFO"; }
for n in $SIGS; do
    [[ -n $(sig_ndb "$n") ]] || die "no signature set of $n (the generator writes 1, 1000, 10000 and 100000)"
done
# The (file, signature) pairs an engine loaded with the first N signatures must report, sorted.
expected() { awk -v n="$1" '$1 == "planted" && $2 < n { print $3, "Bench.Sig-" $2 }' <<< "$INFO" | sort -u; }

# Limits that cut nothing. avscan: the CLI's largest sizes (cumulative above 2 GiB needs the library's
# override), no time or file-count limit, depth 10 (the corpus nests 4 deep). clamscan: files up to 2000 MB
# (it scans nothing over 2 GiB), 4000 MB per container, 50 levels, no file-count or time limit, and text
# normalized up to 1000 MB (default 5 MB; avscan normalizes every text part, whatever its size).
ours() { echo "$AVSCAN scan --jobs 1 --all-matches --max-extract-size 4294967294 --max-cumulative-extract-size 2147483648 --max-extract-time 0 --max-file-count 0 --db $(sig_dir "$1") $2"; }
theirs() { echo "clamscan --allmatch --no-summary --alert-exceeds-max=yes --max-filesize=2000M --max-scansize=4000M --max-recursion=50 --max-files=0 --max-scantime=0 -d $(sig_ndb "$1") -r $2"; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# 4. Check once: the same detections from both, the planted ones, and nothing cut.
declare -A PARTS PART_BYTES
for target in "$CORPUS" "$ARCHIVES"; do
    for n in $SIGS; do
        want=$(expected "$n")
        status=0
        $(ours "$n" "--json $target") > "$WORK/ours.json" || status=$?
        [[ $status = 0 || $status = 1 ]] || die "avscan exited with $status on $target with sigs-$n"
        # Only a detection and the note that an input is a MIME message are expected: any other code means a
        # limit, a damaged container or an error.
        codes=$(jq -r '.codes[] | select(. != "AVS_RESULT_VIRUS_FOUND" and . != "DEC_RESULT_OUTER_CONTAINER_IS_MIME")' \
            "$WORK/ours.json" | sort -u)
        [[ -z $codes ]] || die "avscan reported $codes on $target with sigs-$n: a limit, a damaged container or an error"
        got=$(jq -r --arg prefix "$CORPUS/" '.path as $p | .detections[] | "\($p | ltrimstr($prefix)) \(.name)"' \
            "$WORK/ours.json" | sort -u)
        [[ $got = "$want" ]] || die "avscan on $target with sigs-$n found:
$got
instead of:
$want"
        PARTS[$target]=$(jq -s 'map(.parts) | add' "$WORK/ours.json")
        PART_BYTES[$target]=$(jq -s 'map(.bytes_scanned) | add' "$WORK/ours.json")
        status=0
        $(theirs "$n" "$target") > "$WORK/theirs.txt" 2> "$WORK/theirs.err" || status=$?
        [[ $status = 0 || $status = 1 ]] || die "clamscan exited with $status on $target with sigs-$n: $(cat "$WORK/theirs.err")"
        if grep -v -e ': OK$' -e ' FOUND$' "$WORK/theirs.txt" | grep -q .; then
            die "clamscan on $target with sigs-$n printed: $(grep -v -e ': OK$' -e ' FOUND$' "$WORK/theirs.txt" | head -n 5)"
        fi
        got=$(sed -n 's/^\(.*\): \([^ ]*\) FOUND$/\1 \2/p' "$WORK/theirs.txt" | sed -e "s|^$CORPUS/||" -e 's/\.UNOFFICIAL$//' |
            sort -u)
        [[ $got = "$want" ]] || die "clamscan on $target with sigs-$n found:
$got
instead of:
$want"
    done
done
say "both engines report exactly the planted detections, and nothing was cut"

# 5. Time. Names: <engine> <target> <N>.
names=() commands=()
for target in all archives; do
    dir=$CORPUS
    [[ $target = archives ]] && dir=$ARCHIVES
    for n in $SIGS; do
        names+=("ours $target $n" "theirs $target $n")
        commands+=("$(ours "$n" "$dir")" "$(theirs "$n" "$dir")")
    done
done
for n in $SIGS; do
    names+=("ours empty $n" "theirs empty $n")
    commands+=("$(ours "$n" "$EMPTY")" "$(theirs "$n" "$EMPTY")")
done
time_commands scan

# 6. Peak RSS, one more run each.
peak_rss_each "$WORK"

for target in all archives; do
    for n in $SIGS; do
        summary_row "scan, one core" "$([[ $target = all ]] && echo "corpus" || echo "corpus without mail"), $MB MB, $n sigs" \
            "avscan scan --jobs 1" "clamscan" "${MEDIAN[ours $target $n]}" "${MEDIAN[theirs $target $n]}" \
            "${RSS[ours $target $n]}" "${RSS[theirs $target $n]}"
    done
done

# 7. The record.
first=${SIGS%% *}
last=${SIGS##* }
ROWS=$WORK/rows.md
: > "$ROWS"
for target in all archives; do
    bytes=$BYTES
    [[ $target = archives ]] && bytes=$ARCHIVE_BYTES
    for n in $SIGS; do
        for engine in ours theirs; do
            m=${MEDIAN[$engine $target $n]}
            awk -v t="$target" -v n="$n" -v e="$engine" -v m="$m" -v b="$bytes" \
                -v empty="${MEDIAN[$engine empty $n]}" -v o="${MEDIAN[ours $target $n]}" \
                -v th="${MEDIAN[theirs $target $n]}" -v one="${MEDIAN[$engine $target $first]}" \
                -v r="${RSS[$engine $target $n]}" 'BEGIN {
                    name = e == "ours" ? "avscan" : "clamscan"
                    corpus = t == "all" ? "all" : "without mail"
                    net = m - empty > 0 ? sprintf("%.1f", b / 1e6 / (m - empty)) : "-"
                    printf "| %s | %s | %s | %.3f | %.1f | %s | %.2f | %.2f | %.0f |\n", corpus, n, name, m,
                        b / 1e6 / m, net, th / o, m / one, r / 1024
                }' >> "$ROWS"
        done
    done
done
for n in $SIGS; do
    for engine in ours theirs; do
        awk -v n="$n" -v e="$engine" -v m="${MEDIAN[$engine empty $n]}" -v r="${RSS[$engine empty $n]}" 'BEGIN {
            printf "| empty directory | %s | %s | %.3f | - | - | - | - | %.0f |\n", n, e == "ours" ? "avscan" : "clamscan",
                m, r / 1024
        }' >> "$ROWS"
    done
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
verdict() { awk -v v="$1" -v op="$2" -v t="$3" 'BEGIN { ok = op == ">=" ? v >= t : v <= t; print ok ? "met" : "NOT met" }'; }
speedup_all=$(ratio "${MEDIAN[theirs all $last]}" "${MEDIAN[ours all $last]}")
speedup_archives=$(ratio "${MEDIAN[theirs archives $last]}" "${MEDIAN[ours archives $last]}")
growth_ours=$(ratio "${MEDIAN[ours all $last]}" "${MEDIAN[ours all $first]}")
growth_theirs=$(ratio "${MEDIAN[theirs all $last]}" "${MEDIAN[theirs all $first]}")
rss_ok=met
for target in all archives; do
    for n in $SIGS; do
        ((${RSS[ours $target $n]} <= ${RSS[theirs $target $n]})) || rss_ok="NOT met"
    done
done
commit=$(commit_description "$DIRTY_AT_BUILD")
mb() { awk -v b="$1" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }
MAIL_PARTS=$((${PARTS[$CORPUS]} - ${PARTS[$ARCHIVES]}))
MAIL_PART_BYTES=$((${PART_BYTES[$CORPUS]} - ${PART_BYTES[$ARCHIVES]}))
{
    echo "# Whole scans against clamscan, $DATE"
    echo
    echo "- Machine: $(machine); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- $(rustc --version), commit $commit; $(clamscan --version | cut -d/ -f1); $(hyperfine --version)"
    echo "- Corpus (\`gen-scan-corpus\`, seed fixed, generator $(sed -n 's/^generator //p' "$(key dir)/manifest.txt")," \
        "BENCH_MB=$MB): $FILES files, $(mb "$BYTES") on disk; without the mail, $ARCHIVE_FILES files," \
        "$(mb "$ARCHIVE_BYTES") (zips holding nested zips and .tar.gz, .tar.gz, .tar.bz2, .tar.xz, one gzip of a" \
        "single file); mail: $MAIL_FILES RFC 5322 messages with base64 attachments, $(mb "$MAIL_BYTES")." \
        "$(mb "$CONTENT_BYTES") of generated content (text, x86-like code, random bytes);" \
        "avscan's walk visits ${PARTS[$CORPUS]} parts and $(mb "${PART_BYTES[$CORPUS]}") over all of them" \
        "(inputs, containers and leaves; ${PARTS[$ARCHIVES]} parts and $(mb "${PART_BYTES[$ARCHIVES]}") without the mail)."
    echo "- Signatures: sigs-N holds the first N of one sequence of random 16-32 byte body signatures" \
        "(\`Bench.Sig-<i>:0:*:<hex>\`, one .ndb); three are planted in six archive members, and both engines were" \
        "checked to report exactly the planted (file, signature) pairs of each set, avscan with no code but" \
        "VIRUS_FOUND and OUTER_CONTAINER_IS_MIME" \
        "and clamscan with no limit exceeded (--alert-exceeds-max=yes)."
    echo "- Commands (one core each): \`$(ours 1 TARGET | sed "s|$AVSCAN|avscan|; s|$(sig_dir 1)|sigs-N|")\` and" \
        "\`$(theirs 1 TARGET | sed "s|$(sig_ndb 1)|sigs-N/bench.ndb|")\`."
    echo "- Method: hyperfine, median of $RUNS whole-process runs after $WARMUP warm-up, warm page cache, output to" \
        "/dev/null; peak RSS from one more run under /usr/bin/time -v. MB/s is MB (10^6 bytes) of input files per" \
        "second; \"net of start-up\" subtracts the same engine's median on an empty directory with the same database" \
        "(process start and database load, paid once per clamscan run). \"theirs/ours\" is clamscan's time over" \
        "avscan's: above 1 we are faster. \"time / time at $first\" compares each engine with itself."
    if ((MAIL_PARTS == MAIL_FILES)); then
        echo "- ClamAV decodes the mail's base64 attachments and scans them; avscan's decomposer does not decode" \
            "MIME at this commit (each message is one text leaf to it: $MAIL_PARTS parts for $MAIL_FILES messages)," \
            "so the rows \"all\" favour avscan by that work: the rows \"without mail\" are the like-for-like comparison."
    else
        echo "- Both engines decode the mail: avscan's walk visits $MAIL_PARTS parts in the $MAIL_FILES messages" \
            "($(mb "$MAIL_PART_BYTES"))."
    fi
    echo "- Other work may have shared the 2 cores during the run: treat differences under about 10 % as noise."
    echo
    echo "| corpus | signatures | engine | median s | MB/s | MB/s net of start-up | theirs/ours (time) | time / time at $first | peak RSS MiB |"
    echo "|---|---|---|---|---|---|---|---|---|"
    cat "$ROWS"
    echo
    echo "Targets of issue 3 (whole scan, one core):"
    echo
    echo "- at $last signatures avscan is ${speedup_all}x clamscan's throughput (${speedup_archives}x without the mail);" \
        "target >= 5x: $(verdict "$speedup_archives" ">=" 5) without the mail, $(verdict "$speedup_all" ">=" 5) with it"
    echo "- avscan's time at $last signatures is ${growth_ours}x its time at $first (clamscan: ${growth_theirs}x);" \
        "target <= 1.15x: $(verdict "$growth_ours" "<=" 1.15)"
    echo "- peak RSS at most clamscan's in every row: $rss_ok"
    echo
    echo "hyperfine's exports: \`$(basename "$EXPORT").json\`, \`$(basename "$EXPORT").md\`."
} > "$RECORD"
cat "$RECORD"
say "written to $RECORD"
summary_record "$RECORD"
