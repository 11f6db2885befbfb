//! The body matcher over a part in RAM and over the same part read in small windows with short reads: both
//! must report exactly the same matches, so a match straddling a window edge is found once, and wildcards,
//! `*` chains and EOF-relative offsets behave the same wherever the edges fall.

use std::collections::BTreeSet;
use std::io::Read;
use std::ops::ControlFlow;

use decomposer::FileType;
use proptest::prelude::*;
use scanner::matcher::{BodyMatcher, CompiledPattern, MatchScratch, Pass, PatternOwner, TargetFilter};
use scanner::signature::{Line, parse_body_line};

fn compile(lines: &[String]) -> Option<BodyMatcher> {
    let mut patterns = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Ok(Line::Signature(signature)) = parse_body_line(line) else { continue };
        patterns.push(CompiledPattern {
            pattern: signature.pattern,
            offset: signature.offset,
            target: TargetFilter::Any,
            owner: PatternOwner::Body(index as u32),
        });
    }
    if patterns.is_empty() {
        return None;
    }
    BodyMatcher::new(patterns).ok()
}

type Found = BTreeSet<(u32, u64, u64)>;

fn from_slice(matcher: &BodyMatcher, hay: &[u8]) -> Found {
    let mut found = Found::new();
    let mut scratch = MatchScratch::default();
    let _ = matcher.scan_slice(hay, Pass::Raw(FileType::Binary), &mut scratch, &mut |m| {
        found.insert((m.pattern, m.start, m.end));
        ControlFlow::Continue(())
    });
    found
}

/// A reader that returns at most `step` bytes per call.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn from_reader(matcher: &mut BodyMatcher, hay: &[u8], window: usize, step: usize) -> Found {
    matcher.set_window(window);
    let mut found = Found::new();
    let mut scratch = MatchScratch::default();
    let mut seen = Vec::new();
    let mut reader = Trickle { bytes: hay, step };
    let _ = matcher
        .scan_reader(
            &mut reader,
            hay.len() as u64,
            Pass::Raw(FileType::Binary),
            &mut scratch,
            &mut |b| seen.extend_from_slice(b),
            &mut |m| {
                found.insert((m.pattern, m.start, m.end));
                ControlFlow::Continue(())
            },
        )
        .unwrap();
    assert_eq!(seen, hay, "every byte is passed on once, in order");
    found
}

fn line(name: &str, offset: &str, hex: &str) -> String {
    format!("{name}:0:{offset}:{hex}")
}

#[test]
fn tricky_signatures_match_the_same_across_window_edges() {
    let lines = vec![
        line("Plain", "*", "6162636465"),                  // abcde
        line("Wild", "*", "616263??6566"),                 // abc?ef
        line("Nibble", "*", "6162636?65"),                 // abc(6x)e
        line("Star", "*", "78797a*717273"),                // xyz ... qrs
        line("Range", "*", "78797a{2-5}717273"),           // xyz, 2-5 bytes, qrs
        line("Alternative", "*", "6d6e6f(70|7071)7273"),   // mno(p|pq)rs
        line("AtStart", "0", "737461727421"),              // start!
        line("AtEnd", "EOF-4", "656e6421"),                // end! as the last 4 bytes
        line("Shifted", "10,20", "73686966"),              // shif at 10..=30
        line("LongGap", "*", "6c6f6e67{300-400}67617021"), // long, 300-400 bytes, gap!
    ];
    let mut matcher = compile(&lines).expect("the signatures compile");
    assert_eq!(matcher.len(), lines.len(), "every signature loads");
    let mut hay = b"start! ".to_vec();
    hay.extend_from_slice(b"...shif...");
    for i in 0..40u8 {
        hay.extend(std::iter::repeat_n(b'.', usize::from(i) * 7 % 61));
        hay.extend_from_slice(match i % 8 {
            0 => &b"abcde"[..],
            1 => b"abcXef",
            2 => b"abcfe",
            3 => b"xyz12qrs",
            4 => b"mnoprs mnopqrs",
            5 => b"xyz..........qrs",
            6 => b"abcdabcde",
            _ => b"long",
        });
    }
    hay.extend(std::iter::repeat_n(b'-', 350));
    hay.extend_from_slice(b"gap! the end!");
    let whole = from_slice(&matcher, &hay);
    let names: BTreeSet<u32> = whole.iter().map(|m| m.0).collect();
    assert_eq!(names.len(), lines.len(), "every signature matched somewhere: {whole:?}");
    for window in [1, 7, 64, 100, 333, 1000] {
        for step in [1, 3, 64, 4096] {
            assert_eq!(from_reader(&mut matcher, &hay, window, step), whole, "window {window}, reads of {step}");
        }
    }
}

#[test]
fn eof_offsets_use_the_part_length_not_the_window() {
    let mut matcher = compile(&[line("AtEnd", "EOF-3", "656e64")]).unwrap();
    let mut hay = vec![b'x'; 5000];
    hay.extend_from_slice(b"end");
    let whole = from_slice(&matcher, &hay);
    assert_eq!(whole.into_iter().collect::<Vec<_>>(), [(0, 5000, 5003)]);
    assert_eq!(from_reader(&mut matcher, &hay, 16, 5).len(), 1);
    // The same bytes one byte earlier are not at EOF-3.
    hay.push(b'!');
    assert!(from_slice(&matcher, &hay).is_empty());
    assert!(from_reader(&mut matcher, &hay, 16, 5).is_empty());
}

fn signature_strategy() -> impl Strategy<Value = String> {
    let byte = prop::sample::select(vec!["61", "62", "63"]);
    let run = prop::collection::vec(byte, 3..6).prop_map(|bytes| bytes.concat());
    let joint = prop::sample::select(vec!["", "??", "{1-3}", "*", "(61|62)", "6?", "{-2}", "{2-}"]);
    (run.clone(), prop::collection::vec((joint, run), 0..3), prop::sample::select(vec!["*", "*", "0", "2,6", "EOF-6"]))
        .prop_map(|(first, rest, offset)| {
            let mut hex = first;
            for (joint, run) in rest {
                hex.push_str(joint);
                hex.push_str(&run);
            }
            format!("Random:0:{offset}:{hex}")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random signatures over a three-letter alphabet (many overlapping matches), random haystacks, random
    /// windows and read sizes: the windowed scan finds exactly what the whole-slice scan finds.
    #[test]
    fn windowed_scans_equal_the_whole_slice_scan(
        lines in prop::collection::vec(signature_strategy(), 1..8),
        hay in prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c', b'd']), 0..600),
        window in 1usize..200,
        step in 1usize..50,
    ) {
        if let Some(mut matcher) = compile(&lines) {
            let whole = from_slice(&matcher, &hay);
            prop_assert_eq!(from_reader(&mut matcher, &hay, window, step), whole);
        }
    }
}
