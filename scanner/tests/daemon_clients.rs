//! `avscan serve` driven by the clients people already run against clamd, unchanged: the real `clamdscan`
//! (Debian's ClamAV 1.4, in every mode it has: CONTSCAN, INSTREAM, FILDES, MULTISCAN and ALLMATCHSCAN, with
//! and without IDSESSION) and the Python `clamd` package. Each drives a clean file, EICAR, EICAR in a zip
//! attached to a mail, a stream over the daemon's stream_max_length, and a RELOAD that brings a new database
//! while scans keep going.
//!
//! Without `clamdscan` or the `clamd` Python package the tests print a notice and pass, unless
//! `AVSCAN_REQUIRE_CLAMAV=1` (CI sets it; `scripts/test.sh` installs both).

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::{Daemon, EICAR, instream};

/// Whether `program --version`-style `probe` runs; when it does not, a notice, or a failure under
/// `AVSCAN_REQUIRE_CLAMAV=1`.
fn available(what: &str, probe: &mut Command) -> bool {
    if probe.output().is_ok_and(|output| output.status.success()) {
        return true;
    }
    assert!(
        std::env::var("AVSCAN_REQUIRE_CLAMAV").as_deref() != Ok("1"),
        "AVSCAN_REQUIRE_CLAMAV=1 but {what} cannot be run (scripts/test.sh installs it)"
    );
    eprintln!("notice: {what} is not installed, so this client test is skipped");
    false
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The files the clients scan, in one directory, and one over the daemons' 64 KiB stream_max_length in another.
struct Files(tempfile::TempDir, tempfile::TempDir);

impl Files {
    fn new() -> Files {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("clean.txt"), b"hello, this file is clean\n").unwrap();
        std::fs::write(dir.path().join("eicar.com"), EICAR).unwrap();
        std::fs::write(dir.path().join("mail.eml"), corpus::generators::generate("eicar-mail-zip-attachment").unwrap())
            .unwrap();
        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("big.bin"), vec![b'a'; 300_000]).unwrap();
        Files(dir, other)
    }

    fn path(&self, name: &str) -> String {
        let dir = if name == "big.bin" { &self.1 } else { &self.0 };
        dir.path().join(name).display().to_string()
    }
}

fn daemon_for(files: &Files, extra: &str) -> Daemon {
    let config = support::config_with(&format!(
        "stream_max_length = 65536\nallowed_scan_directories = [{:?}]\n{extra}",
        files.0.path().display().to_string()
    ));
    Daemon::start(&config, &[])
}

/// `clamdscan` with a configuration naming `daemon`'s socket.
fn clamdscan(daemon: &Daemon, args: &[&str]) -> Output {
    let config = daemon.dir.path().join("clamd.conf");
    std::fs::write(&config, format!("LocalSocket {}\n", daemon.socket.display())).unwrap();
    Command::new("clamdscan")
        .arg(format!("--config-file={}", config.display()))
        .arg("--no-summary")
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn clamdscan_in_every_mode_gets_the_verdicts() {
    if !available("clamdscan", Command::new("clamdscan").arg("--version")) {
        return;
    }
    let files = Files::new();
    let daemon = daemon_for(&files, "");
    let found = |name: &str| format!("{}: Eicar-Test-Signature.UNOFFICIAL FOUND\n", files.path(name));
    for mode in [&[][..], &["--stream"], &["--fdpass"], &["--multiscan"], &["--multiscan", "--fdpass"], &["--allmatch"]]
    {
        let run = |name: &str| {
            let mut args = mode.to_vec();
            let path = files.path(name);
            args.push(&path);
            clamdscan(&daemon, &args)
        };
        let clean = run("clean.txt");
        assert_eq!(
            (clean.status.code(), text(&clean.stdout)),
            (Some(0), format!("{}: OK\n", files.path("clean.txt"))),
            "{mode:?}: {}",
            text(&clean.stderr)
        );
        let eicar = run("eicar.com");
        assert_eq!((eicar.status.code(), text(&eicar.stdout)), (Some(1), found("eicar.com")), "{mode:?}");
        let mail = run("mail.eml");
        assert_eq!((mail.status.code(), text(&mail.stdout)), (Some(1), found("mail.eml")), "{mode:?}");
    }
    // A directory, several files over one IDSESSION (MULTISCAN with --stream pipelines INSTREAMs).
    let directory = clamdscan(&daemon, &["--multiscan", "--stream", &files.0.path().display().to_string()]);
    assert_eq!(directory.status.code(), Some(1));
    let mut lines: Vec<String> = text(&directory.stdout).lines().map(str::to_owned).collect();
    lines.sort();
    assert_eq!(lines, [found("eicar.com").trim_end(), found("mail.eml").trim_end()], "{}", text(&directory.stderr));

    // Standard input from a file goes by FILDES on a local socket.
    let mut child = Command::new("clamdscan")
        .arg(format!("--config-file={}", daemon.dir.path().join("clamd.conf").display()))
        .args(["--no-summary", "-"])
        .stdin(std::fs::File::open(files.path("eicar.com")).unwrap())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let status = child.wait().unwrap();
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    // `fd[N]` names the descriptor's number in the daemon, as clamd's reply does.
    let descriptor = stdout.strip_prefix("fd[").and_then(|rest| rest.split_once("]: "));
    assert!(
        status.code() == Some(1)
            && descriptor.is_some_and(|(number, rest)| {
                number.parse::<u32>().is_ok() && rest == "Eicar-Test-Signature.UNOFFICIAL FOUND\n"
            }),
        "{status}: {stdout}"
    );

    // Over stream_max_length: clamd's own refusal, which clamdscan reports as an error (exit 2). The daemon
    // reads the rest of the stream, so the client gets the reply instead of a reset connection.
    let big = clamdscan(&daemon, &["--stream", &files.path("big.bin")]);
    assert_eq!(big.status.code(), Some(2));
    assert!(text(&big.stdout).contains("INSTREAM size limit exceeded. ERROR"), "{}", text(&big.stdout));

    // Outside allowed_scan_directories: refused as clamd refuses an unreadable file.
    let outside = clamdscan(&daemon, &["/etc/hostname"]);
    assert_eq!(
        (outside.status.code(), text(&outside.stdout)),
        (Some(2), "/etc/hostname: Access denied. ERROR\n".into())
    );

    let version = clamdscan(&daemon, &["--version"]);
    assert!(text(&version.stdout).starts_with(&format!("ClamAV avscan-{}/", scanner::VERSION)));
}

#[test]
fn the_python_clamd_package_gets_the_verdicts() {
    if !available("the Python clamd package", Command::new("python3").args(["-c", "import clamd"])) {
        return;
    }
    let files = Files::new();
    let daemon = daemon_for(&files, "");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clamd/python_clamd.py");
    let output = Command::new("python3")
        .arg(script)
        .arg(&daemon.socket)
        .arg(files.0.path())
        .arg(files.path("big.bin"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    let results: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let eicar = serde_json::json!(["FOUND", "Eicar-Test-Signature.UNOFFICIAL"]);
    let found_in = |name: &str| serde_json::json!({ files.path(name): eicar.clone() });
    assert_eq!(results["ping"], "PONG");
    assert!(results["version"].as_str().unwrap().starts_with("ClamAV avscan-"));
    assert_eq!(results["instream_clean"], serde_json::json!({"stream": ["OK", null]}));
    assert_eq!(results["instream_eicar"], serde_json::json!({"stream": eicar.clone()}));
    assert_eq!(results["instream_mail"], serde_json::json!({"stream": eicar.clone()}));
    // clamd resets the connection before this client reads the refusal (BrokenPipeError); this daemon lets it
    // read it, so the package raises its own error for it.
    assert_eq!(results["instream_too_long"], "raised BufferTooLongError");
    assert_eq!(results["scan_eicar"], found_in("eicar.com"));
    assert_eq!(results["scan_clean"], serde_json::json!({ files.path("clean.txt"): ["OK", null] }));
    // CONTSCAN and MULTISCAN go on after a detection: both infected files.
    let both = serde_json::json!({ files.path("eicar.com"): eicar.clone(), files.path("mail.eml"): eicar.clone() });
    assert_eq!(results["contscan"], both);
    assert_eq!(results["multiscan"], both);
    assert_eq!(results["stats_first_line"], "POOLS: 1");
    assert_eq!(results["reload"], "RELOADING");
    assert_eq!(results["ping_after_reload"], "PONG");
}

/// Polls `check` until it holds, for at most 60 s.
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < Duration::from_secs(60), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn a_reload_brings_new_signatures_while_scans_go_on() {
    let has_clamdscan = available("clamdscan", Command::new("clamdscan").arg("--version"));
    let root = tempfile::tempdir().unwrap();
    let definitions = root.path().join("definitions");
    let incoming = root.path().join("incoming");
    std::fs::create_dir_all(&definitions).unwrap();
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::copy(support::fixture_database(), definitions.join("test.ndb")).unwrap();
    let config = format!(
        "definitions = [{:?}]\nincoming_directory = {:?}\n",
        definitions.display().to_string(),
        incoming.display().to_string()
    );
    let daemon = Daemon::start(&config, &[]);
    let marker = b"this text carries AVSCAN-RELOAD-MARKER-ONE and nothing else";
    let second = b"this text carries AVSCAN-RELOAD-MARKER-TWO and nothing else";
    let signature = |name: &str, text: &str| format!("{name}:0:*:{}\n", hex(text.as_bytes()));
    assert_eq!(daemon.request(&instream(marker, 1024)), b"stream: OK\0");

    // Scans keep going from another thread the whole time; every one must get its right answer.
    let stop = Arc::new(AtomicBool::new(false));
    let scanning = {
        let stop = Arc::clone(&stop);
        let socket = daemon.socket.clone();
        std::thread::spawn(move || {
            let mut answered = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for (input, expected) in [
                    (EICAR, &b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0"[..]),
                    (b"clean bytes", b"stream: OK\0"),
                ] {
                    let mut stream = std::os::unix::net::UnixStream::connect(&socket).unwrap();
                    std::io::Write::write_all(&mut stream, &instream(input, 7)).unwrap();
                    assert_eq!(support::read_to_close(&mut stream), expected);
                    answered += 1;
                }
            }
            answered
        })
    };

    // 1. A new file in the definitions directory, then RELOAD (by clamdscan when it is here).
    std::fs::write(definitions.join("marker.ndb"), signature("Marker-One", "AVSCAN-RELOAD-MARKER-ONE")).unwrap();
    if has_clamdscan {
        let reload = clamdscan(&daemon, &["--reload"]);
        assert!(reload.status.success(), "{}", text(&reload.stderr));
    } else {
        assert_eq!(daemon.request(b"zRELOAD\0"), b"RELOADING\0");
    }
    eventually("the new signature detects after RELOAD", || {
        daemon.request(&instream(marker, 1024)) == b"stream: Marker-One.UNOFFICIAL FOUND\0"
    });

    // 2. A file dropped into the incoming directory, then SIGHUP: validated, moved, swapped in.
    std::fs::write(incoming.join("second.ndb"), signature("Marker-Two", "AVSCAN-RELOAD-MARKER-TWO")).unwrap();
    daemon.signal("HUP");
    eventually("the incoming file is applied after SIGHUP", || {
        daemon.request(&instream(second, 1024)) == b"stream: Marker-Two.UNOFFICIAL FOUND\0"
    });
    assert!(definitions.join("second.ndb").exists() && !incoming.join("second.ndb").exists());

    // 3. A broken file: rejected, and the set serving keeps every signature.
    std::fs::write(incoming.join("broken.ndb"), "Broken:0:*:0g\n").unwrap();
    assert_eq!(daemon.request(b"zRELOAD\0"), b"RELOADING\0");
    let status = || -> serde_json::Value {
        let reply = daemon.request(b"zJSONVERSION\0");
        serde_json::from_slice(reply.strip_suffix(b"\0").unwrap()).unwrap()
    };
    eventually("the broken update is rejected", || status()["definitions"]["last_error"].is_string());
    let report = status();
    assert!(report["definitions"]["last_error"].as_str().unwrap().contains("broken.ndb:1"), "{report}");
    assert_eq!(report["definitions"]["up_to_date"], false);
    assert_eq!(daemon.request(&instream(second, 1024)), b"stream: Marker-Two.UNOFFICIAL FOUND\0");
    assert!(!definitions.join("broken.ndb").exists());
    assert!(daemon.log().contains("definitions update rejected"), "{}", daemon.log());

    stop.store(true, Ordering::Relaxed);
    let answered = scanning.join().unwrap();
    assert!(answered >= 2, "the scans beside the reloads ran ({answered})");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
