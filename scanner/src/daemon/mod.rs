//! `avscan serve`: a daemon that speaks clamd's protocol, so that the clients mail systems already run
//! (clamdscan, Exim's malware ACL, rspamd, amavisd, the Python `clamd` package) use it unchanged.
//!
//! Shape:
//! - **I/O threads** (a small tokio runtime) accept connections on a Unix socket and/or a TCP address, read
//!   requests ([`protocol`]) and INSTREAM data into a spool (RAM up to [`STREAM_MEMORY_THRESHOLD`] within a
//!   [`STREAM_MEMORY_BUDGET`] for all streams, then an unnamed temporary file), and write replies. They never
//!   scan.
//! - **The scanning pool** (the engine's `max_concurrency` threads) runs every scan. A request holds one of
//!   `max_queue` slots from the moment its data is in until its scan ends; with all slots taken, new requests
//!   wait (the connection is not read meanwhile, which slows a greedy client down, not the others). A scan
//!   never touches a socket, so a slow or vanished client never holds a scanning thread; the queued requests of
//!   a session that ended early (a refused command, a timeout) are dropped before they start.
//! - **Connections** beyond `max_connections` are answered `Too many connections (max_connections N). ERROR`
//!   and closed; idle ones
//!   are closed after `command_read_timeout` (first command) or `idle_timeout` (inside a session), with
//!   clamd's `COMMAND READ TIMED OUT`.
//! - **Definitions** live in [`LiveDefinitions`](crate::live_update::LiveDefinitions): RELOAD, SIGHUP and every `update_interval` ask the
//!   [`Updater`](crate::live_update::Updater) thread to load a new set beside the serving one and swap it in when whole; each scan keeps
//!   the engine it was queued with.
//! - **Shutdown** (SHUTDOWN, QUIT, SIGTERM, SIGINT, or [`DaemonHandle::shutdown`]): listeners close, idle
//!   connections close, requests in flight are scanned and answered, then [`Daemon::run`] returns and the
//!   socket file is removed.
//!
//! Differences from clamd, on purpose: UNSCANNABLE verdicts (a limit fired, an encrypted archive) are `OK`
//! on this protocol as clamd reports them by default (JSONINSTREAM and JSONSCAN carry the whole verdict);
//! ALLMATCHSCAN reports each signature once per part, where clamd repeats a signature that matches twice in
//! one file; path commands are refused outside `allowed_scan_directories`; VERSION names this engine
//! (`ClamAV avscan-0.1.0/27371/Thu Dec  3 09:00:00 2026`, the `ClamAV ` prefix kept for the clients that
//! parse it).

pub mod protocol;

#[cfg(feature = "daemon")]
mod connection;
#[cfg(feature = "daemon")]
mod paths;
#[cfg(feature = "daemon")]
mod server;
#[cfg(feature = "daemon")]
mod transport;

#[cfg(feature = "daemon")]
pub use server::{Daemon, DaemonError, DaemonHandle};

/// Bytes of one INSTREAM kept in RAM; the rest goes to an unnamed temporary file.
pub const STREAM_MEMORY_THRESHOLD: u64 = 1024 * 1024;

/// Bytes of INSTREAM data all connections together keep in RAM: [`STREAM_MEMORY_THRESHOLD`] for each of the
/// first streams that fit, from their first byte to the end of their scan; the streams beyond go to a
/// temporary file from their first byte. Without it a client pipelining hundreds of streams in a session would
/// hold `max_queue` of them in RAM.
pub const STREAM_MEMORY_BUDGET: u64 = 32 * STREAM_MEMORY_THRESHOLD;

/// The text of the VERSION reply: `ClamAV avscan-VERSION/DEFINITIONS/DATE`, after clamd's
/// `ClamAV 1.4.6/27371/Tue Dec  2 09:30:00 2026`. The definitions part is the daily database's number when
/// the set has one, else the whole version; the date is the newest definitions file's, in clamd's `ctime`
/// form (UTC), and is left out for the embedded database, as clamd leaves it out without a daily database.
pub fn version_text(status: &crate::live_update::DefinitionsStatus) -> String {
    let definitions = status
        .version
        .split(' ')
        .find_map(|part| part.strip_prefix("daily:"))
        .unwrap_or(&status.version)
        .replace(['|', '/', '\0', '\n'], "_");
    match status.date {
        Some(date) => format!("ClamAV avscan-{}/{definitions}/{}", crate::VERSION, ctime(date)),
        None => format!("ClamAV avscan-{}/{definitions}", crate::VERSION),
    }
}

/// The version report (JSONVERSION, `avscan version`): the engine's, the decomposer's and the definitions'
/// version, with the definitions' state.
pub fn version_report(status: &crate::live_update::DefinitionsStatus) -> serde_json::Value {
    serde_json::json!({
        "engine": format!("avscan {}", crate::VERSION),
        "decomposer": decomposer::VERSION,
        "definitions": status,
    })
}

/// `Tue Jan  2 12:34:56 2024` for seconds since the Unix epoch (UTC), as C's `ctime` without its newline.
pub fn ctime(unix_seconds: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let days = unix_seconds / 86_400;
    let seconds = unix_seconds % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 { month_index + 3 } else { month_index - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02} {}",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        day,
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        year
    )
}

/// The VERSIONCOMMANDS reply text.
pub fn version_commands_text(version: &str) -> String {
    format!("{version}| COMMANDS: {}", protocol::COMMAND_NAMES.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_c() {
        assert_eq!(ctime(0), "Thu Jan  1 00:00:00 1970");
        assert_eq!(ctime(1_704_198_896), "Tue Jan  2 12:34:56 2024");
        assert_eq!(ctime(951_782_400), "Tue Feb 29 00:00:00 2000");
        assert_eq!(ctime(1_796_292_000), "Thu Dec  3 10:00:00 2026");
    }

    #[test]
    fn version_names_the_daily_number_when_there_is_one() {
        let mut status = crate::live_update::DefinitionsStatus {
            version: "daily:27371 main:62".into(),
            date: Some(1_704_198_896),
            reloads: 0,
            last_check: None,
            last_error: None,
            pending: Vec::new(),
            up_to_date: true,
        };
        let engine = crate::VERSION;
        assert_eq!(version_text(&status), format!("ClamAV avscan-{engine}/27371/Tue Jan  2 12:34:56 2024"));
        status.version = "avscan-default-1".into();
        status.date = None;
        assert_eq!(version_text(&status), format!("ClamAV avscan-{engine}/avscan-default-1"));
        status.version = "a/b|c".into();
        assert!(version_text(&status).ends_with("/a_b_c"));
    }
}
