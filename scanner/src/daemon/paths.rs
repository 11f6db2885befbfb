//! The path commands (SCAN, CONTSCAN, MULTISCAN, ALLMATCHSCAN and the JSONSCAN extension): which paths may be
//! read, how directories are walked, and the reply lines, as clamd writes them.
//!
//! Path commands read files of the machine the daemon runs on, so they are refused (`PATH: Access denied.
//! ERROR`) unless the path, once symbolic links are resolved, lies inside one of the configured
//! `allowed_scan_directories`. A relative path is taken from `/`, as clamd (which runs from `/`) takes it.
//! Directories are walked without following symbolic links, files before subdirectories, each sorted by name,
//! at most [`MAX_DIRECTORY_DEPTH`] levels deep; only regular files are scanned.
//!
//! Replies: `PATH: NAME FOUND` per infected file (per detection for ALLMATCHSCAN), `PATH: REASON ERROR` per
//! file that could not be scanned, and a final `PATH: OK` when nothing was found (for a directory even after
//! error lines, as clamd). A verdict of UNSCANNABLE (a limit fired, an encrypted archive) is `OK` on this
//! protocol, as clamd reports such files by default; JSONSCAN carries the whole verdict.
//!
//! This runs on the scanning pool: everything here blocks.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use rayon::prelude::*;

use super::protocol::{PathScan, reported_path};
use crate::engine::Engine;
use crate::verdict::{Status, Verdict};

/// Directory levels a path command descends (clamd's MaxDirectoryRecursion default).
pub const MAX_DIRECTORY_DEPTH: usize = 15;

/// The reply texts (without session number or terminator) to a path command.
pub(crate) fn scan_path(
    engine: &Engine,
    kind: PathScan,
    raw: &[u8],
    allowed: &[PathBuf],
    context_variable: &str,
) -> Vec<Vec<u8>> {
    let reported = reported_path(raw);
    let shown = String::from_utf8_lossy(reported).into_owned();
    let line = |text: &str| format!("{shown}: {text}").into_bytes();
    let json_error =
        |error: &str| serde_json::json!({ "path": shown, "status": "ERROR", "error": error }).to_string().into_bytes();
    let refuse = |error: &str| match kind {
        PathScan::Json => vec![json_error(error)],
        _ => vec![line(&format!("{error}. ERROR"))],
    };
    let target = match resolve(reported, allowed) {
        Ok(target) => target,
        Err(Refused::Denied) => {
            tracing::warn!(path = %shown, "path command outside allowed_scan_directories refused");
            return refuse("Access denied");
        }
        Err(Refused::Missing(error)) => return refuse(&format!("File path check failure: {}", strerror(&error))),
    };
    let metadata = match std::fs::metadata(&target) {
        Ok(metadata) => metadata,
        Err(error) => return refuse(&format!("File path check failure: {}", strerror(&error))),
    };
    let engine = if kind == PathScan::AllMatchScan { engine.with_all_matches(true) } else { engine.clone() };
    let (files, top_is_directory) = if metadata.is_dir() {
        let mut files = Vec::new();
        walk(&target, &shown, 0, &mut files);
        (files, true)
    } else if metadata.is_file() {
        (vec![(target, shown.clone())], false)
    } else {
        return match kind {
            PathScan::Json => vec![json_error("Not supported file type")],
            _ => vec![line("Not supported file type ERROR"), line("OK")],
        };
    };
    let scan = |(path, shown): &(PathBuf, String)| (shown.clone(), scan_file(&engine, path));
    let results: Vec<(String, Result<Verdict, String>)> = match kind {
        PathScan::MultiScan | PathScan::Json => files.par_iter().map(scan).collect(),
        PathScan::Scan | PathScan::AllMatchScan => {
            // Stops after the first infected file.
            let mut results = Vec::new();
            for file in &files {
                let result = scan(file);
                let infected = matches!(&result.1, Ok(verdict) if verdict.status == Status::Infected);
                results.push(result);
                if infected {
                    break;
                }
            }
            results
        }
        PathScan::ContScan => files.iter().map(scan).collect(),
    };
    let mut lines = Vec::new();
    let mut found = false;
    let mut errors = false;
    for (shown_file, result) in results {
        let file_line = |text: &str| format!("{shown_file}: {text}").into_bytes();
        match (kind, result) {
            (PathScan::Json, Ok(verdict)) => lines.push(json_line(&verdict, &shown_file, context_variable)),
            (PathScan::Json, Err(error)) => lines.push(
                serde_json::json!({ "path": shown_file, "status": "ERROR", "error": error }).to_string().into_bytes(),
            ),
            (_, Err(error)) => {
                errors = true;
                lines.push(file_line(&format!("{error}. ERROR")));
            }
            (_, Ok(verdict)) => match verdict.status {
                Status::Infected => {
                    found = true;
                    let take = if kind == PathScan::AllMatchScan { verdict.detections.len() } else { 1 };
                    for detection in verdict.detections.iter().take(take) {
                        lines.push(file_line(&format!("{} FOUND", detection.clamd_name())));
                    }
                }
                Status::Error => {
                    errors = true;
                    let code = verdict.scan_code.map(|code| code.to_string()).unwrap_or_default();
                    lines.push(file_line(&format!("{code} ERROR")));
                }
                Status::Clean
                | Status::Unscannable
                | Status::PartIsContainer
                | Status::NoEngine
                | Status::NameTooLong
                | Status::NotSuitableForStreaming => {}
            },
        }
    }
    if kind != PathScan::Json && !found && (top_is_directory || !errors) {
        lines.push(line("OK"));
    }
    lines
}

/// One JSON verdict line, with the Momentum context variables the verdict sets.
pub(crate) fn json_line(verdict: &Verdict, path: &str, context_variable: &str) -> Vec<u8> {
    let mut value = verdict.to_json(path);
    if let Some(object) = value.as_object_mut() {
        let variables: serde_json::Map<String, serde_json::Value> = verdict
            .context_variables(context_variable)
            .into_iter()
            .map(|(name, value)| (name, serde_json::Value::String(value)))
            .collect();
        object.insert("context_variables".into(), serde_json::Value::Object(variables));
    }
    value.to_string().into_bytes()
}

/// Scans one regular file; an `Err` is the reason it could not be read, as clamd words it.
fn scan_file(engine: &Engine, path: &Path) -> Result<Verdict, String> {
    if let Err(error) = std::fs::File::open(path) {
        return Err(if error.kind() == std::io::ErrorKind::PermissionDenied {
            "Access denied".to_owned()
        } else {
            format!("File path check failure: {}", strerror(&error))
        });
    }
    Ok(engine.scan_file(path))
}

/// Why a path may not be scanned.
enum Refused {
    /// Outside the allowed directories (or none is configured).
    Denied,
    /// Inside them, but it cannot be resolved.
    Missing(std::io::Error),
}

/// The canonical path of `reported` if it lies inside an allowed directory.
fn resolve(reported: &[u8], allowed: &[PathBuf]) -> Result<PathBuf, Refused> {
    if allowed.is_empty() {
        return Err(Refused::Denied);
    }
    if reported.is_empty() {
        // ENOENT, as the C library reports an empty path.
        return Err(Refused::Missing(std::io::Error::from_raw_os_error(2)));
    }
    let path = Path::new(OsStr::from_bytes(reported));
    let absolute = Path::new("/").join(path);
    match std::fs::canonicalize(&absolute) {
        Ok(canonical) if allowed.iter().any(|directory| canonical.starts_with(directory)) => Ok(canonical),
        Ok(_) => Err(Refused::Denied),
        // A path that does not resolve is named missing only if it would lie inside an allowed directory, so
        // that the replies tell nothing of the rest of the file system.
        Err(error) if allowed.iter().any(|directory| lexical(&absolute).starts_with(directory)) => {
            Err(Refused::Missing(error))
        }
        Err(_) => Err(Refused::Denied),
    }
}

/// `path` with `.` and `..` resolved by the text alone.
fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => out.push(name),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    out
}

/// The regular files under `directory` (files first, then subdirectories, each by name), with the path each
/// is reported as.
fn walk(directory: &Path, shown: &str, depth: usize, files: &mut Vec<(PathBuf, String)>) {
    let Ok(entries) = std::fs::read_dir(directory) else { return };
    let mut regular = Vec::new();
    let mut directories = Vec::new();
    for entry in entries.flatten() {
        let Ok(file_type) = entry.file_type() else { continue };
        let name = entry.file_name().to_string_lossy().into_owned();
        if file_type.is_file() {
            regular.push((entry.path(), name));
        } else if file_type.is_dir() {
            directories.push((entry.path(), name));
        }
    }
    regular.sort_by(|a, b| a.1.cmp(&b.1));
    directories.sort_by(|a, b| a.1.cmp(&b.1));
    let prefix = if shown.ends_with('/') { shown.to_owned() } else { format!("{shown}/") };
    files.extend(regular.into_iter().map(|(path, name)| (path, format!("{prefix}{name}"))));
    if depth < MAX_DIRECTORY_DEPTH {
        for (path, name) in directories {
            walk(&path, &format!("{prefix}{name}"), depth + 1, files);
        }
    }
}

/// The C library's text for an I/O error (`No such file or directory`), without Rust's ` (os error 2)`.
pub(crate) fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.rfind(" (os error ") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strerror_is_the_c_text() {
        assert_eq!(strerror(&std::io::Error::from_raw_os_error(2)), "No such file or directory");
        assert_eq!(strerror(&std::io::Error::from_raw_os_error(13)), "Permission denied");
    }

    #[test]
    fn paths_resolve_only_inside_allowed_directories() {
        let root = tempfile::tempdir().unwrap();
        let allowed = vec![std::fs::canonicalize(root.path()).unwrap()];
        std::fs::write(root.path().join("a.txt"), b"a").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.path().join("escape")).unwrap();
        let bytes = |path: PathBuf| path.into_os_string().into_encoded_bytes();
        assert!(resolve(&bytes(root.path().join("a.txt")), &allowed).is_ok());
        assert!(matches!(resolve(&bytes(root.path().join("escape")), &allowed), Err(Refused::Denied)));
        assert!(matches!(resolve(&bytes(root.path().join("missing")), &allowed), Err(Refused::Missing(_))));
        assert!(matches!(resolve(&bytes(root.path().join("../elsewhere")), &allowed), Err(Refused::Denied)));
        assert!(matches!(resolve(b"/etc/hostname", &allowed), Err(Refused::Denied)));
        assert!(matches!(resolve(b"/etc/hostname", &[]), Err(Refused::Denied)));
        assert!(matches!(resolve(b"", &allowed), Err(Refused::Missing(_))));
    }
}
