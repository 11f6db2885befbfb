//! Behaviour checked against `clamscan` 1.4.6 (FLEVEL 216): each case names a database line, a file and what
//! `clamscan --no-summary -d DB FILE` answered. Files of 5 bytes or fewer are never scanned by `clamscan`, so
//! every file here is longer. Text files are also scanned after ClamAV's text normalization (lower-casing),
//! so case tests use a binary tail ([`BINARY`]) and patterns are upper-case elsewhere.
//!
//! A small driver ([`find`]) plays the scanner: it looks for every anchor occurrence, verifies each segment and
//! chains segments through their gaps, so these tests exercise the public [`Segment`] API the way the scanner
//! will.

use std::ops::RangeInclusive;

use super::body::{Modifiers, Offset, Pattern, StartRange};
use super::logical::SubSignature;
use super::segment::{Segment, VerifyScratch};
use super::{Line, parse_body_line, parse_logical_line};

/// Appended to make ClamAV treat a file as binary (no text normalization).
pub(crate) const BINARY: &[u8] = b"\x00\x01\x02\xfe\xff\x00\x01\x02";

/// Every position where the segment's anchor occurs.
pub(crate) fn anchor_positions(segment: &Segment, hay: &[u8]) -> Vec<usize> {
    let anchor = segment.anchor();
    if anchor.is_empty() || anchor.len() > hay.len() {
        return Vec::new();
    }
    (0..=hay.len() - anchor.len())
        .filter(|&position| {
            let found = &hay[position..position + anchor.len()];
            if segment.anchor_nocase() { found.eq_ignore_ascii_case(anchor) } else { found == anchor }
        })
        .collect()
}

/// The ends of every match of `segment` starting in `starts`.
fn segment_ends(segment: &Segment, hay: &[u8], starts: RangeInclusive<usize>) -> Vec<usize> {
    let mut scratch = VerifyScratch::default();
    let mut ends = Vec::new();
    let mut found = Vec::new();
    for anchor in anchor_positions(segment, hay) {
        for start in starts.clone() {
            if segment.verify_ends(&mut scratch, hay, 0, hay.len() as u64, anchor, start..=start, &mut found).is_some()
            {
                for range in &found {
                    ends.extend(range.clone());
                }
            }
        }
    }
    ends.sort_unstable();
    ends.dedup();
    ends
}

/// Whether `pattern` matches `hay` starting exactly at `start` (the whole hay being the part).
pub(crate) fn matches_at(pattern: &Pattern, hay: &[u8], start: usize) -> bool {
    let Some((first, rest)) = pattern.segments.split_first() else { return false };
    let mut ends = segment_ends(first, hay, start..=start);
    for (segment, gap) in rest.iter().zip(&pattern.gaps) {
        let mut next = Vec::new();
        for end in &ends {
            let low = end.saturating_add(gap.min as usize);
            let high = gap.max.map_or(hay.len(), |max| end.saturating_add(max as usize)).min(hay.len());
            if low <= high {
                next.extend(segment_ends(segment, hay, low..=high));
            }
        }
        next.sort_unstable();
        next.dedup();
        ends = next;
    }
    !ends.is_empty()
}

/// The starts of all matches of `pattern` allowed by `offset`.
pub(crate) fn match_starts(pattern: &Pattern, offset: &Offset, hay: &[u8]) -> Vec<usize> {
    let range = match offset.start_range(hay.len() as u64) {
        StartRange::Unconstrained => 0..=hay.len(),
        StartRange::Range(range) => {
            (*range.start() as usize).min(hay.len() + 1)..=(*range.end() as usize).min(hay.len())
        }
        StartRange::Never | StartRange::Unknown => return Vec::new(),
    };
    range.filter(|&start| matches_at(pattern, hay, start)).collect()
}

/// What `clamscan` would say for a one-line `.ndb` database.
pub(crate) fn ndb_finds(line: &str, hay: &[u8]) -> bool {
    match parse_body_line(line) {
        Ok(Line::Signature(signature)) => !match_starts(&signature.pattern, &signature.offset, hay).is_empty(),
        Ok(_) => false,
        Err(error) => panic!("{line} refused: {error}"),
    }
}

/// What `clamscan` would say for a one-line `.ldb` database (target 0, file not in a container).
pub(crate) fn ldb_finds(line: &str, hay: &[u8]) -> bool {
    let signature = match parse_logical_line(line) {
        Ok(Line::Signature(signature)) => signature,
        Ok(_) => return false,
        Err(error) => panic!("{line} refused: {error}"),
    };
    if signature.target_description.target != super::Target::Any {
        return false; // the test files are of no particular type
    }
    if let Some(range) = &signature.target_description.file_size
        && !range.contains(&(hay.len() as u32))
    {
        return false;
    }
    if let Some(container) = &signature.target_description.container
        && container != "CL_TYPE_ANY"
    {
        return false;
    }
    let counts: Vec<u32> = signature
        .subsignatures
        .iter()
        .map(|subsignature| match subsignature {
            SubSignature::Content { offset, patterns, .. } => {
                let mut starts: Vec<usize> =
                    patterns.iter().flat_map(|pattern| match_starts(pattern, offset, hay)).collect();
                starts.sort_unstable();
                starts.dedup();
                starts.len() as u32
            }
            SubSignature::Unsupported { .. } => 0,
        })
        .collect();
    signature.expression.evaluate(&counts)
}

fn with_binary(text: &[u8]) -> Vec<u8> {
    [text, BINARY].concat()
}

fn refused_ndb(line: &str) -> bool {
    parse_body_line(line).is_err()
}

fn refused_ldb(line: &str) -> bool {
    parse_logical_line(line).is_err()
}

#[track_caller]
fn check_ndb(cases: &[(&str, &[u8], bool)]) {
    for (hex, hay, expected) in cases {
        let line = format!("T:0:*:{hex}");
        assert_eq!(ndb_finds(&line, hay), *expected, "{line} on {:?}", String::from_utf8_lossy(hay));
    }
}

#[test]
fn gaps_between_parts() {
    // clamscan: `{0}`, `{0-0}`, `{}`, `{-}` and `{n-0}` have no maximum (ClamAV reads a maximum of 0 as none);
    // `{-n}` is 0..=n; `{n-}` is at least n; `{5-2}` loads and never matches; `{5--6}` reads as `{5-6}`.
    check_ndb(&[
        ("4142{0}4344", b"AB--CD", true),
        ("4142{0}4344", b"ABCDxxxx", true),
        ("4142{0-0}4344", b"AB--CD", true),
        ("4142{}4344", b"xxAB-----CDyy", true),
        ("4142{-}4344", b"xxAB-----CDyy", true),
        ("4142{-2}4344", b"AB--CD", true),
        ("4142{-2}4344", b"AB---CD", false),
        ("4142{-2}4344", b"ABCDxxxx", true),
        ("4142{2-}4344", b"xxAB-CDyy", false),
        ("4142{2-}4344", b"AB-------------CD", true),
        ("4142{2-3}4344", b"xxAB-CDyy", false),
        ("4142{2-3}4344", b"AB---CD", true),
        ("4142{2-3}4344", b"AB----CD", false),
        ("4142{5-2}4344", b"AB---CD", false),
        ("4142{5-0}4344", b"AB-------CD", true),
        ("4142{5-0}4344", b"AB--CD", false),
        ("4142{5--6}4344", b"xxAB-----CDyy", true),
        ("4142{3}4344", b"AB---CD", true),
        ("4142{3}4344", b"AB--CD", false),
        ("{3}41424344", b"xxxABCD", true),
        ("{3}41424344", b"xxABCD", false),
        ("41424344{3}", b"ABCDxxx", true),
        ("41424344{3}", b"ABCDxx", false),
        ("4142*4344", b"xxABCDxx", true),
        ("4142*4344", b"ABCDABCD", true),
        ("4142*4344", b"AB---CD", true),
        ("41424344*45464748", b"xxEFGH--ABCD--yy", false),
        ("41424344{3}45464748{-2}4a4b4c", b"xxABCD---EFGH-JKLyy", true),
        ("4142*43[1-2]4445", b"xxAB--C-DEyy", true),
    ]);
    let long = |zeros: usize| [&b"AB"[..], &vec![b'0'; zeros], b"CD"].concat();
    assert!(ndb_finds("T:0:*:4142{200}4344", &long(200)));
    assert!(!ndb_finds("T:0:*:4142{200}4344", &long(199)));
    let far = |zeros: usize| [&b"xxABCD"[..], &vec![b'0'; zeros], b"EFGHyy"].concat();
    assert!(ndb_finds("T:0:*:41424344{300-400}45464748", &far(350)));
    assert!(!ndb_finds("T:0:*:41424344{300-400}45464748", &far(250)));
    assert!(!ndb_finds("T:0:*:41424344{300-}45464748", &far(250)));
}

#[test]
fn refused_patterns() {
    // clamscan: "Malformed database" for each.
    for hex in [
        "{1-3}41424344", // an empty part before the range
        "41424344{1-3}", // an empty part after it
        "*41424344",     // likewise for `*`
        "41424344*",
        "4142**4344", // two `*` in a row
        "41*4243",    // a part of one byte
        "4142*43",
        "41{128}4344",        // `{128}` cuts: "41" alone is too short
        "4142{200}43{3}4445", // after a cutting brace `{3}` cuts too: "43" is too short
        "4142",               // a plain pattern for target 0 goes to Boyer-Moore: 3 bytes needed
        "41",
        "0000",
        "41??", // no two consecutive fixed bytes
        "41??42??43",
        "4?4?",
        "(41|42)(43|44)",
        "414",     // odd hex
        "41(B)42", // the prefilter cannot index "41" then a boundary
        "41(B)4243",
        "4142(Q)4344",
        "4142(b)4344",
        "4142(B",
        "4142)43",
        "4142{2",
        "4142{x}4344",
        "4142{1-2-3}4344",
        "4142[1-2",
        "4142 4344",
        "4142!4344",
        "4142}4344",
        "41[0-33]424344", // y > 32
        "41[3-2]424344",  // x > y
        "41[1-2]42",      // the rest is one byte
        "4142[1-2]4344",  // no single byte on either side
        "4142[1-2]4344[1-2]45",
        "4142!(43|5859)4546", // negated generic alternatives
        "4142!(4?|59)4546",
        "4142()4546",    // empty block
        "4142(|43)4546", // leading empty alternative in a fixed-length group
        "4142(|4344)4546",
        "4142(43{2-3}|44)4748", // ranges inside alternatives
        "4142(43*|44)4748",
        "41(4243|4445)4647", // prefilter: one position before a multi-byte alternative
        "(4243|4445)41(B)4647",
        "(4243|4445)??(B)4647",
        "(42|43)(B)4647",
        "4?(B)4647",
    ] {
        assert!(refused_ndb(&format!("T:0:*:{hex}")), "{hex} should be refused");
    }
    // clamscan: accepted.
    for hex in [
        "414243",
        "??4142??",
        "4142(B)",
        "(B)4142",
        "4142{128}4344",
        "4142{127}4344",
        "41{127}4344",
        "4142{3}43{200}4445",
        "41[0-32]424344",
        "41(42|43)4445",
        "(4243|4445)4647",
        "(B)(4243|4445)4647",
        "(4243|4445)4142(B)4647",
        "??41(B)4647",
        "4142(43|)4546",
        "4142{5-2}4344",
    ] {
        assert!(!refused_ndb(&format!("T:0:*:{hex}")), "{hex} should be accepted");
    }
    // The prefilter only runs for targets 0, 1, 4 and 7; Boyer-Moore only for 0 and 1 (and for 1 only with a
    // fixed offset).
    assert!(!refused_ndb("T:2:*:41(B)4243"));
    assert!(!refused_ndb("T:3:*:41(B)4243"));
    assert!(refused_ndb("T:4:*:41(B)4243"));
    assert!(refused_ndb("T:7:*:41(B)4243"));
    assert!(refused_ndb("T:1:*:41(B)4243"));
    assert!(!refused_ndb("T:2:*:4142"));
    assert!(!refused_ndb("T:1:*:4142"));
    assert!(refused_ndb("T:1:0:4142"));
    assert!(refused_ldb("T;Target:0;0;41(B)4243"));
    assert!(!refused_ldb("T;Target:2;0;41(B)4243"));
    assert!(!refused_ldb("T;Target:0;0;4142"));
}

#[test]
fn offsets() {
    // clamscan on "xxABCDyy" (8 bytes).
    let hay = b"xxABCDyy";
    for (offset, expected) in [
        ("2", true),
        ("1", false),
        ("1,1", true),
        ("0,1", false),
        ("2,", true),
        ("EOF-6", true),
        ("EOF-7", false),
        ("EOF-7,1", true),
        ("EOF-4", false),
        ("EOF-20", false),
        ("EOF-", false),
    ] {
        assert_eq!(ndb_finds(&format!("T:0:{offset}:41424344"), hay), expected, "{offset}");
    }
    // An empty offset reads as 0.
    assert!(ndb_finds("T:0::41424344", b"ABCDyyyy"));
    assert!(!ndb_finds("T:0::41424344", b"xABCDyyy"));
    // The offset constrains the first part's start.
    let hay = b"xxAB----CDyy";
    for (offset, expected) in [("EOF-2", false), ("EOF-12", false), ("EOF-10", true), ("2", true), ("6", false)] {
        assert_eq!(ndb_finds(&format!("T:0:{offset}:4142*4344"), hay), expected, "{offset}");
    }
    // Executable-relative offsets: refused for target 0, parsed (as unsupported) for PE.
    assert!(refused_ndb("T:0:EP+0:41424344"));
    assert!(refused_ndb("T:0:VI:41424344"));
    assert!(refused_ndb("T:1:SL-4:41424344"));
    assert!(refused_ndb("T:0:$33$:41424344"));
    assert!(refused_ndb("T:0:*,3:41424344"));
    for offset in ["EP+0", "EP+0,5", "S1+4", "SE2", "SL+4", "VI"] {
        let line = format!("T:1:{offset}:41424344");
        let parsed = parse_body_line(&line);
        assert!(
            matches!(&parsed, Ok(Line::Signature(signature)) if matches!(signature.offset, Offset::Unsupported(_))),
            "{line}: {parsed:?}"
        );
    }
    assert!(matches!(parse_body_line("T:0:$3$:41424344"), Ok(Line::Signature(_))));
}

#[test]
fn single_byte_ranges() {
    // clamscan: `aa[x-y]HEX` puts the byte x..=y bytes before HEX; the match (and the offset) starts at HEX.
    check_ndb(&[
        ("41[2-3]424344", b"xxA--BCDyy", true),
        ("41[2-3]424344", b"xxA---BCDyy", true),
        ("41[2-3]424344", b"xxA-BCDyy", false),
        ("41[2-3]424344", b"xxA----BCDyy", false),
        ("41[2]424344", b"xxA--BCDyy", true),
        ("41[0-1]424344", b"xxABCDyy", true),
        ("41[0-32]424344", b"xxABCDyy", true),
        ("424344[1-2]45", b"xxBCD-Eyy", true),
        ("424344[1-2]45", b"xxBCDEyy", false),
        ("41[1-2]4243[1-2]44", b"xxA-BC-Dyy", true),
        ("??[1-2]424344", b"xxA-BCDyy", true),
        ("4?[1-2]424344", b"xxA-BCDyy", true),
        ("41[1-2]??4344", b"xxA-BCDyy", true),
        ("41[1-2]4243??", b"xxA-BCDyy", true),
    ]);
    assert!(!ndb_finds("T:0:3:41[1-2]424344", b"xxA-BCDyy"));
    assert!(ndb_finds("T:0:4:41[1-2]424344", b"xxA-BCDyy"));
    assert!(!ndb_finds("T:0:2:41[1-2]424344", b"xxA-BCDyy"));
}

#[test]
fn alternatives() {
    // clamscan, except where noted.
    check_ndb(&[
        ("4142(43|44)4546", b"xxABDEFyy", true),
        ("4142(43|44)4546", b"xxABXEFyy", false),
        ("4142!(43|44)4546", b"xxABXEFyy", true),
        ("4142!(43|44)4546", b"xxABCEFyy", false),
        ("4142(4344|5859)4546", b"xxABXYEFyy", true),
        ("4142!(4344|5859)4546", b"xxABXYEFyy", false),
        ("4142!(4344|5859)4546", b"xxABXZEFyy", true),
        ("4142(43|5859)4546", b"xxABXYEFyy", true),
        ("4142(43|5859)4546", b"xxABCEFyy", true),
        ("4142(4?|5859)4546", b"xxABCEFyy", true),
        ("4142(43|4445)4748", b"xxABDEGHyy", true),
        ("4142(43|44|4546)4748", b"xxABEFGHyy", true),
        ("4142(43|(44|45)46)4748", b"xxABDFGHyy", true),
        ("4142(43|(44|45)46)4748", b"xxABCGHyy", true),
        ("4142(43|(44|45)46)4748", b"xxABEFGHyy", true),
        ("4142(43|(44|(45|46)))4748", b"xxABFGHyy", true),
        ("4142((43|44)(45|46))4748", b"xxABDFGHyy", true),
        ("4142((43|44)(45|46))4748", b"xxABDGHyy", false),
        ("4142(43??|44)4748", b"xxABCxGHyy", true),
        ("4142(43{2}|44)4748", b"xxABCxxGHyy", true),
        ("(41|42)4344", b"xxBCDyy", true),
        ("(4142|4243)4344", b"xxBCCDyy", true),
        ("4142(43|4343)4344", b"xxABCCDyy", true),
        ("4142(4343|43)4344", b"xxABCCDyy", true),
        ("4142(43|4343)4344", b"xxABCCCDyy", true),
        ("41424344(4546|4748)", b"xxABCDGHyy", true),
        ("41424344!(4546|4748)", b"xxABCDGHyy", false),
        ("41424344!(4546|4748)", b"xxABCDGIyy", true),
        ("41424344!(4546|4748)", b"xxxxxABCDG", false),
        ("41424344(4546|47)", b"xxABCDGHyy", true),
        ("4142(43|)", b"xxABCyyy", true),
        ("4142(43|)", b"xxAByyyy", true),
        ("4142(43|)4546", b"xxABCEFyy", true),
        ("4142(4344|)4546", b"xxABCDEFyy", true),
    ]);
    // Where ClamAV misses matches (it matches the part before its internal anchor backwards and mishandles
    // variable lengths there) the documented meaning is kept. clamscan answers OK (not found) to each of these
    // (and logs "ac_findmatch: Unknown metatype" for the first); this module finds them.
    check_ndb(&[
        ("(43|4343)4142", b"xxCCABy", true),
        ("4142(44|4344)4546", b"xxABCDEFyy", true),
        ("4142(43|)4546", b"xxABEFyy", true),
        ("4142(4344|)4546", b"xxABEFyy", true),
    ]);
}

#[test]
fn word_boundary_b() {
    // clamscan: `(B)` first tests the byte before (` ` `-` `.` `/` `<` `@` `_`, or the file start); last tests
    // the byte after (` ` `-` `/` `_` LF CR `"` `'` `=` `>`, or the file end); in the middle it is one byte of
    // either list.
    for (byte, before, after) in [
        (b' ', true, true),
        (b'-', true, true),
        (b'.', true, false),
        (b'/', true, true),
        (b'<', true, false),
        (b'@', true, false),
        (b'_', true, true),
        (b'"', false, true),
        (b'\'', false, true),
        (b'=', false, true),
        (b'>', false, true),
        (b',', false, false),
        (b'x', false, false),
        (b'\n', false, true),
        (b'\r', false, true),
        (b'\t', false, false),
        (b';', false, false),
        (b'(', false, false),
    ] {
        let left = [&b"xx"[..], &[byte], b"ABCDyyy"].concat();
        let right = [&b"xxABCD"[..], &[byte], b"yyy"].concat();
        assert_eq!(ndb_finds("T:0:*:(B)41424344", &left), before, "before {byte:#x}");
        assert_eq!(ndb_finds("T:0:*:41424344(B)", &right), after, "after {byte:#x}");
    }
    check_ndb(&[
        ("(B)41424344", b"ABCDyyyy", true),
        ("41424344(B)", b"xxxxABCD", true),
        ("4142(B)4344", b"xxAB CDyyy", true),
        ("4142(B)4344", b"xxAB.CDyyy", true),
        ("4142(B)4344", b"xxAB\"CDyyy", true),
        ("4142(B)4344", b"xxAB\nCDyyy", true),
        ("4142(B)4344", b"xxABxCDyyy", false),
        ("4142(B)4344", b"xxABCDyyy", false),
        // Negated: first it is a middle byte that is no boundary (ClamAV only treats `(B)` as an edge when it
        // is the very first thing); last it tests the byte after.
        ("!(B)41424344", b"xx-ABCDyyy", false),
        ("!(B)41424344", b"xxxABCDyyy", true),
        ("41424344!(B)", b"xxABCD-yy", false),
        ("41424344!(B)", b"xxABCDyyy", true),
        ("41424344!(B)", b"xxxxABCD", false),
        ("414243??(B)444546", b"xxABCx DEFyy", true),
        ("41424344{-10}4546(B)", b"xxABCD---EF yy", true),
        ("(B)41424344{-10}(B)45464748", b"xx ABCD--- EFGHyy", true),
        ("(B)41424344{-10}(B)45464748", b"xx ABCD---xEFGHyy", false),
    ]);
    // clamscan: offset 3 is not found (the negated first byte is part of the match, which starts at 2).
    // clamscan does not find offset 2 either (its length estimate for the prefix ignores the byte); this module
    // does.
    assert!(!ndb_finds("T:0:3:!(B)41424344", b"xxxABCDyyy"));
    assert!(ndb_finds("T:0:2:!(B)41424344", b"xxxABCDyyy"));
}

#[test]
fn line_boundary_l() {
    // clamscan: `(L)` first: file start or LF before (a lone CR is not a line end); last: file end, LF or CR LF
    // after; in the middle: LF or CR LF (clamscan misses the CR LF case here, see below).
    check_ndb(&[
        ("(L)41424344", b"xx\nABCDyyy", true),
        ("(L)41424344", b"xx\rABCDyyy", false),
        ("(L)41424344", b"xx\r\nABCDyyy", true),
        ("(L)41424344", b"xxxABCDyyy", false),
        ("(L)41424344", b"xx ABCDyyy", false),
        ("(L)41424344", b"ABCDyyyyy", true),
        ("41424344(L)", b"xxABCD\nyyy", true),
        ("41424344(L)", b"xxABCD\ryyy", false),
        ("41424344(L)", b"xxABCD\r\nyyy", true),
        ("41424344(L)", b"xxABCD\rxyyy", false),
        ("41424344(L)", b"xxABCDxyyy", false),
        ("41424344(L)", b"xxABCD yyy", false),
        ("41424344(L)", b"xxxxxABCD", true),
        ("41424344(L)", b"xxxxxABCD\r", false),
        ("4142(L)4344", b"xxAB\nCDyyy", true),
        ("4142(L)4344", b"xxAB\rCDyyy", false),
        ("4142(L)4344", b"xxABxCDyyy", false),
        ("4142!(L)4344", b"xxAB\nCDyyy", false),
        ("4142!(L)4344", b"xxAB\rCDyyy", true),
        ("4142!(L)4344", b"xxAB\r\nCDyyy", false),
        ("4142!(L)4344", b"xxABxCDyyy", true),
    ]);
    // clamscan does not find this (it tests the middle `(L)` backwards, seeing only the LF); the source's forward
    // test accepts CR LF, and so does this module.
    assert!(ndb_finds("T:0:*:4142(L)4344", b"xxAB\r\nCDyyy"));
}

#[test]
fn non_alphanumeric_w() {
    // clamscan: `(W)` is any byte that is not ASCII alphanumeric (so `_`, 0xE9 and 00 are), or a file edge.
    for (byte, expected) in
        [(b'\n', true), (b'x', false), (b'1', false), (b' ', true), (b'_', true), (0xe9, true), (0x00, true)]
    {
        let left = [&b"xx"[..], &[byte], b"ABCDyyy"].concat();
        assert_eq!(ndb_finds("T:0:*:(W)41424344", &left), expected, "before {byte:#x}");
        if byte != b'\n' {
            let right = [&b"xxABCD"[..], &[byte], b"yyy"].concat();
            assert_eq!(ndb_finds("T:0:*:41424344(W)", &right), expected, "after {byte:#x}");
        }
    }
    check_ndb(&[
        ("(W)41424344", b"ABCDyyyyy", true),
        ("41424344(W)", b"xxxxxABCD", true),
        ("4142(W)4344", b"xxABxCDyyy", false),
        ("4142(W)4344", b"xxAB CDyyy", true),
        ("4142(W)4344", b"xxAB_CDyyy", true),
        ("41424344!(W)", b"xxABCDxyyy", true),
        ("41424344!(W)", b"xxABCD yyy", false),
        ("41424344!(W)", b"xxxxxABCD", false),
        ("4142!(W)4344", b"xxABxCDyyy", true),
        ("4142!(W)4344", b"xxAB CDyyy", false),
    ]);
}

fn ldb(subsignature: &str) -> String {
    format!("T;Engine:81-255,Target:0;0;{subsignature}")
}

#[test]
fn nocase_modifier() {
    // clamscan (binary files): `::i` folds ASCII letters only, never nibbles or bytes above 0x7F.
    for (subsignature, hay, expected) in [
        ("61626364", &b"xxABcDyyy"[..], false),
        ("61626364::i", b"xxABcDyyy", true),
        ("41424344::i", b"xxabcdyyy", true),
        ("4142(43|44)45::i", b"xxabdeyyy", true),
        ("4142(43|44)45::i", b"xxabDeyyy", true),
        ("41[1-2]424344::i", b"xxa-bcdyyy", true),
        ("4142434?::i", b"xxabcdyyy", false),
        ("4142434?::i", b"xxABCDyyy", true),
        ("4142436?::i", b"xxABCDyyy", false),
        ("c9c9c9::i", b"xx\xe9\xe9\xe9yyy", false),
        ("5b5b5b::i", b"xx{{{yyy", false),
    ] {
        assert_eq!(ldb_finds(&ldb(subsignature), &with_binary(hay)), expected, "{subsignature}");
    }
    // Any modifier makes alternatives generic, and generic alternatives cannot be negated (clamscan refuses).
    assert!(refused_ldb(&ldb("414243!(44|45)::i")));
    assert!(refused_ldb("T;Target:0;0;!(41|42)434445::a"));
    assert!(!refused_ldb("T;Target:0;0;!(41|42)434445"));
    // The modifiers need no Engine attribute (clamscan loads this).
    assert!(ldb_finds("T;Target:0;0;61626364::i", &with_binary(b"xxABcDyyy")));
}

#[test]
fn wide_modifier() {
    // clamscan: `::w` puts 00 after each byte but not into skips; `::a` with it also matches the plain form.
    for (subsignature, hay, expected) in [
        ("61626364::w", &b"xxa\0b\0c\0d\0yyy"[..], true),
        ("61626364::w", b"xxa\0b\0c\0dyyy", false),
        ("61626364::w", b"xxabcdyyy", false),
        ("61626364::wa", b"xxabcdyyy", true),
        ("61626364::wa", b"xxa\0b\0c\0d\0yyy", true),
        ("61626364::a", b"xxabcdyyy", true),
        ("6162{2}6364::w", b"xxa\0b\0--c\0d\0yyy", true),
        ("6162{2}6364::w", b"xxa\0b\0----c\0d\0yyy", false),
        ("6162??6364::w", b"xxa\0b\0-\0c\0d\0yyy", true),
        ("6162??6364::w", b"xxa\0b\0--c\0d\0yyy", false),
        ("6162*6364::w", b"xxa\0b\0-c\0d\0yyy", true),
        ("6162(63|64)6566::w", b"xxa\0b\0d\0e\0f\0yyy", true),
        ("61[1-2]626364::w", b"xxa\0-b\0c\0d\0yyy", true),
        ("61[1-2]626364::w", b"xxa\0--b\0c\0d\0yyy", true),
        ("61626364::wi", b"xxA\0b\0C\0d\0yyy", true),
    ] {
        assert_eq!(ldb_finds(&ldb(subsignature), hay), expected, "{subsignature}");
    }
    let parsed = parse_logical_line(ldb("61626364::wa"));
    let Ok(Line::Signature(signature)) = parsed else { panic!("{parsed:?}") };
    let Some(SubSignature::Content { patterns, modifiers, .. }) = signature.subsignatures.first() else {
        panic!("no content subsignature")
    };
    assert_eq!(patterns.len(), 2);
    assert_eq!(*modifiers, Modifiers { wide: true, ascii: true, ..Modifiers::default() });
    assert_eq!(patterns[0].segments[0].anchor(), b"a\0b\0c\0d\0");
    assert_eq!(patterns[1].segments[0].anchor(), b"abcd");
}

#[test]
fn fullword_modifier() {
    // clamscan (binary files): `::f` needs a non-alphanumeric byte or the file edge on both sides.
    for (hay, expected) in [
        (&b"xx ABCD yy"[..], true),
        (b"xxxABCD yy", false),
        (b"xx ABCDyyy", false),
        (b"ABCD yyyyy", true),
        (b"xx_ABCD_yy", true),
        (b"xx1ABCD yy", false),
    ] {
        assert_eq!(ldb_finds(&ldb("41424344::f"), &with_binary(hay)), expected, "{hay:?}");
    }
    assert!(ldb_finds(&ldb("41424344::f"), b"xxxx ABCD"));
    assert!(ldb_finds(&ldb("41424344::fi"), &with_binary(b"xx abcd yy")));
    // `[x-y]` becomes `{x-y}` under `::f`, so the single byte is a part of its own: refused by clamscan.
    assert!(refused_ldb(&ldb("41[1-2]424344::f")));
    assert!(refused_ldb(&ldb("41[1-2]4243::f")));
    // Wide and fullword: the neighbours are wide characters: the two bytes before must not be an alphanumeric
    // byte followed by 00 (positions 0 and 1 always qualify); likewise the two bytes after.
    for (hay, expected) in [
        (&b"xx \0A\0B\0C\0D\0 \0yy"[..], true),
        (b"xxxxA\0B\0C\0D\0 \0yy", true),
        (b"xxx\0A\0B\0C\0D\0 \0yy", false),
        (b"x \0A\0B\0C\0D\0x\0yy", false),
        (b"x \0A\0B\0C\0D\0xyyy", true),
        (b"x \0A\0B\0C\0D\0-yyy", true),
        (b"xA\0B\0C\0D\0 \0yy", true),
        (b"x-A\0B\0C\0D\0 \0yy", true),
        (b"x\0\0A\0B\0C\0D\0 \0yy", true),
        (b"A\0B\0C\0D\0 \0yy", true),
        (b"yA\0B\0C\0D\0 \0yy", true),
    ] {
        assert_eq!(ldb_finds(&ldb("41424344::wf"), &with_binary(hay)), expected, "{hay:?}");
    }
    assert!(ldb_finds(&ldb("41424344::wf"), b"xxxxxx A\0B\0C\0D\0"));
    assert!(!ldb_finds(&ldb("41424344::wf"), b"xxxxxx A\0B\0C\0D\0x"));
    assert!(ldb_finds(&ldb("41424344::wf"), b"xxxxxx A\0B\0C\0D\0 "));
}

#[test]
fn logical_expressions() {
    // clamscan on "XQ1-XQ1-XQ1-YR2-" + binary: subsignature 0 ("XQ") matches 3 times, 1 ("YR") once, 2 ("ZS")
    // never.
    let hay = with_binary(b"XQ1-XQ1-XQ1-YR2-");
    for (expression, expected) in [
        ("0>2&2=0", true),
        ("0>3&2=0", false),
        ("0=3&2=0", true),
        ("0<4&2=0", true),
        ("0<3&2=0", false),
        ("0>2,5&2=0", true), // `,Y` is ignored on a single subsignature
        ("0=3,9&2=0", true),
        ("2=0", true),
        ("(0|1)>3&2=0", true),
        ("(0|1)>4&2=0", false),
        ("(0|1)=4&2=0", true),
        ("(0|1)>3,2&2=0", true),
        ("(0|1)>3,3&2=0", false),
        ("(0|2)>2,2", false), // 3 matches, but only 1 distinct subsignature
        ("(0|1|2)>3,2", true),
        ("(0|1|2)>3,3", false),
        ("(0&2)=0", true),
        ("(0&1)=4&2=0", true),
        ("(0|2)=3", true),
        ("(0&2)<1", true),
        ("(0|2)<1", false),
        ("((0|1)>3|2)=4", true),
        ("((0|1)>3|2)=0", false),
        ("((0|1)>3,2|2)>0,2", false), // a conditioned group passes no identities up
        ("(0|1)>3,2|2", true),
        ("2|(0|1)>3,2", true),
        ("0&1|2", true),   // 0&(1|2)
        ("2&1|0", false),  // 2&(1|0): the first operator splits
        ("(2&1|0)", true), // ((2&1)|0): inside parentheses the last one does
        ("0&(1|2)", true),
        ("2&0|1", false),
        ("(2&0|1)", true),
        ("0|2&2", true),
        ("(0)&2=0", true),
        ("((0|1)>3)&2=0", true),
        ("0 & 2=0", true),
        ("0&2=0 ", true),
        ("0&2=00", true),
        ("0&2=+0", true),
        ("0&02", false),
        ("0&2=0,", true),
        ("(0|1)=4,&2=0", true),
    ] {
        let line = format!("T;Target:0;{expression};5851;5952;5a53");
        assert_eq!(ldb_finds(&line, &hay), expected, "{expression}");
    }
    // clamscan refuses these: the highest index must be the last subsignature; `(0)>1` and `((0|1))>3` are
    // syntax errors in ClamAV's parser.
    for expression in ["0>2", "1=0", "(0|1)>3", "(0)>1&2=0", "((0|1))>3&2=0", ""] {
        assert!(refused_ldb(&format!("T;Target:0;{expression};5851;5952;5a53")), "{expression}");
    }
}

#[test]
fn target_description_blocks() {
    let hay = with_binary(b"xxXQ1yy");
    let line = |block: &str| format!("T;{block};0;5851");
    // clamscan: found, not found, refused or skipped, as noted.
    assert!(ldb_finds(&line("Target:0"), &hay));
    assert!(refused_ldb(&line("Target:0,Engine:51-255"))); // Engine must come first
    assert!(refused_ldb(&line("Engine:51-255"))); // no Target
    assert!(matches!(parse_logical_line(line("Engine:51-255,Target:0,Foo:1")), Ok(Line::Skipped { .. })));
    assert!(matches!(parse_logical_line(line("Engine:51-255,Target:0,SectOff:1.2-3")), Ok(Line::Skipped { .. })));
    assert!(refused_ldb(&line("Target:0,FileSize:1-100"))); // new attributes need Engine >= 51
    assert!(refused_ldb(&line("Engine:50-255,Target:0,FileSize:1-100")));
    assert!(ldb_finds(&line("Engine:51-255,Target:0,FileSize:1-100"), &hay));
    assert!(!ldb_finds(&line("Engine:51-255,Target:0,FileSize:1-10"), &hay));
    assert!(refused_ldb(&line("Engine:51-255,Target:0,FileSize:100")));
    assert!(matches!(
        parse_logical_line(line("Engine:51-255,Target:0,Container:CL_TYPE_FOO")),
        Ok(Line::Skipped { .. })
    ));
    assert!(!ldb_finds(&line("Engine:51-255,Target:0,Container:CL_TYPE_ZIP"), &hay));
    assert!(ldb_finds(&line("Engine:51-255,Target:0,Container:CL_TYPE_ANY"), &hay));
    assert!(refused_ldb(&line("Engine:51-255,Target:0,IconGroup1:foo")));
    assert!(refused_ldb(&line("Engine:51-255,Target:0,EntryPoint:1-2")));
    assert!(!refused_ldb(&line("Engine:51-255,Target:1,EntryPoint:1-2")));
    assert!(matches!(parse_logical_line(line("Engine:51-255,Target:15")), Ok(Line::Skipped { .. })));
    // The level is tested before the subsignatures: an invalid one is skipped, not refused...
    assert!(matches!(parse_logical_line("T;Engine:217-255,Target:0;0;58X1"), Ok(Line::Skipped { .. })));
    // ...but the expression is checked first of all.
    assert!(refused_ldb("T;Engine:217-255,Target:0;0&1;5851"));
    assert!(ldb_finds(&line("Engine:51-255,Target:0,HandlerType:CL_TYPE_PDF"), &hay));
    assert!(matches!(
        parse_logical_line(line("Engine:51-255,Target:0,Intermediates:CL_TYPE_ZIP>CL_TYPE_ANY")),
        Ok(Line::Signature(_))
    ));
    // The last Target wins.
    assert!(!ldb_finds(&line("Target:0,Target:1"), &hay));
    assert!(ldb_finds(&line("Target:1,Target:0"), &hay));
    assert!(refused_ldb("T;Target:0;0;5851;")); // a trailing `;` is one more (empty) subsignature
    assert!(refused_ldb("T;Target:0;;5851"));
    assert!(refused_ldb(";Target:0;0;5851"));
    assert!(refused_ldb("T;;0;5851"));
    assert!(ldb_finds(&line("Target:"), &hay)); // an empty number reads as 0
    assert!(matches!(parse_logical_line(line("Engine:51-,Target:0")), Ok(Line::Skipped { .. })));
    assert!(ldb_finds(&line("Engine:-255,Target:0"), &hay));
}

#[test]
fn subsignature_fields() {
    let hay = with_binary(b"xXq1yyyyyy");
    // clamscan: the field between the pattern and the modifiers is ignored; unknown modifiers are refused.
    assert!(ldb_finds("T;Target:0;0;5851:x:i", &hay));
    assert!(ldb_finds("T;Target:0;0;1:5851:x:i", &hay));
    assert!(refused_ldb("T;Target:0;0;1:5851::q"));
    assert!(ldb_finds("T;Target:0;0;1:5851::", &with_binary(b"xXQ1yyyyyy")));
    assert!(refused_ldb("T;Target:0;0;5851:"));
    assert!(refused_ldb("T;Target:0;0;1:5851:i"));
    assert!(!ldb_finds("T;Target:0;0;2:5851", &with_binary(b"xXQ1yyyyyy")));
    assert!(ldb_finds("T;Target:0;0;1:5851", &with_binary(b"xXQ1yyyyyy")));
    assert!(refused_ldb("T;Target:0;0;EP+1:5851"));
}

#[test]
fn body_line_fields() {
    // clamscan: a non-numeric level is refused; an empty maximum reads as 0 and skips the line; seven fields
    // and empty names are refused; targets above 14 are skipped; `*` and the empty target read as 0.
    assert!(refused_ndb("T:0:*:41424344:x"));
    assert!(matches!(parse_body_line("T:0:*:41424344::"), Ok(Line::Skipped { .. })));
    assert!(refused_ndb("T:0:*:41424344:1:x"));
    assert!(refused_ndb(":0:*:41424344"));
    assert!(refused_ndb("T:0:*:41424344:1:2:3"));
    assert!(refused_ndb("T:x:*:41424344"));
    assert!(matches!(parse_body_line("T:15:*:41424344"), Ok(Line::Skipped { .. })));
    assert!(matches!(parse_body_line("T:14:*:41424344"), Ok(Line::Signature(_))));
    assert!(ndb_finds("T:*:*:41424344", b"xxABCDyy"));
    assert!(ndb_finds("T::*:41424344", b"xxABCDyy"));
    assert_eq!(parse_body_line("#T:0:*:41424344"), Ok(Line::Comment));
    assert!(refused_ndb(""));
    assert!(refused_ndb(" #comment"));
    assert!(ndb_finds("T:0:*:41424344:216", b"xxABCDyy"));
    assert!(!ndb_finds("T:0:*:41424344:217", b"xxABCDyy"));
    assert!(!ndb_finds("T:0:*:41424344:1:215", b"xxABCDyy"));
    // The level is tested before the pattern: an invalid pattern on a skipped line is no error.
    assert!(matches!(parse_body_line("T:0:*:zz:217"), Ok(Line::Skipped { .. })));
}
