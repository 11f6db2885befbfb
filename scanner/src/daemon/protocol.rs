//! The clamd wire protocol, as ClamAV 1.4's clamd speaks it: requests parsed from bytes, replies formatted to
//! bytes. No I/O here, so the rules can be tested and fuzzed alone; the connection code
//! (`daemon::connection`) reads sockets and calls these.
//!
//! - **Framing.** The first byte of a request picks it: `z` ends the command at a NUL and the replies end
//!   with NUL; `n` ends it at a line feed (trailing CR/LF removed) and replies end with a line feed; anything
//!   else is a legacy command, one read of the socket up to its first line feed, answered with line feeds.
//!   Legacy commands are only the old ones ([`Command::legacy_allowed`]). A request longer than
//!   [`MAX_REQUEST_LEN`] bytes with no terminator closes the connection without a reply.
//! - **Commands** are case-sensitive and never trimmed: `zPING ` is unknown. A command that takes a path
//!   (SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN) takes everything after its name and one separator byte, as
//!   clamd does (`zSCAN /x` scans `/x`).
//! - **Replies** are `[N: ]text` and the request's terminator; `N` is the request's number inside an
//!   IDSESSION. STATS is the one reply of several lines: its inner lines end in line feeds and only its last
//!   line (`END`) ends with the terminator.
//! - **INSTREAM** data follows the command as chunks, each a 4-byte big-endian length and that many bytes, up
//!   to a zero length. The StreamMaxLength quota is checked at each chunk header ([`StreamQuota`]), so a
//!   stream of exactly the limit is accepted and a bigger one is refused before its data is read.
//!
//! Extensions of this daemon, with the same framing: `JSONINSTREAM` (INSTREAM whose reply is the whole
//! verdict as one JSON line), `JSONSCAN path` (one JSON line per file) and `JSONVERSION` (the version report as
//! JSON).

/// The longest request clamd reads, prefix and terminator included (`PATH_MAX + 8`). A longer one without a
/// terminator is dropped with the connection.
pub const MAX_REQUEST_LEN: usize = 4104;

/// How a request was framed; its replies use the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// `zCOMMAND\0`: replies end with NUL.
    Nul,
    /// `nCOMMAND\n`: replies end with a line feed.
    Newline,
    /// `COMMAND\n` (no prefix; deprecated by clamd): replies end with a line feed.
    Legacy,
}

impl Framing {
    /// The byte that ends each reply.
    pub fn terminator(self) -> u8 {
        match self {
            Framing::Nul => 0,
            Framing::Newline | Framing::Legacy => b'\n',
        }
    }
}

/// How a path command treats detections and directories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PathScan {
    /// SCAN: stops at the first detection.
    Scan,
    /// CONTSCAN: goes on after a detection; one line per infected file.
    ContScan,
    /// MULTISCAN: as CONTSCAN, the files of a directory scanned in parallel.
    MultiScan,
    /// ALLMATCHSCAN: every signature that matches a file, each on its own line; a directory walk still
    /// stops after the first infected file.
    AllMatchScan,
    /// JSONSCAN (extension): one JSON verdict per file.
    Json,
}

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Command {
    /// `PONG`.
    Ping,
    /// The engine and definitions versions.
    Version,
    /// The version and the commands understood.
    VersionCommands,
    /// Reload the definitions; the reply is `RELOADING`, the reload runs after it.
    Reload,
    /// SHUTDOWN or QUIT: no reply; the daemon stops once the scans in flight finish.
    Shutdown,
    /// The pool and queue report.
    Stats,
    /// A stream of chunks to scan.
    Instream,
    /// Opens a session: numbered replies, several commands per connection.
    IdSession,
    /// Ends a session.
    End,
    /// A path command and its path (bytes as sent).
    Path(PathScan, Vec<u8>),
    /// FILDES: a file descriptor follows as ancillary data.
    Fildes,
    /// DETSTATS or DETSTATSCLEAR: removed from clamd long ago; no reply.
    DetStats,
    /// JSONINSTREAM (extension): as INSTREAM, answered with the whole verdict as JSON.
    JsonInstream,
    /// JSONVERSION (extension): the version report as JSON.
    JsonVersion,
    /// Anything else, the empty command included.
    Unknown,
}

/// The commands VERSIONCOMMANDS lists: clamd's list, byte for byte, since clients compare it. This daemon's
/// extensions ([`EXTENSION_COMMAND_NAMES`]) are not listed there; JSONVERSION answers only where they exist.
pub const COMMAND_NAMES: &[&str] = &[
    "SCAN",
    "QUIT",
    "RELOAD",
    "PING",
    "CONTSCAN",
    "VERSIONCOMMANDS",
    "VERSION",
    "END",
    "SHUTDOWN",
    "MULTISCAN",
    "FILDES",
    "STATS",
    "IDSESSION",
    "INSTREAM",
    "DETSTATSCLEAR",
    "DETSTATS",
    "ALLMATCHSCAN",
];

/// This daemon's own commands, beyond clamd's.
pub const EXTENSION_COMMAND_NAMES: &[&str] = &["JSONINSTREAM", "JSONSCAN", "JSONVERSION"];

impl Command {
    /// Whether clamd accepts the command without a `z`/`n` prefix.
    pub fn legacy_allowed(&self) -> bool {
        matches!(
            self,
            Command::Ping
                | Command::Version
                | Command::Reload
                | Command::Shutdown
                | Command::Fildes
                | Command::DetStats
                | Command::Path(PathScan::Scan | PathScan::ContScan | PathScan::MultiScan, _)
        )
    }

    /// Whether the command may be sent inside an IDSESSION. Any other (an unknown one included) is answered
    /// `Command invalid inside IDSESSION. ERROR` and ends the session.
    pub fn session_allowed(&self) -> bool {
        matches!(
            self,
            Command::Ping
                | Command::Version
                | Command::VersionCommands
                | Command::Stats
                | Command::Instream
                | Command::Fildes
                | Command::End
                | Command::Path(PathScan::Scan | PathScan::Json, _)
                | Command::JsonInstream
                | Command::JsonVersion
        )
    }

    /// Parses a command without its prefix and terminator.
    pub fn parse(text: &[u8]) -> Command {
        const BARE: &[(&[u8], Command)] = &[
            (b"PING", Command::Ping),
            (b"VERSION", Command::Version),
            (b"VERSIONCOMMANDS", Command::VersionCommands),
            (b"RELOAD", Command::Reload),
            (b"SHUTDOWN", Command::Shutdown),
            (b"QUIT", Command::Shutdown),
            (b"STATS", Command::Stats),
            (b"INSTREAM", Command::Instream),
            (b"IDSESSION", Command::IdSession),
            (b"END", Command::End),
            (b"FILDES", Command::Fildes),
            (b"DETSTATS", Command::DetStats),
            (b"DETSTATSCLEAR", Command::DetStats),
            (b"JSONINSTREAM", Command::JsonInstream),
            (b"JSONVERSION", Command::JsonVersion),
        ];
        const WITH_PATH: &[(&[u8], PathScan)] = &[
            (b"SCAN", PathScan::Scan),
            (b"CONTSCAN", PathScan::ContScan),
            (b"MULTISCAN", PathScan::MultiScan),
            (b"ALLMATCHSCAN", PathScan::AllMatchScan),
            (b"JSONSCAN", PathScan::Json),
        ];
        if let Some((_, command)) = BARE.iter().find(|(name, _)| *name == text) {
            return command.clone();
        }
        for &(name, kind) in WITH_PATH {
            // The name, one separator byte (not checked, as clamd), then the path, possibly empty.
            if text.len() > name.len() && text.starts_with(name) {
                return Command::Path(kind, text[name.len() + 1..].to_vec());
            }
        }
        Command::Unknown
    }
}

/// A request: its framing and its command.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    /// How it was framed.
    pub framing: Framing,
    /// What it asks.
    pub command: Command,
}

/// What [`parse_request`] found at the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parse {
    /// A whole request, and the bytes it took.
    Request {
        /// The request.
        request: Request,
        /// Bytes consumed from the buffer.
        consumed: usize,
    },
    /// More bytes are needed.
    Incomplete,
    /// [`MAX_REQUEST_LEN`] bytes without a terminator: clamd closes the connection without a reply.
    TooLong,
}

/// Parses the request at the start of `buffer`, which holds what was read so far. A legacy request is what
/// one read returned, up to its first line feed, so the caller parses after each read.
pub fn parse_request(buffer: &[u8]) -> Parse {
    let Some(&first) = buffer.first() else { return Parse::Incomplete };
    let (framing, end) = match first {
        b'z' => (Framing::Nul, 0),
        b'n' => (Framing::Newline, b'\n'),
        _ => (Framing::Legacy, b'\n'),
    };
    let window = &buffer[..buffer.len().min(MAX_REQUEST_LEN)];
    let body_start = usize::from(framing != Framing::Legacy);
    let found = memchr::memchr(end, &window[body_start..]).map(|at| at + body_start);
    let (text, consumed) = match (found, framing) {
        (Some(at), _) => (&buffer[body_start..at], at + 1),
        // A legacy command is the whole read (or the first MAX_REQUEST_LEN bytes of it).
        (None, Framing::Legacy) => (window, window.len()),
        (None, _) if buffer.len() >= MAX_REQUEST_LEN => return Parse::TooLong,
        (None, _) => return Parse::Incomplete,
    };
    let text = match framing {
        Framing::Nul => text,
        Framing::Newline | Framing::Legacy => trim_line_end(text),
    };
    let mut command = Command::parse(text);
    if framing == Framing::Legacy && !command.legacy_allowed() {
        command = Command::Unknown;
    }
    Parse::Request { request: Request { framing, command }, consumed }
}

fn trim_line_end(mut text: &[u8]) -> &[u8] {
    while let [rest @ .., b'\r' | b'\n'] = text {
        text = rest;
    }
    text
}

/// One reply: `[N: ]text` and the terminator of `framing`.
pub fn reply(framing: Framing, session_id: Option<u64>, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 16);
    if let Some(id) = session_id {
        out.extend_from_slice(format!("{id}: ").as_bytes());
    }
    out.extend_from_slice(text);
    out.push(framing.terminator());
    out
}

/// The reply to a request that took too long to arrive: always a line feed, never numbered (as clamd).
pub const TIMED_OUT_REPLY: &[u8] = b"COMMAND READ TIMED OUT\n";

/// The text of the reply to a stream over StreamMaxLength.
pub const SIZE_LIMIT_TEXT: &str = "INSTREAM size limit exceeded. ERROR";

/// The text of the reply to a refused command inside a session.
pub const INVALID_IN_SESSION_TEXT: &str = "Command invalid inside IDSESSION. ERROR";

/// The two replies to an unprefixed command inside a session, as clamd sends them.
pub const LEGACY_IN_SESSION_TEXTS: [&str; 2] =
    ["Only nCMDS\\n and zCMDS\\0 are accepted inside IDSESSION. ERROR", "Error processing command. ERROR"];

/// The text of the reply to an unknown command.
pub const UNKNOWN_COMMAND_TEXT: &str = "UNKNOWN COMMAND";

/// The StreamMaxLength quota of one INSTREAM, checked at each chunk header as clamd does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamQuota {
    left: u64,
}

impl StreamQuota {
    /// A quota of `stream_max_length` bytes.
    pub fn new(stream_max_length: u64) -> Self {
        StreamQuota { left: stream_max_length }
    }

    /// Takes a chunk of `len` bytes from the quota; `false` when it does not fit (the stream is refused).
    pub fn take(&mut self, len: u32) -> bool {
        match self.left.checked_sub(u64::from(len)) {
            Some(left) => {
                self.left = left;
                true
            }
            None => false,
        }
    }
}

/// The path as clamd reports it: trailing slashes removed (but for the root itself).
pub fn reported_path(path: &[u8]) -> &[u8] {
    let mut end = path.len();
    while end > 1 && path[end - 1] == b'/' {
        end -= 1;
    }
    &path[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(bytes: &[u8]) -> (Request, usize) {
        match parse_request(bytes) {
            Parse::Request { request, consumed } => (request, consumed),
            other => panic!("{other:?} for {bytes:?}"),
        }
    }

    #[test]
    fn the_prefix_picks_the_framing_and_the_terminator() {
        assert_eq!(request(b"zPING\0zPING\0"), (Request { framing: Framing::Nul, command: Command::Ping }, 6));
        assert_eq!(request(b"nPING\r\n"), (Request { framing: Framing::Newline, command: Command::Ping }, 7));
        assert_eq!(request(b"PING\r\n"), (Request { framing: Framing::Legacy, command: Command::Ping }, 6));
        // A legacy request is the whole read.
        assert_eq!(request(b"PING"), (Request { framing: Framing::Legacy, command: Command::Ping }, 4));
        assert_eq!(request(b"PI").0.command, Command::Unknown);
        assert_eq!(parse_request(b"zPING"), Parse::Incomplete);
        assert_eq!(parse_request(b""), Parse::Incomplete);
    }

    #[test]
    fn commands_are_case_sensitive_and_never_trimmed() {
        for text in [&b"zping\0"[..], b"zPING \0", b"n PING\n", b"zPINGX\0", b"z\0", b"zSCAN\0", b"zEND\0X"] {
            let (parsed, _) = request(text);
            let expected = if text == b"zEND\0X" { Command::End } else { Command::Unknown };
            assert_eq!(parsed.command, expected, "{text:?}");
        }
        assert_eq!(Command::parse(b"SCANX/etc/hostname"), Command::Path(PathScan::Scan, b"/etc/hostname".to_vec()));
        assert_eq!(Command::parse(b"SCAN  /x "), Command::Path(PathScan::Scan, b" /x ".to_vec()));
        assert_eq!(Command::parse(b"SCAN "), Command::Path(PathScan::Scan, Vec::new()));
        assert_eq!(Command::parse(b"QUIT"), Command::Shutdown);
        assert_eq!(Command::parse(b"CONTSCAN /a"), Command::Path(PathScan::ContScan, b"/a".to_vec()));
        assert_eq!(Command::parse(b"JSONSCAN /a"), Command::Path(PathScan::Json, b"/a".to_vec()));
    }

    #[test]
    fn only_the_old_commands_are_accepted_without_a_prefix() {
        for (text, allowed) in [
            (&b"SCAN /a\n"[..], true),
            (b"CONTSCAN /a\n", true),
            (b"VERSION\n", true),
            (b"VERSIONCOMMANDS\n", false),
            (b"INSTREAM\n", false),
            (b"IDSESSION\n", false),
            (b"STATS\n", false),
            (b"ALLMATCHSCAN /a\n", false),
            (b"END\n", false),
        ] {
            let (parsed, _) = request(text);
            assert_eq!(parsed.command != Command::Unknown, allowed, "{text:?}");
        }
    }

    #[test]
    fn a_request_without_terminator_is_bounded() {
        let mut long = vec![b'z'];
        long.resize(MAX_REQUEST_LEN - 1, b'a');
        assert_eq!(parse_request(&long), Parse::Incomplete);
        long.push(0);
        assert!(matches!(parse_request(&long), Parse::Request { consumed: MAX_REQUEST_LEN, .. }));
        long.pop();
        long.push(b'a');
        assert_eq!(parse_request(&long), Parse::TooLong);
        // The terminator past the window does not count.
        long.push(0);
        assert_eq!(parse_request(&long), Parse::TooLong);
    }

    #[test]
    fn session_and_legacy_rules() {
        assert!(Command::Instream.session_allowed() && Command::Path(PathScan::Scan, vec![]).session_allowed());
        for refused in [Command::Reload, Command::IdSession, Command::Shutdown, Command::Unknown, Command::DetStats] {
            assert!(!refused.session_allowed(), "{refused:?}");
        }
        assert!(!Command::Path(PathScan::ContScan, vec![]).session_allowed());
    }

    #[test]
    fn replies_carry_the_session_number_and_terminator() {
        assert_eq!(reply(Framing::Nul, None, b"PONG"), b"PONG\0");
        assert_eq!(reply(Framing::Newline, Some(3), b"stream: OK"), b"3: stream: OK\n");
        assert_eq!(reply(Framing::Legacy, None, b"PONG"), b"PONG\n");
    }

    #[test]
    fn the_quota_is_checked_per_chunk_header() {
        let mut quota = StreamQuota::new(10);
        assert!(quota.take(4) && quota.take(6) && quota.take(0));
        assert!(!quota.take(1));
        assert!(!StreamQuota::new(1 << 20).take(u32::MAX));
    }

    #[test]
    fn reported_paths_lose_trailing_slashes() {
        assert_eq!(reported_path(b"/etc/"), b"/etc");
        assert_eq!(reported_path(b"/etc//"), b"/etc");
        assert_eq!(reported_path(b"/"), b"/");
        assert_eq!(reported_path(b"//etc/x"), b"//etc/x");
    }
}
