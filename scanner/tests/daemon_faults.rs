//! `avscan serve` under hostile and heavy clients: one that leaves mid-stream, one that sends garbage, a chunk
//! length of 4 GiB, 500 idle connections, 10,000 requests from 32 concurrent clients, a client that stalls
//! while the pool is one thread, more connections than `max_connections`, and SIGTERM with a scan in flight.
//! Every well-formed request must get its exact answer, the daemon must survive, and its resident memory must
//! come back to its baseline afterwards (the figures are printed: `cargo test -- --nocapture`).

mod support;

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use support::{Daemon, EICAR, instream, read_to_close};

const FOUND: &[u8] = b"stream: Eicar-Test-Signature.UNOFFICIAL FOUND\0";

/// The zip-in-mail case of the corpus: EICAR in a zip attached to a mail.
fn mail() -> Vec<u8> {
    corpus::generators::generate("eicar-mail-zip-attachment").unwrap()
}

/// A deterministic byte generator (xorshift64*), for garbage.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn fill(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn assert_alive(daemon: &Daemon) {
    assert_eq!(daemon.request(b"zPING\0"), b"PONG\0", "{}", daemon.log());
}

#[test]
fn a_client_that_leaves_mid_stream_or_sends_garbage_breaks_nothing() {
    let daemon = Daemon::start(&support::config_with(""), &[]);
    // Leaves inside a chunk, inside a chunk header, and between chunks; in and out of a session.
    for request in [
        &b"zINSTREAM\0\0\0\x03\xe8aaaaaaaaaa"[..],
        b"zINSTREAM\0\0\0",
        b"zINSTREAM\0\0\0\0\x02ab",
        b"zIDSESSION\0zINSTREAM\0\0\0\x10\0abc",
        b"nSCAN",
    ] {
        let mut stream = daemon.connect();
        stream.write_all(request).unwrap();
        drop(stream);
    }
    assert_alive(&daemon);

    // Garbage: every reply is one clamd could give (UNKNOWN COMMAND, or nothing at all), never a crash.
    let mut random = Bytes(0x9e37_79b9_7f4a_7c15);
    for round in 0..300 {
        let len = (random.next() % 6000) as usize;
        let mut garbage = random.fill(len);
        if round % 3 == 0 {
            // Garbage after a valid start: a session, then noise.
            garbage.splice(0..0, b"zIDSESSION\0".iter().copied());
        }
        let mut stream = daemon.connect();
        stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let _ = stream.write_all(&garbage);
        let _ = stream.shutdown(std::net::Shutdown::Write);
        let reply = read_to_close(&mut stream);
        let plausible = reply.is_empty()
            || reply.ends_with(b"UNKNOWN COMMAND\0")
            || reply.ends_with(b"UNKNOWN COMMAND\n")
            || reply.ends_with(b"ERROR\0")
            || reply.ends_with(b"ERROR\n")
            || reply.ends_with(b"OK\0")
            || reply.ends_with(b"OK\n")
            || reply.ends_with(b"PONG\n")
            || reply.ends_with(b"COMMAND READ TIMED OUT\n");
        assert!(plausible, "garbage round {round} got {:?}", String::from_utf8_lossy(&reply));
    }
    assert_alive(&daemon);
    assert_eq!(daemon.request(&instream(EICAR, 5)), FOUND);
}

#[test]
fn a_chunk_length_of_4_gib_is_refused_at_once() {
    // The default stream_max_length (100 MiB).
    let daemon = Daemon::start(&support::config_with(""), &[]);
    for length in [u32::MAX, 0x8000_0000, 100 * 1024 * 1024 + 1] {
        let mut request = b"zINSTREAM\0".to_vec();
        request.extend_from_slice(&length.to_be_bytes());
        // No data follows; the refusal must not wait for it.
        let mut stream = daemon.connect();
        stream.write_all(&request).unwrap();
        let mut reply = vec![0; 36];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(reply, b"INSTREAM size limit exceeded. ERROR\0", "length {length:#x}");
    }
    // In a session the refusal is numbered and ends the session.
    let mut request = b"zIDSESSION\0zPING\0zINSTREAM\0".to_vec();
    request.extend_from_slice(&u32::MAX.to_be_bytes());
    let reply = daemon.request(&request);
    assert_eq!(reply, b"1: PONG\x002: INSTREAM size limit exceeded. ERROR\0");
    assert_alive(&daemon);
}

#[test]
fn five_hundred_idle_connections_leave_room_for_work_and_memory_comes_back() {
    let daemon = Daemon::start(&support::config_with(""), &[]);
    let mail = mail();
    let start = daemon.rss_kib();
    // Two bursts of 500 idle connections with work beside them. The allocator keeps what the first burst
    // freed for reuse (glibc does not return small freed chunks to the system), so the baseline is taken
    // after it: the second burst must cost nothing once its connections are gone.
    let mut figures = Vec::new();
    for burst in 0..2 {
        let before = daemon.rss_kib();
        let idle: Vec<UnixStream> = (0..500).map(|_| daemon.connect()).collect();
        for _ in 0..50 {
            assert_eq!(daemon.request(&instream(&mail, 8192)), FOUND, "burst {burst}");
            assert_eq!(daemon.request(&instream(b"clean", 8192)), b"stream: OK\0", "burst {burst}");
        }
        let open = daemon.rss_kib();
        drop(idle);
        // The daemon sees the 500 closes before it answers the next connections (they are older).
        for _ in 0..20 {
            assert_alive(&daemon);
        }
        figures.push((before, open, daemon.rss_kib()));
    }
    eprintln!("500 idle connections, RSS KiB at start {start}, per burst (before, open, after): {figures:?}");
    let (first_before, first_open, _) = figures[0];
    let (second_before, second_open, second_after) = figures[1];
    assert!(first_open < first_before + 16 * 1024, "500 idle connections cost over 16 MiB");
    assert!(second_open <= first_open + 1024, "the second burst grew memory: {figures:?}");
    assert!(second_after <= second_before + 1024, "memory did not come back to its baseline: {figures:?}");
}

#[test]
fn ten_thousand_requests_from_32_clients_all_get_their_answer() {
    let daemon = Arc::new(Daemon::start(&support::config_with(""), &[]));
    let mail = Arc::new(mail());
    let run = |requests_per_client: usize| {
        let threads: Vec<_> = (0..32)
            .map(|client| {
                let daemon = Arc::clone(&daemon);
                let mail = Arc::clone(&mail);
                std::thread::spawn(move || {
                    for index in 0..requests_per_client {
                        let (request, expected): (Vec<u8>, &[u8]) = match (client + index) % 5 {
                            0 => (b"zPING\0".to_vec(), b"PONG\0"),
                            1 => (instream(b"hello, clean", 4), b"stream: OK\0"),
                            2 => (instream(EICAR, 16), FOUND),
                            3 => (instream(&mail, 4096), FOUND),
                            _ => (b"nINSTREAM\n\0\0\0\x05hello\0\0\0\0".to_vec(), b"stream: OK\n"),
                        };
                        assert_eq!(daemon.request(&request), expected, "client {client}, request {index}");
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    };
    // A first round settles the allocator and the pools; its level is the baseline.
    run(16);
    let baseline = daemon.rss_kib();
    run(10_000 / 32 + 1);
    let after = daemon.rss_kib();
    eprintln!("10,016 requests from 32 clients: RSS baseline {baseline} KiB, after {after} KiB");
    assert!(after <= baseline + 8 * 1024, "memory did not come back: {baseline} KiB before, {after} KiB after");
    assert_alive(&daemon);
}

#[test]
fn a_stalled_client_never_holds_the_only_scanning_thread() {
    let daemon = Daemon::start(&support::config_with("max_concurrency = 1\nmax_queue = 1\n"), &[]);
    // Half a stream, then silence; and a session that pipelines scans without reading a reply.
    let mut stalled = daemon.connect();
    stalled.write_all(b"zINSTREAM\0\0\0\x10\0abc").unwrap();
    let mut unread = daemon.connect();
    let mut session = b"zIDSESSION\0".to_vec();
    for _ in 0..50 {
        session.extend_from_slice(&instream(EICAR, 68));
    }
    unread.write_all(&session).unwrap();
    for _ in 0..20 {
        assert_eq!(daemon.request(&instream(EICAR, 68)), FOUND);
    }
    drop((stalled, unread));
    assert_alive(&daemon);
}

#[test]
fn connections_over_max_connections_get_a_clear_error() {
    let daemon = Daemon::start(&support::config_with("max_connections = 4\n"), &[]);
    let held: Vec<UnixStream> = (0..4).map(|_| daemon.connect()).collect();
    assert_eq!(daemon.request(b"zPING\0"), b"Too many connections (max_connections 4). ERROR\0");
    assert_eq!(daemon.request(b"nVERSION\n"), b"Too many connections (max_connections 4). ERROR\n");
    drop(held);
    // The slots come back as the held connections end.
    let started = std::time::Instant::now();
    while daemon.request(b"zPING\0") != b"PONG\0" {
        assert!(started.elapsed() < Duration::from_secs(30), "the connection slots never came back");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_silent_connection_times_out_with_clamds_message() {
    let daemon = Daemon::start(&support::config_with("command_read_timeout = 1\nidle_timeout = 1\n"), &[]);
    // No command at all.
    let mut silent = daemon.connect();
    assert_eq!(read_to_close(&mut silent), b"COMMAND READ TIMED OUT\n");
    // A session with no next command.
    let mut session = daemon.connect();
    session.write_all(b"zIDSESSION\0zPING\0").unwrap();
    assert_eq!(read_to_close(&mut session), b"1: PONG\0COMMAND READ TIMED OUT\n");
}

/// A gzip of `megabytes` MB of zeros, long to scan (held in RAM under [`SLOW_SCAN_CONFIG`], so that nothing is
/// written to disk).
fn slow_to_scan(megabytes: usize) -> Vec<u8> {
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let block = vec![0u8; 1 << 20];
    for _ in 0..megabytes {
        gzip.write_all(&block).unwrap();
    }
    gzip.finish().unwrap()
}

const SLOW_SCAN_CONFIG: &str = "max_extract_size = 1073741824\nmax_cumulative_extract_size = 1073741824\nmax_extract_time = 0\nprefer_mem = true\n";

#[test]
fn a_session_waiting_for_a_slow_scan_is_not_idle() {
    // Hash signatures of any size make every part hashed with MD5, SHA-1 and SHA-256: with 600 MB of zeros
    // the scan takes about 2.5 s on this machine kind, well over the idle_timeout of 1 s.
    let definitions = tempfile::tempdir().unwrap();
    std::fs::copy(support::fixture_database(), definitions.path().join("test.ndb")).unwrap();
    let digests = [
        "0cc175b9c0f1b6a831c399e269772661",
        "86f7e437faa5a7fce15d1ddcb9eaeaea377667b8",
        "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
    ];
    let lines: String = digests.iter().map(|digest| format!("{digest}:*:Hashed.Everything:73\n")).collect();
    std::fs::write(definitions.path().join("every-part.hsb"), lines).unwrap();
    let config =
        format!("definitions = [{:?}]\n{SLOW_SCAN_CONFIG}idle_timeout = 1\n", definitions.path().display().to_string());
    let daemon = Daemon::start(&config, &[]);
    let mut session = daemon.connect();
    let mut request = b"zIDSESSION\0".to_vec();
    request.extend_from_slice(&instream(&slow_to_scan(600), 65536));
    session.write_all(&request).unwrap();
    // The reply comes however long the scan takes beyond idle_timeout, and the session is still open.
    let started = std::time::Instant::now();
    let mut reply = vec![0; 14];
    session.read_exact(&mut reply).unwrap();
    assert_eq!(reply, b"1: stream: OK\0");
    eprintln!("the session's scan took {:.1} s with an idle_timeout of 1 s", started.elapsed().as_secs_f64());
    session.write_all(b"zPING\0zEND\0").unwrap();
    assert_eq!(read_to_close(&mut session), b"2: PONG\0");
}

#[test]
fn sigterm_lets_the_scan_in_flight_finish_then_exits() {
    // Long enough to scan that SIGTERM lands while it runs.
    let bomb = slow_to_scan(300);
    let mut daemon = Daemon::start(&support::config_with(SLOW_SCAN_CONFIG), &[]);
    let mut client = daemon.connect();
    client.write_all(&instream(&bomb, 65536)).unwrap();
    // Wait until STATS shows the scan running, then ask the daemon to stop.
    let started = std::time::Instant::now();
    while !String::from_utf8_lossy(&daemon.request(b"zSTATS\0")).contains("\tINSTREAM ") {
        assert!(started.elapsed() < Duration::from_secs(60), "the scan never showed in STATS");
    }
    daemon.signal("TERM");
    assert_eq!(read_to_close(&mut client), b"stream: OK\0");
    assert!(daemon.wait().success());
    assert!(!daemon.socket.exists());
}

#[test]
fn the_tcp_listener_speaks_the_same_protocol() {
    // A fresh copy of the database: a checkout older than 7 days would make the original out of date.
    let definitions = tempfile::tempdir().unwrap();
    let database = definitions.path().join("test.ndb");
    std::fs::copy(support::fixture_database(), &database).unwrap();
    let config = format!("definitions = [{:?}]\ntcp_address = \"127.0.0.1:0\"\n", database.display().to_string());
    let daemon = Daemon::start(&config, &[]);
    // Port 0: the log names the port the system chose.
    let log = daemon.log();
    let address = log
        .lines()
        .find_map(|line| line.split_once("listening address=").map(|(_, address)| address.trim().to_owned()))
        .unwrap_or_else(|| panic!("no TCP address in the log: {log}"));
    let ask = |request: &[u8]| {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.write_all(request).unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        reply
    };
    assert_eq!(ask(b"zPING\0"), b"PONG\0");
    assert_eq!(ask(&instream(EICAR, 10)), FOUND);
    let mut session = b"zIDSESSION\0".to_vec();
    session.extend_from_slice(&instream(b"clean", 2));
    session.extend_from_slice(b"nPING\nzEND\0");
    let reply = ask(&session);
    assert!(reply == b"1: stream: OK\x002: PONG\n" || reply == b"2: PONG\n1: stream: OK\0", "{reply:?}");
    // TCP carries no descriptor.
    assert_eq!(ask(b"zFILDES\0\0"), b"No file descriptor received. ERROR\0");

    // `avscan version` asks the daemon, over TCP and over the Unix socket.
    for args in [["--tcp", address.as_str()], ["--socket", &daemon.socket.display().to_string()]] {
        let output =
            std::process::Command::new(env!("CARGO_BIN_EXE_avscan")).arg("version").args(args).output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}");
        assert!(stdout.starts_with("decomposer: "), "{stdout}");
        assert!(stdout.contains("\ndefinitions: content:"), "{stdout}");
        assert!(stdout.ends_with("up to date: yes\n"), "{stdout}");
    }
}
