//! Configuration: the CSAPI option names in a TOML file, overridden by command-line flags.
//!
//! One [`Options`] type holds what a file or the flags may set, every field optional; [`Settings::resolve`]
//! layers flags over the file over the defaults and validates each value once, refusing an out-of-range one
//! with the option's name, the value and the allowed range. Unknown keys in the file are refused by name, so a
//! misspelt option is never silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use decomposer::{Limits, LimitsError};
use serde::Deserialize;

/// Default `update_interval`: one day, as CSAPI's LiveUpdate.
pub const DEFAULT_UPDATE_INTERVAL: u64 = 86_400;

/// What a configuration file or the command line may set (every field optional). The names are the CSAPI
/// option names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Threads of the scanning pool, 1..=1024 (default: the number of cores).
    pub max_concurrency: Option<u64>,
    /// See [`decomposer::Limits`].
    pub max_extract_depth: Option<u64>,
    /// See [`decomposer::Limits`].
    pub max_extract_size: Option<u64>,
    /// See [`decomposer::Limits`].
    pub max_cumulative_extract_size: Option<u64>,
    /// Allows max_cumulative_extract_size above 2 GiB (up to 4294967294).
    pub allow_large_cumulative_extract_size: Option<bool>,
    /// See [`decomposer::Limits`] (seconds).
    pub max_extract_time: Option<u64>,
    /// See [`decomposer::Limits`].
    pub max_file_count: Option<u64>,
    /// The Momentum context variable the verdict sets (default `<engine>_status`).
    pub context_variable: Option<String>,
    /// A context variable that, when set on a message, makes Momentum skip the scan (passed through to
    /// integrations; the command line has no message context).
    pub skip_context_variable: Option<String>,
    /// `true`: scan SMTP input as received; `false` (default): undo the dot-stuffing of wire-form input first.
    pub use_wire_rep: Option<bool>,
    /// Keep extracted children in RAM instead of spilling big ones to temporary files.
    pub prefer_mem: Option<bool>,
    /// The log file (default: standard error).
    pub scanner_log: Option<PathBuf>,
    /// Seconds between definitions update checks of the daemon, 1..=31536000.
    pub update_interval: Option<u64>,
    /// Report every match instead of stopping at the first.
    pub all_matches: Option<bool>,
    /// Signature database files or directories (default: the embedded database).
    pub definitions: Option<Vec<PathBuf>>,
    /// The daemon's incoming directory: new versions of definitions files dropped here are validated and
    /// moved into the definitions directory (which must then be one directory).
    pub incoming_directory: Option<PathBuf>,
    /// Where the daemon keeps the compiled form of its definitions (`avscan db compile`), or `none`. Default:
    /// `avscan.avdb` inside the definitions directory when `definitions` is one directory, else none.
    pub compiled_definitions: Option<PathBuf>,
    /// The daemon's Unix socket (clamd LocalSocket).
    pub local_socket: Option<PathBuf>,
    /// The daemon's TCP address, `HOST:PORT`, or `PORT` alone for the loopback address (clamd TCPSocket and
    /// TCPAddr).
    pub tcp_address: Option<String>,
    /// The longest INSTREAM the daemon accepts, in bytes (clamd StreamMaxLength).
    pub stream_max_length: Option<u64>,
    /// Scans queued or running at once in the daemon (clamd MaxQueue); more requests wait for a slot.
    pub max_queue: Option<u64>,
    /// Connections the daemon keeps open at once; one more is answered with an error and closed.
    pub max_connections: Option<u64>,
    /// Seconds a new connection may take to send its first command (clamd CommandReadTimeout).
    pub command_read_timeout: Option<u64>,
    /// Seconds a client may pause while it sends a command's data or takes a reply (clamd ReadTimeout).
    pub read_timeout: Option<u64>,
    /// Seconds a session (IDSESSION) may wait for its next command (clamd IdleTimeout).
    pub idle_timeout: Option<u64>,
    /// Directories whose files the daemon's path commands (SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN) may read;
    /// none (the default): path commands are refused.
    pub allowed_scan_directories: Option<Vec<PathBuf>>,
}

impl Options {
    /// Reads a TOML configuration file.
    ///
    /// # Errors
    /// When the file cannot be read, is not TOML, has an unknown key or a value of the wrong type.
    pub fn from_file(path: &Path) -> Result<Options, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|error| ConfigError::File { path: path.to_owned(), message: error.to_string() })?;
        Options::from_toml(&text).map_err(|error| match error {
            ConfigError::File { message, .. } => ConfigError::File { path: path.to_owned(), message },
            other => other,
        })
    }

    /// Parses TOML configuration text.
    ///
    /// # Errors
    /// As [`Options::from_file`].
    pub fn from_toml(text: &str) -> Result<Options, ConfigError> {
        toml::from_str(text)
            .map_err(|error| ConfigError::File { path: PathBuf::new(), message: error.message().to_owned() })
    }

    /// These options, with every field `over` sets taking precedence.
    pub fn overridden_by(&self, over: &Options) -> Options {
        Options {
            max_concurrency: over.max_concurrency.or(self.max_concurrency),
            max_extract_depth: over.max_extract_depth.or(self.max_extract_depth),
            max_extract_size: over.max_extract_size.or(self.max_extract_size),
            max_cumulative_extract_size: over.max_cumulative_extract_size.or(self.max_cumulative_extract_size),
            allow_large_cumulative_extract_size: over
                .allow_large_cumulative_extract_size
                .or(self.allow_large_cumulative_extract_size),
            max_extract_time: over.max_extract_time.or(self.max_extract_time),
            max_file_count: over.max_file_count.or(self.max_file_count),
            context_variable: over.context_variable.clone().or_else(|| self.context_variable.clone()),
            skip_context_variable: over.skip_context_variable.clone().or_else(|| self.skip_context_variable.clone()),
            use_wire_rep: over.use_wire_rep.or(self.use_wire_rep),
            prefer_mem: over.prefer_mem.or(self.prefer_mem),
            scanner_log: over.scanner_log.clone().or_else(|| self.scanner_log.clone()),
            update_interval: over.update_interval.or(self.update_interval),
            all_matches: over.all_matches.or(self.all_matches),
            definitions: over.definitions.clone().or_else(|| self.definitions.clone()),
            incoming_directory: over.incoming_directory.clone().or_else(|| self.incoming_directory.clone()),
            compiled_definitions: over.compiled_definitions.clone().or_else(|| self.compiled_definitions.clone()),
            local_socket: over.local_socket.clone().or_else(|| self.local_socket.clone()),
            tcp_address: over.tcp_address.clone().or_else(|| self.tcp_address.clone()),
            stream_max_length: over.stream_max_length.or(self.stream_max_length),
            max_queue: over.max_queue.or(self.max_queue),
            max_connections: over.max_connections.or(self.max_connections),
            command_read_timeout: over.command_read_timeout.or(self.command_read_timeout),
            read_timeout: over.read_timeout.or(self.read_timeout),
            idle_timeout: over.idle_timeout.or(self.idle_timeout),
            allowed_scan_directories: over
                .allowed_scan_directories
                .clone()
                .or_else(|| self.allowed_scan_directories.clone()),
        }
    }
}

/// A refused configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value out of its range.
    #[error("invalid {option} {value}: must be {allowed}")]
    Value {
        /// The option name.
        option: &'static str,
        /// The value given, as written.
        value: String,
        /// The allowed values.
        allowed: &'static str,
    },
    /// The file could not be read or parsed.
    #[error("cannot use the configuration file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

impl From<LimitsError> for ConfigError {
    fn from(error: LimitsError) -> Self {
        ConfigError::Value { option: error.option, value: error.value.to_string(), allowed: error.allowed }
    }
}

/// Validated settings: every value in range.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The decomposition limits.
    pub limits: Limits,
    /// Threads of the scanning pool.
    pub max_concurrency: usize,
    /// Report every match.
    pub all_matches: bool,
    /// Keep children in RAM.
    pub prefer_mem: bool,
    /// Scan wire-form input as received.
    pub use_wire_rep: bool,
    /// The context variable the verdict sets.
    pub context_variable: String,
    /// The context variable that skips a scan.
    pub skip_context_variable: Option<String>,
    /// The log file.
    pub scanner_log: Option<PathBuf>,
    /// Time between definitions update checks.
    pub update_interval: Duration,
    /// Database paths; empty = the embedded database.
    pub definitions: Vec<PathBuf>,
    /// The daemon's incoming directory.
    pub incoming_directory: Option<PathBuf>,
    /// Where the daemon keeps the compiled form of its definitions, if anywhere.
    pub compiled_definitions: Option<PathBuf>,
    /// The daemon's own settings.
    pub daemon: DaemonSettings,
}

/// Default `stream_max_length`: 100 MiB, as clamd 1.4's StreamMaxLength.
pub const DEFAULT_STREAM_MAX_LENGTH: u64 = 100 * 1024 * 1024;

/// The daemon's validated settings (`avscan serve`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonSettings {
    /// The Unix socket to listen on.
    pub local_socket: Option<PathBuf>,
    /// The TCP address to listen on.
    pub tcp_address: Option<std::net::SocketAddr>,
    /// The longest INSTREAM accepted, in bytes.
    pub stream_max_length: u64,
    /// Scans queued or running at once.
    pub max_queue: usize,
    /// Connections open at once.
    pub max_connections: usize,
    /// Time for a new connection's first command.
    pub command_read_timeout: Duration,
    /// Time a client may pause while it sends data or takes a reply.
    pub read_timeout: Duration,
    /// Time a session may wait for its next command.
    pub idle_timeout: Duration,
    /// Directories path commands may read (canonical paths); empty: path commands are refused.
    pub allowed_scan_directories: Vec<PathBuf>,
}

/// Checks that `value` of `option` is within `range`, or names all three.
fn in_range(
    option: &'static str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
    allowed: &'static str,
) -> Result<u64, ConfigError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError::Value { option, value: value.to_string(), allowed })
    }
}

/// A `tcp_address`: `HOST:PORT` (an IP address; `[::1]:PORT` for IPv6), or `PORT` alone for 127.0.0.1.
fn parse_tcp_address(text: &str) -> Result<std::net::SocketAddr, ConfigError> {
    let refused = || ConfigError::Value {
        option: "tcp_address",
        value: format!("{text:?}"),
        allowed: "PORT (on 127.0.0.1) or IP:PORT, with a port of 0..=65535",
    };
    if let Ok(port) = text.parse::<u16>() {
        return Ok(std::net::SocketAddr::from(([127, 0, 0, 1], port)));
    }
    if let Ok(address) = text.parse::<std::net::SocketAddr>() {
        return Ok(address);
    }
    // A host name that resolves (`localhost:3310`): its first address.
    std::net::ToSocketAddrs::to_socket_addrs(text).ok().and_then(|mut addresses| addresses.next()).ok_or_else(refused)
}

impl DaemonSettings {
    fn resolve(options: &Options) -> Result<DaemonSettings, ConfigError> {
        let seconds = |option, value: Option<u64>, default| {
            in_range(option, value.unwrap_or(default), 1..=86_400, "1..=86400 (seconds)").map(Duration::from_secs)
        };
        let mut allowed_scan_directories = Vec::new();
        for directory in options.allowed_scan_directories.iter().flatten() {
            let refused = |why: &str| ConfigError::Value {
                option: "allowed_scan_directories",
                value: format!("{:?} ({why})", directory.display().to_string()),
                allowed: "existing directories",
            };
            let canonical = std::fs::canonicalize(directory).map_err(|error| refused(&error.to_string()))?;
            if !canonical.is_dir() {
                return Err(refused("not a directory"));
            }
            allowed_scan_directories.push(canonical);
        }
        Ok(DaemonSettings {
            local_socket: options.local_socket.clone(),
            tcp_address: options.tcp_address.as_deref().map(parse_tcp_address).transpose()?,
            stream_max_length: in_range(
                "stream_max_length",
                options.stream_max_length.unwrap_or(DEFAULT_STREAM_MAX_LENGTH),
                1..=u64::from(u32::MAX),
                "1..=4294967295 (bytes)",
            )?,
            max_queue: in_range("max_queue", options.max_queue.unwrap_or(100), 1..=65_536, "1..=65536")? as usize,
            max_connections: in_range(
                "max_connections",
                options.max_connections.unwrap_or(1024),
                1..=65_536,
                "1..=65536",
            )? as usize,
            command_read_timeout: seconds("command_read_timeout", options.command_read_timeout, 30)?,
            read_timeout: seconds("read_timeout", options.read_timeout, 120)?,
            idle_timeout: seconds("idle_timeout", options.idle_timeout, 30)?,
            allowed_scan_directories,
        })
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl Settings {
    /// Validates `options` (file and flags already layered), with `engine` naming the default context variable.
    ///
    /// # Errors
    /// The first value out of range, with its option name, value and allowed range.
    pub fn resolve(options: &Options, engine: &str) -> Result<Settings, ConfigError> {
        let mut limits = Limits::builder();
        if let Some(value) = options.max_extract_depth {
            limits.max_extract_depth(value);
        }
        if let Some(value) = options.max_extract_size {
            limits.max_extract_size(value);
        }
        if let Some(value) = options.allow_large_cumulative_extract_size {
            limits.allow_large_cumulative_extract_size(value);
        }
        if let Some(value) = options.max_cumulative_extract_size {
            limits.max_cumulative_extract_size(value);
        }
        if let Some(value) = options.max_extract_time {
            limits.max_extract_time(value);
        }
        if let Some(value) = options.max_file_count {
            limits.max_file_count(value);
        }
        let limits = limits.build()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
        let max_concurrency = options.max_concurrency.unwrap_or(cores);
        if !(1..=1024).contains(&max_concurrency) {
            return Err(ConfigError::Value {
                option: "max_concurrency",
                value: max_concurrency.to_string(),
                allowed: "1..=1024",
            });
        }
        let update_interval = options.update_interval.unwrap_or(DEFAULT_UPDATE_INTERVAL);
        if !(1..=31_536_000).contains(&update_interval) {
            return Err(ConfigError::Value {
                option: "update_interval",
                value: update_interval.to_string(),
                allowed: "1..=31536000 (seconds)",
            });
        }
        let context_variable = options.context_variable.clone().unwrap_or_else(|| format!("{engine}_status"));
        if !is_variable_name(&context_variable) {
            return Err(ConfigError::Value {
                option: "context_variable",
                value: format!("{context_variable:?}"),
                allowed: "1 to 64 characters of A-Z, a-z, 0-9 and _",
            });
        }
        if let Some(skip) = &options.skip_context_variable
            && !is_variable_name(skip)
        {
            return Err(ConfigError::Value {
                option: "skip_context_variable",
                value: format!("{skip:?}"),
                allowed: "1 to 64 characters of A-Z, a-z, 0-9 and _",
            });
        }
        Ok(Settings {
            limits,
            max_concurrency: usize::try_from(max_concurrency).unwrap_or(1),
            all_matches: options.all_matches.unwrap_or(false),
            prefer_mem: options.prefer_mem.unwrap_or(false),
            use_wire_rep: options.use_wire_rep.unwrap_or(false),
            context_variable,
            skip_context_variable: options.skip_context_variable.clone(),
            scanner_log: options.scanner_log.clone(),
            update_interval: Duration::from_secs(update_interval),
            definitions: options.definitions.clone().unwrap_or_default(),
            incoming_directory: options.incoming_directory.clone(),
            compiled_definitions: compiled_definitions(options),
            daemon: DaemonSettings::resolve(options)?,
        })
    }
}

/// The default name of the compiled form the daemon keeps in its definitions directory. Its `.avdb` extension is
/// what keeps the loader from taking it for a signature file.
pub const COMPILED_DEFINITIONS_NAME: &str = "avscan.avdb";

/// `compiled_definitions` resolved: as given (`none`: nowhere), else `avscan.avdb` in the definitions
/// directory when `definitions` is one directory.
fn compiled_definitions(options: &Options) -> Option<PathBuf> {
    match (&options.compiled_definitions, options.definitions.as_deref()) {
        (Some(path), _) if path.as_os_str() == "none" => None,
        (Some(path), _) => Some(path.clone()),
        (None, Some([directory])) if directory.is_dir() => Some(directory.join(COMPILED_DEFINITIONS_NAME)),
        (None, _) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_definitions_sit_in_a_lone_definitions_directory_unless_named_or_none() {
        let dir = tempfile::tempdir().unwrap();
        let resolve = |text: &str| {
            let options = Options::from_toml(text).unwrap();
            Settings::resolve(&options, "avscan").unwrap().compiled_definitions
        };
        let one = format!("definitions = [{:?}]", dir.path());
        assert_eq!(resolve(&one), Some(dir.path().join("avscan.avdb")));
        assert_eq!(resolve(&format!("{one}\ncompiled_definitions = \"none\"")), None);
        assert_eq!(
            resolve(&format!("{one}\ncompiled_definitions = \"/var/cache/x.avdb\"")),
            Some("/var/cache/x.avdb".into())
        );
        // Two paths, a file, or the embedded set: nowhere unless named.
        assert_eq!(resolve(&format!("definitions = [{:?}, {:?}]", dir.path(), dir.path())), None);
        assert_eq!(resolve(""), None);
    }

    #[test]
    fn defaults_resolve() {
        let settings = Settings::resolve(&Options::default(), "avscan").unwrap();
        assert_eq!(settings.limits, Limits::default());
        assert_eq!(settings.context_variable, "avscan_status");
        assert_eq!(settings.update_interval, Duration::from_secs(86_400));
        assert!(!settings.use_wire_rep && !settings.prefer_mem && !settings.all_matches);
        assert!(settings.max_concurrency >= 1);
    }

    #[test]
    fn flags_override_the_file() {
        let file = Options::from_toml("max_extract_depth = 5\nmax_file_count = 7\nprefer_mem = true\n").unwrap();
        let flags = Options { max_extract_depth: Some(3), ..Options::default() };
        let settings = Settings::resolve(&file.overridden_by(&flags), "avscan").unwrap();
        assert_eq!(settings.limits.max_extract_depth(), 3);
        assert_eq!(settings.limits.max_file_count(), Some(7));
        assert!(settings.prefer_mem);
    }

    #[test]
    fn out_of_range_values_name_option_value_and_range() {
        let error = Settings::resolve(&Options::from_toml("max_extract_depth = 51").unwrap(), "avscan").unwrap_err();
        assert_eq!(error.to_string(), "invalid max_extract_depth 51: must be 1..=50");
        let error = Settings::resolve(&Options::from_toml("max_concurrency = 0").unwrap(), "avscan").unwrap_err();
        assert_eq!(error.to_string(), "invalid max_concurrency 0: must be 1..=1024");
        let error = Settings::resolve(&Options::from_toml("update_interval = 0").unwrap(), "avscan").unwrap_err();
        assert_eq!(error.to_string(), "invalid update_interval 0: must be 1..=31536000 (seconds)");
        let error =
            Settings::resolve(&Options::from_toml("context_variable = \"a b\"").unwrap(), "avscan").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid context_variable \"a b\": must be 1 to 64 characters of A-Z, a-z, 0-9 and _"
        );
    }

    #[test]
    fn daemon_options_resolve_and_refuse_by_name() {
        let settings = Settings::resolve(&Options::default(), "avscan").unwrap().daemon;
        assert_eq!(settings.stream_max_length, 104_857_600);
        assert_eq!((settings.max_queue, settings.max_connections), (100, 1024));
        assert_eq!(settings.idle_timeout, Duration::from_secs(30));
        assert!(settings.allowed_scan_directories.is_empty() && settings.tcp_address.is_none());
        let file = Options::from_toml("tcp_address = \"3310\"\nstream_max_length = 1024\nmax_queue = 4\n").unwrap();
        let settings = Settings::resolve(&file, "avscan").unwrap().daemon;
        assert_eq!(settings.tcp_address, Some("127.0.0.1:3310".parse().unwrap()));
        assert_eq!((settings.stream_max_length, settings.max_queue), (1024, 4));
        let refused =
            |text: &str| Settings::resolve(&Options::from_toml(text).unwrap(), "avscan").unwrap_err().to_string();
        assert_eq!(refused("stream_max_length = 0"), "invalid stream_max_length 0: must be 1..=4294967295 (bytes)");
        assert_eq!(refused("max_queue = 0"), "invalid max_queue 0: must be 1..=65536");
        assert_eq!(refused("idle_timeout = 86401"), "invalid idle_timeout 86401: must be 1..=86400 (seconds)");
        assert_eq!(
            refused("tcp_address = \"here\""),
            "invalid tcp_address \"here\": must be PORT (on 127.0.0.1) or IP:PORT, with a port of 0..=65535"
        );
        assert!(refused("allowed_scan_directories = [\"/no/such/dir\"]").starts_with(
            "invalid allowed_scan_directories \"/no/such/dir\" (No such file or directory (os error 2)): must be"
        ));
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let error = Options::from_toml("max_extract_dept = 5").unwrap_err().to_string();
        assert!(error.contains("unknown field `max_extract_dept`"), "{error}");
        let error = Options::from_toml("prefer_mem = 1").unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
    }
}
