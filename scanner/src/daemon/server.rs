//! The daemon's process-wide parts: the listeners, the state every connection shares (definitions, queue,
//! connection slots, counters), signals and shutdown. What one connection does is `connection.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot, watch};

use super::transport::{Incoming, TcpIncoming, UnixIncoming};
use crate::config::{DaemonSettings, Settings};
use crate::engine::Engine;
use crate::live_update::{DefinitionsSource, LiveDefinitions, UpdateError, Updater};

/// Connections over `max_connections` still get their error reply, this many at a time; more are closed
/// at once.
const REFUSALS_AT_ONCE: usize = 64;

/// Why the daemon could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Neither a Unix socket nor a TCP address was given.
    #[error("nothing to listen on: set local_socket or tcp_address (avscan serve --socket PATH or --tcp [HOST:]PORT)")]
    NoListener,
    /// A socket could not be bound.
    #[error("cannot listen on {what}: {source}")]
    Bind {
        /// The socket path or address.
        what: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The definitions did not load.
    #[error("cannot load the definitions: {0}")]
    Definitions(#[from] UpdateError),
    /// The I/O runtime or a thread could not start.
    #[error("cannot start the daemon: {0}")]
    Start(std::io::Error),
}

/// A scan running on the pool, for STATS.
#[derive(Debug)]
struct ActiveScan {
    command: &'static str,
    target: String,
    started: Instant,
}

/// What every connection shares.
pub(crate) struct Shared {
    pub(crate) live: Arc<LiveDefinitions>,
    pub(crate) settings: DaemonSettings,
    pub(crate) context_variable: String,
    /// `max_queue` slots: a request holds one from the end of its data to the end of its scan.
    pub(crate) queue: Arc<Semaphore>,
    /// `max_connections` slots.
    connections: Arc<Semaphore>,
    /// [`super::STREAM_MEMORY_BUDGET`] in slots of [`super::STREAM_MEMORY_THRESHOLD`]: a stream that gets one
    /// is kept in RAM up to the threshold, one that does not goes to a temporary file.
    pub(crate) stream_memory: Arc<Semaphore>,
    /// Slots for refusing connections over `max_connections` politely.
    refusals: Arc<Semaphore>,
    shutdown: watch::Sender<bool>,
    updater: Updater,
    /// Jobs handed to the pool and not started yet.
    waiting: AtomicUsize,
    active: Mutex<BTreeMap<u64, ActiveScan>>,
    next_job: AtomicU64,
}

impl Shared {
    /// A receiver that sees `true` once shutdown has begun.
    pub(crate) fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub(crate) fn begin_shutdown(&self) {
        if !self.shutdown.send_replace(true) {
            tracing::info!("shutting down: no new connections; requests in flight are finished first");
        }
    }

    pub(crate) fn reload(&self) {
        tracing::info!("definitions reload requested");
        self.updater.reload();
    }

    /// Runs `job` on the scanning pool with the engine serving now, holding `permit` (a queue slot) until it
    /// ends. `None` when the job did not run to its end (it panicked) or its requester left while it waited.
    pub(crate) async fn run_on_pool<T: Send + 'static>(
        self: &Arc<Self>,
        permit: OwnedSemaphorePermit,
        command: &'static str,
        target: String,
        job: impl FnOnce(&Engine) -> T + Send + 'static,
    ) -> Option<T> {
        let engine = self.live.current();
        let (sender, receiver) = oneshot::channel();
        let shared = Arc::clone(self);
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let pool = Arc::clone(&engine);
        pool.spawn(move || {
            shared.waiting.fetch_sub(1, Ordering::Relaxed);
            let _permit = permit;
            if sender.is_closed() {
                return;
            }
            let id = shared.next_job.fetch_add(1, Ordering::Relaxed);
            let scan = ActiveScan { command, target, started: Instant::now() };
            shared.active.lock().unwrap_or_else(PoisonError::into_inner).insert(id, scan);
            let result = job(&engine);
            shared.active.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
            let _ = sender.send(result);
        });
        receiver.await.ok()
    }

    /// The STATS reply text, in clamd's layout: pool, threads, queue, one line per running scan, memory.
    pub(crate) fn stats_text(&self) -> String {
        let engine = self.live.current();
        let threads = engine.max_concurrency();
        let active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let mut tasks = String::new();
        for scan in active.values() {
            let seconds = scan.started.elapsed().as_secs_f64();
            tasks.push_str(&format!("\t{} {seconds:.6} {}\n", scan.command, scan.target.replace('\n', " ")));
        }
        let busy = active.len().min(threads);
        let definitions_mib = engine.database().info().memory() as f64 / 1_048_576.0;
        let resident_mib = resident_bytes().unwrap_or(0) as f64 / 1_048_576.0;
        format!(
            "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live {threads}  idle {} max {threads} idle-timeout {}\n\
             QUEUE: {} items\n{tasks}\nMEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 \
             pools_used {definitions_mib:.3}M pools_total {resident_mib:.3}M\nEND",
            threads - busy,
            self.settings.idle_timeout.as_secs(),
            self.waiting.load(Ordering::Relaxed),
        )
    }
}

/// The resident set size of this process, from `/proc/self/statm`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// A handle on a running [`Daemon`], for the program that embeds it (and the tests).
#[derive(Clone)]
pub struct DaemonHandle {
    shared: Arc<Shared>,
}

impl DaemonHandle {
    /// Begins a graceful shutdown, as SIGTERM does.
    pub fn shutdown(&self) {
        self.shared.begin_shutdown();
    }

    /// Asks for a definitions reload, as RELOAD and SIGHUP do.
    pub fn reload(&self) {
        self.shared.reload();
    }

    /// The definitions serving and their state.
    pub fn definitions(&self) -> &LiveDefinitions {
        &self.shared.live
    }
}

/// A bound daemon: definitions loaded, sockets listening. [`Daemon::run`] serves until shutdown.
pub struct Daemon {
    shared: Arc<Shared>,
    unix: Option<(std::os::unix::net::UnixListener, PathBuf)>,
    tcp: Option<std::net::TcpListener>,
}

impl Daemon {
    /// Loads the definitions of `settings` into engines shaped like `template` (name, limits, options, pool),
    /// binds the sockets and starts the definitions updater. Fails before serving anything, so that a
    /// service manager sees a bad configuration at once.
    ///
    /// # Errors
    /// No socket configured, a socket that cannot be bound (or a live daemon already on the Unix socket),
    /// definitions that do not load, or a thread that cannot start.
    pub fn bind(settings: &Settings, template: &Engine) -> Result<Daemon, DaemonError> {
        let daemon = &settings.daemon;
        if daemon.local_socket.is_none() && daemon.tcp_address.is_none() {
            return Err(DaemonError::NoListener);
        }
        let source = DefinitionsSource {
            paths: settings.definitions.clone(),
            incoming: settings.incoming_directory.clone(),
            compiled: settings.compiled_definitions.clone(),
        };
        let live = Arc::new(LiveDefinitions::load(template, source)?);
        let unix = match &daemon.local_socket {
            Some(path) => Some((bind_unix(path)?, path.clone())),
            None => None,
        };
        let tcp = match daemon.tcp_address {
            Some(address) => {
                if !address.ip().is_loopback() {
                    tracing::warn!(%address, "listening beyond loopback, as tcp_address asks: clamd's protocol has no authentication");
                }
                let listener = std::net::TcpListener::bind(address)
                    .map_err(|source| DaemonError::Bind { what: address.to_string(), source })?;
                Some(listener)
            }
            None => None,
        };
        warn_if_descriptors_short(daemon.max_connections);
        let updater = Updater::start(Arc::clone(&live), settings.update_interval).map_err(DaemonError::Start)?;
        let shared = Arc::new(Shared {
            live,
            settings: daemon.clone(),
            context_variable: settings.context_variable.clone(),
            queue: Arc::new(Semaphore::new(daemon.max_queue)),
            connections: Arc::new(Semaphore::new(daemon.max_connections)),
            stream_memory: Arc::new(Semaphore::new(
                (super::STREAM_MEMORY_BUDGET / super::STREAM_MEMORY_THRESHOLD) as usize,
            )),
            refusals: Arc::new(Semaphore::new(REFUSALS_AT_ONCE)),
            shutdown: watch::channel(false).0,
            updater,
            waiting: AtomicUsize::new(0),
            active: Mutex::new(BTreeMap::new()),
            next_job: AtomicU64::new(0),
        });
        Ok(Daemon { shared, unix, tcp })
    }

    /// The TCP address actually bound (useful with port 0).
    pub fn tcp_address(&self) -> Option<std::net::SocketAddr> {
        self.tcp.as_ref().and_then(|listener| listener.local_addr().ok())
    }

    /// A handle to shut the daemon down or reload its definitions from another thread.
    pub fn handle(&self) -> DaemonHandle {
        DaemonHandle { shared: Arc::clone(&self.shared) }
    }

    /// Serves until shutdown, then waits for the requests in flight and removes the socket file.
    ///
    /// # Errors
    /// The I/O runtime cannot start.
    pub fn run(self) -> Result<(), DaemonError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("avscan-io")
            .enable_all()
            .build()
            .map_err(DaemonError::Start)?;
        let socket_path = self.unix.as_ref().map(|(_, path)| path.clone());
        let result = runtime.block_on(self.serve());
        runtime.shutdown_timeout(Duration::from_secs(1));
        if let Some(path) = socket_path {
            let _ = std::fs::remove_file(path);
        }
        tracing::info!("stopped");
        result
    }

    async fn serve(self) -> Result<(), DaemonError> {
        let shared = self.shared;
        let mut accepting = tokio::task::JoinSet::new();
        if let Some((listener, path)) = self.unix {
            let what = path.display().to_string();
            listener.set_nonblocking(true).map_err(|source| DaemonError::Bind { what: what.clone(), source })?;
            let listener = tokio::net::UnixListener::from_std(listener)
                .map_err(|source| DaemonError::Bind { what: what.clone(), source })?;
            tracing::info!(socket = %what, "listening");
            accepting.spawn(accept_loop(Arc::clone(&shared), UnixAcceptor(listener)));
        }
        if let Some(listener) = self.tcp {
            let what = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            listener.set_nonblocking(true).map_err(|source| DaemonError::Bind { what: what.clone(), source })?;
            let listener = tokio::net::TcpListener::from_std(listener)
                .map_err(|source| DaemonError::Bind { what: what.clone(), source })?;
            tracing::info!(address = %what, "listening");
            accepting.spawn(accept_loop(Arc::clone(&shared), TcpAcceptor(listener)));
        }
        tracing::info!(
            version = %shared.live.current().database().version(),
            threads = shared.live.current().max_concurrency(),
            max_queue = shared.settings.max_queue,
            "serving"
        );
        wait_for_shutdown(&shared).await;
        while accepting.join_next().await.is_some() {}
        // Every connection holds a slot until it ends: having them all back means every request in flight
        // was answered.
        let all = u32::try_from(shared.settings.max_connections).unwrap_or(u32::MAX);
        let _drained = shared.connections.acquire_many(all).await;
        Ok(())
    }
}

/// Waits for SHUTDOWN/QUIT, SIGTERM or SIGINT; SIGHUP asks for a reload meanwhile.
async fn wait_for_shutdown(shared: &Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut shutdown = shared.shutdown_signal();
    let (Ok(mut terminate), Ok(mut interrupt), Ok(mut hangup)) =
        (signal(SignalKind::terminate()), signal(SignalKind::interrupt()), signal(SignalKind::hangup()))
    else {
        tracing::warn!("cannot install signal handlers; SHUTDOWN and RELOAD still work");
        let _ = shutdown.wait_for(|stopping| *stopping).await;
        return;
    };
    loop {
        tokio::select! {
            _ = terminate.recv() => {
                tracing::info!("SIGTERM");
                shared.begin_shutdown();
            }
            _ = interrupt.recv() => {
                tracing::info!("SIGINT");
                shared.begin_shutdown();
            }
            _ = hangup.recv() => {
                tracing::info!("SIGHUP");
                shared.reload();
            }
            _ = shutdown.wait_for(|stopping| *stopping) => return,
        }
    }
}

/// A listener of either kind, handing out a connection's two halves.
trait Acceptor: Send + 'static {
    type Read: Incoming + 'static;
    type Write: tokio::io::AsyncWrite + Send + Unpin + 'static;
    fn accept(&self) -> impl std::future::Future<Output = std::io::Result<(Self::Read, Self::Write)>> + Send;
}

struct UnixAcceptor(tokio::net::UnixListener);
struct TcpAcceptor(tokio::net::TcpListener);

impl Acceptor for UnixAcceptor {
    type Read = UnixIncoming;
    type Write = tokio::net::unix::OwnedWriteHalf;
    async fn accept(&self) -> std::io::Result<(Self::Read, Self::Write)> {
        let (stream, _) = self.0.accept().await?;
        let (read, write) = stream.into_split();
        Ok((UnixIncoming::new(read), write))
    }
}

impl Acceptor for TcpAcceptor {
    type Read = TcpIncoming;
    type Write = tokio::net::tcp::OwnedWriteHalf;
    async fn accept(&self) -> std::io::Result<(Self::Read, Self::Write)> {
        let (stream, _) = self.0.accept().await?;
        // Replies are small and a client waits for each: send them at once.
        let _ = stream.set_nodelay(true);
        let (read, write) = stream.into_split();
        Ok((TcpIncoming(read), write))
    }
}

async fn accept_loop(shared: Arc<Shared>, acceptor: impl Acceptor) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stopping| *stopping) => return,
            accepted = acceptor.accept() => accepted,
        };
        match accepted {
            Ok((read, write)) => match Arc::clone(&shared.connections).try_acquire_owned() {
                Ok(slot) => {
                    tokio::spawn(super::connection::serve(read, write, Arc::clone(&shared), slot));
                }
                Err(_) => match Arc::clone(&shared.refusals).try_acquire_owned() {
                    Ok(slot) => {
                        tokio::spawn(super::connection::refuse(read, write, Arc::clone(&shared), slot));
                    }
                    Err(_) => drop((read, write)),
                },
            },
            Err(error) => {
                // Out of descriptors, most likely: wait for connections to end rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Binds the Unix socket at `path`, replacing a stale socket file but never a live daemon's or another file.
fn bind_unix(path: &Path) -> Result<std::os::unix::net::UnixListener, DaemonError> {
    use std::os::unix::fs::FileTypeExt;
    let bind_error = |source| DaemonError::Bind { what: path.display().to_string(), source };
    if let Ok(metadata) = std::fs::symlink_metadata(path) {
        if !metadata.file_type().is_socket() {
            return Err(bind_error(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the path exists and is not a socket",
            )));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(bind_error(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another daemon is listening on it",
            )));
        }
        std::fs::remove_file(path).map_err(bind_error)?;
    }
    std::os::unix::net::UnixListener::bind(path).map_err(bind_error)
}

/// Logs a warning when the open-files limit cannot hold `max_connections` connections plus the files scans
/// open.
fn warn_if_descriptors_short(max_connections: usize) {
    let Ok(limits) = std::fs::read_to_string("/proc/self/limits") else { return };
    let soft = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .and_then(|line| line.split_whitespace().nth(3))
        .and_then(|value| value.parse::<usize>().ok());
    if let Some(soft) = soft
        && soft < max_connections + 256
    {
        tracing::warn!(
            open_files_limit = soft,
            max_connections,
            "the open-files limit (ulimit -n) is below max_connections + 256: connections may be refused by the system"
        );
    }
}
