//! Mail decomposition throughput: a set of generated messages (`corpus::mail`), each multipart/mixed with a
//! text part and three base64 attachments of pseudo-random bytes, walked one after the other in memory
//! (`decompose_bytes`, `prefer_mem`) under limits that cut nothing.
//!
//! criterion's throughput is MB/s (10^6 bytes) of the messages as sent (base64 included); the closing
//! summary adds MB/s of the bytes extracted (`Report::bytes_extracted`). The walk finds the MIME structure,
//! decodes every attachment and hands it on; the sink touches one byte per 4 KiB of every part. Each message's
//! outcome is checked once before measuring.
//!
//! `BENCH_MAIL_MB=4 cargo bench -p benches --bench mail` for a quick run (default 32 MB of messages).

use std::hint::black_box;
use std::time::Duration;

use corpus::mail::{base64, entity, message, multipart_body};
use criterion::{Criterion, SamplingMode, Throughput, criterion_group};
use decomposer::{DecResult, Decomposer, Part};

/// Attachments per message.
const ATTACHMENTS: usize = 3;

/// A decomposer whose limits cut nothing (`benches::scan_corpus::limits_that_cut_nothing`), children in RAM.
fn decomposer() -> Decomposer {
    Decomposer::builder().limits(benches::scan_corpus::limits_that_cut_nothing()).prefer_mem(true).build()
}

/// Pseudo-random bytes (xorshift64*), so that nothing in them looks like a container.
fn random(seed: u64, len: usize) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Messages of about 1 MB each, `total` bytes in all, and the decoded bytes of their attachments.
fn messages(total: usize) -> (Vec<Vec<u8>>, u64) {
    let attachment_size = 250_000;
    let count = (total / 1_000_000).max(1);
    let mut decoded = 0;
    let messages = (0..count)
        .map(|i| {
            let mut parts = vec![entity(
                &["Content-Type: text/plain; charset=us-ascii"],
                format!("Message {i}: the reports are attached.\r\n").as_bytes(),
            )];
            for a in 0..ATTACHMENTS {
                let name = format!("report-{i}-{a}.bin");
                let bytes = random((i * ATTACHMENTS + a) as u64, attachment_size);
                decoded += bytes.len() as u64;
                parts.push(entity(
                    &[
                        &format!("Content-Type: application/octet-stream; name=\"{name}\""),
                        "Content-Transfer-Encoding: base64",
                        &format!("Content-Disposition: attachment; filename=\"{name}\""),
                    ],
                    &base64(&bytes),
                ));
            }
            let boundary = format!("=_bench{i}");
            let field = format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"");
            message(&format!("bench {i}"), &[&field], &multipart_body(&boundary, &parts))
        })
        .collect();
    (messages, decoded)
}

/// Walks `bytes`; the sink reads one byte per 4 KiB of every part so that the bytes are really there.
fn walk(decomposer: &Decomposer, bytes: &[u8]) -> (decomposer::Report, u64) {
    let mut touched = 0u64;
    let mut sink = |part: &Part<'_>| {
        if let Some(bytes) = part.bytes() {
            touched = bytes.iter().step_by(4096).fold(touched, |sum, &b| sum.wrapping_add(u64::from(b)));
        }
        true
    };
    let report = decomposer.decompose_bytes("message.eml", bytes, &mut sink);
    (report, touched)
}

fn mail(c: &mut Criterion) {
    let mb: usize = std::env::var("BENCH_MAIL_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let (messages, decoded) = messages(mb * 1_000_000);
    let sent: u64 = messages.iter().map(|m| m.len() as u64).sum();
    let decomposer = decomposer();
    // Once before measuring: every attachment decoded whole, nothing reported but the outer MIME container.
    let mut extracted = 0;
    for message in &messages {
        let (report, _) = walk(&decomposer, message);
        assert_eq!(report.codes, [DecResult::OuterContainerIsMime]);
        assert_eq!(report.files_extracted, 1 + ATTACHMENTS as u64);
        extracted += report.bytes_extracted;
    }
    assert!(extracted > decoded, "{extracted} <= {decoded}");

    let function = format!("{}x{ATTACHMENTS}_base64_attachments", messages.len());
    benches::summary::record("decompose/mail", &function, sent, extracted);
    let mut group = c.benchmark_group("decompose/mail");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::BytesDecimal(sent));
    group.bench_function(function, |b| {
        b.iter(|| messages.iter().map(|m| black_box(walk(&decomposer, black_box(m)).1)).fold(0u64, u64::wrapping_add));
    });
    group.finish();
}

criterion_group!(benches, mail);

fn main() {
    let started = std::time::SystemTime::now();
    benches();
    criterion::Criterion::default().configure_from_args().final_summary();
    benches::summary::print("mail decomposition, MB/s of the messages and of the parts extracted:", started);
}
