//! Loading signature databases: directories, `.cvd` containers, versions, and what is reported rather than
//! matched.

use std::path::PathBuf;
use std::sync::Arc;

use corpus::generators::EICAR;
use decomposer::{DecResult, ResultCode};
use scanner::{Database, Engine, LoadError, Status};

const EICAR_NDB: &str = "Eicar-Test-Signature:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n";

fn dir_with(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    dir
}

#[test]
fn a_cvd_is_opened_with_the_decomposer_and_its_header_gives_the_version() {
    let mut header =
        b"ClamAV-VDB:25 Nov 2026 10-00 +0000:27371:1:216:0123456789abcdef:signature:builder:1764064800".to_vec();
    header.resize(512, b' ');
    let tar = corpus::tar(&[("daily.ndb", EICAR_NDB.as_bytes()), ("daily.info", b"DAILY:info\n")]);
    let cvd = [header, corpus::gzip(&tar, None)].concat();
    let dir = dir_with(&[("daily.cvd", &cvd)]);
    let database = Database::load(&[dir.path().join("daily.cvd")]).unwrap();
    assert_eq!(database.version(), "daily:27371");
    assert_eq!(database.info().body.count, 1);
    let engine = Engine::builder().build(Arc::new(database)).unwrap();
    assert_eq!(engine.scan_bytes("e", EICAR).info.as_deref(), Some("Eicar-Test-Signature"));
}

#[test]
fn an_info_file_or_a_version_file_names_the_version_else_the_content_does() {
    let info = dir_with(&[
        ("main.ndb", EICAR_NDB.as_bytes()),
        ("main.info", b"ClamAV-VDB:16 Sep 2021 08-32 -0400:62:6647427:90:x:y:z:1\n"),
    ]);
    assert_eq!(Database::load(&[info.path().to_path_buf()]).unwrap().version(), "main:62");
    let version = dir_with(&[("main.ndb", EICAR_NDB.as_bytes()), ("VERSION", b"corp-defs 2026.11.25\n")]);
    assert_eq!(Database::load(&[version.path().to_path_buf()]).unwrap().version(), "corp-defs 2026.11.25");
    let plain = dir_with(&[("main.ndb", EICAR_NDB.as_bytes())]);
    let derived = Database::load(&[plain.path().to_path_buf()]).unwrap();
    assert!(derived.version().starts_with("content:") && derived.version().len() == 24, "{}", derived.version());
    let same = dir_with(&[("main.ndb", EICAR_NDB.as_bytes())]);
    assert_eq!(Database::load(&[same.path().to_path_buf()]).unwrap().version(), derived.version());
}

#[test]
fn unknown_files_in_a_directory_are_listed_not_loaded() {
    let dir = dir_with(&[("main.ndb", EICAR_NDB.as_bytes()), ("README.txt", b"notes"), ("freshclam.dat", b"\x00")]);
    let database = Database::load(&[dir.path().to_path_buf()]).unwrap();
    let ignored: Vec<String> =
        database.info().ignored_files.iter().map(|f| f.rsplit('/').next().unwrap().to_owned()).collect();
    assert_eq!(ignored, ["README.txt", "freshclam.dat"]);
    // Given by name, a file that is not a signature file is an error.
    let error = Database::load(&[dir.path().join("README.txt")]).unwrap_err();
    assert!(error.to_string().contains("not a signature file"), "{error}");
    let error = Database::load(&[PathBuf::from("/nonexistent/db")]).unwrap_err();
    assert!(matches!(error, LoadError::Io { .. }), "{error}");
}

#[test]
fn signatures_that_cannot_be_matched_are_reported_not_dropped() {
    let dir = dir_with(&[
        ("a.ndb", b"Html.Sig:3:*:3c7363726970743e\nPe.Entry:1:EP+0:e800000000\nAny.Sig:0:*:616263646566\n"),
        (
            "a.mdb",
            b"1024:0123456789abcdef0123456789abcdef:Section.Sig\n2048:0123456789abcdef0123456789abcdef:Section.Two\n",
        ),
        ("a.ndu", b"Pua.Sig:0:*:616263646566\n"),
        ("a.ldb", b"Regex.Sig;Engine:81-255,Target:0;0&1;616263;0/ab+c/\n"),
    ]);
    let check = Database::check(&[dir.path().to_path_buf()]).unwrap();
    assert!(check.errors.is_empty(), "{:?}", check.errors);
    let reasons: Vec<String> = check.unsupported.iter().map(|u| format!("{}: {}", u.name, u.reason)).collect();
    assert_eq!(reasons.len(), 5, "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("Html.Sig: target type 3")), "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("Pe.Entry: offset EP+0")), "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("(2 PE section hashes)")), "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("(whole file): potentially-unwanted")), "{reasons:#?}");
    assert!(reasons.iter().any(|r| r.starts_with("Regex.Sig: subsignature 1")), "{reasons:#?}");
    assert_eq!(check.info.body.count, 3);
    assert_eq!(check.info.section_hash.count, 2);
    assert_eq!(check.info.logical.count, 1);
}

#[test]
fn a_malformed_line_refuses_the_whole_set_with_file_line_and_reason() {
    // A blank line is malformed too, as ClamAV has it.
    let dir = dir_with(&[("a.ndb", b"Good:0:*:616263646566\n\nBad:0:*:6162zz\n"), ("b.hdb", b"nothex:68:Bad.Hash\n")]);
    let LoadError::Lines(errors) = Database::load(&[dir.path().to_path_buf()]).unwrap_err() else {
        panic!("expected malformed lines")
    };
    let shown: Vec<String> =
        errors.iter().map(|e| format!("{}:{}", e.file.rsplit('/').next().unwrap(), e.line)).collect();
    assert_eq!(shown, ["a.ndb:2", "a.ndb:3", "b.hdb:1"]);
    assert!(errors.iter().all(|e| !e.reason.is_empty()));
}

#[test]
fn the_embedded_database_matches_clamavs_test_file_by_hash() {
    // Debian's clamav-testfiles, which scripts/test.sh installs; elsewhere the test says so and passes.
    let Ok(clam) = std::fs::read("/usr/share/clamav-testfiles/clam.exe") else {
        assert!(std::env::var_os("AVSCAN_REQUIRE_CLAMAV").is_none(), "clamav-testfiles are not installed");
        eprintln!("clamav-testfiles not installed: skipping");
        return;
    };
    let engine = Engine::builder().build(Arc::new(Database::embedded().unwrap())).unwrap();
    let verdict = engine.scan_bytes("clam.exe", &clam);
    assert_eq!((verdict.status, verdict.info.as_deref()), (Status::Infected, Some("ClamAV-Test-File")));
}

#[test]
fn clamavs_binhex_test_file_in_a_mail_is_decoded() {
    // clam.exe.binhex (clamav-testfiles) is a BinHex 4.0 file; here it is the text of a mail, as it is sent.
    let Ok(binhex) = std::fs::read("/usr/share/clamav-testfiles/clam.exe.binhex") else {
        assert!(std::env::var_os("AVSCAN_REQUIRE_CLAMAV").is_none(), "clamav-testfiles are not installed");
        eprintln!("clamav-testfiles not installed: skipping");
        return;
    };
    let mail = corpus::mail::message("binhex", &["Content-Type: text/plain"], &binhex);
    let engine = Engine::builder().build(Arc::new(Database::embedded().unwrap())).unwrap();
    let verdict = engine.scan_bytes("clam.mail", &mail);
    assert_eq!((verdict.status, verdict.info.as_deref()), (Status::Infected, Some("ClamAV-Test-File")));
    // Decoded without a defect (the CRCs match), and found in the data fork, named by the BinHex header.
    assert!(!verdict.codes.contains(&ResultCode::Dec(DecResult::MimeParsingFailed)), "{:?}", verdict.codes);
    assert_eq!(verdict.detections[0].part, "clam.mail/clam.exe");
}

#[test]
fn a_fixed_run_longer_than_an_anchor_loads_and_matches_whole() {
    // Real databases hold body signatures with fixed runs of hundreds of bytes; the prefilter's anchors are at
    // most 255 bytes, so the anchor is the run's start and the rest is verified. (This once refused the set.)
    let run: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
    let hex: String = run.iter().map(|b| format!("{b:02x}")).collect();
    let dir = dir_with(&[("long.ndb", format!("Long.Run:0:*:{hex}\n").as_bytes())]);
    let database = Database::load(&[dir.path().to_owned()]).unwrap();
    let engine = Engine::builder().max_concurrency(1).build(Arc::new(database)).unwrap();
    let mut hay = b"prefix ".to_vec();
    hay.extend_from_slice(&run);
    assert_eq!(engine.scan_bytes("whole", &hay).info.as_deref(), Some("Long.Run"));
    // The first 255 bytes alone (the anchor) are not the signature.
    let mut cut = hay.clone();
    cut.truncate(7 + 299);
    assert_eq!(engine.scan_bytes("cut", &cut).status, Status::Clean);
    let mut changed = hay;
    changed[7 + 280] ^= 1;
    assert_eq!(engine.scan_bytes("changed", &changed).status, Status::Clean);
}

#[test]
fn memory_is_reported_per_kind_and_grows_with_that_kind_alone() {
    let ldb = |n: usize| {
        (0..n).map(|i| format!("Test.Logical-{i};Target:0;(0&1);41424344{i:08x};45464748\n")).collect::<String>()
    };
    let ndb = |n: usize| (0..n).map(|i| format!("Test.Body-{i}:0:*:6162636465{i:08x}\n")).collect::<String>();
    let load = |body: usize, logical: usize| {
        let dir = dir_with(&[("a.ndb", ndb(body).as_bytes()), ("a.ldb", ldb(logical).as_bytes())]);
        Database::load(&[dir.path().to_path_buf()]).unwrap().info().clone()
    };
    let small = load(10, 10);
    assert_eq!((small.body.count, small.logical.count), (10, 10));
    assert!(small.body.memory > 0 && small.logical.memory > 0 && small.names_memory > 0, "{small:?}");
    assert!(small.hash.memory < 64, "no hash signature, an empty store: {small:?}");
    assert_eq!(
        small.memory(),
        small.hash.memory + small.body.memory + small.logical.memory + small.allow.memory + small.names_memory
    );
    // A thousand more logical signatures: at least an entry, an expression and two patterns each, under
    // logical; the body signatures' own memory does not move.
    let more_logical = load(10, 1010);
    assert!(more_logical.logical.memory > small.logical.memory + 1000 * 100, "{more_logical:?}");
    assert_eq!(more_logical.hash.memory, small.hash.memory);
    // A thousand more body signatures: under body; the logical signatures' memory is the same to the byte.
    let more_body = load(1010, 10);
    assert!(more_body.body.memory > small.body.memory + 1000 * 50, "{more_body:?}");
    assert_eq!(more_body.logical.memory, small.logical.memory);
    // Each kind's load time is its own: no hash file, no hash time beyond sorting an empty store.
    assert!(more_logical.logical.load_time > more_logical.hash.load_time, "{more_logical:?}");
    assert!(more_body.body.load_time > std::time::Duration::ZERO);
}

/// Detections (names, sorted) of `database` on `bytes`, every signature reported.
fn detections(database: &Arc<Database>, bytes: &[u8]) -> Vec<String> {
    let engine = Engine::builder().all_matches(true).max_concurrency(1).build(Arc::clone(database)).unwrap();
    let mut names: Vec<String> = engine.scan_bytes("input", bytes).detections.into_iter().map(|d| d.name).collect();
    names.sort();
    names
}

#[test]
fn a_reload_shares_the_parts_of_unchanged_files_and_rebuilds_the_changed_ones() {
    use md5::Digest as _;
    let hashed = b"a file known by its hash";
    let md5: String = md5::Md5::digest(hashed).iter().map(|b| format!("{b:02x}")).collect();
    let other = b"another file known by its hash";
    let other_md5: String = md5::Md5::digest(other).iter().map(|b| format!("{b:02x}")).collect();
    let dir = dir_with(&[
        ("main.ndb", EICAR_NDB.as_bytes()),
        ("main.hdb", format!("{md5}:{}:Test.Hash\n", hashed.len()).as_bytes()),
        ("daily.ldb", b"Test.Logical;Target:0;0&1;414243;444546\n"),
        ("daily.hdb", b""),
    ]);
    let paths = [dir.path().to_path_buf()];
    let first = Arc::new(Database::load(&paths).unwrap());
    assert_eq!(first.part_count(), 4);
    let logical_input = b"..ABC..DEF..";
    assert_eq!(detections(&first, logical_input), ["Test.Logical"]);
    assert_eq!(detections(&first, other), Vec::<String>::new());

    // Nothing changed: every part is shared.
    let same = Database::reload(&paths, &first).unwrap();
    assert_eq!(same.shared_parts(&first), 4);
    assert!(same.shares_prefilter(&first) && same.info().parts.prefilter_shared);

    // daily.hdb gains a line: its part alone is new; the three others are the very parts `first` holds.
    std::fs::write(dir.path().join("daily.hdb"), format!("{other_md5}:{}:Test.New\n", other.len())).unwrap();
    let second = Arc::new(Database::reload(&paths, &first).unwrap());
    assert_eq!(second.part_count(), 4);
    assert_eq!(second.shared_parts(&first), 3);
    assert_eq!(second.info().hash.count, 2);
    // Only a hash list changed: the patterns are the same, and so is the prefilter (nothing built again).
    assert!(second.shares_prefilter(&first) && second.info().parts.prefilter_shared);
    // The new set finds every old signature and the new one; the old set, still alive, is as it was.
    assert_eq!(detections(&second, EICAR), ["Eicar-Test-Signature"]);
    assert_eq!(detections(&second, hashed), ["Test.Hash"]);
    assert_eq!(detections(&second, logical_input), ["Test.Logical"]);
    assert_eq!(detections(&second, other), ["Test.New"]);
    assert_eq!(detections(&first, other), Vec::<String>::new());

    // A logical signature more: daily.ldb's part is new, and so is the prefilter, which finds both.
    std::fs::write(
        dir.path().join("daily.ldb"),
        b"Test.Logical;Target:0;0&1;414243;444546\nTest.Logical2;Target:0;0;78797a7a79\n",
    )
    .unwrap();
    let with_logical = Arc::new(Database::reload(&paths, &second).unwrap());
    assert_eq!(with_logical.shared_parts(&second), 3);
    assert!(!with_logical.shares_prefilter(&second) && !with_logical.info().parts.prefilter_shared);
    assert_eq!(detections(&with_logical, b"..ABC..DEF..xyzzy"), ["Test.Logical", "Test.Logical2"]);
    assert_eq!(detections(&with_logical, EICAR), ["Eicar-Test-Signature"]);
    assert_eq!(detections(&second, b"..ABC..DEF..xyzzy"), ["Test.Logical"]);

    // An ignore list applies to every file, so adding one rebuilds every part.
    std::fs::write(dir.path().join("local.ign2"), "Test.Hash\n").unwrap();
    let third = Arc::new(Database::reload(&paths, &second).unwrap());
    assert_eq!(third.shared_parts(&second), 0);
    assert!(!third.shares_prefilter(&second));
    assert_eq!(detections(&third, hashed), Vec::<String>::new());

    // A broken file: the reload fails with its line, and the set serving is untouched.
    std::fs::write(dir.path().join("daily.ldb"), b"Broken;Target:0;0&1;4142\n").unwrap();
    let error = Database::reload(&paths, &third).unwrap_err().to_string();
    assert!(error.contains("daily.ldb:1"), "{error}");
    assert_eq!(detections(&third, logical_input), ["Test.Logical"]);
}
