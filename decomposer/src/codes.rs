//! The result codes of the CSAPI documentation, with their exact names.
//!
//! Integrations written against Symantec's CSAPI (and Momentum's `msys.av.scan`) expect these names, so every
//! code exists here even where this project never produces it; each variant's doc says when we do. `Display`
//! gives the exact CSAPI name (`DEC_RESULT_MAXIMUM_DEPTH_REACHED`) and `FromStr` parses it back.
//!
//! The decomposer itself only produces [`DecResult`] codes; [`AvsResult`] and [`GenResult`] belong to the
//! scanner, and [`LicResult`] codes are never produced (there is no licence manager here).

use std::fmt;
use std::str::FromStr;

/// A name that is not one of the CSAPI result codes of the enum it was parsed as.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} code {name:?}")]
pub struct UnknownCode {
    kind: &'static str,
    name: String,
}

macro_rules! csapi_codes {
    (
        $(#[$enum_meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[doc = $doc:literal])* $variant:ident => $text:literal, )*
        }
    ) => {
        $(#[$enum_meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[doc = $doc])* $variant, )*
        }

        impl $name {
            /// Every code of this family, in the order of the CSAPI documentation.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];

            /// The exact CSAPI name of this code.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)* }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = UnknownCode;
            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)*
                    _ => Err(UnknownCode { kind: $kind, name: text.to_owned() }),
                }
            }
        }
    };
}

csapi_codes! {
    /// Decomposer codes (`DEC_RESULT_*`): what happened while opening containers.
    pub enum DecResult ("DEC_RESULT") {
        /// Never produced: the decomposer needs no initialisation.
        ScannerNotInitialized => "DEC_RESULT_SCANNER_NOT_INITIALIZED",
        /// Never produced: invalid limits are refused when [`crate::Limits`] is built, before any scan.
        PolicyInvalid => "DEC_RESULT_POLICY_INVALID",
        /// A container at depth `max_extract_depth` was not opened; its raw bytes were still handed on.
        MaximumDepthReached => "DEC_RESULT_MAXIMUM_DEPTH_REACHED",
        /// The scan ran past `max_extract_time`; extraction stopped, what was extracted was handed on.
        MaximumExtractTimeExceeded => "DEC_RESULT_MAXIMUM_EXTRACT_TIME_EXCEEDED",
        /// A child produced more than `max_extract_size` bytes; its prefix up to the limit was handed on.
        MaximumExtractSizeExceeded => "DEC_RESULT_MAXIMUM_EXTRACT_SIZE_EXCEEDED",
        /// The scan extracted `max_cumulative_extract_size` bytes over all levels; extraction stopped everywhere.
        MaximumCumulativeExtractSizeExceeded => "DEC_RESULT_MAXIMUM_CUMULATIVE_EXTRACT_SIZE_EXCEEDED",
        /// The scan reached `max_file_count` extracted files; no further child was extracted.
        MaximumFilesExtracted => "DEC_RESULT_MAXIMUM_FILES_EXTRACTED",
        /// Never produced: the decomposer never modifies or deletes its input.
        EncryptedContainerDeleted => "DEC_RESULT_ENCRYPTED_CONTAINER_DELETED",
        /// A container holds an encrypted entry (zip traditional or AES encryption); the entry was not extracted.
        EncryptedContainerDetected => "DEC_RESULT_ENCRYPTED_CONTAINER_DETECTED",
        /// Never produced: the decomposer never modifies or deletes its input.
        MalformedContainerDeleted => "DEC_RESULT_MALFORMED_CONTAINER_DELETED",
        /// A container's structure is damaged or self-contradictory (bad tar checksum, zip central directory and
        /// local headers disagreeing, overlapping zip entries, trailing garbage, wrong CRC); every readable
        /// child was still extracted.
        MalformedContainerDetected => "DEC_RESULT_MALFORMED_CONTAINER_DETECTED",
        /// A mail holds a `message/partial` part (a fragment of a message split for sending); the fragment was
        /// still handed on.
        PartialMessageDetected => "DEC_RESULT_PARTIAL_MESSAGE_DETECTED",
        /// The input itself (depth 0) is a mail message (an mbox of several messages is not reported).
        OuterContainerIsMime => "DEC_RESULT_OUTER_CONTAINER_IS_MIME",
        /// A mail's structure is damaged (a header line that is not a field, a multipart without boundary,
        /// delimiter or close delimiter, base64 with characters outside its alphabet, an unknown or
        /// contradicting transfer encoding, ...); every byte was still handed on (see `formats::mime`).
        MimeParsingFailed => "DEC_RESULT_MIME_PARSING_FAILED",
        /// Never produced: extraction failures are reported per child as `FILE_EXTRACT_FAILED`.
        ContainerExtractFailed => "DEC_RESULT_CONTAINER_EXTRACT_FAILED",
        /// The bytes look like a container (by their magic number) but no structure could be read from them;
        /// the raw bytes were still handed on.
        OpenContainerFailed => "DEC_RESULT_OPEN_CONTAINER_FAILED",
        /// Reading a container that was spilled to a temporary file failed (an I/O error, not bad input).
        ContainerAccessFailed => "DEC_RESULT_CONTAINER_ACCESS_FAILED",
        /// Never produced: the decomposer never modifies a container.
        UpdateContainerFailed => "DEC_RESULT_UPDATE_CONTAINER_FAILED",
        /// Never produced: closing a container cannot fail here.
        CloseContainerFailed => "DEC_RESULT_CLOSE_CONTAINER_FAILED",
        /// A child's compressed data is corrupt or truncated (bad deflate/bzip2/xz/zstd stream, missing local
        /// header); the part decoded before the fault was handed on, the rest could not be inspected.
        FileExtractFailed => "DEC_RESULT_FILE_EXTRACT_FAILED",
        /// Never produced: children are never written to named files.
        FileAccessFailed => "DEC_RESULT_FILE_ACCESS_FAILED",
        /// A multi-disk (spanned or split) zip: entries stored on another disk cannot be extracted.
        FileSplitAcrossContainers => "DEC_RESULT_FILE_SPLIT_ACROSS_CONTAINERS",
        /// Creating or writing the unnamed temporary file that holds a large child failed; the child was cut
        /// where the failure happened.
        TempfileAccessFailed => "DEC_RESULT_TEMPFILE_ACCESS_FAILED",
        /// Never produced: invalid parameters are refused by the API's types and builders.
        ParameterInvalid => "DEC_RESULT_PARAMETER_INVALID",
        /// Never produced: allocation failure aborts a Rust process.
        OutOfMemory => "DEC_RESULT_OUT_OF_MEMORY",
        /// Never produced: the decomposer does not panic, so there is no exception to catch.
        ScanEngineException => "DEC_RESULT_SCAN_ENGINE_EXCEPTION",
        /// Never produced: each fault has its own code.
        ScanFileDecomposeError => "DEC_RESULT_SCAN_FILE_DECOMPOSE_ERROR",
        /// Never produced: the decomposer needs no initialisation.
        InitDecomposerFailed => "DEC_RESULT_INIT_DECOMPOSER_FAILED",
        /// Never produced: the decomposer needs no initialisation.
        ReinitializationProhibited => "DEC_RESULT_REINITIALIZATION_PROHIBITED",
        /// Never produced: the decomposer has no definition directory.
        DefinitionDirUnset => "DEC_RESULT_DEFINITION_DIR_UNSET",
        /// Never produced: temporary files are created unnamed; a failure is `TEMPFILE_ACCESS_FAILED`.
        TempDirAccessFailed => "DEC_RESULT_TEMP_DIR_ACCESS_FAILED",
        /// Never produced: the decomposer never modifies files.
        InvalidFileModification => "DEC_RESULT_INVALID_FILE_MODIFICATION",
        /// Never produced: the decomposer has no definition directory.
        DefDirAccessFailed => "DEC_RESULT_DEF_DIR_ACCESS_FAILED",
        /// Never produced: inputs of any size are read (the limits bound what is extracted from them).
        FileSizeTooLarge => "DEC_RESULT_FILE_SIZE_TOO_LARGE",
        /// Never produced: children are extracted as streams, their declared size is never relied on.
        ChildFileSizeUnknown => "DEC_RESULT_CHILD_FILE_SIZE_UNKNOWN",
        /// Never produced: there is no minimum extract size.
        LessThanMinimumExtractSize => "DEC_RESULT_LESS_THAN_MINIMUM_EXTRACT_SIZE",
        /// A container entry uses a compression method this decomposer cannot decode (zip implode, shrink,
        /// PPMd, ...); the entry was not extracted.
        ContainerUnknownAlgorithm => "DEC_RESULT_CONTAINER_UNKNOWN_ALGORITHM",
        /// Never produced: output goes to the caller's sink, not to a caller's buffer.
        BufferSizeTooSmall => "DEC_RESULT_BUFFER_SIZE_TOO_SMALL",
        /// Never produced: output goes to the caller's sink, not to a named file.
        CreateOutputFileFailed => "DEC_RESULT_CREATE_OUTPUT_FILE_FAILED",
        /// Never produced: an encrypted entry is reported as `ENCRYPTED_CONTAINER_DETECTED`.
        EncryptedContainerChildDetected => "DEC_RESULT_ENCRYPTED_CONTAINER_CHILD_DETECTED",
        /// Produced by the scanner (not the walk): the scan stopped at the first detection while parts were left.
        AbortedAfterFirstThreat => "DEC_RESULT_ABORTED_AFTER_FIRST_THREAT",
        /// Never produced: the decomposer never rewrites messages.
        FailedInsertingNotificationInEmptyBodyMime => "DEC_RESULT_FAILED_INSERTING_NOTIFICATION_IN_EMPTY_BODY_MIME",
    }
}

csapi_codes! {
    /// Antivirus scanner codes (`AVS_RESULT_*`), produced by the scanner crate.
    pub enum AvsResult ("AVS_RESULT") {
        /// Scanner was not initialized.
        ScannerNotInitialized => "AVS_RESULT_SCANNER_NOT_INITIALIZED",
        /// A signature matched: the scan status is INFECTED.
        VirusFound => "AVS_RESULT_VIRUS_FOUND",
        /// Default extension in the policy is invalid.
        InvalidDefaultFileExtension => "AVS_RESULT_INVALID_DEFAULT_FILE_EXTENSION",
        /// A scan error occurred (for example the input could not be read).
        ScanfileFailure => "AVS_RESULT_SCANFILE_FAILURE",
        /// Attempted to re-initialize an already initialized scanner.
        ReinitializationProhibited => "AVS_RESULT_REINITIALIZATION_PROHIBITED",
        /// Definitions are missing or unreadable.
        DefinitionsMissing => "AVS_RESULT_DEFINITIONS_MISSING",
        /// Engine failed to load.
        EngineLoadFailed => "AVS_RESULT_ENGINE_LOAD_FAILED",
    }
}

csapi_codes! {
    /// Generic codes (`GEN_RESULT_*`), produced by the scanner crate for faults outside one format.
    pub enum GenResult ("GEN_RESULT") {
        /// Scanner was not initialized prior to the first attempted use.
        ScannerNotInitialized => "GEN_RESULT_SCANNER_NOT_INITIALIZED",
        /// Scanner has previously been initialized.
        ReinitializationProhibited => "GEN_RESULT_REINITIALIZATION_PROHIBITED",
        /// A parameter is invalid.
        ParameterInvalid => "GEN_RESULT_PARAMETER_INVALID",
        /// Scan policy is invalid.
        PolicyInvalid => "GEN_RESULT_POLICY_INVALID",
        /// Scanner cannot allocate new memory.
        OutOfMemory => "GEN_RESULT_OUT_OF_MEMORY",
        /// Failed to load the message catalog.
        LoadMessageCatalogFailed => "GEN_RESULT_LOAD_MESSAGE_CATALOG_FAILED",
        /// An unexpected exception occurred.
        UnexpectedExceptionCaught => "GEN_RESULT_UNEXPECTED_EXCEPTION_CAUGHT",
        /// Policy was empty or no scanners were enabled.
        EmptyPolicy => "GEN_RESULT_EMPTY_POLICY",
        /// Definition directory does not exist.
        DefinitionDirUnset => "GEN_RESULT_DEFINITION_DIR_UNSET",
        /// Scanner was set in the scanning order policy but was not initialized.
        AvscannerInScanningorderNotInitialized => "GEN_RESULT_AVSCANNER_IN_SCANNINGORDER_NOT_INITIALIZED",
    }
}

csapi_codes! {
    /// Licence codes (`LIC_RESULT_*`). Never produced: there is no licence manager. They exist so that
    /// integrations written against CSAPI keep compiling and matching on them.
    pub enum LicResult ("LIC_RESULT") {
        /// There are no licensed features registered.
        PolicyInvalid => "LIC_RESULT_POLICY_INVALID",
        /// A license manager cannot be created or a memory error occurred.
        LicenseNotInstalled => "LIC_RESULT_LICENSE_NOT_INSTALLED",
        /// A license manager cannot be created.
        NoLicenseManager => "LIC_RESULT_NO_LICENSE_MANAGER",
        /// The license for the AV scanner feature cannot be created.
        InvalidAvScannerLicense => "LIC_RESULT_INVALID_AV_SCANNER_LICENSE",
        /// The license for the decomposer scanner feature cannot be created.
        InvalidDecomposerScannerLicense => "LIC_RESULT_INVALID_DECOMPOSER_SCANNER_LICENSE",
        /// The license for the antispam content scanner cannot be created.
        InvalidAntispamUpdatesLicense => "LIC_RESULT_INVALID_ANTISPAM_UPDATES_LICENSE",
        /// The license for the AV content feature cannot be created.
        InvalidAvUpdatesLicense => "LIC_RESULT_INVALID_AV_UPDATES_LICENSE",
    }
}

/// Any CSAPI engine scan code, of any family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResultCode {
    /// An `AVS_RESULT_*` code.
    Avs(AvsResult),
    /// A `DEC_RESULT_*` code.
    Dec(DecResult),
    /// A `GEN_RESULT_*` code.
    Gen(GenResult),
    /// A `LIC_RESULT_*` code.
    Lic(LicResult),
}

impl ResultCode {
    /// The exact CSAPI name of this code.
    pub const fn as_str(self) -> &'static str {
        match self {
            ResultCode::Avs(code) => code.as_str(),
            ResultCode::Dec(code) => code.as_str(),
            ResultCode::Gen(code) => code.as_str(),
            ResultCode::Lic(code) => code.as_str(),
        }
    }
}

impl fmt::Display for ResultCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResultCode {
    type Err = UnknownCode;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownCode { kind: "CSAPI", name: text.to_owned() };
        if text.starts_with("AVS_") {
            text.parse().map(ResultCode::Avs).map_err(|_| unknown())
        } else if text.starts_with("DEC_") {
            text.parse().map(ResultCode::Dec).map_err(|_| unknown())
        } else if text.starts_with("GEN_") {
            text.parse().map(ResultCode::Gen).map_err(|_| unknown())
        } else if text.starts_with("LIC_") {
            text.parse().map(ResultCode::Lic).map_err(|_| unknown())
        } else {
            Err(unknown())
        }
    }
}

impl From<DecResult> for ResultCode {
    fn from(code: DecResult) -> Self {
        ResultCode::Dec(code)
    }
}
impl ResultCode {
    /// Every code of the CSAPI documentation: the DEC, AVS, GEN and LIC lists, in that order.
    pub fn all() -> impl Iterator<Item = ResultCode> {
        DecResult::ALL
            .iter()
            .map(|&c| ResultCode::Dec(c))
            .chain(AvsResult::ALL.iter().map(|&c| ResultCode::Avs(c)))
            .chain(GenResult::ALL.iter().map(|&c| ResultCode::Gen(c)))
            .chain(LicResult::ALL.iter().map(|&c| ResultCode::Lic(c)))
    }
}

impl From<AvsResult> for ResultCode {
    fn from(code: AvsResult) -> Self {
        ResultCode::Avs(code)
    }
}
impl From<GenResult> for ResultCode {
    fn from(code: GenResult) -> Self {
        ResultCode::Gen(code)
    }
}
impl From<LicResult> for ResultCode {
    fn from(code: LicResult) -> Self {
        ResultCode::Lic(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips_through_its_name() {
        let all: Vec<ResultCode> = ResultCode::all().collect();
        // 42 DEC + 7 AVS + 10 GEN + 7 LIC codes in the CSAPI documentation.
        assert_eq!(all.len(), 66);
        for code in all {
            assert_eq!(code.to_string().parse::<ResultCode>(), Ok(code));
        }
    }

    #[test]
    fn names_are_exact() {
        assert_eq!(DecResult::MaximumDepthReached.to_string(), "DEC_RESULT_MAXIMUM_DEPTH_REACHED");
        assert_eq!(AvsResult::VirusFound.to_string(), "AVS_RESULT_VIRUS_FOUND");
        assert_eq!(
            "DEC_RESULT_MAXIMUM_CUMULATIVE_EXTRACT_SIZE_EXCEEDED".parse(),
            Ok(DecResult::MaximumCumulativeExtractSizeExceeded)
        );
        assert!("DEC_RESULT_NOPE".parse::<DecResult>().is_err());
        assert!("AVS_RESULT_MAXIMUM_DEPTH_REACHED".parse::<ResultCode>().is_err());
    }
}
