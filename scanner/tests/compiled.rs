//! The compiled definitions form (`avscan db compile`, the daemon's `compiled_definitions`): the same verdicts as
//! the sources it was compiled from, and never trusted when it is corrupt, truncated or stale.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use corpus::generators::EICAR;
use corpus::zip_writer::{Entry, ZipBuilder};
use md5::Digest as _;
use proptest::prelude::*;
use scanner::{Database, Engine, Verdict};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A set with every kind the engine matches: MD5, SHA-1 and SHA-256 hashes (sized and any size), body
/// signatures of several target types and offsets, logical signatures with counts and containers, an allow-list
/// hash and an ignore list; and inputs each of them decides.
/// Signature files (name, text) and inputs (name, bytes).
type Files = Vec<(&'static str, String)>;
type Inputs = Vec<(&'static str, Vec<u8>)>;

fn every_kind() -> (Files, Inputs) {
    let by_md5 = b"known by its MD5".to_vec();
    let by_sha1 = b"known by its SHA-1, any size".to_vec();
    let by_sha256 = b"known by its SHA-256".to_vec();
    let allowed = [EICAR, b"\n"].concat();
    let files = vec![
        (
            "main.hdb",
            format!(
                "{}:{}:Test.Md5\n{}:{}:Test.Ignored\n",
                hex(&md5::Md5::digest(&by_md5)),
                by_md5.len(),
                hex(&md5::Md5::digest(b"ignored")),
                7
            ),
        ),
        (
            "main.hsb",
            format!(
                "{}:*:Test.Sha1:73\n{}:{}:Test.Sha256\n",
                hex(&sha1::Sha1::digest(&by_sha1)),
                hex(&sha2::Sha256::digest(&by_sha256)),
                by_sha256.len()
            ),
        ),
        (
            "main.ndb",
            "Eicar-Test-Signature:0:0:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n\
             Test.Wild:0:*:6576696c??2d{1-4}7061(74|7474)65726e\n\
             Test.Tail:0:EOF-4:656e6421\n\
             Test.Text:7:*:7368656c6c20636f6465\n"
                .into(),
        ),
        (
            "daily.ldb",
            "Test.Logical;Engine:51-255,Target:0;(0&1)|2>1;616c706861;62657461::i;67616d6d61\n\
             Test.InZip;Engine:51-255,Container:CL_TYPE_ZIP,Target:0;0;7a69706d656d626572\n"
                .into(),
        ),
        ("daily.fp", format!("{}:{}:Allowed.Eicar\n", hex(&md5::Md5::digest(&allowed)), allowed.len())),
        ("local.ign2", "Test.Ignored\n".into()),
    ];
    let zip = ZipBuilder::new(vec![Entry::deflated("member", b"..zipmember..")]).build();
    let inputs = vec![
        ("md5", by_md5),
        ("sha1", by_sha1),
        ("sha256", by_sha256),
        ("ignored", b"ignored".to_vec()),
        ("eicar", EICAR.to_vec()),
        ("allowed", allowed),
        ("wild", b"xx evil?-..pattern yy".to_vec()),
        ("tail", b"the end!".to_vec()),
        ("text", b"some shell code here\n".to_vec()),
        ("logical-and", b"alpha ... BETA".to_vec()),
        ("logical-count", b"gamma gamma".to_vec()),
        ("logical-one", b"gamma".to_vec()),
        ("zip", zip),
        ("loose-member", b"..zipmember..".to_vec()),
        ("clean", b"nothing here".to_vec()),
    ];
    (files, inputs)
}

fn dir_with(files: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Each input's status and detections (every match).
fn verdicts(database: Database, inputs: &[(&str, Vec<u8>)], threads: usize) -> Vec<(String, String, Vec<String>)> {
    let engine = Engine::builder().all_matches(true).max_concurrency(threads).build(Arc::new(database)).unwrap();
    inputs
        .iter()
        .map(|(name, bytes)| {
            let verdict = engine.scan_bytes(name, bytes);
            let mut names: Vec<String> = verdict.detections.iter().map(|d| d.name.clone()).collect();
            names.sort();
            ((*name).to_owned(), format!("{:?}", verdict.status), names)
        })
        .collect()
}

fn compiled_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("set.avdb")
}

#[test]
fn every_kind_gives_the_same_verdicts_from_source_and_from_the_compiled_form() {
    let (files, inputs) = every_kind();
    let dir = dir_with(&files);
    let out = tempfile::tempdir().unwrap();
    let compiled = compiled_path(&out);
    let paths = [dir.path().to_path_buf()];
    let from_source = Database::load(&paths).unwrap();
    let written = Database::compile(&paths, &compiled).unwrap();
    assert!(written.info().compiled_written);
    let from_compiled = Database::load(std::slice::from_ref(&compiled)).unwrap();
    let parts = from_compiled.info().parts;
    assert_eq!((parts.parsed, parts.compiled, parts.prefilter_compiled), (0, 6, true), "{parts:?}");
    assert!(from_compiled.info().compiled.is_empty(), "{:?}", from_compiled.info().compiled);
    assert!(!from_compiled.info().compiled_written);
    // Same counts, version and report.
    let (a, b) = (from_source.info(), from_compiled.info());
    assert_eq!((a.hash.count, a.body.count, a.logical.count, a.allow.count), (3, 4, 2, 1));
    assert_eq!(
        (b.hash.count, b.body.count, b.logical.count, b.allow.count, b.ignored_names, &b.version),
        (a.hash.count, a.body.count, a.logical.count, a.allow.count, a.ignored_names, &a.version)
    );
    assert_eq!(a.files.iter().map(|(_, n)| n).collect::<Vec<_>>(), b.files.iter().map(|(_, n)| n).collect::<Vec<_>>());
    let expected = verdicts(from_source, &inputs, 1);
    // Every kind decided something: the verdicts are worth comparing.
    let found: Vec<&str> = expected.iter().flat_map(|(_, _, names)| names).map(String::as_str).collect();
    for name in [
        "Test.Md5",
        "Test.Sha1",
        "Test.Sha256",
        "Eicar-Test-Signature",
        "Test.Wild",
        "Test.Tail",
        "Test.Text",
        "Test.Logical",
        "Test.InZip",
    ] {
        assert!(found.contains(&name), "{name} found nothing: {expected:?}");
    }
    assert!(!found.contains(&"Test.Ignored") && !found.contains(&"Eicar-Test-Signature.UNOFFICIAL"));
    let allowed = expected.iter().find(|(name, _, _)| name == "allowed").unwrap();
    assert!(allowed.2.is_empty(), "the allow list clears it: {allowed:?}");
    assert_eq!(verdicts(from_compiled, &inputs, 1), expected);
}

#[test]
fn a_set_from_the_compiled_form_takes_the_memory_it_takes_from_source() {
    // Lists past the 1 MiB from which serde grows a decoded vector: 300,000 hash names (1.2 MB of ids), 20,000
    // logical signatures, 20,000 body signatures.
    let mut hashes = String::new();
    for i in 0..300_000u32 {
        hashes.push_str(&format!("{}:{}:Test.Hash-{i}\n", hex(&md5::Md5::digest(i.to_le_bytes())), 1000 + i % 5000));
    }
    let mut logical = String::new();
    let mut body = String::new();
    for i in 0..20_000u32 {
        let word = hex(format!("word{i:06}").as_bytes());
        logical.push_str(&format!("Test.Logical-{i};Engine:51-255,Target:0;0&1;{word};{word}{{2-9}}6162\n"));
        body.push_str(&format!("Test.Body-{i}:0:*:{word}??6364\n"));
    }
    let dir = dir_with(&[("main.hdb", hashes), ("daily.ldb", logical), ("main.ndb", body)]);
    let out = tempfile::tempdir().unwrap();
    let compiled = compiled_path(&out);
    let paths = [dir.path().to_path_buf()];
    let from_source = Database::compile(&paths, &compiled).unwrap();
    let from_compiled = Database::load(std::slice::from_ref(&compiled)).unwrap();
    assert_eq!(from_compiled.info().parts.compiled, 3);
    let memory = |database: &Database| {
        let info = database.info();
        (info.hash.memory, info.body.memory, info.logical.memory, info.names_memory)
    };
    assert_eq!(memory(&from_compiled), memory(&from_source));
}

/// Loads `sources` with the compiled form at `compiled`; returns the database and the verdicts.
fn load_with(sources: &Path, compiled: &Path) -> Database {
    Database::load_with_compiled(&[sources.to_path_buf()], compiled, None).unwrap()
}

#[test]
fn a_corrupt_truncated_or_foreign_compiled_file_is_detected_and_rebuilt() {
    let (files, inputs) = every_kind();
    let dir = dir_with(&files);
    let out = tempfile::tempdir().unwrap();
    let compiled = compiled_path(&out);
    let expected = verdicts(Database::load(&[dir.path().to_path_buf()]).unwrap(), &inputs, 1);

    // No file yet: everything parsed, the file written; then everything decoded from it.
    let first = load_with(dir.path(), &compiled);
    assert_eq!((first.info().parts.parsed, first.info().compiled_written), (6, true));
    let second = load_with(dir.path(), &compiled);
    assert_eq!((second.info().parts.compiled, second.info().compiled_written), (6, false));
    let good = std::fs::read(&compiled).unwrap();

    let damaged = |bytes: Vec<u8>, expect: &str| {
        std::fs::write(&compiled, &bytes).unwrap();
        let database = load_with(dir.path(), &compiled);
        let info = database.info();
        assert!(info.compiled.iter().any(|problem| problem.contains(expect)), "{expect}: {:?}", info.compiled);
        assert!(info.compiled_written, "{expect}: {info:?}");
        // Only the prefilter damaged: every part is decoded, the prefilter built again.
        assert_eq!(info.parts.parsed == 0, expect.contains("prefilter"), "{expect}: {info:?}");
        assert!(!info.parts.prefilter_compiled, "{expect}: {info:?}");
        assert_eq!(verdicts(database, &inputs, 1), expected, "{expect}");
        // Rewritten whole: the next load decodes every part again.
        let again = load_with(dir.path(), &compiled);
        let parts = again.info().parts;
        assert_eq!((parts.compiled, parts.prefilter_compiled, again.info().compiled.len()), (6, true, 0), "{expect}");
    };
    // A flipped byte in the first part (right after the 64-byte header): that part only is rebuilt.
    let mut flipped = good.clone();
    flipped[70] ^= 0x55;
    damaged(flipped, "checksum does not match");
    // A flipped byte in the prefilter, stored last before the table of contents (whose offset is at 44..52).
    let contents_offset = u64::from_le_bytes(good[44..52].try_into().unwrap()) as usize;
    let mut prefilter = good.clone();
    prefilter[contents_offset - 3] ^= 0x55;
    damaged(prefilter, "the prefilter: its checksum does not match");
    // Cut short: the table of contents (at the end) is gone.
    damaged(good[..good.len() * 2 / 3].to_vec(), "truncated");
    damaged(good[..20].to_vec(), "truncated");
    // Another format version, and another file altogether.
    let mut version = good.clone();
    version[8] ^= 0xff;
    damaged(version, "format version");
    let mut foreign = good.clone();
    foreign[..8].copy_from_slice(b"NOTADB!\n");
    damaged(foreign, "not a compiled definitions file");
    // The schema fingerprint of another build.
    let mut schema = good.clone();
    schema[12] ^= 1;
    damaged(schema, "encodes signatures differently");
}

#[test]
fn a_stale_compiled_file_is_rebuilt_for_the_changed_source_only() {
    let (files, inputs) = every_kind();
    let dir = dir_with(&files);
    let out = tempfile::tempdir().unwrap();
    let compiled = compiled_path(&out);
    load_with(dir.path(), &compiled);

    // One source changes: its part is parsed, the five others decoded, and the file rewritten.
    let added = b"a file added by the update";
    let line = format!("{}:{}:Test.Added\n", hex(&md5::Md5::digest(added)), added.len());
    let mut hdb = std::fs::read_to_string(dir.path().join("main.hdb")).unwrap();
    hdb.push_str(&line);
    std::fs::write(dir.path().join("main.hdb"), hdb).unwrap();
    let database = load_with(dir.path(), &compiled);
    let parts = database.info().parts;
    assert_eq!((parts.parsed, parts.compiled, parts.prefilter_compiled), (1, 5, false), "{parts:?}");
    assert!(database.info().compiled_written);
    let engine = Engine::builder().max_concurrency(1).build(Arc::new(database)).unwrap();
    assert_eq!(engine.scan_bytes("added", added).info.as_deref(), Some("Test.Added"));
    let again = load_with(dir.path(), &compiled);
    assert_eq!(again.info().parts.compiled, 6);
    assert_eq!(verdicts(again, &inputs, 1), verdicts(Database::load(&[dir.path().to_path_buf()]).unwrap(), &inputs, 1));

    // A file touched but not changed: hashed, found equal, decoded; the file is rewritten with the new stamp.
    let text = std::fs::read(dir.path().join("main.ndb")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("main.ndb"), text).unwrap();
    let touched = load_with(dir.path(), &compiled);
    assert_eq!((touched.info().parts.compiled, touched.info().compiled_written), (6, true));
    let settled = load_with(dir.path(), &compiled);
    assert_eq!((settled.info().parts.compiled, settled.info().compiled_written), (6, false));

    // A file removed: the compiled form holds a part no source has, so it is rewritten without it.
    std::fs::remove_file(dir.path().join("daily.ldb")).unwrap();
    let fewer = load_with(dir.path(), &compiled);
    assert_eq!((fewer.info().parts.compiled, fewer.info().compiled_written), (5, true));

    // A broken source: the load fails with its line, as from source, and the compiled file is left as it was.
    let before = std::fs::read(&compiled).unwrap();
    std::fs::write(dir.path().join("main.ndb"), "Broken:0:*:4\n").unwrap();
    let error = Database::load_with_compiled(&[dir.path().to_path_buf()], &compiled, None).unwrap_err();
    assert!(error.to_string().contains("main.ndb:1"), "{error}");
    assert_eq!(std::fs::read(&compiled).unwrap(), before);
}

#[test]
fn a_compiled_file_that_cannot_be_written_does_not_fail_the_load() {
    let (files, inputs) = every_kind();
    let dir = dir_with(&files);
    let compiled = dir.path().join("no such directory").join("set.avdb");
    let database = load_with(dir.path(), &compiled);
    assert!(!database.info().compiled_written);
    assert!(database.info().compiled.iter().any(|problem| problem.contains("cannot create")), "{:?}", database.info());
    assert_eq!(
        verdicts(database, &inputs, 1),
        verdicts(Database::load(&[dir.path().to_path_buf()]).unwrap(), &inputs, 1)
    );
}

#[test]
fn a_compiled_file_in_the_definitions_directory_is_not_a_source() {
    let (files, _) = every_kind();
    let dir = dir_with(&files);
    let compiled = dir.path().join("avscan.avdb");
    load_with(dir.path(), &compiled);
    let database = load_with(dir.path(), &compiled);
    assert_eq!(database.info().parts.compiled, 6);
    assert!(database.info().ignored_files.is_empty(), "{:?}", database.info().ignored_files);
}

/// Byte strings: body signatures' bytes, hashed files' bytes, inputs.
type RandomSet = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<Vec<u8>>);

/// A random set of body and hash signatures over a small alphabet, and inputs that often hit them.
fn random_set() -> impl Strategy<Value = RandomSet> {
    let word = prop::collection::vec(prop::sample::select(b"abcd".to_vec()), 3..6);
    (
        prop::collection::vec(word.clone(), 1..12),
        prop::collection::vec(word, 0..6),
        prop::collection::vec(prop::collection::vec(prop::sample::select(b"abcd \n".to_vec()), 0..64), 1..8),
    )
}

fn scan_all(database: Database, inputs: &[Vec<u8>], threads: usize) -> Vec<(String, Vec<String>)> {
    let dir = tempfile::tempdir().unwrap();
    for (index, input) in inputs.iter().enumerate() {
        std::fs::write(dir.path().join(format!("input{index}")), input).unwrap();
    }
    let engine = Engine::builder().all_matches(true).max_concurrency(threads).build(Arc::new(database)).unwrap();
    let results = Mutex::new(Vec::new());
    engine.scan_paths(&[dir.path().to_path_buf()], &|path: &Path, verdict: Verdict| {
        let mut names: Vec<String> = verdict.detections.iter().map(|d| d.name.clone()).collect();
        names.sort();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        results.lock().unwrap().push((format!("{file} {:?}", verdict.status), names));
    });
    let mut results = results.into_inner().unwrap();
    results.sort();
    results
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// Whatever the signatures, a set loaded from its compiled form gives every input the verdict the set
    /// loaded from source gives it, with 1 thread or 3.
    #[test]
    fn the_compiled_form_gives_the_verdicts_of_its_sources_at_any_pool_size(
        (bodies, hashed, inputs) in random_set(),
        threads in 1usize..4,
    ) {
        let ndb: String = bodies
            .iter()
            .enumerate()
            .map(|(index, body)| format!("Prop.Body-{index}:0:*:{}\n", hex(body)))
            .collect();
        let mut hdb: String = hashed
            .iter()
            .enumerate()
            .map(|(index, bytes)| format!("{}:{}:Prop.Hash-{index}\n", hex(&md5::Md5::digest(bytes)), bytes.len()))
            .collect();
        // Some inputs are known by their hash too (ClamAV has no hash of an empty file).
        for (index, input) in inputs.iter().enumerate().step_by(3).filter(|(_, input)| !input.is_empty()) {
            hdb.push_str(&format!("{}:{}:Prop.Input-{index}\n", hex(&md5::Md5::digest(input)), input.len()));
        }
        let dir = dir_with(&[("p.ndb", ndb), ("p.hdb", hdb)]);
        let out = tempfile::tempdir().unwrap();
        let compiled = compiled_path(&out);
        let paths = [dir.path().to_path_buf()];
        let from_source = scan_all(Database::load(&paths).unwrap(), &inputs, 1);
        Database::compile(&paths, &compiled).unwrap();
        let from_compiled = Database::load(std::slice::from_ref(&compiled)).unwrap();
        prop_assert_eq!(from_compiled.info().parts.compiled, 2);
        prop_assert_eq!(scan_all(from_compiled, &inputs, threads), from_source);
    }
}
