//! The five CSAPI extraction limits, validated when they are built.
//!
//! A [`Limits`] value in hand is always in range: the only way to get one is [`Limits::default`] or
//! [`LimitsBuilder::build`], which refuses an out-of-range value with an error that names the option, the
//! value and the allowed range. Nothing is clamped silently.

use std::time::Duration;

/// `max_cumulative_extract_size = 0` means this many bytes (about 200 MB), as in CSAPI.
pub const DEFAULT_CUMULATIVE_EXTRACT_SIZE: u64 = 209_715_200;
/// The largest `max_cumulative_extract_size` accepted without the explicit override (2 GiB).
pub const MAX_CUMULATIVE_EXTRACT_SIZE: u64 = 2_147_483_648;
/// The largest `max_cumulative_extract_size` accepted with the override, and the largest `max_extract_size`.
pub const MAX_EXTRACT_SIZE_OVERRIDE: u64 = 4_294_967_294;
/// The largest `max_extract_time` accepted, in seconds (one day).
pub const MAX_EXTRACT_TIME_SECONDS: u64 = 86_400;

/// A limit option given a value outside its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {option} {value}: must be {allowed}")]
pub struct LimitsError {
    /// The CSAPI option name, for example `max_extract_depth`.
    pub option: &'static str,
    /// The value that was refused.
    pub value: u64,
    /// The allowed range, for example `1..=50`.
    pub allowed: &'static str,
}

/// The CSAPI extraction limits of one scan. Always valid; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    max_extract_depth: u32,
    max_extract_size: u64,
    max_cumulative_extract_size: u64,
    max_extract_time: Option<Duration>,
    max_file_count: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_extract_depth: 10,
            max_extract_size: 104_857_600,
            max_cumulative_extract_size: DEFAULT_CUMULATIVE_EXTRACT_SIZE,
            max_extract_time: Some(Duration::from_secs(180)),
            max_file_count: Some(5000),
        }
    }
}

impl Limits {
    /// A builder starting from the CSAPI defaults.
    pub fn builder() -> LimitsBuilder {
        LimitsBuilder::default()
    }

    /// The deepest level whose containers are opened is `max_extract_depth - 1`: the input is depth 0, its
    /// children depth 1, and a container found at depth `max_extract_depth` is not opened.
    pub fn max_extract_depth(&self) -> u32 {
        self.max_extract_depth
    }

    /// The most bytes extracted for any one child.
    pub fn max_extract_size(&self) -> u64 {
        self.max_extract_size
    }

    /// The most bytes extracted in one scan, all levels together (0 in the configuration already resolved
    /// to [`DEFAULT_CUMULATIVE_EXTRACT_SIZE`]).
    pub fn max_cumulative_extract_size(&self) -> u64 {
        self.max_cumulative_extract_size
    }

    /// The wall-clock budget of one scan's decomposition, `None` when unlimited.
    pub fn max_extract_time(&self) -> Option<Duration> {
        self.max_extract_time
    }

    /// The most files extracted in one scan, all levels together, `None` when unlimited.
    pub fn max_file_count(&self) -> Option<u64> {
        self.max_file_count
    }
}

/// Builds [`Limits`]; every setter takes the raw configuration value and [`LimitsBuilder::build`] checks them.
#[derive(Debug, Clone)]
pub struct LimitsBuilder {
    max_extract_depth: u64,
    max_extract_size: u64,
    max_cumulative_extract_size: u64,
    allow_large_cumulative_extract_size: bool,
    max_extract_time: u64,
    max_file_count: u64,
}

impl Default for LimitsBuilder {
    fn default() -> Self {
        LimitsBuilder {
            max_extract_depth: 10,
            max_extract_size: 104_857_600,
            max_cumulative_extract_size: 0,
            allow_large_cumulative_extract_size: false,
            max_extract_time: 180,
            max_file_count: 5000,
        }
    }
}

impl LimitsBuilder {
    /// `max_extract_depth`, 1..=50 (default 10).
    pub fn max_extract_depth(&mut self, value: u64) -> &mut Self {
        self.max_extract_depth = value;
        self
    }

    /// `max_extract_size` in bytes, 1..=4294967294 (default 104857600).
    pub fn max_extract_size(&mut self, value: u64) -> &mut Self {
        self.max_extract_size = value;
        self
    }

    /// `max_cumulative_extract_size` in bytes, 0..=2147483648 where 0 means 209715200 (the default); up to
    /// 4294967294 once [`LimitsBuilder::allow_large_cumulative_extract_size`] is set.
    pub fn max_cumulative_extract_size(&mut self, value: u64) -> &mut Self {
        self.max_cumulative_extract_size = value;
        self
    }

    /// The explicit override (CSAPI's `-omaxCumulativeExtractSize`) that allows a cumulative limit above 2 GiB.
    pub fn allow_large_cumulative_extract_size(&mut self, allow: bool) -> &mut Self {
        self.allow_large_cumulative_extract_size = allow;
        self
    }

    /// `max_extract_time` in seconds, 0..=86400 where 0 means unlimited (default 180).
    pub fn max_extract_time(&mut self, seconds: u64) -> &mut Self {
        self.max_extract_time = seconds;
        self
    }

    /// `max_file_count`, 0..=4294967295 where 0 means unlimited (default 5000).
    pub fn max_file_count(&mut self, value: u64) -> &mut Self {
        self.max_file_count = value;
        self
    }

    /// Checks every value and returns the limits, or the first value out of range.
    pub fn build(&self) -> Result<Limits, LimitsError> {
        let check = |option, value: u64, low: u64, high: u64, allowed| {
            if (low..=high).contains(&value) { Ok(value) } else { Err(LimitsError { option, value, allowed }) }
        };
        let depth = check("max_extract_depth", self.max_extract_depth, 1, 50, "1..=50")?;
        let size = check("max_extract_size", self.max_extract_size, 1, MAX_EXTRACT_SIZE_OVERRIDE, "1..=4294967294")?;
        let cumulative = if self.allow_large_cumulative_extract_size {
            check(
                "max_cumulative_extract_size",
                self.max_cumulative_extract_size,
                0,
                MAX_EXTRACT_SIZE_OVERRIDE,
                "0..=4294967294 (with the large-size override)",
            )?
        } else {
            check(
                "max_cumulative_extract_size",
                self.max_cumulative_extract_size,
                0,
                MAX_CUMULATIVE_EXTRACT_SIZE,
                "0..=2147483648 (up to 4294967294 only with the large-size override)",
            )?
        };
        let time = check("max_extract_time", self.max_extract_time, 0, MAX_EXTRACT_TIME_SECONDS, "0..=86400 seconds")?;
        let files = check("max_file_count", self.max_file_count, 0, u64::from(u32::MAX), "0..=4294967295")?;
        Ok(Limits {
            // The range check above keeps the depth within u32.
            max_extract_depth: u32::try_from(depth).unwrap_or(50),
            max_extract_size: size,
            max_cumulative_extract_size: if cumulative == 0 { DEFAULT_CUMULATIVE_EXTRACT_SIZE } else { cumulative },
            max_extract_time: (time != 0).then(|| Duration::from_secs(time)),
            max_file_count: (files != 0).then_some(files),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_csapi_defaults() {
        let limits = Limits::builder().build().unwrap();
        assert_eq!(limits, Limits::default());
        assert_eq!(limits.max_extract_depth(), 10);
        assert_eq!(limits.max_extract_size(), 104_857_600);
        assert_eq!(limits.max_cumulative_extract_size(), 209_715_200);
        assert_eq!(limits.max_extract_time(), Some(Duration::from_secs(180)));
        assert_eq!(limits.max_file_count(), Some(5000));
    }

    #[test]
    fn out_of_range_values_name_option_value_and_range() {
        let err = Limits::builder().max_extract_depth(51).build().unwrap_err();
        assert_eq!(err.to_string(), "invalid max_extract_depth 51: must be 1..=50");
        let err = Limits::builder().max_extract_depth(0).build().unwrap_err();
        assert_eq!(err.option, "max_extract_depth");
        let err = Limits::builder().max_extract_size(0).build().unwrap_err();
        assert_eq!(err.to_string(), "invalid max_extract_size 0: must be 1..=4294967294");
        let err = Limits::builder().max_extract_size(4_294_967_295).build().unwrap_err();
        assert_eq!(err.value, 4_294_967_295);
        let err = Limits::builder().max_extract_time(86_401).build().unwrap_err();
        assert_eq!(err.option, "max_extract_time");
        let err = Limits::builder().max_file_count(1 << 32).build().unwrap_err();
        assert_eq!(err.option, "max_file_count");
    }

    #[test]
    fn cumulative_above_two_gib_needs_the_override() {
        let err = Limits::builder().max_cumulative_extract_size(2_147_483_649).build().unwrap_err();
        assert_eq!(err.option, "max_cumulative_extract_size");
        assert!(err.to_string().contains("override"), "{err}");
        let limits = Limits::builder().max_cumulative_extract_size(2_147_483_648).build().unwrap();
        assert_eq!(limits.max_cumulative_extract_size(), 2_147_483_648);
        let limits = Limits::builder()
            .allow_large_cumulative_extract_size(true)
            .max_cumulative_extract_size(4_294_967_294)
            .build()
            .unwrap();
        assert_eq!(limits.max_cumulative_extract_size(), 4_294_967_294);
        let err = Limits::builder()
            .allow_large_cumulative_extract_size(true)
            .max_cumulative_extract_size(4_294_967_295)
            .build()
            .unwrap_err();
        assert_eq!(err.value, 4_294_967_295);
    }

    #[test]
    fn zero_means_default_or_unlimited() {
        let limits =
            Limits::builder().max_cumulative_extract_size(0).max_extract_time(0).max_file_count(0).build().unwrap();
        assert_eq!(limits.max_cumulative_extract_size(), DEFAULT_CUMULATIVE_EXTRACT_SIZE);
        assert_eq!(limits.max_extract_time(), None);
        assert_eq!(limits.max_file_count(), None);
    }
}
