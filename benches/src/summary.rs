//! The closing summary of a criterion bench: for every benchmark that ran, MB/s of input and MB/s of output.
//!
//! criterion reports one throughput per benchmark. A decomposition has two that matter, the archive read and
//! the bytes extracted, so each bench [`record`]s the two sizes of every benchmark it registers, and its
//! `main` calls [`print`] after criterion is done: `print` reads the median criterion just wrote
//! (`<criterion home>/<group>/<function>/new/estimates.json`) and prints one line per benchmark. A benchmark
//! that a filter skipped in this run has no fresh estimate and is left out.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::SystemTime;

/// One benchmark's sizes per iteration.
#[derive(Debug, Clone)]
struct Sizes {
    group: String,
    function: String,
    input_bytes: u64,
    output_bytes: u64,
}

static RECORDED: Mutex<Vec<Sizes>> = Mutex::new(Vec::new());

/// Notes that benchmark `group`/`function` reads `input_bytes` and writes (extracts, or scans)
/// `output_bytes` per iteration.
pub fn record(group: &str, function: &str, input_bytes: u64, output_bytes: u64) {
    if let Ok(mut recorded) = RECORDED.lock() {
        recorded.push(Sizes { group: group.into(), function: function.into(), input_bytes, output_bytes });
    }
}

/// Where criterion writes its data: `CRITERION_HOME`, else `<target>/criterion` (`CARGO_TARGET_DIR` or the
/// workspace's `target/`). A target directory set only in cargo's configuration is not seen here: the
/// summary then finds no fresh estimate and prints nothing.
fn criterion_home() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join("target"), PathBuf::from)
        .join("criterion")
}

/// A benchmark id as criterion names its directory.
fn file_name_safe(id: &str) -> String {
    id.chars()
        .map(|c| if matches!(c, '?' | '"' | '/' | '\\' | '*' | '<' | '>' | ':' | '|' | '^') { '_' } else { c })
        .collect()
}

/// The median criterion wrote for `sizes` since `since`, in seconds.
fn fresh_median(sizes: &Sizes, since: SystemTime) -> Option<f64> {
    let path = criterion_home()
        .join(file_name_safe(&sizes.group))
        .join(file_name_safe(&sizes.function))
        .join("new")
        .join("estimates.json");
    if std::fs::metadata(&path).ok()?.modified().ok()? < since {
        return None;
    }
    let estimates: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    Some(estimates.get("median")?.get("point_estimate")?.as_f64()? / 1e9)
}

/// Prints, for every recorded benchmark with an estimate written since `since` (the bench's start), its
/// median time and its MB/s (10^6 bytes) of input and of output.
pub fn print(title: &str, since: SystemTime) {
    let Ok(recorded) = RECORDED.lock() else { return };
    let rows: Vec<(&Sizes, f64)> =
        recorded.iter().filter_map(|sizes| Some((sizes, fresh_median(sizes, since)?))).collect();
    if rows.is_empty() {
        return;
    }
    println!("\n{title}");
    println!("{:<40} {:>10} {:>12} {:>12}", "benchmark", "median s", "MB/s in", "MB/s out");
    for (sizes, median) in rows {
        let rate = |bytes: u64| bytes as f64 / 1e6 / median;
        println!(
            "{:<40} {:>10.4} {:>12.1} {:>12.1}",
            format!("{}/{}", sizes.group, sizes.function),
            median,
            rate(sizes.input_bytes),
            rate(sizes.output_bytes)
        );
    }
}
