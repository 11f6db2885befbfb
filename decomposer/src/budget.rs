//! The Budget: the one place where the CSAPI limits are enforced.
//!
//! Every byte a format extracts passes through [`Budget::grant`] and every child through
//! [`Budget::admit_file`]; the deadline is checked at each child and at least every 64 KiB of streamed
//! output ([`crate::walk`] reads children in chunks of at most [`CHUNK`]; a whole-buffer inflate of at most
//! the walk's whole-buffer limit runs between two checks). Formats never check a limit themselves.
//! The counters are atomics so that children extracted on several threads share one budget.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use crate::codes::DecResult;
use crate::limits::Limits;

/// The most bytes read from a child's decoder between two deadline checks.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Why the whole walk stopped, stored in an `AtomicU8` so that it can be shared.
const RUNNING: u8 = 0;
const STOP_CUMULATIVE: u8 = 1;
const STOP_TIME: u8 = 2;
const STOP_FILES: u8 = 3;

/// Shared counters of one scan, checked against its [`Limits`].
#[derive(Debug)]
pub(crate) struct Budget {
    limits: Limits,
    started: Instant,
    deadline: Option<Instant>,
    files: AtomicU64,
    bytes: AtomicU64,
    stop: AtomicU8,
}

/// How many of the bytes asked for may be kept, and the limit that cut them, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    pub(crate) bytes: usize,
    pub(crate) cut_by: Option<DecResult>,
}

impl Budget {
    pub(crate) fn new(limits: Limits) -> Self {
        let started = Instant::now();
        Budget {
            limits,
            started,
            deadline: limits.max_extract_time().and_then(|time| started.checked_add(time)),
            files: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            stop: AtomicU8::new(RUNNING),
        }
    }

    /// A budget whose deadline is `deadline` rather than `max_extract_time` from now, for tests of the
    /// deadline that must not sleep.
    #[cfg(test)]
    pub(crate) fn with_deadline(limits: Limits, deadline: Instant) -> Self {
        Budget { deadline: Some(deadline), ..Budget::new(limits) }
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// The limit that stopped all extraction, if one did.
    pub(crate) fn stopped(&self) -> Option<DecResult> {
        match self.stop.load(Ordering::Acquire) {
            STOP_CUMULATIVE => Some(DecResult::MaximumCumulativeExtractSizeExceeded),
            STOP_TIME => Some(DecResult::MaximumExtractTimeExceeded),
            STOP_FILES => Some(DecResult::MaximumFilesExtracted),
            _ => None,
        }
    }

    fn stop_with(&self, reason: u8) -> DecResult {
        // The first reason wins; later ones are consequences.
        let _ = self.stop.compare_exchange(RUNNING, reason, Ordering::AcqRel, Ordering::Acquire);
        self.stopped().unwrap_or(DecResult::MaximumCumulativeExtractSizeExceeded)
    }

    /// Checks the deadline; past it, all extraction stops.
    pub(crate) fn check_deadline(&self) -> Result<(), DecResult> {
        if let Some(code) = self.stopped() {
            return Err(code);
        }
        match self.deadline {
            Some(deadline) if Instant::now() >= deadline => Err(self.stop_with(STOP_TIME)),
            _ => Ok(()),
        }
    }

    /// Admits one more extracted file, or says which limit refuses it. Once the cumulative size is spent,
    /// no file is admitted: it could only be handed on empty.
    pub(crate) fn admit_file(&self) -> Result<(), DecResult> {
        self.check_deadline()?;
        if self.bytes.load(Ordering::Acquire) >= self.limits.max_cumulative_extract_size() {
            return Err(self.stop_with(STOP_CUMULATIVE));
        }
        let max = self.limits.max_file_count().unwrap_or(u64::MAX);
        let admitted =
            self.files.fetch_update(Ordering::AcqRel, Ordering::Acquire, |files| (files < max).then_some(files + 1));
        match admitted {
            Ok(_) => Ok(()),
            Err(_) => Err(self.stop_with(STOP_FILES)),
        }
    }

    /// Grants up to `wanted` more bytes to a child that already holds `child_bytes`.
    pub(crate) fn grant(&self, child_bytes: u64, wanted: usize) -> Grant {
        let per_child_room = self.limits.max_extract_size().saturating_sub(child_bytes);
        let wanted_by_child = (wanted as u64).min(per_child_room);
        let max_total = self.limits.max_cumulative_extract_size();
        let mut granted = 0;
        let _ = self.bytes.fetch_update(Ordering::AcqRel, Ordering::Acquire, |total| {
            granted = wanted_by_child.min(max_total.saturating_sub(total));
            Some(total + granted)
        });
        // `granted <= wanted`, which is a usize.
        let bytes = usize::try_from(granted).unwrap_or(wanted);
        let cut_by = if bytes == wanted {
            None
        } else if granted < wanted_by_child {
            Some(self.stop_with(STOP_CUMULATIVE))
        } else {
            Some(DecResult::MaximumExtractSizeExceeded)
        };
        Grant { bytes, cut_by }
    }

    pub(crate) fn files_extracted(&self) -> u64 {
        self.files.load(Ordering::Acquire)
    }

    pub(crate) fn bytes_extracted(&self) -> u64 {
        self.bytes.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget(size: u64, cumulative: u64, files: u64) -> Budget {
        Budget::new(
            Limits::builder()
                .max_extract_size(size)
                .max_cumulative_extract_size(cumulative)
                .max_file_count(files)
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn per_child_limit_cuts_one_child_only() {
        let budget = budget(10, 100, 0);
        assert_eq!(budget.grant(0, 8), Grant { bytes: 8, cut_by: None });
        assert_eq!(budget.grant(8, 8), Grant { bytes: 2, cut_by: Some(DecResult::MaximumExtractSizeExceeded) });
        assert_eq!(budget.stopped(), None);
        assert_eq!(budget.grant(0, 8), Grant { bytes: 8, cut_by: None });
        assert_eq!(budget.bytes_extracted(), 18);
    }

    #[test]
    fn cumulative_limit_stops_everything() {
        let budget = budget(100, 20, 0);
        assert_eq!(budget.grant(0, 15).bytes, 15);
        assert_eq!(
            budget.grant(0, 15),
            Grant { bytes: 5, cut_by: Some(DecResult::MaximumCumulativeExtractSizeExceeded) }
        );
        assert_eq!(budget.stopped(), Some(DecResult::MaximumCumulativeExtractSizeExceeded));
        assert_eq!(budget.admit_file(), Err(DecResult::MaximumCumulativeExtractSizeExceeded));
    }

    #[test]
    fn file_count_limit() {
        let budget = budget(100, 100, 2);
        assert_eq!(budget.admit_file(), Ok(()));
        assert_eq!(budget.admit_file(), Ok(()));
        assert_eq!(budget.admit_file(), Err(DecResult::MaximumFilesExtracted));
        assert_eq!(budget.files_extracted(), 2);
    }
}
