//! Mail round trips: random trees of MIME parts (multipart nesting, encapsulated messages, base64,
//! quoted-printable and 7bit bodies, names plain or in RFC 2231 form, CRLF or LF line ends), written by a small
//! MIME writer, decompose to exactly the original leaf bodies, in order, with their names.

use decomposer::{DecResult, Decomposer, FileType, Limits, Part};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy)]
enum Encoding {
    SevenBit,
    Base64,
    QuotedPrintable,
}

#[derive(Debug, Clone)]
enum Node {
    Leaf { body: Vec<u8>, encoding: Encoding, name: Option<String> },
    Multipart { subtype: &'static str, parts: Vec<Node>, blank_preamble: bool },
    Message(Box<Node>),
}

fn leaf() -> impl Strategy<Value = Node> {
    let encoding = prop_oneof![Just(Encoding::SevenBit), Just(Encoding::Base64), Just(Encoding::QuotedPrintable)];
    let name = prop_oneof![
        Just(None),
        "[a-z]{1,8}\\.(txt|bin|zip)".prop_map(Some),
        "[a-z]{1,4}[éüñ€][a-z]{0,4}".prop_map(Some),
    ];
    (encoding, name, proptest::collection::vec(any::<u8>(), 0..600), "[a-z0-9 .\\-\r\n]{0,300}").prop_map(
        |(encoding, name, binary, text)| {
            // Bodies start with a byte that no type detection takes for a container (NUL, or `#` on a line
            // without a colon), so that each one is a leaf of the walk.
            let body = match encoding {
                // A final `.`: with LF line ends, a body ending in CR would make its last line end look like CRLF.
                Encoding::SevenBit => [b"#".as_slice(), text.as_bytes(), b"."].concat(),
                Encoding::Base64 | Encoding::QuotedPrintable => [&[0][..], &binary].concat(),
            };
            Node::Leaf { body, encoding, name }
        },
    )
}

fn tree() -> impl Strategy<Value = Node> {
    leaf().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            (
                prop_oneof![Just("mixed"), Just("alternative"), Just("related")],
                proptest::collection::vec(inner.clone(), 1..4),
                any::<bool>()
            )
                .prop_map(|(subtype, parts, blank_preamble)| Node::Multipart {
                    subtype,
                    parts,
                    blank_preamble
                }),
            inner.prop_map(|node| Node::Message(Box::new(node))),
        ]
    })
}

/// Writes MIME entities with line ends `eol`; boundaries are numbered so that none is a prefix of another.
struct Writer {
    eol: &'static str,
    next_boundary: u32,
}

impl Writer {
    fn line(&self, out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(text.as_bytes());
        out.extend_from_slice(self.eol.as_bytes());
    }

    fn message(&mut self, node: &Node) -> Vec<u8> {
        let mut out = Vec::new();
        self.line(&mut out, "From: a@example.com");
        self.line(&mut out, "Subject: generated");
        self.line(&mut out, "MIME-Version: 1.0");
        self.entity(node, &mut out);
        out
    }

    /// The entity's header fields, an empty line and its body; `(body, name)` of each leaf into `leaves`.
    fn entity(&mut self, node: &Node, out: &mut Vec<u8>) {
        match node {
            Node::Leaf { body, encoding, name } => {
                self.line(out, "Content-Type: application/octet-stream");
                match name {
                    Some(name) if name.is_ascii() => {
                        self.line(out, &format!("Content-Disposition: attachment; filename=\"{name}\""))
                    }
                    Some(name) => {
                        let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
                        self.line(out, &format!("Content-Disposition: attachment; filename*=utf-8''{encoded}"));
                    }
                    None => {}
                }
                let (label, encoded) = match encoding {
                    Encoding::SevenBit => ("7bit", body.clone()),
                    Encoding::Base64 => ("base64", self.soft(corpus::mail::base64(body))),
                    Encoding::QuotedPrintable => ("quoted-printable", self.soft(corpus::mail::quoted_printable(body))),
                };
                self.line(out, &format!("Content-Transfer-Encoding: {label}"));
                self.line(out, "");
                out.extend_from_slice(&encoded);
            }
            Node::Multipart { subtype, parts, blank_preamble } => {
                self.next_boundary += 1;
                let boundary = format!("=_b{}_", self.next_boundary);
                self.line(out, &format!("Content-Type: multipart/{subtype};"));
                self.line(out, &format!("\tboundary=\"{boundary}\""));
                self.line(out, "");
                if *blank_preamble {
                    self.line(out, " \t");
                }
                for part in parts {
                    self.line(out, &format!("--{boundary}"));
                    self.entity(part, out);
                    self.line(out, "");
                }
                self.line(out, &format!("--{boundary}--"));
                if *blank_preamble {
                    self.line(out, "");
                }
            }
            Node::Message(inner) => {
                self.line(out, "Content-Type: message/rfc822");
                self.line(out, "");
                let message = self.message(inner);
                out.extend_from_slice(&message);
            }
        }
    }

    /// The encoders write CRLF; with LF line ends, their line breaks become LF (they never write a CR or LF
    /// that is data).
    fn soft(&self, encoded: Vec<u8>) -> Vec<u8> {
        if self.eol == "\r\n" {
            return encoded;
        }
        let mut out = Vec::with_capacity(encoded.len());
        let mut i = 0;
        while i < encoded.len() {
            if encoded[i..].starts_with(b"\r\n") {
                out.push(b'\n');
                i += 2;
            } else {
                out.push(encoded[i]);
                i += 1;
            }
        }
        out
    }
}

/// The leaves in document order, each with the name the decomposer must give it.
fn expected_leaves(node: &Node, fallback: String, leaves: &mut Vec<(String, Vec<u8>)>) {
    match node {
        Node::Leaf { body, name, .. } => leaves.push((name.clone().unwrap_or(fallback), body.clone())),
        Node::Multipart { parts, .. } => {
            for (i, part) in parts.iter().enumerate() {
                expected_leaves(part, format!("#{}", i + 1), leaves);
            }
        }
        Node::Message(inner) => expected_leaves(inner, "#1".into(), leaves),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn decomposition_yields_exactly_the_original_bodies(node in tree(), lf in any::<bool>(), spilled in any::<bool>()) {
        let mut writer = Writer { eol: if lf { "\n" } else { "\r\n" }, next_boundary: 0 };
        let message = writer.message(&node);
        let mut expected = Vec::new();
        expected_leaves(&node, "#1".into(), &mut expected);

        let limits = Limits::builder().max_extract_depth(50).build().unwrap();
        let mut builder = Decomposer::builder();
        builder.limits(limits);
        if spilled {
            builder.spill_threshold(64);
        }
        let mut leaves = Vec::new();
        let report = builder.build().decompose_bytes("message.eml", &message, &mut |part: &Part<'_>| {
            if part.file_type() != FileType::Mail {
                let mut bytes = Vec::new();
                std::io::Read::read_to_end(&mut part.reader().unwrap(), &mut bytes).unwrap();
                leaves.push((part.name().to_owned(), bytes));
            }
            true
        });
        prop_assert_eq!(&report.codes, &[DecResult::OuterContainerIsMime]);
        prop_assert_eq!(leaves, expected);
    }
}

#[test]
fn a_stop_leaves_the_later_parts_unvisited() {
    let input = corpus::generators::generate("mail-preamble-epilogue").unwrap();
    let stop_at = |last: &'static str| move |part: &Part<'_>| part.name() != last;
    let report = Decomposer::default().decompose_bytes("m.eml", &input, &mut stop_at("#1"));
    assert!(report.stopped_by_sink && report.left_unvisited);
    assert_eq!(report.parts, 3);
    let report = Decomposer::default().decompose_bytes("m.eml", &input, &mut stop_at("#epilogue"));
    assert!(report.stopped_by_sink && !report.left_unvisited);
}

#[test]
fn a_big_attachment_is_decoded_as_a_stream_and_cut_at_max_extract_size() {
    let payload: Vec<u8> = (0..12u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let message = corpus::mail::message(
        "big",
        &["Content-Type: application/octet-stream; name=big.bin", "Content-Transfer-Encoding: base64"],
        &corpus::mail::base64(&payload),
    );
    let path = std::env::temp_dir().join(format!("mime-big-{}.eml", std::process::id()));
    std::fs::write(&path, &message).unwrap();
    for (max, cut) in [(64 << 20, false), (5 << 20, true)] {
        let limits = Limits::builder().max_extract_size(max).build().unwrap();
        let mut seen = None;
        let report = Decomposer::new(limits)
            .decompose_file(&path, &mut |part: &Part<'_>| {
                if part.name() == "big.bin" {
                    let mut bytes = Vec::new();
                    std::io::Read::read_to_end(&mut part.reader().unwrap(), &mut bytes).unwrap();
                    // Past the spill threshold (8 MiB), the part is in a temporary file, not in RAM.
                    assert_eq!(part.bytes().is_none(), part.size() > 8 << 20);
                    seen = Some(bytes);
                }
                true
            })
            .unwrap();
        let seen = seen.unwrap();
        if cut {
            assert_eq!(report.codes, [DecResult::OuterContainerIsMime, DecResult::MaximumExtractSizeExceeded]);
            assert_eq!(seen, payload[..5 << 20]);
        } else {
            assert_eq!(report.codes, [DecResult::OuterContainerIsMime]);
            assert!(seen == payload);
        }
    }
    let _ = std::fs::remove_file(&path);
}
