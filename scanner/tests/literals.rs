//! The literal set against the definition: for random sets and haystacks, `for_each_match` reports exactly the
//! `(id, start)` pairs a naive scan finds, each once, in non-decreasing start order, for any `starts` range.

use std::ops::{ControlFlow, Range};

use proptest::prelude::*;
use proptest::sample::select;
use scanner::literals::{Literal, LiteralSet};

/// Small alphabets force many (overlapping) matches; the mixed-case ones exercise `nocase`.
fn alphabet() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"ab".to_vec()),
        Just(b"aAbB".to_vec()),
        Just(b"\x00\x01aA ".to_vec()),
        Just(b"abcdefgh".to_vec()),
        Just((0..=255).collect()),
    ]
}

/// A literal is either random over the alphabet or cut out of the haystack (so it surely occurs).
#[derive(Clone, Debug)]
struct Spec {
    cut: bool,
    random: Vec<u8>,
    offset: usize,
    len: usize,
    nocase: bool,
}

fn spec(alphabet: Vec<u8>, max_len: usize) -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        prop::collection::vec(select(alphabet), 1..max_len),
        any::<usize>(),
        1..max_len,
        prop::bool::weighted(0.2),
    )
        .prop_map(|(cut, random, offset, len, nocase)| Spec { cut, random, offset, len, nocase })
}

fn realize(specs: &[Spec], hay: &[u8]) -> Vec<(Vec<u8>, bool)> {
    specs
        .iter()
        .map(|s| {
            let bytes = if s.cut && !hay.is_empty() {
                let from = s.offset % hay.len();
                hay[from..(from + s.len).min(hay.len())].to_vec()
            } else {
                s.random.clone()
            };
            (bytes, s.nocase)
        })
        .collect()
}

fn naive(literals: &[Literal<'_>], hay: &[u8], starts: Range<usize>) -> Vec<(u32, usize)> {
    let mut found = Vec::new();
    for (id, literal) in (0u32..).zip(literals) {
        for start in starts.start..starts.end.min(hay.len()) {
            if let Some(text) = hay.get(start..start + literal.bytes.len()) {
                let equal =
                    if literal.nocase { text.eq_ignore_ascii_case(literal.bytes) } else { text == literal.bytes };
                if equal {
                    found.push((id, start));
                }
            }
        }
    }
    found.sort_unstable();
    found
}

fn compare(owned: &[(Vec<u8>, bool)], hay: &[u8], starts: Range<usize>) -> Result<(), TestCaseError> {
    let literals: Vec<Literal<'_>> = owned.iter().map(|(b, nocase)| Literal { bytes: b, nocase: *nocase }).collect();
    let set = LiteralSet::new(&literals).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut got = Vec::new();
    let mut in_order = true;
    let _ = set.for_each_match(hay, starts.clone(), |id, start| {
        in_order &= got.last().is_none_or(|&(_, last)| start >= last);
        got.push((id, start));
        ControlFlow::Continue(())
    });
    prop_assert!(in_order, "starts out of order: {got:?}");
    got.sort_unstable();
    let expected = naive(&literals, hay, starts);
    prop_assert_eq!(got, expected, "set {:?}", set);
    Ok(())
}

fn case(max_literals: usize, max_len: usize) -> impl Strategy<Value = (Vec<Spec>, Vec<u8>, Range<usize>)> {
    (alphabet(), 0usize..3000).prop_flat_map(move |(alphabet, hay_len)| {
        (
            prop::collection::vec(spec(alphabet.clone(), max_len), 1..max_literals),
            prop::collection::vec(select(alphabet), hay_len),
            0..hay_len + 20,
            0..hay_len + 20,
        )
            .prop_map(|(specs, hay, a, b)| (specs, hay, a.min(b)..a.max(b)))
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn same_as_naive(case in case(300, 41)) {
        let (specs, hay, starts) = case;
        let owned = realize(&specs, &hay);
        compare(&owned, &hay, starts)?;
        compare(&owned, &hay, 0..hay.len())?;
    }

    #[test]
    fn same_as_naive_few(case in case(6, 41)) {
        let (specs, hay, starts) = case;
        let owned = realize(&specs, &hay);
        compare(&owned, &hay, starts)?;
    }

    #[test]
    fn same_as_naive_long_literals(case in case(60, 256)) {
        let (specs, hay, starts) = case;
        let owned = realize(&specs, &hay);
        compare(&owned, &hay, starts)?;
    }

    /// Haystacks longer than one 32 KiB block, so candidates cross block boundaries and wait in the sort buffer.
    #[test]
    fn same_as_naive_across_blocks(specs in prop::collection::vec(spec(b"abc".to_vec(), 60), 40..120), seed in any::<u64>(), a in 0usize..80_000, b in 0usize..80_000) {
        let mut state = seed | 1;
        let hay: Vec<u8> = (0..80_000).map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b"abc"[(state % 3) as usize]
        }).collect();
        let owned = realize(&specs, &hay);
        compare(&owned, &hay, a.min(b)..a.max(b))?;
    }

    /// Never panics, whatever the bytes and the range.
    #[test]
    fn any_bytes_any_range(hay in prop::collection::vec(any::<u8>(), 0..600), a in any::<usize>(), b in any::<usize>()) {
        let literals = [Literal::new(b"\x00\x00"), Literal::nocase(b"\xff"), Literal::new(&[0x41; 255])];
        let set = LiteralSet::new(&literals).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let _ = set.for_each_match(&hay, a..b, |_, _| ControlFlow::Continue(()));
    }
}
