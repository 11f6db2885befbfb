//! `avscan`: the command line over the scanner library (DESIGN.md section 5).
//!
//! - `avscan scan [--db PATH]... [--json] [--jobs N] [--all-matches] [--wire] [--config FILE] [--<limit> N]...
//!   PATH...`: scans files and directories (`-` = standard input). Exit status: 1 if any input is infected,
//!   else 2 if any is unscannable or could not be scanned, else 0.
//! - `avscan decompose PATH...`: the tree of parts with type, size and codes.
//! - `avscan db check PATH...`: every malformed line (file, line, reason) and every signature loaded but not
//!   matched (and why); exit 2 when a line is malformed.
//! - `avscan db info [--db PATH]...`: definitions version, signatures per kind, memory, load time.
//! - `avscan serve [--socket PATH] [--tcp [HOST:]PORT] [--db PATH]... [--config FILE]`: the clamd-compatible
//!   daemon ([`scanner::daemon`]).
//! - `avscan version [--socket PATH | --tcp [HOST:]PORT]`: decomposer, engine and definitions versions, and
//!   whether the definitions are up to date.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use clap::{Args, Parser, Subcommand};
use decomposer::{Decomposer, Part};
use scanner::config::{Options, Settings};
use scanner::{Database, Engine, Status, Verdict};

#[derive(Parser)]
#[command(name = "avscan", version, about = "Content-scanning core: decomposer and signature scanner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scan files and directories (recursively; `-` reads standard input) and print a verdict for each.
    Scan {
        /// Files and directories to scan.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Signature database file or directory (repeatable). Default: the embedded database.
        #[arg(long = "db", value_name = "PATH")]
        databases: Vec<PathBuf>,
        /// Print one JSON object per input, one per line.
        #[arg(long)]
        json: bool,
        /// max_concurrency: inputs scanned at once (default: the number of cores).
        #[arg(long, value_name = "N")]
        jobs: Option<u64>,
        /// Report every match instead of stopping at the first.
        #[arg(long)]
        all_matches: bool,
        /// The input is an SMTP DATA payload in wire form (dot-stuffed); it is un-stuffed before scanning
        /// unless use_wire_rep is true.
        #[arg(long)]
        wire: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print the tree of parts of each file: depth, type, size and path, then the codes that occurred.
    Decompose {
        /// Files to decompose.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Check and describe signature databases.
    #[command(subcommand)]
    Db(DbCommand),
    /// Run the clamd-compatible daemon until SIGTERM, SIGINT or SHUTDOWN (README: "The daemon").
    Serve {
        /// Unix socket to listen on (local_socket).
        #[arg(long, value_name = "PATH")]
        socket: Option<PathBuf>,
        /// TCP address to listen on, `[HOST:]PORT`; PORT alone is 127.0.0.1 (tcp_address).
        #[arg(long, value_name = "[HOST:]PORT")]
        tcp: Option<String>,
        /// Signature database file or directory (repeatable). Default: the embedded database.
        #[arg(long = "db", value_name = "PATH")]
        databases: Vec<PathBuf>,
        /// Directory where new versions of definitions files arrive (incoming_directory).
        #[arg(long, value_name = "DIR")]
        incoming: Option<PathBuf>,
        /// max_concurrency: scanning threads (default: the number of cores).
        #[arg(long, value_name = "N")]
        jobs: Option<u64>,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Print the decomposer, engine and definitions versions and whether the definitions are up to date: a
    /// running daemon's (--socket or --tcp), else those the configuration names.
    Version {
        /// Ask the daemon listening on this Unix socket.
        #[arg(long, value_name = "PATH", conflicts_with = "tcp")]
        socket: Option<PathBuf>,
        /// Ask the daemon listening on this TCP address, `[HOST:]PORT`.
        #[arg(long, value_name = "[HOST:]PORT")]
        tcp: Option<String>,
        /// Signature database file or directory (repeatable). Default: the embedded database.
        #[arg(long = "db", value_name = "PATH")]
        databases: Vec<PathBuf>,
        /// TOML configuration file.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Report every malformed line and every signature that is loaded but cannot be matched.
    Check {
        /// Database files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Compile signature files and directories into one file that loads without parsing (README: "Compiled
    /// definitions"). Give it to --db like a directory; it is checked against its sources at every load.
    Compile {
        /// Database files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// The compiled file to write (replaced atomically).
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
    /// Print the definitions version, the signatures per kind, their memory and the load time.
    Info {
        /// Database file or directory (repeatable). Default: the embedded database.
        #[arg(long = "db", value_name = "PATH")]
        databases: Vec<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Options shared by `scan` and `decompose`: the configuration file and the CSAPI limits, each flag named as its
/// option with dashes. Flags override the file.
#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file with CSAPI option names (max_extract_depth = 5, ...).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// max_extract_depth, 1..=50 (default 10).
    #[arg(long, value_name = "N")]
    max_extract_depth: Option<u64>,
    /// max_extract_size in bytes, 1..=4294967294 (default 104857600).
    #[arg(long, value_name = "BYTES")]
    max_extract_size: Option<u64>,
    /// max_cumulative_extract_size in bytes, 0 (= 209715200)..=2147483648.
    #[arg(long, value_name = "BYTES")]
    max_cumulative_extract_size: Option<u64>,
    /// max_extract_time in seconds, 0 = unlimited (default 180).
    #[arg(long, value_name = "SECONDS")]
    max_extract_time: Option<u64>,
    /// max_file_count, 0 = unlimited (default 5000).
    #[arg(long, value_name = "N")]
    max_file_count: Option<u64>,
    /// prefer_mem: hold every extracted child in RAM instead of spilling big ones to temporary files.
    #[arg(long)]
    prefer_mem: bool,
}

impl CommonArgs {
    fn options(&self) -> Result<Options, String> {
        let file = match &self.config {
            Some(path) => Options::from_file(path).map_err(|error| error.to_string())?,
            None => Options::default(),
        };
        let flags = Options {
            max_extract_depth: self.max_extract_depth,
            max_extract_size: self.max_extract_size,
            max_cumulative_extract_size: self.max_cumulative_extract_size,
            max_extract_time: self.max_extract_time,
            max_file_count: self.max_file_count,
            prefer_mem: self.prefer_mem.then_some(true),
            ..Options::default()
        };
        Ok(file.overridden_by(&flags))
    }
}

const EXIT_CLEAN: u8 = 0;
const EXIT_INFECTED: u8 = 1;
const EXIT_TROUBLE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scan { paths, databases, json, jobs, all_matches, wire, common } => {
            scan(&paths, databases, json, jobs, all_matches, wire, &common)
        }
        Command::Decompose { paths, common } => decompose(&paths, &common),
        Command::Db(DbCommand::Check { paths }) => db_check(&paths),
        Command::Db(DbCommand::Info { databases, json }) => db_info(&databases, json),
        Command::Db(DbCommand::Compile { paths, output }) => db_compile(&paths, &output),
        Command::Serve { socket, tcp, databases, incoming, jobs, common } => {
            let flags = Options {
                local_socket: socket,
                tcp_address: tcp,
                definitions: (!databases.is_empty()).then_some(databases),
                incoming_directory: incoming,
                max_concurrency: jobs,
                ..Options::default()
            };
            serve(&flags, &common)
        }
        Command::Version { socket, tcp, databases, config } => version(socket, tcp, databases, config),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(message) => {
            eprintln!("avscan: {message}");
            ExitCode::from(EXIT_TROUBLE)
        }
    }
}

fn init_logging(settings: &Settings) -> Result<(), String> {
    let builder = tracing_subscriber::fmt().with_target(false);
    match &settings.scanner_log {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|error| format!("cannot open scanner_log {}: {error}", path.display()))?;
            let _ = builder.with_ansi(false).with_writer(Mutex::new(file)).try_init();
        }
        None => {
            let _ = builder.with_writer(std::io::stderr).try_init();
        }
    }
    Ok(())
}

fn load_database(paths: &[PathBuf]) -> Result<Database, String> {
    Database::load_or_embedded(paths).map_err(|error| error.to_string())
}

#[allow(clippy::too_many_arguments)]
fn scan(
    paths: &[PathBuf],
    databases: Vec<PathBuf>,
    json: bool,
    jobs: Option<u64>,
    all_matches: bool,
    wire: bool,
    common: &CommonArgs,
) -> Result<u8, String> {
    let flags = Options {
        max_concurrency: jobs,
        all_matches: all_matches.then_some(true),
        definitions: (!databases.is_empty()).then_some(databases),
        ..Options::default()
    };
    let options = common.options()?.overridden_by(&flags);
    let settings = Settings::resolve(&options, scanner::DEFAULT_ENGINE_NAME).map_err(|error| error.to_string())?;
    init_logging(&settings)?;
    let database = Arc::new(load_database(&settings.definitions)?);
    let engine = build_engine(&settings, Arc::clone(&database))?;
    let unstuff = wire && !settings.use_wire_rep;

    let progress = Progress::new();
    let infected = AtomicBool::new(false);
    let trouble = AtomicBool::new(false);
    let stdout = Mutex::new(std::io::stdout());
    let report = |path: &Path, verdict: Verdict| {
        match verdict.status {
            Status::Infected => infected.store(true, Ordering::Relaxed),
            Status::Clean | Status::PartIsContainer => {}
            _ => trouble.store(true, Ordering::Relaxed),
        }
        progress.done(&verdict);
        let shown = path.display().to_string();
        let text = if json { verdict.to_json_line(&shown) } else { human_line(&shown, &verdict) };
        if let Ok(out) = stdout.lock() {
            let _ = writeln!(out.lock(), "{text}");
        }
    };
    let (stdin_inputs, file_inputs): (Vec<PathBuf>, Vec<PathBuf>) =
        paths.iter().cloned().partition(|path| path.as_os_str() == "-");
    if !stdin_inputs.is_empty() {
        report(Path::new("-"), scan_stdin(&engine, unstuff));
    }
    if unstuff {
        // Wire-form files are read whole and un-stuffed before the walk.
        for path in &file_inputs {
            let verdict = match std::fs::read(path) {
                Ok(bytes) => engine.scan_bytes(&file_name(path), &scanner::wire::unstuff(&bytes)),
                Err(error) => engine.input_error(&error),
            };
            report(path, verdict);
        }
    } else {
        engine.scan_paths(&file_inputs, &report);
    }
    progress.finish();
    drop(engine);
    exit_without_freeing(database);
    Ok(if infected.load(Ordering::Relaxed) {
        EXIT_INFECTED
    } else if trouble.load(Ordering::Relaxed) {
        EXIT_TROUBLE
    } else {
        EXIT_CLEAN
    })
}

/// The engine the settings describe, over `database`.
fn build_engine(settings: &Settings, database: Arc<Database>) -> Result<Engine, String> {
    Engine::builder()
        .limits(settings.limits)
        .max_concurrency(settings.max_concurrency)
        .all_matches(settings.all_matches)
        .prefer_mem(settings.prefer_mem)
        .build(database)
        .map_err(|error| error.to_string())
}

fn serve(flags: &Options, common: &CommonArgs) -> Result<u8, String> {
    let options = common.options()?.overridden_by(flags);
    let settings = Settings::resolve(&options, scanner::DEFAULT_ENGINE_NAME).map_err(|error| error.to_string())?;
    init_logging(&settings)?;
    // The definitions the daemon serves are loaded by Daemon::bind; the embedded set only shapes the engine.
    let template = build_engine(&settings, Arc::new(Database::embedded().map_err(|error| error.to_string())?))?;
    let daemon = scanner::daemon::Daemon::bind(&settings, &template).map_err(|error| error.to_string())?;
    daemon.run().map_err(|error| error.to_string())?;
    Ok(EXIT_CLEAN)
}

/// `avscan version`: asks a running daemon (JSONVERSION) or loads the configured definitions.
fn version(
    socket: Option<PathBuf>,
    tcp: Option<String>,
    databases: Vec<PathBuf>,
    config: Option<PathBuf>,
) -> Result<u8, String> {
    let report: serde_json::Value = if socket.is_some() || tcp.is_some() {
        let reply = ask_daemon(socket.as_deref(), tcp.as_deref(), b"zJSONVERSION\0")?;
        serde_json::from_slice(reply.strip_suffix(b"\0").unwrap_or(&reply))
            .map_err(|error| format!("the daemon's JSONVERSION reply is not JSON: {error}"))?
    } else {
        let file = match &config {
            Some(path) => Options::from_file(path).map_err(|error| error.to_string())?,
            None => Options::default(),
        };
        let flags = Options { definitions: (!databases.is_empty()).then_some(databases), ..Options::default() };
        let settings = Settings::resolve(&file.overridden_by(&flags), scanner::DEFAULT_ENGINE_NAME)
            .map_err(|error| error.to_string())?;
        let template = build_engine(&settings, Arc::new(Database::embedded().map_err(|error| error.to_string())?))?;
        let source = scanner::live_update::DefinitionsSource {
            paths: settings.definitions.clone(),
            incoming: settings.incoming_directory.clone(),
            compiled: None,
        };
        let live = scanner::live_update::LiveDefinitions::load(&template, source).map_err(|error| error.to_string())?;
        scanner::daemon::version_report(&live.status())
    };
    let text = |key: &str| report[key].as_str().unwrap_or("?").to_owned();
    let definitions = &report["definitions"];
    let date = definitions["date"].as_u64().map_or_else(|| "embedded".to_owned(), scanner::daemon::ctime);
    let mut lines = vec![
        format!("decomposer: {}", text("decomposer")),
        format!("engine: {}", text("engine")),
        format!("definitions: {} ({date})", definitions["version"].as_str().unwrap_or("?")),
    ];
    let mut reasons = Vec::new();
    if let Some(error) = definitions["last_error"].as_str() {
        reasons.push(format!("the last update was rejected: {error}"));
    }
    if let Some(pending) = definitions["pending"].as_array().filter(|pending| !pending.is_empty()) {
        reasons.push(format!("{} file(s) wait in the incoming directory", pending.len()));
    }
    if definitions["up_to_date"].as_bool() == Some(true) {
        lines.push("up to date: yes".to_owned());
    } else {
        if reasons.is_empty() {
            reasons.push("the definitions are more than 7 days old".to_owned());
        }
        lines.push(format!("up to date: no ({})", reasons.join("; ")));
    }
    let _ = writeln!(std::io::stdout().lock(), "{}", lines.join("\n"));
    Ok(EXIT_CLEAN)
}

/// Sends `request` to a daemon and returns its reply, read to the first NUL or the end of the connection.
fn ask_daemon(socket: Option<&Path>, tcp: Option<&str>, request: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Read;
    fn exchange(mut stream: impl Read + Write, request: &[u8]) -> std::io::Result<Vec<u8>> {
        stream.write_all(request)?;
        let mut reply = Vec::new();
        let mut byte = [0; 1];
        while stream.read(&mut byte)? == 1 {
            reply.push(byte[0]);
            if byte[0] == 0 {
                break;
            }
        }
        Ok(reply)
    }
    let timeout = Some(std::time::Duration::from_secs(30));
    let result = match (socket, tcp) {
        (Some(path), _) => std::os::unix::net::UnixStream::connect(path).and_then(|stream| {
            stream.set_read_timeout(timeout)?;
            exchange(stream, request)
        }),
        (None, Some(address)) => {
            let address =
                if address.parse::<u16>().is_ok() { format!("127.0.0.1:{address}") } else { address.to_owned() };
            std::net::TcpStream::connect(&address).and_then(|stream| {
                stream.set_read_timeout(timeout)?;
                exchange(stream, request)
            })
        }
        (None, None) => return Err("no daemon address".to_owned()),
    };
    result.map_err(|error| format!("cannot ask the daemon: {error}"))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |name| name.to_string_lossy().into_owned())
}

fn scan_stdin(engine: &Engine, unstuff: bool) -> Verdict {
    if unstuff {
        let mut bytes = Vec::new();
        return match std::io::Read::read_to_end(&mut std::io::stdin().lock(), &mut bytes) {
            Ok(_) => engine.scan_bytes("stdin", &scanner::wire::unstuff(&bytes)),
            Err(error) => engine.input_error(&error),
        };
    }
    engine.scan_reader("stdin", std::io::stdin().lock())
}

/// `path: OK`, `path: NAME FOUND in PART`, `path: UNSCANNABLE (CODE)`, `path: ERROR (CODE)`.
fn human_line(path: &str, verdict: &Verdict) -> String {
    let code = verdict.scan_code.map(|code| code.to_string()).unwrap_or_default();
    match verdict.status {
        Status::Clean => {
            if verdict.codes.is_empty() {
                format!("{path}: OK")
            } else {
                format!("{path}: OK ({code})")
            }
        }
        Status::Infected => verdict
            .detections
            .iter()
            .map(|detection| format!("{path}: {} FOUND in {}", detection.name, detection.part))
            .collect::<Vec<_>>()
            .join("\n"),
        status => format!("{path}: {status} ({code})"),
    }
}

/// A progress line on standard error when it is a terminal: inputs, bytes and detections so far.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    inputs: AtomicU64,
    bytes: AtomicU64,
    infected: AtomicU64,
}

impl Progress {
    fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Progress { bar, inputs: AtomicU64::new(0), bytes: AtomicU64::new(0), infected: AtomicU64::new(0) }
    }

    fn done(&self, verdict: &Verdict) {
        let inputs = self.inputs.fetch_add(1, Ordering::Relaxed) + 1;
        let bytes = self.bytes.fetch_add(verdict.stats.bytes_scanned, Ordering::Relaxed) + verdict.stats.bytes_scanned;
        let infected = self.infected.fetch_add(u64::from(verdict.status == Status::Infected), Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_message(format!(
                "{inputs} inputs, {:.1} MB scanned, {} infected",
                bytes as f64 / 1e6,
                infected + u64::from(verdict.status == Status::Infected)
            ));
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn decompose(paths: &[PathBuf], common: &CommonArgs) -> Result<u8, String> {
    let settings =
        Settings::resolve(&common.options()?, scanner::DEFAULT_ENGINE_NAME).map_err(|error| error.to_string())?;
    let decomposer = Decomposer::builder().limits(settings.limits).prefer_mem(settings.prefer_mem).build();
    let mut status = EXIT_CLEAN;
    let mut out = std::io::stdout().lock();
    for path in paths {
        // A closed standard output (`| head`) ends the walk quietly.
        let mut closed = false;
        let mut print = |part: &Part<'_>| {
            closed = writeln!(
                out,
                "{}{} [{}, {} bytes{}]",
                "  ".repeat(part.depth() as usize),
                part.path().to_string().escape_debug(),
                part.file_type(),
                part.size(),
                if part.is_truncated() { ", truncated" } else { "" }
            )
            .is_err();
            !closed
        };
        match decomposer.decompose_file(path, &mut print) {
            Ok(report) => {
                if closed {
                    return Ok(status);
                }
                let mut lines: Vec<String> =
                    report.problems.iter().map(|p| format!("  ! {} {}", p.code, p.path.escape_debug())).collect();
                lines.push(format!(
                    "= {} parts, {} files and {} bytes extracted, depth {}, {} ms",
                    report.parts,
                    report.files_extracted,
                    report.bytes_extracted,
                    report.max_depth,
                    report.elapsed.as_millis()
                ));
                if writeln!(out, "{}", lines.join("\n")).is_err() {
                    return Ok(status);
                }
            }
            Err(error) => {
                eprintln!("avscan: {error}");
                status = EXIT_TROUBLE;
            }
        }
    }
    Ok(status)
}

fn db_check(paths: &[PathBuf]) -> Result<u8, String> {
    let check = Database::check(paths).map_err(|error| error.to_string())?;
    let mut lines: Vec<String> = check.errors.iter().map(|error| format!("error: {error}")).collect();
    lines.extend(check.unsupported.iter().map(|unsupported| format!("not matched: {unsupported}")));
    lines.push(check.summary());
    // A closed standard output (`| head`) is not an error of the check.
    let _ = writeln!(std::io::stdout().lock(), "{}", lines.join("\n"));
    Ok(if check.errors.is_empty() { EXIT_CLEAN } else { EXIT_TROUBLE })
}

fn db_compile(paths: &[PathBuf], output: &Path) -> Result<u8, String> {
    let started = std::time::Instant::now();
    let database = Database::compile(paths, output).map_err(|error| error.to_string())?;
    let info = database.info();
    let size = std::fs::metadata(output).map(|metadata| metadata.len()).unwrap_or(0);
    let _ = writeln!(
        std::io::stdout().lock(),
        "{}: {} signatures from {} files, {:.1} MiB, written in {} ms",
        output.display(),
        info.total(),
        database.part_count(),
        size as f64 / (1024.0 * 1024.0),
        started.elapsed().as_millis()
    );
    Ok(EXIT_CLEAN)
}

fn db_info(databases: &[PathBuf], json: bool) -> Result<u8, String> {
    let database = load_database(databases)?;
    let info = database.info();
    let text = if json { format!("{}\n", info.to_json()) } else { info.to_string() };
    let _ = write!(std::io::stdout().lock(), "{text}");
    exit_without_freeing(database);
    Ok(EXIT_CLEAN)
}

/// Leaves a database to the exit of the process instead of freeing it: a set of millions of signatures is
/// millions of allocations, whose freeing one by one costs a tenth of a second that the kernel's unmapping of
/// the whole heap does not. For one-shot commands only; the daemon frees what a reload replaces.
fn exit_without_freeing<T>(database: T) {
    std::mem::forget(database);
}
