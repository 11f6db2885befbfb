//! `avscan serve` against the real clamd's replies: every conversation captured from ClamAV 1.4.6's clamd
//! (`tests/data/clamd/replies.json`, written by `capture.py`) is replayed against our daemon, configured as clamd
//! was (StreamMaxLength 1M, the same one-signature database), and each reply must equal clamd's byte for byte,
//! outside the placeholders the fixture marks (`{DIR}`, `{VERSION}`, `{ANY}`). Whether the server closed the
//! connection after its reply must agree too.

mod support;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use serde_json::Value;
use support::Daemon;

/// Cases whose reply differs from clamd's on purpose, with the reason (the daemon module doc lists them).
const DIFFERENT_ON_PURPOSE: &[(&str, &str)] = &[(
    "allmatchscan_twice",
    "ALLMATCHSCAN reports a signature once per part; clamd repeats it for each match inside one file",
)];

/// Bytes of a fixture text (one character per byte).
fn latin1(text: &str) -> Vec<u8> {
    text.chars().map(|c| u8::try_from(u32::from(c)).expect("fixture text is Latin-1")).collect()
}

fn base64(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut bits = 0u32;
    let mut count = 0;
    for byte in text.bytes().filter(|&b| b != b'=') {
        bits = bits << 6 | ALPHABET.iter().position(|&a| a == byte).unwrap() as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

/// A template piece.
#[derive(Debug)]
enum Piece {
    Literal(Vec<u8>),
    /// `{VERSION}`: one or more bytes other than NUL, LF and `|`.
    Version,
    /// `{ANY}`: any bytes.
    Any,
}

fn pieces(template: &[u8], dir: &[u8]) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut literal = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(b"{DIR}") {
            literal.extend_from_slice(dir);
            rest = after;
        } else if let Some(after) = rest.strip_prefix(b"{VERSION}") {
            out.push(Piece::Literal(std::mem::take(&mut literal)));
            out.push(Piece::Version);
            rest = after;
        } else if let Some(after) = rest.strip_prefix(b"{ANY}") {
            out.push(Piece::Literal(std::mem::take(&mut literal)));
            out.push(Piece::Any);
            rest = after;
        } else {
            literal.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out.push(Piece::Literal(literal));
    out
}

fn matches(pieces: &[Piece], reply: &[u8]) -> bool {
    match pieces.split_first() {
        None => reply.is_empty(),
        Some((Piece::Literal(literal), rest)) => reply.starts_with(literal) && matches(rest, &reply[literal.len()..]),
        Some((Piece::Any, rest)) => (0..=reply.len()).any(|n| matches(rest, &reply[n..])),
        Some((Piece::Version, rest)) => {
            let longest = reply.iter().take_while(|&&b| b != 0 && b != b'\n' && b != b'|').count();
            (1..=longest).any(|n| matches(rest, &reply[n..]))
        }
    }
}

/// Splits a reply into its messages: each ends at NUL or LF, a STATS message at `END` and its terminator.
fn messages(reply: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = reply;
    while !rest.is_empty() {
        let head = rest.iter().position(|&b| b == 0 || b == b'\n').map_or(rest.len(), |at| at + 1);
        let end = if rest[..head].windows(7).any(|w| w == b"POOLS: ") {
            rest.windows(4).position(|w| w == b"END\0" || w == b"END\n").map_or(rest.len(), |at| at + 4)
        } else {
            head
        };
        out.push(rest[..end].to_vec());
        rest = &rest[end..];
    }
    out
}

/// Performs a case's steps on a fresh connection; returns the reply and whether the server closed.
fn replay(daemon: &Daemon, steps: &[Value], dir: &str) -> (Vec<u8>, Option<bool>) {
    let mut stream = daemon.connect();
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut closed_by_client = false;
    perform(&mut stream, steps, dir, &mut closed_by_client);
    if closed_by_client {
        return (Vec::new(), None);
    }
    let mut reply = Vec::new();
    let mut buffer = [0; 65536];
    loop {
        match std::io::Read::read(&mut stream, &mut buffer) {
            Ok(0) => return (reply, Some(true)),
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
            Err(error) if matches!(error.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return (reply, Some(false));
            }
            Err(_) => return (reply, Some(true)),
        }
    }
}

fn perform(stream: &mut UnixStream, steps: &[Value], dir: &str, closed: &mut bool) {
    for step in steps {
        if let (Some(text), Some(path)) = (step["send"].as_str(), step["fd"].as_str()) {
            // The bytes go with a read-only descriptor of the file (SCM_RIGHTS), as clamdscan's FILDES sends.
            let file = std::fs::File::open(path.replace("{DIR}", dir)).unwrap();
            let fds = [std::os::fd::AsFd::as_fd(&file)];
            let mut space = [std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(1))];
            let mut control = rustix::net::SendAncillaryBuffer::new(&mut space);
            assert!(control.push(rustix::net::SendAncillaryMessage::ScmRights(&fds)));
            let bytes = latin1(text);
            let iov = [std::io::IoSlice::new(&bytes)];
            rustix::net::sendmsg(&*stream, &iov, &mut control, rustix::net::SendFlags::empty()).unwrap();
        } else if let Some(text) = step["send"].as_str() {
            // A write error means the server closed early; the reply is still read.
            let _ = stream.write_all(&latin1(&text.replace("{DIR}", dir)));
        } else if let Some(fill) = step.get("fill") {
            let byte = fill["byte"].as_u64().unwrap() as u8;
            let _ = stream.write_all(&vec![byte; fill["count"].as_u64().unwrap() as usize]);
        } else if let Some(times) = step["repeat"].as_u64() {
            for _ in 0..times {
                perform(stream, step["steps"].as_array().unwrap(), dir, closed);
            }
        } else if let Some(seconds) = step["sleep"].as_f64() {
            // Part of the recorded conversation: the pause makes the next write a separate read.
            std::thread::sleep(Duration::from_secs_f64(seconds));
        } else if step["close"].as_bool() == Some(true) {
            let _ = stream.shutdown(std::net::Shutdown::Both);
            *closed = true;
        } else {
            panic!("unknown step {step}");
        }
    }
}

#[test]
fn every_captured_clamd_conversation_gets_clamds_reply() {
    let fixture: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/clamd/replies.json")).unwrap(),
    )
    .unwrap();
    let files = tempfile::tempdir().unwrap();
    let dir = files.path().display().to_string();
    for (name, content) in fixture["files"].as_object().unwrap() {
        let path = files.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, base64(content.as_str().unwrap())).unwrap();
    }
    // As clamd was run: StreamMaxLength 1M, every path readable (clamd has no allow list), the working
    // directory `/` for relative paths.
    let mut daemon =
        Daemon::start(&support::config_with("stream_max_length = 1048576\nallowed_scan_directories = [\"/\"]\n"), &[]);
    let mut failures = Vec::new();
    let mut compared = 0;
    for case in fixture["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let steps = case["request_steps"].as_array().unwrap();
        if DIFFERENT_ON_PURPOSE.iter().any(|(skipped, _)| *skipped == name) || name == "shutdown_z" {
            continue;
        }
        let (reply, server_closed) = replay(&daemon, steps, &dir);
        let template = latin1(case["template"].as_str().unwrap());
        let agreed = if case["unordered"].as_bool() == Some(true) {
            let mut expected: Vec<Vec<u8>> = messages(&template);
            let mut got = messages(&reply);
            got.len() == expected.len()
                && got.drain(..).all(|message| {
                    match expected.iter().position(|t| matches(&pieces(t, dir.as_bytes()), &message)) {
                        Some(at) => {
                            expected.remove(at);
                            true
                        }
                        None => false,
                    }
                })
        } else {
            matches(&pieces(&template, dir.as_bytes()), &reply)
        };
        let closes_as_clamd = case["server_closes"].as_bool().is_none_or(|clamd| Some(clamd) == server_closed);
        if !agreed || !closes_as_clamd {
            failures.push(format!(
                "{name}: expected {:?} (server closes: {}), got {:?} (server closed: {server_closed:?})",
                String::from_utf8_lossy(&template),
                case["server_closes"],
                String::from_utf8_lossy(&reply)
            ));
        }
        compared += 1;
    }
    assert!(failures.is_empty(), "{} of {compared} cases differ from clamd:\n{}", failures.len(), failures.join("\n"));
    assert!(compared >= 90, "only {compared} cases compared");

    // SHUTDOWN: no reply, and the daemon exits cleanly.
    assert_eq!(daemon.request(b"zSHUTDOWN\0"), b"");
    assert!(daemon.wait().success());
    assert!(!daemon.socket.exists(), "the socket file is removed at exit");
}
