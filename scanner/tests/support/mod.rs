//! A real `avscan serve` process for the daemon tests: started on a Unix socket in a temporary directory with
//! a configuration file, asked over the socket, stopped with SIGTERM.

#![allow(dead_code)] // Each test crate uses its own part of this module.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The EICAR test string.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// The test database of the clamd fixture: EICAR as `Eicar-Test-Signature`, unsigned (so reported
/// `Eicar-Test-Signature.UNOFFICIAL`, as clamd reports it).
pub fn fixture_database() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/clamd/test.ndb")
}

/// A running daemon.
pub struct Daemon {
    child: Option<Child>,
    /// The temporary directory holding the socket, the configuration and the log.
    pub dir: tempfile::TempDir,
    /// The Unix socket.
    pub socket: PathBuf,
}

impl Daemon {
    /// Starts `avscan serve --socket DIR/avscan.sock --config DIR/avscan.toml ARGS...` with `config` as the
    /// configuration file, and waits until it answers PING.
    pub fn start(config: &str, args: &[&str]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("avscan.sock");
        let config_path = dir.path().join("avscan.toml");
        std::fs::write(&config_path, config).unwrap();
        let log = std::fs::File::create(dir.path().join("avscan.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_avscan"))
            .arg("serve")
            .arg("--socket")
            .arg(&socket)
            .arg("--config")
            .arg(&config_path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut daemon = Daemon { child: Some(child), dir, socket };
        let started = Instant::now();
        loop {
            if let Ok(mut stream) = UnixStream::connect(&daemon.socket) {
                let mut reply = Vec::new();
                if stream.write_all(b"zPING\0").is_ok() && stream.read_to_end(&mut reply).is_ok() && reply == b"PONG\0"
                {
                    return daemon;
                }
            }
            if let Some(status) = daemon.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("avscan serve exited with {status}: {}", daemon.log());
            }
            assert!(started.elapsed() < Duration::from_secs(60), "avscan serve did not start: {}", daemon.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// What the daemon logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("avscan.log")).unwrap_or_default()
    }

    /// A new connection.
    pub fn connect(&self) -> UnixStream {
        let stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream
    }

    /// Sends `request` on a new connection and reads the reply to the end of the connection.
    pub fn request(&self, request: &[u8]) -> Vec<u8> {
        let mut stream = self.connect();
        stream.write_all(request).unwrap();
        read_to_close(&mut stream)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Resident memory, KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = status.lines().find(|line| line.starts_with("VmRSS:")).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// Sends `signal` (`TERM`, `HUP`) to the process.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.pid().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.child.take().unwrap().wait().unwrap()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads until the peer closes; a reset after the reply ends the read like a close.
pub fn read_to_close(stream: &mut UnixStream) -> Vec<u8> {
    let mut reply = Vec::new();
    let mut buffer = [0; 65536];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return reply,
            Ok(n) => reply.extend_from_slice(&buffer[..n]),
        }
    }
}

/// `zINSTREAM` with `data` in chunks of `chunk` bytes and the zero-length end.
pub fn instream(data: &[u8], chunk: usize) -> Vec<u8> {
    let mut request = b"zINSTREAM\0".to_vec();
    for piece in data.chunks(chunk.max(1)) {
        request.extend_from_slice(&(piece.len() as u32).to_be_bytes());
        request.extend_from_slice(piece);
    }
    request.extend_from_slice(&[0; 4]);
    request
}

/// A configuration file's text with the fixture database and these extra lines.
pub fn config_with(extra: &str) -> String {
    format!("definitions = [{:?}]\n{extra}", fixture_database().display().to_string())
}
