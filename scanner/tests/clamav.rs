//! Differential tests against ClamAV's `clamscan` (ClamAV 1.4): the same signature database, the same inputs,
//! the same answers.
//!
//! - [`corpus_agrees_with_clamscan`]: every corpus input, and the ClamAV test files of the formats the
//!   decomposer opens, scanned by `clamscan` and by this scanner with `tests/data/differential/` (body, logical
//!   and hash signatures aimed at content the corpus really holds, and some that must match nothing). Per file,
//!   the infected/clean verdict and the set of signature names must be equal. A corpus case whose manifest row
//!   has `clamav_differs = "why"` must still differ (so the note stays true); any other difference fails.
//! - [`syntax_agrees_with_clamscan`]: a table of (signature, input, answer) rows for the tricky syntax, each run
//!   through both engines. Rows where ClamAV is known to be wrong, or where the two differ on purpose or by a
//!   known bug of this scanner, say so and must still differ that way.
//!
//! Without `clamscan` the tests print a notice and pass, unless `AVSCAN_REQUIRE_CLAMAV=1` (CI sets it).
//!
//! ClamAV runs once per test over all files (`--allmatch`, so every signature that matches is named), with its
//! limits raised so that they do not decide anything; this scanner gets the same raised limits. Its
//! heuristics are off (`--heuristic-alerts=no`): they name detections (`Heuristics.*`) that are not in the
//! shared database. `clamscan` appends `.UNOFFICIAL` to names from unsigned databases; it is stripped.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use corpus::zip_writer::{Entry, ZipBuilder};
use md5::Digest as _;
use scanner::{Database, Engine, Status};

/// Options of every `clamscan` run. `--max-filesize` stays under 2 GiB, ClamAV's ceiling (above it ClamAV
/// warns and uses the ceiling anyway); `--max-scriptnormalize` keeps its default (5 MiB), the size up to which
/// both engines also match the normalized form of a text part (eicar-spilled-member holds a 9 MiB one).
const CLAMSCAN_OPTIONS: &[&str] = &[
    "--no-summary",
    "--allmatch",
    "--heuristic-alerts=no",
    "--max-filesize=2047M",
    "--max-scansize=4000M",
    "--max-recursion=50",
    "--max-files=100000",
    "--max-embeddedpe=4000M",
];

/// Where Debian's clamav-testfiles package puts ClamAV's test files.
const TESTFILES_DIR: &str = "/usr/share/clamav-testfiles";

/// The ClamAV test files of formats the decomposer opens (each holds clam.exe, which the database's
/// `ClamAV-Test-File` hash names), and why ClamAV's answer differs where it does. The others (packed
/// executables, 7z, arj, cab, cpio, mail, OLE2, PDF, ...) are formats this scanner does not open yet.
const TESTFILES: &[(&str, Option<&str>)] = &[
    ("clam.exe", None),
    ("clam.exe.bz2", None),
    ("clam.zip", None),
    ("clam.bz2.zip", None),
    ("clam.d64.zip", None),
    ("clam.tar.gz", None),
    ("clam_cache_emax.tgz", None),
    ("clam.impl.zip", Some("the entry is imploded (zip method 6), which ClamAV decodes and this decomposer does not")),
];

/// Heavy corpus cases that both engines finish in milliseconds under the raised limits. The other heavy cases
/// (bomb-42, bomb-fifield-overlap) are skipped: under limits raised to 4 GB this scanner would inflate
/// gigabytes of zeros, which is what the corpus test checks it does not do under the real limits.
const QUICK_HEAVY_CASES: &[&str] = &["bomb-fifield-quoted"];

fn database_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/differential")
}

/// Whether `clamscan` runs here; when it does not, a notice, or a failure under `AVSCAN_REQUIRE_CLAMAV=1`.
fn clamscan_available() -> bool {
    match Command::new("clamscan").arg("--version").output() {
        Ok(output) if output.status.success() => true,
        _ => {
            assert!(
                std::env::var("AVSCAN_REQUIRE_CLAMAV").as_deref() != Ok("1"),
                "AVSCAN_REQUIRE_CLAMAV=1 but clamscan cannot be run: install ClamAV 1.4"
            );
            eprintln!("notice: clamscan is not installed, so the differential test against ClamAV is skipped");
            false
        }
    }
}

/// This scanner with the same raised limits as [`CLAMSCAN_OPTIONS`], reporting every match.
fn engine(database: &Path) -> Engine {
    let mut limits = decomposer::Limits::builder();
    limits
        .max_extract_depth(50)
        .max_extract_size(4_294_967_294)
        .allow_large_cumulative_extract_size(true)
        .max_cumulative_extract_size(4_294_967_294)
        .max_extract_time(0)
        .max_file_count(100_000);
    let database = Database::load(&[database.to_path_buf()]).expect("the differential database loads");
    Engine::builder()
        .limits(limits.build().expect("limits in range"))
        .all_matches(true)
        .max_concurrency(2)
        .build(Arc::new(database))
        .expect("engine")
}

/// What one engine said about one file: the signature names, or a scan error.
type Answer = Result<BTreeSet<String>, String>;

/// Starts `clamscan` over `files` with `database`, its output going to `output` (a file, so that a long report
/// never blocks on a pipe while this scanner runs beside it).
fn start_clamscan(database: &Path, files: &[PathBuf], output: &Path) -> std::process::Child {
    let stdout = std::fs::File::create(output).expect("clamscan output file");
    Command::new("clamscan")
        .args(CLAMSCAN_OPTIONS)
        .arg("--database")
        .arg(database)
        .args(files)
        .stdout(stdout)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("clamscan starts")
}

/// Waits for `clamscan` and reads its report: `PATH: NAME FOUND` (one line per signature with `--allmatch`),
/// `PATH: OK`, `PATH: REASON ERROR`. Every file must be named.
fn finish_clamscan(child: std::process::Child, files: &[PathBuf], output: &Path) -> BTreeMap<PathBuf, Answer> {
    let finished = child.wait_with_output().expect("clamscan runs");
    let stderr = String::from_utf8_lossy(&finished.stderr);
    // Exit status 0: nothing found, 1: something found, 2: an error (ClamAV also says 2 when one file of many
    // failed; those files get an ERROR line, compared below).
    assert!(matches!(finished.status.code(), Some(0..=2)), "clamscan failed ({}): {stderr}", finished.status);
    let report = std::fs::read_to_string(output).expect("clamscan output");
    let mut answers: BTreeMap<PathBuf, Answer> = BTreeMap::new();
    for line in report.lines() {
        let Some((path, said)) = line.rsplit_once(": ") else { continue };
        let path = PathBuf::from(path);
        if let Some(name) = said.strip_suffix(" FOUND") {
            let name = name.strip_suffix(".UNOFFICIAL").unwrap_or(name).to_owned();
            if let Ok(names) = answers.entry(path).or_insert_with(|| Ok(BTreeSet::new())) {
                names.insert(name);
            }
        } else if said == "OK" {
            answers.entry(path).or_insert_with(|| Ok(BTreeSet::new()));
        } else if said.ends_with(" ERROR") {
            answers.insert(path, Err(said.to_owned()));
        }
    }
    for file in files {
        assert!(answers.contains_key(file), "clamscan said nothing about {}:\n{report}\n{stderr}", file.display());
    }
    answers
}

/// This scanner's answers for `files` (scanned in parallel, as `avscan scan` does).
fn scan_with_engine(engine: &Engine, files: &[PathBuf]) -> BTreeMap<PathBuf, Answer> {
    let answers = Mutex::new(BTreeMap::new());
    engine.scan_paths(files, &|path, verdict| {
        let names: BTreeSet<String> = verdict.detections.iter().map(|d| d.name.clone()).collect();
        let answer = match verdict.status {
            Status::Error => Err(format!("ERROR {:?}", verdict.codes)),
            // The infected/clean verdict must follow the names; a mismatch here is a bug of its own.
            status => {
                assert_eq!(
                    status == Status::Infected,
                    !names.is_empty(),
                    "{}: {status} with {names:?}",
                    path.display()
                );
                Ok(names)
            }
        };
        answers.lock().expect("no panic while holding the lock").insert(path.to_path_buf(), answer);
    });
    answers.into_inner().expect("no panic while holding the lock")
}

fn describe(answer: &Answer) -> String {
    match answer {
        Ok(names) if names.is_empty() => "clean".into(),
        Ok(names) => names.iter().cloned().collect::<Vec<_>>().join(" "),
        Err(error) => error.clone(),
    }
}

/// Where two answers part: the names only one engine found, and how many both found.
fn difference(clamav: &Answer, us: &Answer) -> String {
    match (clamav, us) {
        (Ok(theirs), Ok(ours)) => {
            let only =
                |a: &BTreeSet<String>, b: &BTreeSet<String>| a.difference(b).cloned().collect::<Vec<_>>().join(" ");
            format!(
                "only clamscan: [{}]; only avscan: [{}]; found by both: {}",
                only(theirs, ours),
                only(ours, theirs),
                theirs.intersection(ours).count()
            )
        }
        _ => format!("clamscan: {}; avscan: {}", describe(clamav), describe(us)),
    }
}

/// The names of the signatures in the `.ndb`, `.ldb`, `.hdb` and `.hsb` files of `dir`.
fn signature_names(dir: &Path) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("database directory") {
        let path = entry.expect("directory entry").path();
        let text = std::fs::read_to_string(&path).expect("database file");
        let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_owned();
        for line in text.lines().filter(|line| !line.starts_with('#')) {
            let name = match extension.as_str() {
                "ndb" => line.split(':').next(),
                "ldb" => line.split(';').next(),
                "hdb" | "hsb" => line.split(':').nth(2),
                _ => None,
            };
            names.extend(name.map(str::to_owned));
        }
    }
    names
}

/// One file of the differential run: where it was written, what it is, and why ClamAV may differ on it.
struct Input {
    path: PathBuf,
    label: String,
    clamav_differs: Option<String>,
}

#[test]
fn corpus_agrees_with_clamscan() {
    if !clamscan_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut inputs = Vec::new();
    for case in corpus::cases() {
        if case.heavy && !QUICK_HEAVY_CASES.contains(&case.name.as_str()) {
            continue;
        }
        let path = dir.path().join(&case.name);
        std::fs::write(&path, case.input()).expect("write the case");
        inputs.push(Input { path, label: case.name.clone(), clamav_differs: case.clamav_differs.clone() });
    }
    let testfiles = Path::new(TESTFILES_DIR);
    if testfiles.is_dir() {
        let copies = dir.path().join("clamav-testfiles");
        std::fs::create_dir(&copies).expect("testfiles directory");
        for (name, differs) in TESTFILES {
            let path = copies.join(name);
            std::fs::copy(testfiles.join(name), &path).expect("copy a ClamAV test file");
            inputs.push(Input {
                path,
                label: format!("clamav-testfiles/{name}"),
                clamav_differs: differs.map(Into::into),
            });
        }
    } else {
        assert!(
            std::env::var("AVSCAN_REQUIRE_CLAMAV").as_deref() != Ok("1"),
            "AVSCAN_REQUIRE_CLAMAV=1 but {TESTFILES_DIR} is missing: install clamav-testfiles"
        );
        eprintln!("notice: {TESTFILES_DIR} is missing, so ClamAV's own test files are left out");
    }
    let files: Vec<PathBuf> = inputs.iter().map(|input| input.path.clone()).collect();
    let database = database_dir();
    let output = dir.path().join("clamscan.out");
    let clamscan = start_clamscan(&database, &files, &output);
    let ours = scan_with_engine(&engine(&database), &files);
    let theirs = finish_clamscan(clamscan, &files, &output);

    let mut failures = Vec::new();
    let mut expected_differences = String::new();
    for input in &inputs {
        let (clamav, us) = (&theirs[&input.path], &ours[&input.path]);
        let agree = clamav == us;
        match (&input.clamav_differs, agree) {
            (None, true) => {}
            (Some(why), false) => {
                let _ = writeln!(expected_differences, "{}: {why}\n    {}", input.label, difference(clamav, us));
            }
            (None, false) => failures.push(format!(
                "{}: the engines differ\n    clamscan: {}\n    avscan:   {}\n    {}",
                input.label,
                describe(clamav),
                describe(us),
                difference(clamav, us)
            )),
            (Some(why), true) => failures.push(format!(
                "{}: the engines now agree ({}), so its clamav_differs note is stale: {why}",
                input.label,
                describe(us)
            )),
        }
    }
    println!("Expected differences from ClamAV:\n{expected_differences}");

    // Every signature must do its job somewhere, so that a change of the corpus generators cannot leave the
    // database matching nothing (and this test comparing nothing): each one is found in some file by both
    // engines, except the `Diff.Nothing.*` ones, which neither engine may find anywhere.
    for name in signature_names(&database) {
        let found_by = |answers: &BTreeMap<PathBuf, Answer>| {
            answers.values().any(|answer| answer.as_ref().is_ok_and(|names| names.contains(&name)))
        };
        let (clamav, us) = (found_by(&theirs), found_by(&ours));
        let must_match = !name.starts_with("Diff.Nothing.");
        if clamav != must_match || us != must_match {
            failures.push(format!("signature {name}: found by clamscan {clamav}, by avscan {us}, wanted {must_match}"));
        }
    }
    assert!(failures.is_empty(), "{} difference(s) from ClamAV:\n{}", failures.len(), failures.join("\n"));
}

/// Why the two engines answer a row differently.
#[derive(Debug, Clone, Copy)]
enum Why {
    /// ClamAV misses (or finds) what its documented syntax says; this scanner keeps the documented meaning.
    ClamavWrong(&'static str),
    /// A difference this scanner has on purpose, or a ClamAV feature it does not have.
    Deliberate(&'static str),
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::ClamavWrong(why) => write!(f, "ClamAV is wrong: {why}"),
            Why::Deliberate(why) => write!(f, "deliberate: {why}"),
        }
    }
}

/// What a row expects.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Both engines give this answer.
    Both(bool),
    /// ClamAV gives `clamav`, this scanner the opposite, because of `why`.
    Differ { clamav: bool, why: Why },
}

/// One row of the syntax table: database lines (by file extension, `NAME` standing for the row's own
/// signature name), an input, and whether the row's signature names it.
struct Row {
    lines: Vec<(&'static str, String)>,
    input: Vec<u8>,
    expect: Expect,
}

/// A body signature: `NAME:rest`, e.g. `ndb("0:*:41424344", ...)`.
fn ndb(rest: &str, input: &[u8], expect: Expect) -> Row {
    Row { lines: vec![("ndb", format!("NAME:{rest}"))], input: input.to_vec(), expect }
}

/// A logical signature: `NAME;rest`.
fn ldb(rest: &str, input: &[u8], expect: Expect) -> Row {
    Row { lines: vec![("ldb", format!("NAME;{rest}"))], input: input.to_vec(), expect }
}

const YES: Expect = Expect::Both(true);
const NO: Expect = Expect::Both(false);

fn clamav_misses(why: &'static str) -> Expect {
    Expect::Differ { clamav: false, why: Why::ClamavWrong(why) }
}

/// A zip whose one stored entry is `content`.
fn zip_of(content: &[u8]) -> Vec<u8> {
    ZipBuilder::new(vec![Entry::stored("member.bin", content)]).build()
}

fn md5_hex(bytes: &[u8]) -> String {
    md5::Md5::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// The table. Inputs are text (ClamAV then also matches a lower-cased, whitespace-folded copy), so patterns
/// use upper-case letters, which that copy never holds, unless a row is about that copy.
fn rows() -> Vec<Row> {
    // Both as found by the parser's author (oracle_tests.rs) and confirmed here.
    const ALIGNMENT_BUG: &str = "ClamAV matches the part before its internal anchor backwards and loses \
                                 alternatives of different lengths there";
    const LEADING_ALTERNATIVES_BUG: &str = "ClamAV never matches a leading alternative of different lengths (it \
                                            logs \"ac_findmatch: Unknown metatype\")";
    // Plain bytes for a row's own member, in a zip and in a tar.
    let member = b"xxABCDEFGHyy".to_vec();
    let member_zip = zip_of(&member);
    let member_tar = corpus::tar(&[("member.bin", &member[..])]);
    // The allow-listed zip holds other bytes: an allow list entry names the file's bytes, so it would also
    // clear the rows that scan `member_zip`.
    let allowed_zip = zip_of(b"xxIJKLMNOPyy");
    vec![
        // `??` and nibbles at the edges of a segment: the wildcard needs a byte of its own.
        ndb("0:*:??41424344", b"ABCDyyyy", NO),
        ndb("0:*:??41424344", b"xABCDyyy", YES),
        ndb("0:*:41424344??", b"yyyyABCD", NO),
        ndb("0:*:41424344????", b"yyyyABCDx", NO),
        ndb("0:*:41424344????", b"yyyABCDxx", YES),
        ndb("0:*:4?424344", b"yyOBCDyy", YES),
        ndb("0:*:4?424344", b"yyQBCDyy", NO),
        ndb("0:*:414243?4", b"yyABCTyy", YES),
        ndb("0:*:414243?4", b"yyABCUyy", NO),
        ndb("0:*:41424344*??4546", b"ABCD-xEFyy", YES),
        ndb("0:0:??41424344", b"xABCDyyy", YES),
        // Boundaries at the file's edges.
        ndb("0:*:(B)41424344", b"ABCDyyyy", YES),
        ndb("0:*:41424344(B)", b"yyyyABCD", YES),
        ndb("0:*:(L)41424344", b"ABCDyyyy", YES),
        ndb("0:*:41424344(L)", b"yyyyABCD", YES),
        // Overlapping matches.
        ndb("0:*:41414142", b"yyAAAABzz", YES),
        ndb("0:*:4141*4141", b"yyAAAyy", NO),
        ndb("0:*:4141*4141", b"yyAAAAyy", YES),
        ndb("0:*:41424142{-2}41424142", b"ABABABAB", YES),
        ndb("0:*:41424142{-2}41424142", b"ABABAByy", NO),
        ldb("Target:0;0=3;414141", b"yyAAAAAzz", YES),
        ldb("Target:0;0>3;414141", b"yyAAAAAzz", NO),
        ldb("Target:0;0=2;41424142", b"yyABABABzz", YES),
        // `{n-m}` and `{n}` near the part's start and end.
        ndb("0:*:41424344{2-4}45464748", b"ABCD--EFGH", YES),
        ndb("0:*:41424344{2-4}45464748", b"ABCD----EFGH", YES),
        ndb("0:*:41424344{2-4}45464748", b"ABCD-----EFGH", NO),
        ndb("0:*:41424344{2-4}45464748", b"ABCD-EFGH", NO),
        ndb("0:*:{3}41424344", b"xxABCDyyy", NO),
        ndb("0:*:{3}41424344", b"xxxABCDyy", YES),
        ndb("0:*:41424344{3}", b"yyABCDxx", NO),
        ndb("0:*:41424344{3}", b"yyABCDxxx", YES),
        ndb("0:*:41424344{5-}45464748", b"ABCD----EFGH", NO),
        ndb("0:*:41424344{5-}45464748", b"ABCD-----EFGH", YES),
        ndb("0:*:41424344{-3}45464748", b"yyABCD---EFGH", YES),
        ndb("0:0:41424344{300-400}45464748", &[&b"ABCD"[..], &[b'-'; 300], b"EFGH"].concat(), YES),
        ndb("0:0:41424344{300-400}45464748", &[&b"ABCD"[..], &[b'-'; 401], b"EFGH"].concat(), NO),
        ndb("0:*:4142{200}4344", &[&b"AB"[..], &[b'-'; 200], b"CD"].concat(), YES),
        ndb("0:*:4142{200}4344", &[&b"AB"[..], &[b'-'; 199], b"CD"].concat(), NO),
        // EOF-n offsets.
        ndb("0:EOF-4:41424344", b"yyyyABCD", YES),
        ndb("0:EOF-5:41424344", b"yyyyABCD", NO),
        ndb("0:EOF-6,2:41424344", b"yyyyABCD", YES),
        ndb("0:EOF-6,2:41424344", b"yABCDyyy", NO),
        ndb("0:EOF-8:41424344*45464748", b"ABCDEFGH", YES),
        ndb("0:EOF-10:41424344", b"yyyyABCD", NO),
        ndb("0:EOF-10,4:41424344", b"yyyyABCD", NO),
        ndb("0:EOF-4:41424344{-2}4546", b"yyyyABCDEF", NO),
        ndb("0:4,0:41424344", b"yyyyABCD", YES),
        ldb("Target:0;0&1;EOF-4:41424344;0:79797979", b"yyyyABCD", YES),
        // Alternatives of different lengths.
        ndb("0:*:(41|4142)4344", b"yyABCDyy", clamav_misses(LEADING_ALTERNATIVES_BUG)),
        ndb("0:*:(41|4142)4344", b"yyACDyyy", clamav_misses(LEADING_ALTERNATIVES_BUG)),
        ndb("0:*:4142(43|4344)4546", b"yyABCEFyy", YES),
        ndb("0:*:4142(4344|43)4546", b"yyABCDEFyy", YES),
        ndb("0:*:4142!(4344|4546)4748", b"yyABCDGHyy", NO),
        ndb("0:*:4142!(4344|4546)4748", b"yyABCEGHyy", YES),
        ndb("0:*:41424344(4546|47)", b"yyyyABCDG", YES),
        ndb("0:*:41424344!(4546|4748)", b"xxxxxABCDG", NO),
        ndb("0:*:(43|4343)4142", b"xxCCABy", clamav_misses(LEADING_ALTERNATIVES_BUG)),
        ndb("0:*:4142(44|4344)4546", b"xxABCDEFyy", clamav_misses(ALIGNMENT_BUG)),
        ndb("0:*:4142(43|)4546", b"xxABEFyy", clamav_misses(ALIGNMENT_BUG)),
        ndb("0:*:4142(4344|)4546", b"xxABEFyy", clamav_misses(ALIGNMENT_BUG)),
        // Boundaries ClamAV tests backwards (see oracle_tests.rs).
        ndb(
            "0:*:4142(L)4344",
            b"xxAB\r\nCDyyy",
            clamav_misses("a `(L)` between parts is tested backwards from the next part, which sees only the LF"),
        ),
        ndb(
            "0:2:!(B)41424344",
            b"xxxABCDyyy",
            clamav_misses("ClamAV's length estimate for the part before its anchor leaves out the negated byte"),
        ),
        // The normalized copy of text files (lower-cased, white space folded, see scanner/src/textnorm.rs):
        // target 0 also matches the copy, target 7 matches only the copy.
        ndb("0:*:7061796c6f616420626f756e64617279", b"xxpayload\nboundaryyy", YES),
        ndb("0:*:6162636465", b"xxABCDEyy", YES),
        ndb("7:*:41424344", b"xxABCDyy", NO),
        ndb("7:*:6162636420656667", b"xxABCD \r\n\tEFGyy", YES),
        ndb("7:*:61626364", b"xxabcdyy", YES),
        ndb("7:*:61626364", b"xxabcd\x00\x01\x02\xfe\xff", NO),
        // Hashes: sized and `*`, a file of 5 bytes (ClamAV scans nothing that small), an allow list entry
        // for the file itself.
        Row {
            lines: vec![("hdb", format!("{}:10:NAME", md5_hex(b"ABCDEFGHIJ")))],
            input: b"ABCDEFGHIJ".to_vec(),
            expect: YES,
        },
        Row {
            lines: vec![("hdb", format!("{}:11:NAME", md5_hex(b"ABCDEFGHIJ")))],
            input: b"ABCDEFGHIJ".to_vec(),
            expect: NO,
        },
        Row {
            lines: vec![("hsb", format!("{}:*:NAME:73", sha256_hex(b"KLMNOPQRST")))],
            input: b"KLMNOPQRST".to_vec(),
            expect: YES,
        },
        Row {
            lines: vec![("hdb", format!("{}:5:NAME", md5_hex(b"ABCDE")))],
            input: b"ABCDE".to_vec(),
            expect: Expect::Differ {
                clamav: false,
                why: Why::Deliberate("ClamAV never scans a file of 5 bytes or less; this scanner does"),
            },
        },
        Row {
            lines: vec![
                ("ndb", "NAME:0:*:4546474849".into()),
                ("fp", format!("{}:11:Allow.NAME", md5_hex(b"yyEFGHIzzzz"))),
            ],
            input: b"yyEFGHIzzzz".to_vec(),
            expect: NO,
        },
        // An allow-listed container: every detection inside it is dropped (each layer from the part up to the
        // input is checked against the allow list), by ClamAV and by this scanner.
        Row {
            lines: vec![
                ("ndb", "NAME:0:*:494a4b4c4d4e4f50".into()),
                ("fp", format!("{}:{}:Allow.NAME", md5_hex(&allowed_zip), allowed_zip.len())),
            ],
            input: allowed_zip,
            expect: NO,
        },
        // Containers.
        ldb("Engine:51-255,Container:CL_TYPE_ZIP,Target:0;0;0:78784142", &member_zip, YES),
        ldb("Engine:51-255,Container:CL_TYPE_ANY,Target:0;0;0:78784142", &member_zip, NO),
        ldb("Engine:51-255,Container:CL_TYPE_POSIX_TAR,Target:0;0;0:78784142", &member_tar, YES),
        // ClamAV calls a tar with the ustar magic POSIX_TAR; the decomposer does not tell v7 tars apart, so
        // a CL_TYPE_OLD_TAR signature is listed as not matched here, and neither engine matches a ustar tar.
        ldb("Engine:51-255,Container:CL_TYPE_OLD_TAR,Target:0;0;0:78784142", &member_tar, NO),
        ldb("Engine:51-255,Target:0,FileSize:12-12;0;0:78784142", &member_zip, YES),
    ]
}

fn sha256_hex(bytes: &[u8]) -> String {
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn syntax_agrees_with_clamscan() {
    if !clamscan_available() {
        return;
    }
    let rows = rows();
    let dir = tempfile::tempdir().expect("temporary directory");
    let database = dir.path().join("database");
    let inputs = dir.path().join("inputs");
    std::fs::create_dir(&database).expect("database directory");
    std::fs::create_dir(&inputs).expect("inputs directory");
    // One database for all rows (each signature named after its row) and one file per row: two runs in all.
    let mut files_by_kind: BTreeMap<&str, String> = BTreeMap::new();
    let mut files = Vec::new();
    for (index, row) in rows.iter().enumerate() {
        for (kind, line) in &row.lines {
            let text = files_by_kind.entry(kind).or_default();
            text.push_str(&line.replace("NAME", &format!("Row.{index:02}")));
            text.push('\n');
        }
        let path = inputs.join(format!("row-{index:02}"));
        std::fs::write(&path, &row.input).expect("write a row's input");
        files.push(path);
    }
    for (kind, text) in &files_by_kind {
        std::fs::write(database.join(format!("rows.{kind}")), text).expect("write the rows' database");
    }
    let output = dir.path().join("clamscan.out");
    let clamscan = start_clamscan(&database, &files, &output);
    let ours = scan_with_engine(&engine(&database), &files);
    let theirs = finish_clamscan(clamscan, &files, &output);

    let mut failures = Vec::new();
    let mut differences = String::new();
    for (index, (row, file)) in rows.iter().zip(&files).enumerate() {
        let name = format!("Row.{index:02}");
        let said =
            |answers: &BTreeMap<PathBuf, Answer>| answers[file].as_ref().is_ok_and(|names| names.contains(&name));
        let (clamav, us) = (said(&theirs), said(&ours));
        let lines: Vec<String> = row.lines.iter().map(|(kind, line)| format!("{kind} {line}")).collect();
        let shown: String = row.input.escape_ascii().to_string().chars().take(60).collect();
        let row_text = format!("{name} [{}] on \"{shown}\" ({} bytes)", lines.join(" + "), row.input.len());
        let (want_clamav, want_us) = match row.expect {
            Expect::Both(answer) => (answer, answer),
            Expect::Differ { clamav, why } => {
                let _ = writeln!(differences, "{row_text}: ClamAV {clamav}, avscan {}; {why}", !clamav);
                (clamav, !clamav)
            }
        };
        if (clamav, us) != (want_clamav, want_us) {
            failures.push(format!("{row_text}: clamscan {clamav}, avscan {us}; wanted {want_clamav}, {want_us}"));
        }
    }
    println!("Rows where the engines differ, as expected:\n{differences}");
    assert!(failures.is_empty(), "{} row(s) failed:\n{}", failures.len(), failures.join("\n"));
}
