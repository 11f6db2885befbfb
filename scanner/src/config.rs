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
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn unknown_keys_and_wrong_types_are_refused_by_name() {
        let error = Options::from_toml("max_extract_dept = 5").unwrap_err().to_string();
        assert!(error.contains("unknown field `max_extract_dept`"), "{error}");
        let error = Options::from_toml("prefer_mem = 1").unwrap_err().to_string();
        assert!(error.contains("invalid type"), "{error}");
    }
}
