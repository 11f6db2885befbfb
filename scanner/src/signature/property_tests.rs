//! Property tests: random patterns from a small grammar must verify exactly like a naive reference matcher
//! written here from the semantics (all starts, earliest end), also through windows of the part; and no line,
//! however malformed, makes a parser or the verifier panic.

use std::collections::BTreeSet;

use proptest::prelude::*;

use super::body::{Modifiers, compile};
use super::oracle_tests::{anchor_positions, matches_at};
use super::segment::VerifyScratch;
use super::{Target, hash, parse_body_line, parse_hash_line, parse_logical_line};

/// The bytes random texts are made of: letters for case tests, and the bytes boundaries care about.
const ALPHABET: &[u8] = b"ABab \n\r-_";

/// One item of the reference pattern.
#[derive(Debug, Clone)]
enum Item {
    Byte(u8),
    Any,
    High(u8),
    Low(u8),
    Set { bytes: Vec<u8>, negated: bool },
    Strings { strings: Vec<Vec<u8>>, negated: bool },
    Generic(Vec<Vec<Item>>),
    Gap { min: usize, max: Option<usize> },
    MiddleBoundary,
    MiddleLine,
    MiddleNotLine,
    MiddleWord,
    Before(u8),
    After(u8),
    LeadByte { byte: u8, min: usize, max: usize },
    TrailByte { byte: u8, min: usize, max: usize },
}

fn left_boundary(byte: u8) -> bool {
    b" -./<@_".contains(&byte)
}

fn right_boundary(byte: u8) -> bool {
    b" -/_\n\r\"'=>".contains(&byte)
}

fn same_byte(pattern: u8, found: u8, nocase: bool) -> bool {
    if nocase { pattern.eq_ignore_ascii_case(&found) } else { pattern == found }
}

/// All ends of matches of `items` starting at `at` (the whole `hay` is the part).
fn reference_ends(items: &[Item], hay: &[u8], at: usize, nocase: bool) -> BTreeSet<usize> {
    let Some((first, rest)) = items.split_first() else {
        return BTreeSet::from([at]);
    };
    let next: Vec<usize> = match first {
        Item::Byte(byte) => {
            hay.get(at).filter(|found| same_byte(*byte, **found, nocase)).map(|_| at + 1).into_iter().collect()
        }
        Item::Any => (at < hay.len()).then_some(at + 1).into_iter().collect(),
        Item::High(value) => hay.get(at).filter(|found| *found & 0xf0 == *value).map(|_| at + 1).into_iter().collect(),
        Item::Low(value) => hay.get(at).filter(|found| *found & 0x0f == *value).map(|_| at + 1).into_iter().collect(),
        Item::Set { bytes, negated } => hay
            .get(at)
            .filter(|found| bytes.iter().any(|byte| same_byte(*byte, **found, nocase)) != *negated)
            .map(|_| at + 1)
            .into_iter()
            .collect(),
        Item::Strings { strings, negated } => strings
            .first()
            .map(|string| string.len())
            .and_then(|length| hay.get(at..at + length).map(|found| (length, found)))
            .filter(|(_, found)| {
                strings.iter().any(|string| if nocase { string.eq_ignore_ascii_case(found) } else { string == found })
                    != *negated
            })
            .map(|(length, _)| at + length)
            .into_iter()
            .collect(),
        Item::Generic(branches) => branches.iter().flat_map(|branch| reference_ends(branch, hay, at, nocase)).collect(),
        Item::Gap { min, max } => {
            let high = max.map_or(hay.len(), |max| (at + max).min(hay.len()));
            (at + min..=high).collect()
        }
        Item::MiddleBoundary => hay
            .get(at)
            .filter(|byte| left_boundary(**byte) || right_boundary(**byte))
            .map(|_| at + 1)
            .into_iter()
            .collect(),
        Item::MiddleLine => {
            let mut ends = Vec::new();
            if hay.get(at) == Some(&b'\n') {
                ends.push(at + 1);
            }
            if hay.get(at..at + 2) == Some(b"\r\n") {
                ends.push(at + 2);
            }
            ends
        }
        Item::MiddleNotLine => match hay.get(at) {
            Some(b'\n') | None => Vec::new(),
            Some(b'\r') if hay.get(at + 1) == Some(&b'\n') => Vec::new(),
            Some(_) => vec![at + 1],
        },
        Item::MiddleWord => {
            hay.get(at).filter(|byte| !byte.is_ascii_alphanumeric()).map(|_| at + 1).into_iter().collect()
        }
        Item::Before(letter) => {
            let holds = at == 0
                || match letter {
                    b'B' => left_boundary(hay[at - 1]),
                    b'L' => hay[at - 1] == b'\n',
                    _ => !hay[at - 1].is_ascii_alphanumeric(),
                };
            if holds { vec![at] } else { Vec::new() }
        }
        Item::After(letter) => {
            let holds = at == hay.len()
                || match letter {
                    b'B' => right_boundary(hay[at]),
                    b'L' => hay[at] == b'\n' || (hay[at] == b'\r' && hay.get(at + 1) == Some(&b'\n')),
                    _ => !hay[at].is_ascii_alphanumeric(),
                };
            if holds { vec![at] } else { Vec::new() }
        }
        Item::LeadByte { byte, min, max } => {
            let holds = (*min..=*max).any(|distance| {
                at.checked_sub(distance + 1)
                    .and_then(|index| hay.get(index))
                    .is_some_and(|found| same_byte(*byte, *found, nocase))
            });
            if holds { vec![at] } else { Vec::new() }
        }
        Item::TrailByte { byte, min, max } => {
            let holds = (*min..=*max)
                .any(|distance| hay.get(at + distance).is_some_and(|found| same_byte(*byte, *found, nocase)));
            if holds { vec![at] } else { Vec::new() }
        }
    };
    next.into_iter().flat_map(|position| reference_ends(rest, hay, position, nocase)).collect()
}

fn hex(byte: u8) -> String {
    format!("{byte:02x}")
}

/// A byte for literals: from the alphabet, mostly letters.
fn literal() -> impl Strategy<Value = u8> {
    prop::sample::select(b"ABab -\n".to_vec())
}

/// One element in the middle of a part, with its hex text. `nocase` patterns get no negated alternatives
/// (ClamAV refuses them with modifiers).
fn element(nocase: bool) -> impl Strategy<Value = (String, Item)> {
    let plain = prop_oneof![
        4 => literal().prop_map(|byte| (hex(byte), Item::Byte(byte))),
        1 => Just(("??".to_string(), Item::Any)),
        1 => Just(("4?".to_string(), Item::High(0x40))),
        1 => Just(("?1".to_string(), Item::Low(0x01))),
        1 => (literal(), literal()).prop_map(|(first, second)| {
            (format!("({}|{})", hex(first), hex(second)), Item::Set { bytes: vec![first, second], negated: false })
        }),
        1 => (literal(), literal(), literal(), literal()).prop_map(|(a, b, c, d)| {
            (
                format!("({}{}|{}{})", hex(a), hex(b), hex(c), hex(d)),
                Item::Strings { strings: vec![vec![a, b], vec![c, d]], negated: false },
            )
        }),
        1 => (literal(), literal(), literal()).prop_map(|(a, b, c)| {
            (
                format!("({}|{}{})", hex(a), hex(b), hex(c)),
                Item::Generic(vec![vec![Item::Byte(a)], vec![Item::Byte(b), Item::Byte(c)]]),
            )
        }),
        1 => (literal(), literal(), literal()).prop_map(|(a, b, c)| {
            (
                format!("(({}|{}){}|??)", hex(a), hex(b), hex(c)),
                Item::Generic(vec![
                    vec![Item::Generic(vec![vec![Item::Byte(a)], vec![Item::Byte(b)]]), Item::Byte(c)],
                    vec![Item::Any],
                ]),
            )
        }),
        1 => Just(("(B)".to_string(), Item::MiddleBoundary)),
        1 => Just(("(L)".to_string(), Item::MiddleLine)),
        1 => Just(("!(L)".to_string(), Item::MiddleNotLine)),
        1 => Just(("(W)".to_string(), Item::MiddleWord)),
    ];
    let negated = prop_oneof![
        (literal(), literal()).prop_map(|(first, second)| {
            (format!("!({}|{})", hex(first), hex(second)), Item::Set { bytes: vec![first, second], negated: true })
        }),
        (literal(), literal(), literal(), literal()).prop_map(|(a, b, c, d)| {
            (
                format!("!({}{}|{}{})", hex(a), hex(b), hex(c), hex(d)),
                Item::Strings { strings: vec![vec![a, b], vec![c, d]], negated: true },
            )
        }),
    ];
    if nocase { plain.boxed() } else { prop_oneof![6 => plain, 1 => negated].boxed() }
}

/// An edge letter, or none.
fn edge() -> impl Strategy<Value = Option<u8>> {
    prop_oneof![3 => Just(None), 1 => Just(Some(b'B')), 1 => Just(Some(b'L')), 1 => Just(Some(b'W'))]
}

/// A `[x-y]` neighbour, or none.
fn neighbour() -> impl Strategy<Value = Option<(u8, usize, usize)>> {
    prop_oneof![3 => Just(None), 1 => (literal(), 0usize..=1, 0usize..=2).prop_map(|(byte, low, extra)| Some((byte, low, low + extra)))]
}

/// One ClamAV part: optional `aa[x-y]`, optional edge, elements around two fixed bytes, optional edge and
/// `[x-y]bb`.
fn part(nocase: bool) -> impl Strategy<Value = (String, Vec<Item>)> {
    (
        neighbour(),
        edge(),
        prop::collection::vec(element(nocase), 0..3),
        literal(),
        literal(),
        prop::collection::vec(element(nocase), 0..3),
        edge(),
        neighbour(),
    )
        .prop_map(|(lead, left, prefix, first, second, suffix, right, trail)| {
            let mut text = String::new();
            let mut items = Vec::new();
            if let Some((byte, low, high)) = lead {
                text.push_str(&format!("{}[{low}-{high}]", hex(byte)));
                items.push(Item::LeadByte { byte, min: low, max: high });
            }
            if let Some(letter) = left {
                text.push_str(&format!("({})", char::from(letter)));
                items.push(Item::Before(letter));
            }
            let mut middle: Vec<(String, Item)> = prefix;
            middle.push((hex(first), Item::Byte(first)));
            middle.push((hex(second), Item::Byte(second)));
            middle.extend(suffix);
            // A class at the very start or end of the part would be an edge, not a middle byte: keep those
            // positions to other elements.
            let is_class = |text: &str| text.starts_with("(B") || text.starts_with("(L") || text.starts_with("(W");
            if middle.first().is_some_and(|(text, _)| is_class(text)) {
                middle.insert(0, (hex(b'A'), Item::Byte(b'A')));
            }
            if middle.last().is_some_and(|(text, _)| is_class(text) || text == "!(L)") {
                middle.push((hex(b'B'), Item::Byte(b'B')));
            }
            for (element_text, item) in middle {
                text.push_str(&element_text);
                items.push(item);
            }
            if let Some(letter) = right {
                text.push_str(&format!("({})", char::from(letter)));
                items.push(Item::After(letter));
            }
            if let Some((byte, low, high)) = trail {
                text.push_str(&format!("[{low}-{high}]{}", hex(byte)));
                items.push(Item::TrailByte { byte, min: low, max: high });
            }
            (text, items)
        })
}

/// A gap between parts: inline ranges mostly, sometimes unbounded ones (which make several segments).
fn gap() -> impl Strategy<Value = (String, Item)> {
    prop_oneof![
        4 => (0usize..=2, 1usize..=3).prop_map(|(low, high)| {
            let high = high.max(low);
            (format!("{{{low}-{high}}}"), Item::Gap { min: low, max: Some(high) })
        }),
        1 => Just(("*".to_string(), Item::Gap { min: 0, max: None })),
        1 => (0usize..=2).prop_map(|low| (format!("{{{low}-}}"), Item::Gap { min: low, max: None })),
    ]
}

/// A whole pattern: one to three parts, its hex text, its reference items and whether it is case-insensitive.
fn pattern() -> impl Strategy<Value = (String, Vec<Item>, bool)> {
    any::<bool>().prop_flat_map(|nocase| {
        (part(nocase), prop::collection::vec((gap(), part(nocase)), 0..3)).prop_map(move |(first, rest)| {
            let (mut text, mut items) = first;
            for ((gap_text, gap_item), (part_text, part_items)) in rest {
                text.push_str(&gap_text);
                items.push(gap_item);
                text.push_str(&part_text);
                items.extend(part_items);
            }
            (text, items, nocase)
        })
    })
}

fn noise() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(ALPHABET.to_vec()), 0..10)
}

/// A small deterministic generator for the choices made while sampling a match.
fn next_random(state: &mut u64, below: usize) -> usize {
    *state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    ((*state >> 33) as usize) % below.max(1)
}

fn pick(state: &mut u64, choices: &[u8]) -> u8 {
    choices[next_random(state, choices.len())]
}

/// Appends text that (mostly) matches `items`, so that random texts contain matches, near-matches and
/// overlapping matches rather than almost never matching.
fn sample(items: &[Item], state: &mut u64, nocase: bool, out: &mut Vec<u8>) {
    for item in items {
        match item {
            Item::Byte(byte) => {
                out.push(if nocase && next_random(state, 2) == 0 { byte.to_ascii_uppercase() } else { *byte })
            }
            Item::Any => out.push(pick(state, ALPHABET)),
            Item::High(_) => out.push(pick(state, b"AB")),
            Item::Low(_) => out.push(pick(state, b"Aa")),
            Item::Set { bytes, negated: false } => out.push(pick(state, bytes)),
            Item::Set { negated: true, .. } | Item::Strings { negated: true, .. } => {
                let length = match item {
                    Item::Strings { strings, .. } => strings.first().map_or(1, Vec::len),
                    _ => 1,
                };
                for _ in 0..length {
                    out.push(pick(state, ALPHABET));
                }
            }
            Item::Strings { strings, negated: false } => {
                out.extend_from_slice(&strings[next_random(state, strings.len())]);
            }
            Item::Generic(branches) => sample(&branches[next_random(state, branches.len())], state, nocase, out),
            Item::Gap { min, max } => {
                let high = max.unwrap_or(min + 3).min(min + 3);
                for _ in 0..*min + next_random(state, high - min + 1) {
                    out.push(pick(state, ALPHABET));
                }
            }
            Item::MiddleBoundary => out.push(pick(state, b" -_\n")),
            Item::MiddleLine => out.extend_from_slice(if next_random(state, 2) == 0 { &b"\n"[..] } else { b"\r\n" }),
            Item::MiddleNotLine => out.push(pick(state, b"A\r ")),
            Item::MiddleWord => out.push(pick(state, b" -_")),
            Item::Before(_) | Item::After(_) => {}
            Item::LeadByte { byte, min, max } => {
                out.push(*byte);
                for _ in 0..*min + next_random(state, max - min + 1) {
                    out.push(pick(state, ALPHABET));
                }
            }
            Item::TrailByte { byte, min, max } => {
                for _ in 0..*min + next_random(state, max - min + 1) {
                    out.push(pick(state, ALPHABET));
                }
                out.push(*byte);
            }
        }
    }
}

/// Noise before and after, a seed for the sampled match, and bytes to change (position, new byte).
type HayParts = (Vec<u8>, Vec<u8>, u64, Vec<(usize, u8)>);

/// A text around a sampled match of `items`, with up to two bytes changed.
fn build_hay(items: &[Item], nocase: bool, parts: &HayParts) -> Vec<u8> {
    let (before, after, seed, changes) = parts;
    let mut state = *seed;
    let mut hay = before.clone();
    sample(items, &mut state, nocase, &mut hay);
    if next_random(&mut state, 3) == 0 {
        sample(items, &mut state, nocase, &mut hay);
    }
    hay.extend_from_slice(after);
    for (position, byte) in changes {
        if !hay.is_empty() {
            let index = position % hay.len();
            hay[index] = *byte;
        }
    }
    hay
}

fn hay_parts() -> impl Strategy<Value = HayParts> {
    (
        noise(),
        noise(),
        any::<u64>(),
        prop::collection::vec((any::<usize>(), prop::sample::select(ALPHABET.to_vec())), 0..3),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    /// For every start, the earliest end over all anchor hits equals the reference's earliest end, and a
    /// window around the anchor (with the part's true offset and length) gives the same answer.
    #[test]
    fn verify_agrees_with_reference(
        (text, items, nocase) in pattern(),
        parts in hay_parts(),
        cut in (0usize..4, 0usize..4),
    ) {
        let hay = build_hay(&items, nocase, &parts);
        let modifiers = Modifiers { nocase, ..Modifiers::default() };
        let compiled = compile(text.as_bytes(), modifiers, Target::Html);
        prop_assert!(compiled.is_ok(), "{text}: {compiled:?}");
        let patterns = compiled.unwrap_or_default();
        prop_assert_eq!(patterns.len(), 1);
        let pattern = &patterns[0];
        for start in 0..=hay.len() {
            let expected = reference_ends(&items, &hay, start, nocase);
            prop_assert_eq!(
                matches_at(pattern, &hay, start),
                !expected.is_empty(),
                "{} at {} in {:?}", text, start, String::from_utf8_lossy(&hay)
            );
            if pattern.segments.len() != 1 {
                continue;
            }
            let segment = &pattern.segments[0];
            let mut earliest: Option<usize> = None;
            let mut scratch = VerifyScratch::default();
            for anchor in anchor_positions(segment, &hay) {
                let found = segment.verify_with(&mut scratch, &hay, 0, hay.len() as u64, anchor, start..=start);
                if let Some(range) = &found {
                    prop_assert_eq!(range.start, start);
                    earliest = Some(earliest.map_or(range.end, |end| end.min(range.end)));
                }
                // The same question through a window that holds what the segment may read, and a little more.
                let low = anchor.saturating_sub(segment.max_before_anchor() + 1 + cut.0);
                let high = (anchor + segment.anchor().len() + segment.max_after_anchor() + 1 + cut.1).min(hay.len());
                if start >= low {
                    let windowed = segment.verify(&hay[low..high], low as u64, hay.len() as u64, anchor - low, start - low..=start - low);
                    prop_assert_eq!(windowed.map(|range| range.start + low..range.end + low), found);
                }
            }
            prop_assert_eq!(earliest, expected.first().copied(), "{} at {} in {:?}", text, start, String::from_utf8_lossy(&hay));
        }
    }

    /// No byte string makes a line parser panic.
    #[test]
    fn parsers_never_panic_on_bytes(line in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_body_line(&line);
        let _ = parse_logical_line(&line);
        let _ = parse_hash_line(hash::HashKind::File, &line);
        let _ = parse_hash_line(hash::HashKind::PeSection, &line);
        let _ = hash::parse_ignore_line(&line);
    }

    /// Nor does text made of the syntax's own characters, and whatever parses also verifies without panicking
    /// on any window, offsets and anchor position.
    #[test]
    fn parsers_and_verifier_never_panic_on_syntax(
        body in "[0-9a-fA-F?*{}()\\[\\]|!BLW,-]{0,40}",
        offset in "(\\*|[0-9]{0,3}|EOF-[0-9]{0,2}|EP[+-][0-9]|S[E0-9L][+0-9]{0,3}|VI|\\$[0-9]{1,2}\\$?)(,[0-9]{0,2})?",
        expression in "[0-9()&|=<>, ]{0,24}",
        modifiers in "[iwfaq]{0,3}",
        hay in prop::collection::vec(any::<u8>(), 0..64),
        window in (0u64..4, 0u64..80, 0usize..70, 0usize..70, 0usize..70),
    ) {
        for target in [0, 1, 2, 7] {
            let line = format!("Name:{target}:{offset}:{body}");
            if let Ok(super::Line::Signature(signature)) = parse_body_line(&line) {
                for segment in &signature.pattern.segments {
                    let (window_offset, part_len, anchor, low, high) = window;
                    let _ = segment.verify(&hay, window_offset, part_len, anchor, low..=high);
                    for anchor in anchor_positions(segment, &hay) {
                        let _ = segment.verify(&hay, 0, hay.len() as u64, anchor, 0..=hay.len());
                    }
                }
            }
        }
        let line = format!("Name;Engine:51-255,Target:0;{expression};{offset}:{body}::{modifiers};{body}");
        if let Ok(super::Line::Signature(signature)) = parse_logical_line(&line) {
            let _ = signature.expression.evaluate(&[1, 2, 3]);
            let _ = signature.expression.referenced();
        }
    }
}

#[test]
fn deep_or_long_expressions_are_bounded() {
    // Nesting beyond the limit is refused, not a stack overflow.
    let deep = format!("{}0{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(super::logical::Expression::parse(deep.as_bytes()).is_err());
    let alternating: String =
        (0..10_000).map(|index| if index % 2 == 0 { "0&" } else { "0|" }).collect::<String>() + "0";
    assert!(super::logical::Expression::parse(alternating.as_bytes()).is_err());
    // A long chain of one operator is one flat node.
    let chain: String = (0..10_000).map(|_| "0&").collect::<String>() + "0";
    let parsed = super::logical::Expression::parse(chain.as_bytes());
    assert!(matches!(&parsed, Ok(super::logical::Expression::All { operands, .. }) if operands.len() == 10_001));
    // Deeply nested alternatives are refused at ClamAV's limit.
    let nested = format!("4142{}43{}4445", "(43|".repeat(20), ")".repeat(20));
    assert!(compile(nested.as_bytes(), Modifiers::default(), Target::Html).is_err());
}
