//! Live definitions: the engine a long-running process scans with, replaced atomically when a new
//! definitions set has loaded, after CSAPI's LiveUpdate.
//!
//! [`LiveDefinitions`] holds the current [`Engine`] behind a lock that is taken only to clone an `Arc`, so a
//! scan picks up the engine once, when it starts, and finishes on that engine even if a reload swaps in
//! another meanwhile. [`LiveDefinitions::update`] is the one way definitions change:
//!
//! 1. When an incoming directory is configured and holds files, they are a new version of the definitions
//!    files of the same names (or new files): the set made of the definitions directory with those files in
//!    place is loaded beside the one serving. If it loads (every line valid, at least one signature), the
//!    incoming files are renamed into the definitions directory, one rename each, and the new engine is
//!    swapped in. If it does not, the files are moved to `incoming/rejected/<unix time>/`, the reason is
//!    logged and kept for [`LiveDefinitions::status`], and the old set keeps serving.
//! 2. Otherwise the definitions files are compared with what was loaded (name, size and modification time of
//!    each, as clamd's SelfCheck does): a changed set, or a forced reload (clamd's RELOAD, SIGHUP), is loaded
//!    beside the old and swapped in the same way.
//!
//! A new set is loaded with [`Database::reload`]: the files that did not change keep their compiled parts,
//! shared with the set serving, so a reload holds twice only what changed.
//!
//! Updates run one at a time; while one loads, scans and status reports (VERSION) go on with the old engine.
//! Files in the incoming directory whose names start with `.` or end in `.tmp` or `.part` are writes in
//! progress and are left for the next check: an updater should write a file under such a name and rename it
//! when complete.
//!
//! [`Updater`] is the thread that calls `update` every `update_interval` and whenever asked.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::database::{Database, LoadError, is_definitions_file};
use crate::engine::Engine;

/// Definitions older than this are not up to date (ClamAV warns about a database older than 7 days).
pub const MAX_DEFINITIONS_AGE: Duration = Duration::from_secs(7 * 86_400);

/// Where the definitions come from and where updates arrive.
#[derive(Debug, Clone, Default)]
pub struct DefinitionsSource {
    /// Database files or directories; empty: the embedded database.
    pub paths: Vec<PathBuf>,
    /// The incoming directory: new versions of definitions files are dropped here. Needs `paths` to be one
    /// directory, the one they are moved into.
    pub incoming: Option<PathBuf>,
    /// The compiled form kept for `paths` ([`Database::load_with_compiled`]): used at every load for the files
    /// that did not change, and rewritten after a load that parsed.
    pub compiled: Option<PathBuf>,
}

/// Why definitions could not be (re)loaded. The engine that was serving goes on serving.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    /// The new set does not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The incoming or definitions directory could not be read or written.
    #[error("cannot apply the update {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `incoming` was given without exactly one definitions directory to move updates into.
    #[error("invalid incoming_directory {}: needs definitions to be exactly one directory", path.display())]
    NoDefinitionsDirectory {
        /// The incoming directory.
        path: PathBuf,
    },
}

/// What an update did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Nothing new: no incoming file, no definitions file changed, no reload forced.
    Unchanged,
    /// A new set was loaded and is serving.
    Reloaded {
        /// Its version.
        version: String,
        /// Incoming files applied (file names), empty for a reload of the definitions as they are.
        applied: Vec<String>,
        /// Time to load it.
        load_time: Duration,
    },
}

/// The state of the definitions, for `VERSION`-style reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DefinitionsStatus {
    /// The version serving.
    pub version: String,
    /// The newest modification time of the definitions files, seconds since the Unix epoch (`None` for the
    /// embedded database).
    pub date: Option<u64>,
    /// Reloads done since start.
    pub reloads: u64,
    /// Seconds since the Unix epoch of the last update check, if any.
    pub last_check: Option<u64>,
    /// Why the last update failed, if it did (the old set kept serving).
    pub last_error: Option<String>,
    /// Files waiting in the incoming directory.
    pub pending: Vec<String>,
    /// Up to date: the last check succeeded, nothing waits in the incoming directory, and the definitions are
    /// at most [`MAX_DEFINITIONS_AGE`] old (the embedded database is always up to date with its binary).
    pub up_to_date: bool,
}

/// One definitions file as last seen: name, size and modification time.
type FileStamp = (PathBuf, u64, Option<SystemTime>);

/// What status reports read; locked only for a moment.
#[derive(Debug, Default)]
struct UpdateState {
    /// The newest modification time of the serving set's files.
    date: Option<SystemTime>,
    reloads: u64,
    last_check: Option<SystemTime>,
    last_error: Option<String>,
}

/// The serving engine and the way to replace it. `Send + Sync`; share it in an `Arc`.
#[derive(Debug)]
pub struct LiveDefinitions {
    current: RwLock<Arc<Engine>>,
    source: DefinitionsSource,
    /// The definitions directory updates go into (`source.paths` when it is one directory).
    directory: Option<PathBuf>,
    /// The definitions files as they were when the serving set was loaded. Held for the whole of an update,
    /// so updates run one at a time; scans and status reports never take it.
    loaded: Mutex<Vec<FileStamp>>,
    state: Mutex<UpdateState>,
}

impl LiveDefinitions {
    /// Loads the definitions of `source` and builds the first engine from `template` (its name, limits,
    /// options and pool are kept for every later set).
    ///
    /// # Errors
    /// The definitions do not load, or `incoming` is set without one definitions directory.
    pub fn load(template: &Engine, source: DefinitionsSource) -> Result<LiveDefinitions, UpdateError> {
        let directory = match (&source.incoming, source.paths.as_slice()) {
            (None, _) => None,
            (Some(_), [one]) if one.is_dir() => Some(one.clone()),
            (Some(incoming), _) => return Err(UpdateError::NoDefinitionsDirectory { path: incoming.clone() }),
        };
        let loaded = stamps(&source.paths);
        let (database, stale) = match &source.compiled {
            Some(compiled) if !source.paths.is_empty() => Database::load_using_compiled(&source.paths, compiled, None)?,
            _ => (Database::load_or_embedded(&source.paths)?, false),
        };
        log_compiled(&database);
        let database = Arc::new(database);
        if stale {
            save_compiled(&database, &source);
        }
        let engine = Arc::new(template.with_database(database));
        Ok(LiveDefinitions {
            current: RwLock::new(engine),
            source,
            directory,
            state: Mutex::new(UpdateState { date: newest(&loaded), ..UpdateState::default() }),
            loaded: Mutex::new(loaded),
        })
    }

    /// The engine serving now. A scan takes it once and keeps it to its end.
    pub fn current(&self) -> Arc<Engine> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Applies what the incoming directory holds, or reloads the definitions if they changed on disk or
    /// `force` is set; see the module doc. Blocks while a new set loads (scans go on meanwhile); concurrent
    /// calls run one after the other.
    ///
    /// # Errors
    /// The new set does not load or the files cannot be moved; the old set keeps serving.
    pub fn update(&self, force: bool) -> Result<UpdateOutcome, UpdateError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        let checked = SystemTime::now();
        let result = self.update_locked(&mut loaded, force);
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.last_check = Some(checked);
        state.date = newest(&loaded);
        match &result {
            Ok(UpdateOutcome::Reloaded { version, applied, load_time }) => {
                state.reloads += 1;
                state.last_error = None;
                tracing::info!(%version, ?applied, load_ms = load_time.as_millis() as u64, "definitions reloaded");
            }
            Ok(UpdateOutcome::Unchanged) => state.last_error = None,
            Err(error) => {
                state.last_error = Some(error.to_string());
                tracing::error!(%error, "definitions update rejected; the old definitions keep serving");
            }
        }
        result
    }

    fn update_locked(&self, loaded: &mut Vec<FileStamp>, force: bool) -> Result<UpdateOutcome, UpdateError> {
        if let (Some(incoming), Some(directory)) = (&self.source.incoming, &self.directory) {
            let arrived = incoming_files(incoming)?;
            if !arrived.is_empty() {
                return self.apply_incoming(loaded, incoming, directory, &arrived);
            }
        }
        let now = stamps(&self.source.paths);
        if !force && now == *loaded {
            return Ok(UpdateOutcome::Unchanged);
        }
        let started = Instant::now();
        let current = self.current();
        let (database, stale) = match &self.source.compiled {
            Some(compiled) if !self.source.paths.is_empty() => {
                Database::load_using_compiled(&self.source.paths, compiled, Some(current.database()))?
            }
            _ => (Database::reload(&self.source.paths, current.database())?, false),
        };
        drop(current);
        log_compiled(&database);
        let version = database.version().to_owned();
        self.swap(database);
        *loaded = now;
        let load_time = started.elapsed();
        // Written once the new set serves: scans never wait for it.
        if stale {
            save_compiled(self.current().database(), &self.source);
        }
        Ok(UpdateOutcome::Reloaded { version, applied: Vec::new(), load_time })
    }

    fn apply_incoming(
        &self,
        loaded: &mut Vec<FileStamp>,
        incoming: &Path,
        directory: &Path,
        arrived: &[PathBuf],
    ) -> Result<UpdateOutcome, UpdateError> {
        let started = Instant::now();
        let names: Vec<String> = arrived.iter().map(|path| file_name(path)).collect();
        let mut candidate: Vec<PathBuf> =
            definitions_files(directory)?.into_iter().filter(|path| !names.contains(&file_name(path))).collect();
        candidate.extend(arrived.iter().cloned());
        candidate.sort_by_key(|path| file_name(path));
        let database = match Database::reload(&candidate, self.current().database()) {
            Ok(database) => database,
            Err(error) => {
                let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_secs();
                let rejected = incoming.join("rejected").join(unix.to_string());
                std::fs::create_dir_all(&rejected)
                    .map_err(|source| UpdateError::Io { path: rejected.clone(), source })?;
                for path in arrived {
                    let to = rejected.join(file_name(path));
                    std::fs::rename(path, &to).map_err(|source| UpdateError::Io { path: path.clone(), source })?;
                }
                return Err(error.into());
            }
        };
        for path in arrived {
            let to = directory.join(file_name(path));
            move_file(path, &to)?;
        }
        let version = database.version().to_owned();
        self.swap(database);
        *loaded = stamps(&self.source.paths);
        let load_time = started.elapsed();
        // The set now in the definitions directory is the one just loaded (a rename keeps a file's length and
        // time): its compiled form is written for the directory, so the next start decodes it.
        save_compiled(self.current().database(), &self.source);
        Ok(UpdateOutcome::Reloaded { version, applied: names, load_time })
    }

    fn swap(&self, database: Database) {
        let engine = Arc::new(self.current().with_database(Arc::new(database)));
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = engine;
    }

    /// The version serving, its date, and whether it is up to date (see [`DefinitionsStatus::up_to_date`]).
    pub fn status(&self) -> DefinitionsStatus {
        let engine = self.current();
        let state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let date = state.date;
        let pending = match &self.source.incoming {
            Some(incoming) => incoming_files(incoming).unwrap_or_default().iter().map(|path| file_name(path)).collect(),
            None => Vec::new(),
        };
        let fresh = date.is_none_or(|date| date.elapsed().unwrap_or_default() <= MAX_DEFINITIONS_AGE);
        let unix = |time: SystemTime| time.duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        DefinitionsStatus {
            version: engine.database().version().to_owned(),
            date: date.map(unix),
            reloads: state.reloads,
            last_check: state.last_check.map(unix),
            up_to_date: fresh && state.last_error.is_none() && pending.is_empty(),
            last_error: state.last_error.clone(),
            pending,
        }
    }
}

/// The newest modification time among `files`.
/// Writes the compiled form of `database` where `source` keeps it, if anywhere; a failure is logged.
fn save_compiled(database: &Database, source: &DefinitionsSource) {
    if let Some(compiled) = &source.compiled
        && !source.paths.is_empty()
        && let Err(error) = database.save_compiled(&source.paths, compiled)
    {
        tracing::warn!(%error, "cannot write the compiled definitions; the next load parses them");
    }
}

/// Logs what was wrong with the compiled form, if anything (the set loaded anyway).
fn log_compiled(database: &Database) {
    for problem in &database.info().compiled {
        tracing::warn!(%problem, "compiled definitions not used as they were; rebuilt from source");
    }
}

fn newest(files: &[FileStamp]) -> Option<SystemTime> {
    files.iter().filter_map(|(_, _, modified)| *modified).max()
}

fn file_name(path: &Path) -> String {
    path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The definitions files of `directory`, sorted.
fn definitions_files(directory: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let entries =
        std::fs::read_dir(directory).map_err(|source| UpdateError::Io { path: directory.to_owned(), source })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_file() && is_definitions_file(&file_name(path)))
        .collect();
    files.sort();
    Ok(files)
}

/// The complete files waiting in the incoming directory, sorted (a missing directory holds none).
fn incoming_files(incoming: &Path) -> Result<Vec<PathBuf>, UpdateError> {
    let entries = match std::fs::read_dir(incoming) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(UpdateError::Io { path: incoming.to_owned(), source }),
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| {
            let name = file_name(path);
            path.is_file() && !name.starts_with('.') && !name.ends_with(".tmp") && !name.ends_with(".part")
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Name, size and modification time of every definitions file under `paths` (directories one level deep).
fn stamps(paths: &[PathBuf]) -> Vec<FileStamp> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(definitions_files(path).unwrap_or_default());
        } else {
            files.push(path.clone());
        }
    }
    files
        .into_iter()
        .map(|path| {
            let metadata = std::fs::metadata(&path).ok();
            let len = metadata.as_ref().map_or(0, std::fs::Metadata::len);
            let modified = metadata.and_then(|metadata| metadata.modified().ok());
            (path, len, modified)
        })
        .collect()
}

/// Moves `from` to `to` atomically: a rename, or across file systems a copy to a hidden name beside `to`
/// renamed over it.
fn move_file(from: &Path, to: &Path) -> Result<(), UpdateError> {
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| UpdateError::Io { path, source }
    };
    if std::fs::rename(from, to).is_ok() {
        return Ok(());
    }
    let staging = to.with_file_name(format!(".{}.tmp", file_name(to)));
    std::fs::copy(from, &staging).map_err(io(&staging))?;
    std::fs::rename(&staging, to).map_err(io(to))?;
    std::fs::remove_file(from).map_err(io(from))
}

/// What the [`Updater`] thread is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UpdaterRequest {
    Reload,
    Stop,
}

/// The thread that keeps [`LiveDefinitions`] current: an update check every `interval`, and a forced reload
/// whenever [`Updater::reload`] is called (clamd's RELOAD, SIGHUP). Requests that arrive while a reload runs
/// are merged into one more reload. Stops when dropped.
#[derive(Debug)]
pub struct Updater {
    sender: mpsc::Sender<UpdaterRequest>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Updater {
    /// Starts the thread.
    ///
    /// # Errors
    /// The thread cannot be started.
    pub fn start(live: Arc<LiveDefinitions>, interval: Duration) -> std::io::Result<Updater> {
        let (sender, receiver) = mpsc::channel();
        let thread = std::thread::Builder::new().name("avscan-update".into()).spawn(move || {
            let mut next_check = Instant::now() + interval;
            loop {
                let wait = next_check.saturating_duration_since(Instant::now());
                let force = match receiver.recv_timeout(wait) {
                    Ok(UpdaterRequest::Reload) => true,
                    Err(RecvTimeoutError::Timeout) => false,
                    Ok(UpdaterRequest::Stop) | Err(RecvTimeoutError::Disconnected) => return,
                };
                // Reloads asked for meanwhile are served by this one.
                while let Ok(request) = receiver.try_recv() {
                    if request == UpdaterRequest::Stop {
                        return;
                    }
                }
                let _ = live.update(force);
                next_check = Instant::now() + interval;
            }
        })?;
        Ok(Updater { sender, thread: Some(thread) })
    }

    /// Asks for a forced reload and returns at once.
    pub fn reload(&self) {
        let _ = self.sender.send(UpdaterRequest::Reload);
    }
}

impl Drop for Updater {
    fn drop(&mut self) {
        let _ = self.sender.send(UpdaterRequest::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EICAR_NDB: &str = "Eicar-Test-Signature:0:*:58354f2150254041505b345c505a58353428505e2937434329377d2445494341522d5354414e444152442d414e544956495255532d544553542d46494c452124482b482a\n";

    const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

    fn template() -> Engine {
        Engine::builder().max_concurrency(1).build(Arc::new(Database::embedded().unwrap())).unwrap()
    }

    fn version_of(live: &LiveDefinitions) -> String {
        live.current().database().version().to_owned()
    }

    #[test]
    fn incoming_files_replace_their_namesakes_and_a_broken_set_is_rejected_whole() {
        let root = tempfile::tempdir().unwrap();
        let definitions = root.path().join("definitions");
        let incoming = root.path().join("incoming");
        std::fs::create_dir_all(&definitions).unwrap();
        std::fs::create_dir_all(&incoming).unwrap();
        std::fs::write(definitions.join("eicar.ndb"), EICAR_NDB).unwrap();
        std::fs::write(definitions.join("VERSION"), "one\n").unwrap();
        let compiled = definitions.join("avscan.avdb");
        let source = DefinitionsSource {
            paths: vec![definitions.clone()],
            incoming: Some(incoming.clone()),
            compiled: Some(compiled.clone()),
        };
        let live = LiveDefinitions::load(&template(), source).unwrap();
        assert_eq!(version_of(&live), "one");
        assert_eq!(live.update(false).unwrap(), UpdateOutcome::Unchanged);

        // A write in progress is left alone.
        std::fs::write(incoming.join("VERSION.tmp"), "two\n").unwrap();
        assert_eq!(live.update(false).unwrap(), UpdateOutcome::Unchanged);
        std::fs::rename(incoming.join("VERSION.tmp"), incoming.join("VERSION")).unwrap();
        assert!(!live.status().up_to_date, "a file waits in incoming");
        let outcome = live.update(false).unwrap();
        assert!(matches!(&outcome, UpdateOutcome::Reloaded { version, applied, .. }
            if version == "two" && applied == &["VERSION".to_owned()]));
        assert_eq!(std::fs::read_to_string(definitions.join("VERSION")).unwrap(), "two\n");
        assert!(std::fs::read_dir(&incoming).unwrap().next().is_none());
        // The compiled form was written for the directory as it is now: a fresh start decodes every part.
        let restarted = Database::load_with_compiled(std::slice::from_ref(&definitions), &compiled, None).unwrap();
        assert_eq!(restarted.info().parts.compiled, 2, "{:?}", restarted.info());
        assert_eq!(restarted.version(), "two");
        // Writing the compiled form is no change of the definitions: the next check finds nothing to do.
        assert_eq!(live.update(false).unwrap(), UpdateOutcome::Unchanged);

        // A broken file: the whole update is refused, moved aside, and the old set serves.
        let serving = live.current();
        std::fs::write(incoming.join("VERSION"), "three\n").unwrap();
        std::fs::write(incoming.join("broken.ndb"), "Broken:0:*:zz\n").unwrap();
        let error = live.update(false).unwrap_err().to_string();
        assert!(error.contains("broken.ndb:1"), "{error}");
        assert!(Arc::ptr_eq(&serving, &live.current()));
        assert_eq!(version_of(&live), "two");
        let status = live.status();
        assert!(status.last_error.as_deref().is_some_and(|e| e.contains("broken.ndb")));
        assert!(!status.up_to_date && status.pending.is_empty());
        let rejected: Vec<_> = std::fs::read_dir(incoming.join("rejected")).unwrap().collect();
        assert_eq!(rejected.len(), 1);
        assert!(!definitions.join("broken.ndb").exists());
    }

    #[test]
    fn a_changed_definitions_file_is_reloaded_and_a_forced_reload_always_is() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("VERSION"), "one\n").unwrap();
        std::fs::write(root.path().join("eicar.ndb"), EICAR_NDB).unwrap();
        let source = DefinitionsSource { paths: vec![root.path().to_owned()], incoming: None, compiled: None };
        let live = LiveDefinitions::load(&template(), source).unwrap();
        assert_eq!(live.update(false).unwrap(), UpdateOutcome::Unchanged);
        let first = live.current();
        assert!(matches!(live.update(true).unwrap(), UpdateOutcome::Reloaded { .. }));
        // Nothing changed: the new set is made of the old set's parts.
        assert!(!Arc::ptr_eq(&first, &live.current()));
        assert_eq!(live.current().database().shared_parts(first.database()), 2);
        std::fs::write(root.path().join("VERSION"), "second\n").unwrap();
        assert!(matches!(live.update(false).unwrap(), UpdateOutcome::Reloaded { version, .. } if version == "second"));
        // Only VERSION changed: eicar.ndb's part is the one `first` holds.
        let second = live.current();
        assert_eq!(second.database().part_count(), 2);
        assert_eq!(second.database().shared_parts(first.database()), 1);
        assert_eq!(second.scan_bytes("eicar", EICAR).info.as_deref(), Some("Eicar-Test-Signature"));
        // A broken edit in place keeps the old set, which still detects.
        std::fs::write(root.path().join("eicar.ndb"), "Eicar:0:*:5\n").unwrap();
        assert!(live.update(false).is_err());
        assert!(Arc::ptr_eq(&second, &live.current()));
        assert_eq!(version_of(&live), "second");
        assert_eq!(live.status().reloads, 2);
    }

    #[test]
    fn incoming_needs_one_definitions_directory() {
        let source =
            DefinitionsSource { paths: Vec::new(), incoming: Some(PathBuf::from("/tmp/incoming")), compiled: None };
        let error = LiveDefinitions::load(&template(), source).unwrap_err().to_string();
        assert_eq!(error, "invalid incoming_directory /tmp/incoming: needs definitions to be exactly one directory");
    }
}
