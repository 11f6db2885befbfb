//! The CSAPI verdict of a scan: status, info string, engine name, engine scan code, and everything behind them.
//!
//! The rules are DESIGN.md section 4, in one place:
//! - **Status**, first rule that holds: `INFECTED` if any signature matched; `UNSCANNABLE` if content was not
//!   fully inspected ([`CodeClass::NotInspected`]: a limit fired, an encrypted container, an unknown
//!   compression algorithm, an entry that could not be extracted); `ERROR` for engine faults
//!   ([`CodeClass::Fault`]: no definitions, I/O); else `CLEAN`. Tolerated oddities ([`CodeClass::Tolerated`]:
//!   a malformed container whose entries were all read, a MIME defect, a partial message) keep `CLEAN`.
//! - **Scan code**: if any `AVS_RESULT_*` code occurred, the first of them in [`AvsResult::ALL`] order
//!   (`AVS_RESULT_VIRUS_FOUND` comes before the faults); otherwise the most severe code by [`severity`]: codes
//!   that made the scan unscannable, then faults, then tolerated codes; within a class, the order of the
//!   [`SEVERITY_ORDER`] list. No code at all gives `None`.

use std::fmt;
use std::time::Duration;

use decomposer::{AvsResult, DecResult, GenResult, LicResult, ResultCode};
use serde::Serialize;

/// The status of a scan, as msys.av.scan returns it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Fully inspected, nothing matched.
    Clean,
    /// A signature matched.
    Infected,
    /// Not everything could be inspected, and nothing matched in what was.
    Unscannable,
    /// An engine fault (no definitions, I/O) and nothing matched.
    Error,
    /// [`crate::Engine::scan_part`] was given a container: its children are scanned as parts of their own.
    PartIsContainer,
    /// The engine name asked for is longer than [`crate::MAX_ENGINE_NAME_LEN`] characters.
    NameTooLong,
    /// No engine of the name asked for is registered.
    NoEngine,
    /// The input cannot be scanned as a stream. Never produced by this engine: every stream is spooled (within
    /// the limits) and scanned; the status exists for integrations written against CSAPI.
    NotSuitableForStreaming,
}

impl Status {
    /// The CSAPI spelling: `CLEAN`, `INFECTED`, `UNSCANNABLE`, `ERROR`, `PART_IS_CONTAINER`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "CLEAN",
            Status::Infected => "INFECTED",
            Status::Unscannable => "UNSCANNABLE",
            Status::Error => "ERROR",
            Status::PartIsContainer => "PART_IS_CONTAINER",
            Status::NameTooLong => "NAME_TOO_LONG",
            Status::NoEngine => "NO_ENGINE",
            Status::NotSuitableForStreaming => "NOT_SUITABLE_FOR_STREAMING",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a code says about the scan, for the status rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CodeClass {
    /// A signature matched (`AVS_RESULT_VIRUS_FOUND`).
    Detection,
    /// Some content was not inspected: makes the status `UNSCANNABLE`.
    NotInspected,
    /// An engine or environment fault: makes the status `ERROR`.
    Fault,
    /// Reported, but the content was fully inspected: the status stays `CLEAN`.
    Tolerated,
}

/// The class of `code`.
pub fn classify(code: ResultCode) -> CodeClass {
    match code {
        ResultCode::Avs(AvsResult::VirusFound) => CodeClass::Detection,
        ResultCode::Avs(_) | ResultCode::Gen(_) | ResultCode::Lic(_) => CodeClass::Fault,
        ResultCode::Dec(code) => match code {
            DecResult::MaximumDepthReached
            | DecResult::MaximumExtractTimeExceeded
            | DecResult::MaximumExtractSizeExceeded
            | DecResult::MaximumCumulativeExtractSizeExceeded
            | DecResult::MaximumFilesExtracted
            | DecResult::EncryptedContainerDetected
            | DecResult::EncryptedContainerChildDetected
            | DecResult::EncryptedContainerDeleted
            | DecResult::ContainerUnknownAlgorithm
            | DecResult::FileExtractFailed
            | DecResult::ContainerExtractFailed
            | DecResult::OpenContainerFailed
            | DecResult::FileSplitAcrossContainers
            | DecResult::FileSizeTooLarge => CodeClass::NotInspected,
            DecResult::MalformedContainerDetected
            | DecResult::MalformedContainerDeleted
            | DecResult::PartialMessageDetected
            | DecResult::OuterContainerIsMime
            | DecResult::MimeParsingFailed
            | DecResult::AbortedAfterFirstThreat
            | DecResult::ChildFileSizeUnknown
            | DecResult::LessThanMinimumExtractSize => CodeClass::Tolerated,
            _ => CodeClass::Fault,
        },
    }
}

/// Within a class, the order in which codes are chosen as the scan code (earlier = more severe). Codes not
/// listed come after the listed ones of their class, in their CSAPI list order.
pub const SEVERITY_ORDER: &[ResultCode] = &[
    // Not inspected: limits first (the whole scan was cut), then what one container hid.
    ResultCode::Dec(DecResult::MaximumExtractTimeExceeded),
    ResultCode::Dec(DecResult::MaximumCumulativeExtractSizeExceeded),
    ResultCode::Dec(DecResult::MaximumFilesExtracted),
    ResultCode::Dec(DecResult::MaximumExtractSizeExceeded),
    ResultCode::Dec(DecResult::MaximumDepthReached),
    ResultCode::Dec(DecResult::FileSizeTooLarge),
    ResultCode::Dec(DecResult::EncryptedContainerDetected),
    ResultCode::Dec(DecResult::EncryptedContainerChildDetected),
    ResultCode::Dec(DecResult::ContainerUnknownAlgorithm),
    ResultCode::Dec(DecResult::FileSplitAcrossContainers),
    ResultCode::Dec(DecResult::ContainerExtractFailed),
    ResultCode::Dec(DecResult::OpenContainerFailed),
    ResultCode::Dec(DecResult::FileExtractFailed),
    // Faults: missing definitions and scanner faults, then I/O.
    ResultCode::Gen(GenResult::DefinitionDirUnset),
    ResultCode::Gen(GenResult::OutOfMemory),
    ResultCode::Gen(GenResult::UnexpectedExceptionCaught),
    ResultCode::Dec(DecResult::OutOfMemory),
    ResultCode::Dec(DecResult::ScanEngineException),
    ResultCode::Dec(DecResult::ScanFileDecomposeError),
    ResultCode::Dec(DecResult::FileAccessFailed),
    ResultCode::Dec(DecResult::ContainerAccessFailed),
    ResultCode::Dec(DecResult::TempfileAccessFailed),
    // Tolerated.
    ResultCode::Dec(DecResult::MalformedContainerDetected),
    ResultCode::Dec(DecResult::MimeParsingFailed),
    ResultCode::Dec(DecResult::PartialMessageDetected),
    ResultCode::Dec(DecResult::OuterContainerIsMime),
    ResultCode::Dec(DecResult::AbortedAfterFirstThreat),
];

/// The sort key of `code` as a candidate scan code: lower is more severe. Unlisted codes of a class follow the
/// listed ones in CSAPI list order: DEC, then GEN, then LIC codes, each family in its documented order.
pub fn severity(code: ResultCode) -> (CodeClass, usize, usize, usize) {
    let listed = SEVERITY_ORDER.iter().position(|&c| c == code).unwrap_or(usize::MAX);
    let (family, index) = match code {
        ResultCode::Avs(c) => (0, AvsResult::ALL.iter().position(|&x| x == c)),
        ResultCode::Dec(c) => (1, DecResult::ALL.iter().position(|&x| x == c)),
        ResultCode::Gen(c) => (2, GenResult::ALL.iter().position(|&x| x == c)),
        ResultCode::Lic(c) => (3, LicResult::ALL.iter().position(|&x| x == c)),
    };
    (classify(code), listed, family, index.unwrap_or(usize::MAX))
}

/// The engine scan code for a scan that produced `codes` (the CSAPI rule; see the module doc).
pub fn scan_code(codes: &[ResultCode]) -> Option<ResultCode> {
    let first_avs = AvsResult::ALL.iter().find(|&&avs| codes.contains(&ResultCode::Avs(avs)));
    if let Some(&avs) = first_avs {
        return Some(ResultCode::Avs(avs));
    }
    codes.iter().copied().min_by_key(|&code| severity(code))
}

/// The status for a scan that produced `codes` (with `AVS_RESULT_VIRUS_FOUND` among them when a signature
/// matched).
pub fn status(codes: &[ResultCode]) -> Status {
    let worst = codes.iter().map(|&code| classify(code)).min();
    match worst {
        Some(CodeClass::Detection) => Status::Infected,
        Some(CodeClass::NotInspected) => Status::Unscannable,
        Some(CodeClass::Fault) => Status::Error,
        Some(CodeClass::Tolerated) | None => Status::Clean,
    }
}

/// One signature match.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Detection {
    /// The signature's name, as in the database.
    pub name: String,
    /// The part's path chain (`outer.zip/inner.tar.gz/inner.tar/evil.exe`).
    pub part: String,
    /// The signature came from an unsigned file (not a `.cvd`/`.cld`, not the embedded database); see
    /// [`Detection::clamd_name`].
    #[serde(skip)]
    pub unofficial: bool,
}

impl Detection {
    /// The name as ClamAV reports it, in clamscan's output and the clamd protocol: `NAME.UNOFFICIAL` for a
    /// signature from an unsigned file.
    pub fn clamd_name(&self) -> std::borrow::Cow<'_, str> {
        if self.unofficial {
            std::borrow::Cow::Owned(format!("{}.UNOFFICIAL", self.name))
        } else {
            std::borrow::Cow::Borrowed(&self.name)
        }
    }
}

/// Counters of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Parts handed to the matcher (the input, containers and leaves).
    pub parts: u64,
    /// Bytes the decomposer extracted from containers.
    pub bytes_extracted: u64,
    /// Bytes the matcher read (every part's bytes, the input's included).
    pub bytes_scanned: u64,
    /// Parts whose size occurred in the hash signatures, and that were therefore hashed.
    pub parts_hashed: u64,
    /// Wall-clock time of the scan.
    pub elapsed: Duration,
}

/// The result of one scan, modeled on what msys.av.scan returns, plus what lies behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// CLEAN, INFECTED, UNSCANNABLE, ERROR, or one of the library statuses.
    pub status: Status,
    /// The info string: the first detection's signature name when infected; `None` otherwise.
    pub info: Option<String>,
    /// The engine's name.
    pub engine: String,
    /// The engine scan code (see the module doc for how it is chosen); `None` when no code occurred.
    pub scan_code: Option<ResultCode>,
    /// Every distinct code that occurred, in the order first seen.
    pub codes: Vec<ResultCode>,
    /// Every detection (only the first unless the engine reports all matches), in the order found.
    pub detections: Vec<Detection>,
    /// Counters.
    pub stats: ScanStats,
}

impl Verdict {
    /// A verdict from the codes and detections of a scan: status, info and scan code follow the module rules.
    pub fn new(engine: &str, codes: Vec<ResultCode>, detections: Vec<Detection>, stats: ScanStats) -> Self {
        Verdict {
            status: status(&codes),
            info: detections.first().map(|detection| detection.name.clone()),
            engine: engine.to_owned(),
            scan_code: scan_code(&codes),
            codes,
            detections,
            stats,
        }
    }

    /// A verdict with only a library status (NO_ENGINE, NAME_TOO_LONG, PART_IS_CONTAINER) and no scan.
    pub fn of_status(engine: &str, status: Status) -> Self {
        Verdict {
            status,
            info: None,
            engine: engine.to_owned(),
            scan_code: None,
            codes: Vec::new(),
            detections: Vec::new(),
            stats: ScanStats::default(),
        }
    }

    /// The Momentum context variables this verdict sets, as (name, value) pairs; `variable` is the configured
    /// `context_variable` (by default `<engine>_status`). Clean: none (the variable stays unset). Infected:
    /// `variable` = `""` and `variable_info` = the signature name. Unscannable or error: `variable` = `"error"`.
    pub fn context_variables(&self, variable: &str) -> Vec<(String, String)> {
        match self.status {
            Status::Infected => vec![
                (variable.to_owned(), String::new()),
                (format!("{variable}_info"), self.info.clone().unwrap_or_default()),
            ],
            Status::Clean | Status::PartIsContainer => Vec::new(),
            _ => vec![(variable.to_owned(), "error".to_owned())],
        }
    }

    /// The `--json` line of DESIGN.md section 5 for the input at `path` (one line, no trailing newline).
    pub fn to_json_line(&self, path: &str) -> String {
        self.to_json(path).to_string()
    }

    /// The `--json` object of DESIGN.md section 5 for the input at `path`.
    pub fn to_json(&self, path: &str) -> serde_json::Value {
        serde_json::json!({
            "path": path,
            "status": self.status.as_str(),
            "info": self.info,
            "engine": self.engine,
            "scan_code": self.scan_code.map(|code| code.to_string()),
            "codes": self.codes.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "detections": self.detections,
            "parts": self.stats.parts,
            "bytes_extracted": self.stats.bytes_extracted,
            "bytes_scanned": self.stats.bytes_scanned,
            "elapsed_ms": u64::try_from(self.stats.elapsed.as_millis()).unwrap_or(u64::MAX),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VIRUS: ResultCode = ResultCode::Avs(AvsResult::VirusFound);
    const DEPTH: ResultCode = ResultCode::Dec(DecResult::MaximumDepthReached);
    const TIME: ResultCode = ResultCode::Dec(DecResult::MaximumExtractTimeExceeded);
    const ENCRYPTED: ResultCode = ResultCode::Dec(DecResult::EncryptedContainerDetected);
    const MALFORMED: ResultCode = ResultCode::Dec(DecResult::MalformedContainerDetected);
    const TEMPFILE: ResultCode = ResultCode::Dec(DecResult::TempfileAccessFailed);
    const NO_DEFINITIONS: ResultCode = ResultCode::Avs(AvsResult::DefinitionsMissing);

    fn detection() -> Detection {
        Detection { name: "Eicar-Signature".into(), part: "a.zip/eicar.com".into(), unofficial: false }
    }

    #[test]
    fn no_code_is_clean_with_no_scan_code() {
        let verdict = Verdict::new("avscan", vec![], vec![], ScanStats::default());
        assert_eq!((verdict.status, verdict.scan_code, verdict.info.as_deref()), (Status::Clean, None, None));
        assert!(verdict.context_variables("avscan_status").is_empty());
    }

    #[test]
    fn a_detection_is_infected_whatever_else_happened() {
        let verdict =
            Verdict::new("avscan", vec![DEPTH, TEMPFILE, MALFORMED, VIRUS], vec![detection()], ScanStats::default());
        assert_eq!(verdict.status, Status::Infected);
        assert_eq!(verdict.scan_code, Some(VIRUS));
        assert_eq!(verdict.info.as_deref(), Some("Eicar-Signature"));
        assert_eq!(
            verdict.context_variables("avscan_status"),
            [("avscan_status".to_owned(), String::new()), ("avscan_status_info".to_owned(), "Eicar-Signature".into())]
        );
    }

    #[test]
    fn any_avs_code_is_the_scan_code_even_when_less_severe_for_the_status() {
        assert_eq!(scan_code(&[DEPTH, NO_DEFINITIONS]), Some(NO_DEFINITIONS));
        assert_eq!(scan_code(&[NO_DEFINITIONS, VIRUS]), Some(VIRUS));
    }

    #[test]
    fn a_limit_or_encryption_is_unscannable_even_with_a_fault() {
        assert_eq!(status(&[DEPTH]), Status::Unscannable);
        assert_eq!(status(&[ENCRYPTED, MALFORMED]), Status::Unscannable);
        assert_eq!(status(&[TEMPFILE, DEPTH]), Status::Unscannable);
        assert_eq!(scan_code(&[TEMPFILE, DEPTH]), Some(DEPTH));
        let verdict = Verdict::new("avscan", vec![DEPTH], vec![], ScanStats::default());
        assert_eq!(verdict.context_variables("v"), [("v".to_owned(), "error".to_owned())]);
    }

    #[test]
    fn a_fault_alone_is_error() {
        assert_eq!(status(&[TEMPFILE, MALFORMED]), Status::Error);
        assert_eq!(scan_code(&[MALFORMED, TEMPFILE]), Some(TEMPFILE));
        assert_eq!(status(&[NO_DEFINITIONS]), Status::Error);
    }

    #[test]
    fn tolerated_oddities_stay_clean_but_are_the_scan_code() {
        let codes = [MALFORMED, ResultCode::Dec(DecResult::PartialMessageDetected)];
        assert_eq!(status(&codes), Status::Clean);
        assert_eq!(scan_code(&codes), Some(MALFORMED));
    }

    #[test]
    fn limits_rank_by_the_documented_order() {
        assert_eq!(scan_code(&[DEPTH, TIME, ENCRYPTED]), Some(TIME));
        assert_eq!(scan_code(&[ENCRYPTED, DEPTH]), Some(DEPTH));
    }

    #[test]
    fn every_code_has_a_deterministic_rank() {
        let all: Vec<ResultCode> = ResultCode::all().collect();
        let mut keys: Vec<_> = all.iter().map(|&code| severity(code)).collect();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), all.len(), "two codes share a rank");
    }

    #[test]
    fn json_line_has_the_contract_fields() {
        let verdict = Verdict::new("avscan", vec![VIRUS], vec![detection()], ScanStats::default());
        let value: serde_json::Value = serde_json::from_str(&verdict.to_json_line("x.zip")).unwrap();
        assert_eq!(value["path"], "x.zip");
        assert_eq!(value["status"], "INFECTED");
        assert_eq!(value["info"], "Eicar-Signature");
        assert_eq!(value["scan_code"], "AVS_RESULT_VIRUS_FOUND");
        assert_eq!(value["codes"][0], "AVS_RESULT_VIRUS_FOUND");
        assert_eq!(value["detections"][0]["part"], "a.zip/eicar.com");
        assert_eq!(value["parts"], 0);
    }
}
