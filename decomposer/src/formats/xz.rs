//! xz streams (one or more concatenated, with stream padding), decoded by liblzma (bundled xz 5.8).
//!
//! Streams: the single child is decoded as it is read. Its name is the parent's without `.xz`/`.txz`. A
//! corrupt or truncated stream is `DEC_RESULT_FILE_EXTRACT_FAILED` (from the walk), with everything decoded
//! before the fault kept. The decoder's memory limit is [`MEMORY_LIMIT`]: a header that declares a larger
//! dictionary is refused (`DEC_RESULT_FILE_EXTRACT_FAILED`) instead of being allocated.

use std::io::BufReader;

use liblzma::stream::{CONCATENATED, Stream};

use super::{Children, stream_child_name};
use crate::codes::DecResult;
use crate::content::ReadSeek;

/// liblzma's memory limit for one xz stream: four times what `xz -9` needs (its dictionary is 64 MiB).
pub(crate) const MEMORY_LIMIT: u64 = 256 * 1024 * 1024;

pub(crate) fn decompose(source: &mut dyn ReadSeek, parent_name: &str, children: &mut dyn Children) {
    let name = stream_child_name(parent_name, &[(".txz", ".tar"), (".xz", "")]);
    let Ok(stream) = Stream::new_stream_decoder(MEMORY_LIMIT, CONCATENATED) else {
        children.problem(DecResult::OpenContainerFailed);
        return;
    };
    let mut decoder = liblzma::bufread::XzDecoder::new_stream(BufReader::new(source), stream);
    children.child(&name, &mut decoder);
}
