//! The `avscan` command line as DESIGN.md 5 specifies it: output lines, `--json`, exit statuses, limit flags,
//! the configuration file, standard input, `--wire`, and `db check` / `db info`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use corpus::generators::EICAR;

fn avscan(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_avscan"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    // A child that refuses its arguments exits without reading: a broken pipe here is not the test's concern.
    let _ = input.write_all(stdin.unwrap_or_default());
    drop(input);
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

struct Files(tempfile::TempDir);

impl Files {
    fn new(files: &[(&str, &[u8])]) -> Files {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in files {
            std::fs::write(dir.path().join(name), bytes).unwrap();
        }
        Files(dir)
    }

    fn path(&self, name: &str) -> String {
        self.0.path().join(name).display().to_string()
    }
}

#[test]
fn exit_statuses_follow_the_worst_verdict() {
    let files = Files::new(&[
        ("eicar.com", EICAR),
        ("clean.txt", b"nothing here"),
        ("encrypted.zip", &corpus::generators::generate("eicar-encrypted-zip").unwrap()),
    ]);
    let clean = avscan(&["scan", &files.path("clean.txt")], None);
    assert_eq!(clean.status.code(), Some(0));
    assert_eq!(text(&clean.stdout), format!("{}: OK\n", files.path("clean.txt")));
    let infected = avscan(&["scan", &files.path("clean.txt"), &files.path("eicar.com")], None);
    assert_eq!(infected.status.code(), Some(1));
    assert!(
        text(&infected.stdout)
            .contains(&format!("{}: Eicar-Test-Signature FOUND in eicar.com\n", files.path("eicar.com"))),
        "{}",
        text(&infected.stdout)
    );
    let unscannable = avscan(&["scan", &files.path("encrypted.zip")], None);
    assert_eq!(unscannable.status.code(), Some(2));
    assert_eq!(
        text(&unscannable.stdout),
        format!("{}: UNSCANNABLE (DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED)\n", files.path("encrypted.zip"))
    );
    let missing = avscan(&["scan", "/nonexistent/file"], None);
    assert_eq!(missing.status.code(), Some(2));
    assert_eq!(text(&missing.stdout), "/nonexistent/file: ERROR (AVS_RESULT_SCANFILE_FAILURE)\n");
}

#[test]
fn json_lines_carry_the_contract_fields() {
    let files = Files::new(&[("eicar.zip", &corpus::generators::generate("eicar-zip-first-of-three").unwrap())]);
    let output = avscan(&["scan", "--json", &files.path("eicar.zip")], None);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert_eq!(stdout.lines().count(), 1);
    let value: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(value["path"], files.path("eicar.zip"));
    assert_eq!(value["status"], "INFECTED");
    assert_eq!(value["info"], "Eicar-Test-Signature");
    assert_eq!(value["engine"], "avscan");
    assert_eq!(value["scan_code"], "AVS_RESULT_VIRUS_FOUND");
    assert_eq!(value["codes"], serde_json::json!(["AVS_RESULT_VIRUS_FOUND", "DEC_RESULT_ABORTED_AFTER_FIRST_THREAT"]));
    assert_eq!(
        value["detections"],
        serde_json::json!([{"name": "Eicar-Test-Signature", "part": "eicar.zip/eicar.com"}])
    );
    assert_eq!(value["parts"], 2);
    assert!(value["bytes_extracted"].as_u64().unwrap() >= 68);
    assert!(value["elapsed_ms"].is_u64());
    let all = avscan(&["scan", "--json", "--all-matches", &files.path("eicar.zip")], None);
    let value: serde_json::Value = serde_json::from_str(text(&all.stdout).trim()).unwrap();
    assert_eq!(value["parts"], 4);
    assert_eq!(value["detections"].as_array().unwrap().len(), 2);
}

#[test]
fn directories_are_scanned_recursively_and_stdin_with_a_dash() {
    let files = Files::new(&[("a.txt", b"clean"), ("b.com", EICAR)]);
    std::fs::create_dir(files.0.path().join("sub")).unwrap();
    std::fs::write(files.0.path().join("sub/c.com"), EICAR).unwrap();
    let output = avscan(&["scan", "--jobs", "2", &files.path("")], None);
    let mut lines: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            format!("{}: OK", files.path("a.txt")),
            format!("{}: Eicar-Test-Signature FOUND in b.com", files.path("b.com")),
            format!("{}: Eicar-Test-Signature FOUND in c.com", files.path("sub/c.com")),
        ]
    );
    let stdin = avscan(&["scan", "-"], Some(EICAR));
    assert_eq!(stdin.status.code(), Some(1));
    assert_eq!(text(&stdin.stdout), "-: Eicar-Test-Signature FOUND in stdin\n");
}

#[test]
fn bad_values_are_refused_with_option_value_and_range() {
    let output = avscan(&["scan", "--max-extract-depth", "51", "-"], None);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stderr), "avscan: invalid max_extract_depth 51: must be 1..=50\n");
    let output = avscan(&["scan", "--jobs", "0", "-"], None);
    assert_eq!(text(&output.stderr), "avscan: invalid max_concurrency 0: must be 1..=1024\n");
    let files = Files::new(&[("bad.toml", b"max_extract_dept = 3\n"), ("good.toml", b"max_extract_depth = 1\n")]);
    let output = avscan(&["scan", "--config", &files.path("bad.toml"), "-"], None);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("unknown field `max_extract_dept`"), "{}", text(&output.stderr));
    // The file's limit applies, and a flag overrides it.
    let nested = corpus::generators::generate("eicar-nested-zip-tgz-zip").unwrap();
    let output = avscan(&["scan", "--config", &files.path("good.toml"), "-"], Some(&nested));
    assert_eq!(output.status.code(), Some(2), "depth 1 stops above the detection");
    let output =
        avscan(&["scan", "--config", &files.path("good.toml"), "--max-extract-depth", "10", "-"], Some(&nested));
    assert_eq!(output.status.code(), Some(1));
}

#[test]
fn wire_form_is_unstuffed_unless_use_wire_rep() {
    // A signature on "\n.a": present only once the stuffed "\n..a" is undone.
    let files = Files::new(&[("w.ndb", b"Test.Unstuffed:0:*:0a2e61626364\n"), ("rep.toml", b"use_wire_rep = true\n")]);
    let wire = b"Subject: x\r\n\r\nline\r\n..abcd\r\n.\r\n";
    let db = files.path("w.ndb");
    assert_eq!(avscan(&["scan", "--db", &db, "-"], Some(wire)).status.code(), Some(0));
    let unstuffed = avscan(&["scan", "--db", &db, "--wire", "-"], Some(wire));
    assert_eq!(unstuffed.status.code(), Some(1), "{}", text(&unstuffed.stdout));
    let as_received = avscan(&["scan", "--db", &db, "--wire", "--config", &files.path("rep.toml"), "-"], Some(wire));
    assert_eq!(as_received.status.code(), Some(0));
}

#[test]
fn a_dot_stuffed_mail_attachment_is_found_once_unstuffed() {
    // corpus's mail-wire-dot-stuffed: notes.txt's lines start with dots, doubled on the wire. The signature is
    // the attachment's first two lines at offset 0 of a part, as the sender wrote them.
    let wire = corpus::generators::generate("mail-wire-dot-stuffed").unwrap();
    let pattern: String = b".starts with a dot\r\n..two dots".iter().map(|b| format!("{b:02x}")).collect();
    let files = Files::new(&[
        ("dots.ndb", format!("Test.DotLines:0:0:{pattern}\n").as_bytes()),
        ("rep.toml", b"use_wire_rep = true\n"),
        ("message.eml", &wire),
    ]);
    let db = files.path("dots.ndb");
    let message = files.path("message.eml");
    let unstuffed = avscan(&["scan", "--db", &db, "--wire", &message], None);
    assert_eq!(unstuffed.status.code(), Some(1), "{}", text(&unstuffed.stdout));
    assert!(
        text(&unstuffed.stdout).contains("Test.DotLines FOUND in message.eml/notes.txt"),
        "{}",
        text(&unstuffed.stdout)
    );
    for as_received in [
        avscan(&["scan", "--db", &db, &message], None),
        avscan(&["scan", "--db", &db, "--wire", "--config", &files.path("rep.toml"), &message], None),
    ] {
        assert_eq!(as_received.status.code(), Some(0), "{}", text(&as_received.stdout));
    }
}

#[test]
fn db_check_lists_every_malformed_line_and_what_is_not_matched() {
    let files = Files::new(&[(
        "bad.ndb",
        b"Good.One:0:*:616263646566\nBad.Hex:0:*:61zz\nBad.Fields:0\nEntry.Point:1:EP+10:616263646566\n",
    )]);
    let output = avscan(&["db", "check", &files.path("bad.ndb")], None);
    assert_eq!(output.status.code(), Some(2));
    let stdout = text(&output.stdout);
    let bad = files.path("bad.ndb");
    assert!(stdout.contains(&format!("error: {bad}:2: ")), "{stdout}");
    assert!(stdout.contains(&format!("error: {bad}:3: ")), "{stdout}");
    assert!(stdout.contains(&format!("not matched: {bad}:4: Entry.Point: ")), "{stdout}");
    assert!(stdout.contains("3 signatures") || stdout.contains("2 signatures"), "{stdout}");
    assert!(stdout.contains("2 malformed lines; 1 not matched here"), "{stdout}");
    let scan = avscan(&["scan", "--db", &bad, "-"], Some(b"abcdef"));
    assert_eq!(scan.status.code(), Some(2), "a malformed database refuses to load");
    assert!(text(&scan.stderr).contains(&format!("{bad}:2: ")), "{}", text(&scan.stderr));
}

#[test]
fn db_info_reports_the_version_and_counts() {
    let output = avscan(&["db", "info"], None);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with("version: avscan-default-1\n"), "{stdout}");
    assert!(stdout.contains("hash: 2 signatures"), "{stdout}");
    assert!(stdout.contains("body: 1 signatures"), "{stdout}");
    let json = avscan(&["db", "info", "--json"], None);
    let value: serde_json::Value = serde_json::from_str(text(&json.stdout).trim()).unwrap();
    assert_eq!(value["version"], "avscan-default-1");
    assert_eq!(value["total"], 3);
    let files = Files::new(&[("x.ndb", b"A.B:0:*:616263646566\n")]);
    let derived = avscan(&["db", "info", "--db", &files.path("x.ndb")], None);
    assert!(text(&derived.stdout).starts_with("version: content:"), "{}", text(&derived.stdout));
}

#[test]
fn db_compile_writes_a_file_that_db_info_and_scan_take_like_its_sources() {
    let eicar_ndb = "Test.Eicar:0:*:58354f2150254041505b345c505a58353428505e2937434329377d24\n";
    let files = Files::new(&[("x.ndb", eicar_ndb.as_bytes()), ("VERSION", b"compiled-1\n"), ("eicar.com", EICAR)]);
    let out = files.path("x.avdb");
    let compiled = avscan(&["db", "compile", &files.path("x.ndb"), &files.path("VERSION"), "-o", &out], None);
    assert_eq!(compiled.status.code(), Some(0), "{}", text(&compiled.stderr));
    assert!(
        text(&compiled.stdout).starts_with(&format!("{out}: 1 signatures from 2 files, ")),
        "{}",
        text(&compiled.stdout)
    );
    let info = avscan(&["db", "info", "--db", &out], None);
    let stdout = text(&info.stdout);
    assert!(stdout.starts_with("version: compiled-1\n"), "{stdout}");
    assert!(
        stdout.contains("parts: 2 (0 parsed, 0 shared with the set replaced, 2 from the compiled form); prefilter from the compiled form\n"),
        "{stdout}"
    );
    let scan = avscan(&["scan", "--db", &out, &files.path("eicar.com")], None);
    assert_eq!(scan.status.code(), Some(1));
    assert_eq!(text(&scan.stdout), format!("{}: Test.Eicar FOUND in eicar.com\n", files.path("eicar.com")));
    // A damaged header: its sources are unknown, so it is refused by name.
    std::fs::write(&out, b"AVSCNDB\nshort").unwrap();
    let refused = avscan(&["db", "info", "--db", &out], None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(text(&refused.stderr).contains("truncated"), "{}", text(&refused.stderr));
    // Nothing to write to: refused with the path.
    let nowhere = avscan(&["db", "compile", &files.path("x.ndb"), "-o", "/nonexistent/dir/x.avdb"], None);
    assert_eq!(nowhere.status.code(), Some(2));
    assert!(text(&nowhere.stderr).contains("/nonexistent/dir/x.avdb"), "{}", text(&nowhere.stderr));
}

#[test]
fn a_link_given_is_followed_and_special_files_are_never_opened() {
    let files = Files::new(&[("eicar.com", EICAR)]);
    let dir = files.0.path();
    std::os::unix::fs::symlink(dir.join("eicar.com"), dir.join("link.com")).unwrap();
    let linked = avscan(&["scan", &files.path("link.com")], None);
    assert_eq!(linked.status.code(), Some(1), "{}", text(&linked.stdout));
    // A FIFO would block an open(2) forever: inside a directory it is skipped, given by name it is an error.
    let fifo = dir.join("pipe");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let output = avscan(&["scan", &files.path("")], None);
    let mut lines: Vec<String> = text(&output.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(
        lines,
        [format!("{}: Eicar-Test-Signature FOUND in eicar.com", files.path("eicar.com"))],
        "the link inside the directory is not followed, the FIFO not opened"
    );
    let output = avscan(&["scan", &files.path("pipe")], None);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(text(&output.stdout), format!("{}: ERROR (AVS_RESULT_SCANFILE_FAILURE)\n", files.path("pipe")));
}

#[test]
fn serve_refuses_a_bad_configuration_by_name_before_serving() {
    let files = Files::new(&[("avscan.toml", b"max_queue = 0\n"), ("regular", b"not a socket")]);
    let refused = |args: &[&str]| {
        let output = avscan(args, None);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output.stdout));
        text(&output.stderr)
    };
    assert!(refused(&["serve"]).contains("nothing to listen on: set local_socket or tcp_address"));
    assert_eq!(
        refused(&["serve", "--tcp", "here"]),
        "avscan: invalid tcp_address \"here\": must be PORT (on 127.0.0.1) or IP:PORT, with a port of 0..=65535\n"
    );
    assert_eq!(
        refused(&["serve", "--tcp", "3310", "--config", &files.path("avscan.toml")]),
        "avscan: invalid max_queue 0: must be 1..=65536\n"
    );
    let socket = files.path("avscan.sock");
    assert!(refused(&["serve", "--socket", &socket, "--db", &files.path("missing.ndb")]).contains(&format!(
        "cannot load the definitions: cannot read the signature database {}",
        files.path("missing.ndb")
    )));
    assert!(
        refused(&["serve", "--socket", &files.path("regular")])
            .contains(&format!("cannot listen on {}: the path exists and is not a socket", files.path("regular")))
    );
    let incoming = refused(&["serve", "--socket", &socket, "--incoming", &files.path("")]);
    assert!(incoming.contains("needs definitions to be exactly one directory"), "{incoming}");
}

#[test]
fn version_names_every_version_and_whether_the_definitions_are_up_to_date() {
    let output = avscan(&["version"], None);
    assert_eq!(output.status.code(), Some(0));
    let engine = env!("CARGO_PKG_VERSION");
    assert_eq!(
        text(&output.stdout),
        format!(
            "decomposer: {engine}\nengine: avscan {engine}\ndefinitions: avscan-default-1 (embedded)\nup to date: yes\n"
        )
    );
    // Definitions written 8 days ago are out of date (ClamAV's warning age is 7 days).
    let files = Files::new(&[("old.ndb", b"Old.Sig:0:*:616263646566\n"), ("VERSION", b"old-1\n")]);
    let eight_days = std::time::SystemTime::now() - std::time::Duration::from_secs(8 * 86_400);
    for name in ["old.ndb", "VERSION"] {
        std::fs::File::options().write(true).open(files.path(name)).unwrap().set_modified(eight_days).unwrap();
    }
    let output = avscan(&["version", "--db", &files.path("")], None);
    let stdout = text(&output.stdout);
    assert!(stdout.contains("definitions: old-1 ("), "{stdout}");
    assert!(stdout.ends_with("up to date: no (the definitions are more than 7 days old)\n"), "{stdout}");
}
