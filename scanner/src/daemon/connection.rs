//! One client connection: read requests, read INSTREAM data into a spool, hand scans to the pool, write
//! replies. Outside a session a connection carries one request and is closed after its reply; inside an
//! IDSESSION requests are read while earlier ones are being scanned, and each reply goes out, numbered, as
//! soon as it is ready (so replies may come out of order, as clamd's do).

use std::sync::Arc;
use std::time::Duration;

use decomposer::Spool;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{OwnedSemaphorePermit, mpsc, watch};
use tokio::time::{Instant, timeout, timeout_at};

use super::STREAM_MEMORY_THRESHOLD;
use super::paths::{json_line, scan_path};
use super::protocol::{
    Command, Framing, INVALID_IN_SESSION_TEXT, LEGACY_IN_SESSION_TEXTS, Parse, PathScan, Request, SIZE_LIMIT_TEXT,
    StreamQuota, TIMED_OUT_REPLY, UNKNOWN_COMMAND_TEXT, parse_request, reply,
};
use super::server::Shared;
use super::transport::Incoming;
use crate::verdict::{Status, Verdict};

/// The most bytes of a refused stream read and thrown away so that its client can read the refusal.
const DRAIN_LIMIT: u64 = 128 * 1024 * 1024;

/// Bytes read from a socket at a time while a stream arrives.
const STREAM_READ_SIZE: usize = 64 * 1024;

/// Bytes read from a socket at a time while a request arrives: most connections carry nothing else, so an
/// idle connection costs this, not a stream's buffer.
const REQUEST_READ_SIZE: usize = 4096;

/// How long a refused connection (over `max_connections`) is given to send its request.
const REFUSAL_WAIT: Duration = Duration::from_secs(2);

/// Reply texts to pipelined requests of a session held while the client does not read them; past this the
/// session stops reading requests until the client catches up.
const SESSION_REPLY_BACKLOG: usize = 256;

/// What waiting for the next request gave.
enum Next {
    Request(Request),
    /// The client closed the connection (or it failed).
    Closed,
    /// No whole request within the time allowed.
    TimedOut,
    /// More than `MAX_REQUEST_LEN` bytes without a terminator.
    TooLong,
    /// The daemon is shutting down and no request had begun.
    Shutdown,
}

/// How reading a stream ended, when not with its data.
enum StreamError {
    /// Over StreamMaxLength: answered with the size-limit error, then the rest of the stream is read and
    /// thrown away (up to [`DRAIN_LIMIT`] bytes), so that a client that sends it all before reading can read the
    /// reply, and the connection closes. `refused` is the length of the chunk that did not fit, whose data
    /// has not been read.
    TooBig { refused: u32 },
    /// The client paused longer than `read_timeout`.
    TimedOut,
    /// The client went away, or the temporary file could not be written.
    Closed,
}

/// The reading side of a connection and the bytes read but not used yet.
struct Input<R> {
    reader: R,
    buffer: Vec<u8>,
    /// Read buffer: [`REQUEST_READ_SIZE`], grown to [`STREAM_READ_SIZE`] for a stream.
    scratch: Vec<u8>,
    shutdown: watch::Receiver<bool>,
}

impl<R: Incoming> Input<R> {
    fn new(reader: R, shutdown: watch::Receiver<bool>) -> Self {
        Input { reader, buffer: Vec::new(), scratch: vec![0; REQUEST_READ_SIZE], shutdown }
    }

    /// The next request, waiting until `deadline` for it to arrive whole.
    async fn next_request(&mut self, deadline: Instant) -> Next {
        loop {
            if !self.buffer.is_empty() {
                match parse_request(&self.buffer) {
                    Parse::Request { request, consumed } => {
                        self.buffer.drain(..consumed);
                        return Next::Request(request);
                    }
                    Parse::TooLong => return Next::TooLong,
                    Parse::Incomplete => {}
                }
            }
            let idle = self.buffer.is_empty();
            let read = tokio::select! {
                biased;
                _ = self.shutdown.wait_for(|stopping| *stopping), if idle => return Next::Shutdown,
                read = timeout_at(deadline, self.reader.read(&mut self.scratch)) => read,
            };
            match read {
                Err(_) => return Next::TimedOut,
                Ok(Ok(0) | Err(_)) => return Next::Closed,
                Ok(Ok(n)) => self.buffer.extend_from_slice(&self.scratch[..n]),
            }
        }
    }

    /// Fills `out` from the buffer, then the socket, allowing `pause` between reads.
    async fn read_exact(&mut self, out: &mut [u8], pause: Duration) -> Result<(), StreamError> {
        let mut filled = 0;
        while filled < out.len() {
            if !self.buffer.is_empty() {
                let n = self.buffer.len().min(out.len() - filled);
                out[filled..filled + n].copy_from_slice(&self.buffer[..n]);
                self.buffer.drain(..n);
                filled += n;
                continue;
            }
            match timeout(pause, self.reader.read(&mut out[filled..])).await {
                Err(_) => return Err(StreamError::TimedOut),
                Ok(Ok(0) | Err(_)) => return Err(StreamError::Closed),
                Ok(Ok(n)) => filled += n,
            }
        }
        Ok(())
    }

    /// Reads INSTREAM chunks up to the zero-length one into a spool, within the StreamMaxLength quota.
    /// `memory_threshold`: bytes kept in RAM before the temporary file.
    async fn read_stream(
        &mut self,
        stream_max_length: u64,
        memory_threshold: u64,
        pause: Duration,
    ) -> Result<Spool, StreamError> {
        self.scratch.resize(STREAM_READ_SIZE, 0);
        let mut quota = StreamQuota::new(stream_max_length);
        let mut spool = Spool::new(memory_threshold);
        loop {
            let mut header = [0; 4];
            self.read_exact(&mut header, pause).await?;
            let len = u32::from_be_bytes(header);
            if len == 0 {
                return Ok(spool);
            }
            if !quota.take(len) {
                return Err(StreamError::TooBig { refused: len });
            }
            let mut left = len as usize;
            while left > 0 {
                let chunk = if self.buffer.is_empty() {
                    let want = left.min(self.scratch.len());
                    match timeout(pause, self.reader.read(&mut self.scratch[..want])).await {
                        Err(_) => return Err(StreamError::TimedOut),
                        Ok(Ok(0) | Err(_)) => return Err(StreamError::Closed),
                        Ok(Ok(n)) => &self.scratch[..n],
                    }
                } else {
                    let n = self.buffer.len().min(left);
                    spool_write(&mut spool, &self.buffer[..n]).map_err(|()| StreamError::Closed)?;
                    self.buffer.drain(..n);
                    left -= n;
                    continue;
                };
                left -= chunk.len();
                spool_write(&mut spool, chunk).map_err(|()| StreamError::Closed)?;
            }
        }
    }
}

impl<R: Incoming> Input<R> {
    /// Reads and throws away the rest of a refused stream: `refused` bytes of data, then chunks up to the
    /// zero-length one, at most [`DRAIN_LIMIT`] bytes in all.
    async fn drain_stream(&mut self, refused: u32, pause: Duration) {
        if u64::from(refused) > DRAIN_LIMIT {
            // A chunk that big (a 4 GiB length is the classic) cannot be read through: close at once.
            return;
        }
        let mut budget = DRAIN_LIMIT;
        let mut left = u64::from(refused);
        loop {
            while left > 0 {
                if budget == 0 {
                    return;
                }
                let n = if self.buffer.is_empty() {
                    let want = left.min(budget).min(self.scratch.len() as u64) as usize;
                    match timeout(pause, self.reader.read(&mut self.scratch[..want])).await {
                        Ok(Ok(n)) if n > 0 => n,
                        _ => return,
                    }
                } else {
                    let n = (self.buffer.len() as u64).min(left).min(budget) as usize;
                    self.buffer.drain(..n);
                    n
                };
                left -= n as u64;
                budget -= n as u64;
            }
            let mut header = [0; 4];
            if self.read_exact(&mut header, pause).await.is_err() {
                return;
            }
            left = u64::from(u32::from_be_bytes(header));
            if left == 0 {
                return;
            }
        }
    }
}

/// Appends to a spool; past its RAM threshold that is a write to a temporary file, done off the I/O
/// threads' async loop.
fn spool_write(spool: &mut Spool, chunk: &[u8]) -> Result<(), ()> {
    let write = |spool: &mut Spool| {
        spool.write(chunk).map_err(|error| tracing::error!(%error, "cannot write a stream's temporary file"))
    };
    if spool.writes_to_file(chunk.len() as u64)
        && tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
    {
        tokio::task::block_in_place(|| write(spool))
    } else {
        write(spool)
    }
}

/// What a request needs once its data is read.
enum Work {
    /// Answered at once with these texts.
    Replies(Vec<Vec<u8>>),
    /// A scan for the pool.
    Scan(Job),
    /// The stream could not be read whole: answer as clamd (the size-limit error, the timeout message, or
    /// nothing to a client that left), then close the connection.
    StreamFailed(StreamError),
    /// Close without a reply.
    Drop,
}

/// A scan to run on the pool.
enum Job {
    /// A stream's data, and its share of the stream memory budget (if it got one) until its scan ends.
    Stream {
        spool: Spool,
        json: bool,
        memory: Option<OwnedSemaphorePermit>,
    },
    Path {
        kind: PathScan,
        path: Vec<u8>,
    },
    /// FILDES: a regular file the client passed, and the descriptor number it has here (clamd's `fd[N]`).
    Descriptor {
        file: std::fs::File,
        number: i32,
    },
}

impl Job {
    async fn run(self, shared: &Arc<Shared>, slot: OwnedSemaphorePermit) -> Vec<Vec<u8>> {
        let context_variable = shared.context_variable.clone();
        let result = match self {
            Job::Stream { spool, json, memory } => {
                let size = spool.len();
                shared
                    .run_on_pool(slot, "INSTREAM", format!("stream({size} bytes)"), move |engine| {
                        let verdict = engine.scan_spool("stream", spool);
                        drop(memory);
                        log_verdict("stream", &verdict);
                        vec![if json {
                            json_line(&verdict, "stream", &context_variable)
                        } else {
                            verdict_text("stream", &verdict)
                        }]
                    })
                    .await
            }
            Job::Descriptor { file, number } => {
                let name = format!("fd[{number}]");
                shared
                    .run_on_pool(slot, "FILDES", name.clone(), move |engine| {
                        let verdict = engine.scan_open_file(&name, file);
                        log_verdict(&name, &verdict);
                        vec![verdict_text(&name, &verdict)]
                    })
                    .await
            }
            Job::Path { kind, path } => {
                let allowed = shared.settings.allowed_scan_directories.clone();
                let target = String::from_utf8_lossy(&path).into_owned();
                let command = match kind {
                    PathScan::Scan => "SCAN",
                    PathScan::ContScan => "CONTSCAN",
                    PathScan::MultiScan => "MULTISCAN",
                    PathScan::AllMatchScan => "ALLMATCHSCAN",
                    PathScan::Json => "JSONSCAN",
                };
                shared
                    .run_on_pool(slot, command, target, move |engine| {
                        scan_path(engine, kind, &path, &allowed, &context_variable)
                    })
                    .await
            }
        };
        result.unwrap_or_else(|| vec![b"Error processing command. ERROR".to_vec()])
    }
}

fn log_verdict(what: &str, verdict: &Verdict) {
    match verdict.status {
        Status::Infected => tracing::info!(input = what, detection = ?verdict.info, "FOUND"),
        Status::Error => tracing::warn!(input = what, code = ?verdict.scan_code.map(|c| c.to_string()), "ERROR"),
        _ => tracing::debug!(input = what, status = %verdict.status, "scanned"),
    }
}

/// `WHAT: OK`, `WHAT: NAME FOUND` or `WHAT: CODE ERROR`, for a stream (`stream`) or a passed descriptor
/// (`fd[N]`).
fn verdict_text(what: &str, verdict: &Verdict) -> Vec<u8> {
    match verdict.status {
        Status::Infected => {
            let name = verdict.detections.first().map(|d| d.clamd_name().into_owned()).unwrap_or_default();
            format!("{what}: {name} FOUND").into_bytes()
        }
        Status::Error => {
            let code = verdict.scan_code.map(|code| code.to_string()).unwrap_or_default();
            format!("{what}: {code} ERROR").into_bytes()
        }
        _ => format!("{what}: OK").into_bytes(),
    }
}

/// Everything but the scans: what `request` is answered with, reading its stream first if it has one.
async fn prepare<R: Incoming>(request: &Request, input: &mut Input<R>, shared: &Shared) -> Work {
    let text = |text: &str| Work::Replies(vec![text.as_bytes().to_vec()]);
    match &request.command {
        Command::Ping => text("PONG"),
        Command::Version => text(&super::version_text(&shared.live.status())),
        Command::VersionCommands => text(&super::version_commands_text(&super::version_text(&shared.live.status()))),
        Command::JsonVersion => {
            Work::Replies(vec![super::version_report(&shared.live.status()).to_string().into_bytes()])
        }
        Command::Reload => {
            shared.reload();
            text("RELOADING")
        }
        Command::Shutdown => {
            shared.begin_shutdown();
            Work::Drop
        }
        Command::DetStats => Work::Drop,
        Command::Stats => text(&shared.stats_text()),
        Command::Instream | Command::JsonInstream => {
            let settings = &shared.settings;
            let memory = Arc::clone(&shared.stream_memory).try_acquire_owned().ok();
            let threshold = if memory.is_some() { STREAM_MEMORY_THRESHOLD } else { 0 };
            match input.read_stream(settings.stream_max_length, threshold, settings.read_timeout).await {
                Ok(spool) => Work::Scan(Job::Stream { spool, json: request.command == Command::JsonInstream, memory }),
                Err(error) => {
                    if matches!(error, StreamError::TooBig { .. }) {
                        tracing::warn!(
                            stream_max_length = settings.stream_max_length,
                            "INSTREAM over stream_max_length refused"
                        );
                    }
                    Work::StreamFailed(error)
                }
            }
        }
        Command::Path(kind, path) => Work::Scan(Job::Path { kind: *kind, path: path.clone() }),
        Command::Fildes => {
            // One byte follows the command, carrying the descriptor.
            let mut byte = [0; 1];
            if input.read_exact(&mut byte, shared.settings.read_timeout).await.is_err() {
                return Work::Drop;
            }
            let Some(descriptor) = input.reader.take_descriptor() else {
                return text("No file descriptor received. ERROR");
            };
            let number = std::os::fd::AsRawFd::as_raw_fd(&descriptor);
            let file = std::fs::File::from(descriptor);
            match file.metadata() {
                Ok(metadata) if metadata.is_file() => Work::Scan(Job::Descriptor { file, number }),
                _ => text(&format!("fd[{number}]: Not a regular file ERROR")),
            }
        }
        Command::IdSession | Command::End | Command::Unknown => text(UNKNOWN_COMMAND_TEXT),
    }
}

/// Serves one accepted connection; `slot` is its `max_connections` slot, given back when it ends.
pub(crate) async fn serve<R, W>(reader: R, mut writer: W, shared: Arc<Shared>, slot: OwnedSemaphorePermit)
where
    R: Incoming,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let _slot = slot;
    let mut input = Input::new(reader, shared.shutdown_signal());
    let deadline = Instant::now() + shared.settings.command_read_timeout;
    match input.next_request(deadline).await {
        Next::Request(request) if request.command == Command::IdSession => {
            // Boxed: a connection that never opens a session does not carry the session's state.
            Box::pin(session(input, writer, &shared, request.framing)).await;
            return;
        }
        Next::Request(request) => {
            let pause = shared.settings.read_timeout;
            let bytes = match prepare(&request, &mut input, &shared).await {
                Work::Replies(texts) => frame_all(request.framing, None, texts),
                Work::Scan(job) => match Arc::clone(&shared.queue).acquire_owned().await {
                    Ok(slot) => frame_all(request.framing, None, job.run(&shared, slot).await),
                    Err(_) => Vec::new(),
                },
                Work::StreamFailed(error) => {
                    let bytes = stream_failure(&error, request.framing, None);
                    if let StreamError::TooBig { refused } = error
                        && matches!(timeout(pause, writer.write_all(&bytes)).await, Ok(Ok(())))
                    {
                        input.drain_stream(refused, pause).await;
                        Vec::new()
                    } else {
                        bytes
                    }
                }
                Work::Drop => Vec::new(),
            };
            if !bytes.is_empty() {
                let _ = timeout(pause, writer.write_all(&bytes)).await;
            }
        }
        Next::TimedOut => {
            let _ = timeout(shared.settings.read_timeout, writer.write_all(TIMED_OUT_REPLY)).await;
        }
        Next::Closed | Next::TooLong | Next::Shutdown => {}
    }
    let _ = timeout(Duration::from_secs(1), writer.shutdown()).await;
}

/// The reply to a stream that could not be read whole (nothing for a client that left).
fn stream_failure(error: &StreamError, framing: Framing, id: Option<u64>) -> Vec<u8> {
    match error {
        StreamError::TooBig { .. } => reply(framing, id, SIZE_LIMIT_TEXT.as_bytes()),
        StreamError::TimedOut => TIMED_OUT_REPLY.to_vec(),
        StreamError::Closed => Vec::new(),
    }
}

fn frame_all(framing: Framing, id: Option<u64>, texts: Vec<Vec<u8>>) -> Vec<u8> {
    texts.iter().flat_map(|text| reply(framing, id, text)).collect()
}

/// An IDSESSION: requests numbered from 1, scans run while further requests are read, each reply written as
/// soon as it is ready. Ends at END (after the last reply), at a refused or unprefixed command (at once, as
/// clamd), when the client closes, after `idle_timeout` without a request, or at shutdown.
async fn session<R, W>(mut input: Input<R>, writer: W, shared: &Arc<Shared>, opened_with: Framing)
where
    R: Incoming,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let (replies, mut outgoing) = mpsc::channel::<Vec<u8>>(SESSION_REPLY_BACKLOG);
    let pause = shared.settings.read_timeout;
    let writing = tokio::spawn(async move {
        let mut writer = writer;
        while let Some(bytes) = outgoing.recv().await {
            if !matches!(timeout(pause, writer.write_all(&bytes)).await, Ok(Ok(()))) {
                // The client stopped reading or left: the remaining replies have nowhere to go.
                break;
            }
        }
        let _ = timeout(Duration::from_secs(1), writer.shutdown()).await;
    });
    let mut scans = tokio::task::JoinSet::new();
    let mut id = 0u64;
    let mut last_framing = opened_with;
    let mut abandon = false;
    loop {
        // The idle time counts only while no scan of the session is in flight (as clamd, which does not read
        // a session that waits for a reply): a client may wait for a slow scan's reply before its next request.
        let next = loop {
            while scans.try_join_next().is_some() {}
            if scans.is_empty() {
                break input.next_request(Instant::now() + shared.settings.idle_timeout).await;
            }
            let unbounded = Instant::now() + Duration::from_secs(365 * 86_400);
            tokio::select! {
                // Cancel-safe: a read dropped before it completes has consumed nothing.
                next = input.next_request(unbounded) => break next,
                _ = scans.join_next() => {}
            }
        };
        let request = match next {
            Next::Request(request) => request,
            Next::TimedOut => {
                let _ = replies.send(TIMED_OUT_REPLY.to_vec()).await;
                abandon = true;
                break;
            }
            Next::TooLong => {
                abandon = true;
                break;
            }
            // The scans already asked for are still answered.
            Next::Closed | Next::Shutdown => break,
        };
        id += 1;
        if request.framing == Framing::Legacy {
            for text in LEGACY_IN_SESSION_TEXTS {
                let _ = replies.send(reply(last_framing, Some(id), text.as_bytes())).await;
            }
            abandon = true;
            break;
        }
        last_framing = request.framing;
        if request.command == Command::End {
            break;
        }
        if !request.command.session_allowed() {
            let _ = replies.send(reply(request.framing, Some(id), INVALID_IN_SESSION_TEXT.as_bytes())).await;
            abandon = true;
            break;
        }
        match prepare(&request, &mut input, shared).await {
            Work::Replies(texts) => {
                if replies.send(frame_all(request.framing, Some(id), texts)).await.is_err() {
                    break;
                }
            }
            Work::Scan(job) => {
                // Waiting for a queue slot here stops reading this client until one is free.
                let Ok(slot) = Arc::clone(&shared.queue).acquire_owned().await else { break };
                let shared = Arc::clone(shared);
                let replies = replies.clone();
                let framing = request.framing;
                scans.spawn(async move {
                    let texts = job.run(&shared, slot).await;
                    let _ = replies.send(frame_all(framing, Some(id), texts)).await;
                });
            }
            Work::StreamFailed(error) => {
                let _ = replies.send(stream_failure(&error, request.framing, Some(id))).await;
                if let StreamError::TooBig { refused } = error {
                    input.drain_stream(refused, pause).await;
                }
                abandon = true;
                break;
            }
            Work::Drop => {
                abandon = true;
                break;
            }
        }
    }
    if abandon {
        // As clamd: the replies still pending are not sent.
        scans.abort_all();
    }
    while scans.join_next().await.is_some() {}
    drop(replies);
    let _ = writing.await;
}

/// Answers a connection over `max_connections` with an error in its own framing, then closes it.
pub(crate) async fn refuse<R, W>(reader: R, mut writer: W, shared: Arc<Shared>, slot: OwnedSemaphorePermit)
where
    R: Incoming,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let _slot = slot;
    let mut input = Input::new(reader, shared.shutdown_signal());
    let framing = match input.next_request(Instant::now() + REFUSAL_WAIT).await {
        Next::Request(request) => request.framing,
        _ => Framing::Newline,
    };
    tracing::warn!(max_connections = shared.settings.max_connections, "connection refused: max_connections reached");
    let text = format!("Too many connections (max_connections {}). ERROR", shared.settings.max_connections);
    let _ = timeout(REFUSAL_WAIT, writer.write_all(&reply(framing, None, text.as_bytes()))).await;
    let _ = timeout(REFUSAL_WAIT, writer.shutdown()).await;
}
