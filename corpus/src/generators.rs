//! Named generators for inputs that are large, malicious, or easier to describe as code than to commit.
//! `generate(name)` returns the bytes; `corpus-gen` (the binary) writes them all to a directory.

use std::io::Write;

use crate::zip_writer::{Entry, ZipBuilder};
use crate::{bzip2, deflate_raw, gzip, tar, text, xz, zip_lzma, zstd};

/// The EICAR anti-virus test file (eicar.org): 68 bytes that every scanner detects.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Every generator's name.
pub const NAMES: &[&str] = &[
    "zip-basic",
    "zip-methods",
    "zip64",
    "zip-sfx",
    "zip-spanned",
    "zip-encrypted-flag",
    "zip-unknown-method",
    "zip-hidden-entry",
    "zip-disagreeing-sizes",
    "zip-size-covering-hidden-entry",
    "zip-duplicate-alias",
    "zip-descriptor-flood",
    "zip-empty",
    "zip-truncated",
    "zip-corrupt-data",
    "zip-bad-crc",
    "tar-ustar",
    "tar-long-names",
    "tar-pax",
    "tar-truncated",
    "tar-damaged-header",
    "tar-directory-hiding-data",
    "tar-damaged-header-zero-run",
    "gzip-multimember",
    "gzip-truncated",
    "gzip-corrupt",
    "gzip-trailing-garbage",
    "gzip-with-appended-zip",
    "bzip2-basic",
    "bzip2-truncated",
    "bzip2-corrupt",
    "xz-basic",
    "xz-truncated",
    "xz-corrupt",
    "nested-zip-tgz-zip",
    "nesting-60",
    "zip-6000-entries",
    "child-over-max-size",
    "cumulative-many",
    "bomb-42",
    "bomb-fifield-overlap",
    "bomb-fifield-quoted",
    "bomb-gzip",
    "bomb-bzip2",
    "eicar-com",
    "eicar-zip-first-of-three",
    "eicar-nested-zip-tgz-zip",
    "eicar-hidden-zip-entry",
    "eicar-tar-after-damaged-header",
    "eicar-gzip-appended-zip",
    "eicar-bz2",
    "eicar-xz",
    "eicar-encrypted-zip",
    "eicar-beyond-depth",
    "eicar-spilled-member",
    "eicar-not-at-start",
    "mail-7bit-text",
    "mail-envelope-from-line",
    "mail-quoted-printable",
    "mail-base64-attachment",
    "mail-8bit-binary",
    "mail-preamble-epilogue",
    "mail-encoded-names",
    "mail-digest",
    "mail-zip-attachment",
    "mail-tgz-attachment",
    "mail-rfc822-nesting-30",
    "mail-multipart-nesting-200",
    "mail-missing-boundary",
    "mail-wrong-boundary",
    "mail-unterminated-multipart",
    "mail-broken-header",
    "mail-broken-part-header",
    "mail-message-partial",
    "mail-unknown-encoding",
    "mail-duplicate-encoding",
    "mail-wire-dot-stuffed",
    "mail-mbox",
    "eicar-mail-zip-attachment",
    "eicar-mail-forwarded",
    "eicar-mail-base64-garbage-no-padding",
    "eicar-mail-declared-base64-raw",
    "mail-uuencode-zip",
    "mail-uuencode-truncated",
    "mail-x-uuencode",
    "eicar-mail-uuencode",
    "eicar-mail-data-uri",
    "eicar-mail-binhex",
    "mail-binhex-truncated",
    "mail-mac-binhex40",
    "eicar-mail-mac-binhex40",
];

/// The bytes of the generator `name`, or `None` if there is none of that name.
pub fn generate(name: &str) -> Option<Vec<u8>> {
    let doc = text(1, 3000);
    let other = text(2, 5000);
    Some(match name {
        "zip-basic" => ZipBuilder::new(vec![
            Entry::stored("stored.txt", &doc),
            Entry::deflated("dir/deflated.txt", &other),
            Entry::stored("dir/", b""),
            Entry::stored("empty.txt", b""),
        ])
        .build(),
        "zip-methods" => ZipBuilder::new(vec![
            Entry::compressed("bzip2.txt", 12, bzip2(&doc), &doc),
            Entry::compressed("lzma.txt", 14, zip_lzma(&doc), &doc),
            Entry::compressed("zstd.txt", 93, zstd(&doc), &doc),
            Entry::compressed("xz.txt", 95, xz(&doc), &doc),
        ])
        .build(),
        "zip64" => ZipBuilder { zip64: true, ..ZipBuilder::new(vec![Entry::deflated("big.txt", &doc)]) }.build(),
        "zip-sfx" => ZipBuilder {
            prefix: [&b"MZ\x90\x00"[..], &text(3, 2000)].concat(),
            ..ZipBuilder::new(vec![Entry::deflated("payload.txt", &doc)])
        }
        .build(),
        "zip-spanned" => ZipBuilder {
            disk: 1,
            ..ZipBuilder::new(vec![
                Entry::deflated("here.txt", &doc),
                Entry { disk: 1, ..Entry::deflated("elsewhere.txt", &other) },
            ])
        }
        .build(),
        "zip-encrypted-flag" => ZipBuilder::new(vec![
            Entry { flags: 1, ..Entry::stored("secret.txt", &doc) },
            Entry::stored("plain.txt", &other),
        ])
        .build(),
        "zip-unknown-method" => ZipBuilder::new(vec![
            Entry::compressed("imploded.bin", 6, doc.clone(), &doc),
            Entry::stored("plain.txt", &other),
        ])
        .build(),
        // A local header and data the central directory does not list.
        "zip-hidden-entry" => ZipBuilder::new(vec![
            Entry::deflated("listed.txt", &doc),
            Entry { in_central: false, ..Entry::deflated("hidden.txt", &other) },
            Entry::stored("listed2.txt", b"tail"),
        ])
        .build(),
        // The central record says 100 compressed bytes, the local header the real size: both views are
        // read and the larger range is used.
        "zip-disagreeing-sizes" => ZipBuilder::new(vec![Entry {
            central_compressed_size: Some(100),
            central_name: Some(b"other-name.txt".to_vec()),
            ..Entry::stored("real-name.txt", &doc)
        }])
        .build(),
        // The central record of a stored entry claims a size that also covers the next local header and its
        // deflate data, which the central directory does not list: the covering entry is extracted with the
        // larger size, and the covered entry is still found and inflated.
        "zip-size-covering-hidden-entry" => {
            let hidden = Entry { in_central: false, ..Entry::deflated("hidden.txt", &other) };
            let covered = 30 + hidden.name.len() + hidden.data.len();
            let cover = Entry::stored("cover.txt", &doc);
            let cover = Entry { central_compressed_size: Some((cover.data.len() + covered) as u64), ..cover };
            ZipBuilder::new(vec![cover, hidden, Entry::stored("listed.txt", b"tail")]).build()
        }
        // 1 MiB in front of a zip made of 34,952 empty local headers that announce a data descriptor: each
        // is a hidden entry that ends where the next begins. The scan for them must stay one pass.
        "zip-descriptor-flood" => {
            let mut header = b"PK\x03\x04".to_vec();
            crate::zip_writer::push16(&mut header, 20);
            crate::zip_writer::push16(&mut header, 1 << 3);
            header.extend_from_slice(&[0; 22]);
            let prefix = header.repeat((1 << 20) / header.len());
            ZipBuilder { prefix, ..ZipBuilder::new(vec![Entry::deflated("real.txt", &doc)]) }.build()
        }
        "zip-duplicate-alias" => {
            let mut zip = ZipBuilder::new(vec![Entry::deflated("a.txt", &doc)]);
            zip.aliases = vec![(0, "b.txt".into()), (0, "c.txt".into())];
            zip.build()
        }
        "zip-empty" => ZipBuilder::new(vec![]).build(),
        // Cut in the middle of the second entry's data: no central directory at all.
        "zip-truncated" => {
            let zip = ZipBuilder::new(vec![Entry::deflated("first.txt", &doc), Entry::deflated("second.txt", &other)])
                .build();
            let first_len = 30 + 9 + deflate_raw(&doc).len();
            zip[..first_len + 30 + 10 + 200].to_vec()
        }
        "zip-corrupt-data" => {
            // 0xff bytes in the middle of the deflate stream.
            let entry = Entry::deflated("corrupt.txt", &other);
            let entry = Entry { data: overwrite_middle(entry.data, 16), ..entry };
            ZipBuilder::new(vec![entry, Entry::stored("fine.txt", &doc)]).build()
        }
        "zip-bad-crc" => {
            ZipBuilder::new(vec![Entry { crc: 0x1234_5678, ..Entry::stored("bad-crc.txt", &doc) }]).build()
        }
        "tar-ustar" => {
            let mut builder = tar::Builder::new(Vec::new());
            for (name, bytes) in [("a.txt", &doc[..]), ("dir/b.txt", &other[..]), ("empty", &b""[..])] {
                let mut header = tar::Header::new_ustar();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                header.set_cksum();
                builder.append_data(&mut header, name, bytes).unwrap_or_else(|e| panic!("{e}"));
            }
            let mut dir = tar::Header::new_ustar();
            dir.set_entry_type(tar::EntryType::Directory);
            dir.set_size(0);
            dir.set_cksum();
            builder.append_data(&mut dir, "dir/", &b""[..]).unwrap_or_else(|e| panic!("{e}"));
            builder.into_inner().unwrap_or_default()
        }
        "tar-long-names" => {
            let long = format!("{}/file.txt", "d".repeat(150));
            tar(&[(long.as_str(), &doc[..]), ("short.txt", &other[..])])
        }
        "tar-pax" => {
            let mut builder = tar::Builder::new(Vec::new());
            let long = format!("pax/{}.txt", "p".repeat(120));
            builder.append_pax_extensions([("path", long.as_bytes())]).unwrap_or_else(|e| panic!("{e}"));
            let mut header = tar::Header::new_ustar();
            header.set_size(doc.len() as u64);
            header.set_cksum();
            builder.append_data(&mut header, "short-name-overridden", &doc[..]).unwrap_or_else(|e| panic!("{e}"));
            builder.into_inner().unwrap_or_default()
        }
        "tar-truncated" => {
            let tar = tar(&[("a.txt", &doc[..]), ("b.txt", &other[..])]);
            // The second member's data is cut after 1000 bytes.
            let second_data = 512 + doc.len().div_ceil(512) * 512 + 512;
            tar[..second_data + 1000].to_vec()
        }
        "tar-damaged-header" => {
            let zip_inside = ZipBuilder::new(vec![Entry::deflated("inner.txt", &doc)]).build();
            let mut tar = tar(&[("a.txt", &other[..]), ("b.zip", &zip_inside[..]), ("c.txt", &doc[..])]);
            let second_header = 512 + other.len().div_ceil(512) * 512;
            tar[second_header + 10] ^= 0x55; // the name changes, the checksum no longer matches
            tar
        }
        // The damaged member's data has whole zero blocks in it: the stretch handed on goes through them, so
        // the member comes out in one piece (1024 + 2048 + 1024 bytes) rather than cut at the zeros.
        "tar-damaged-header-zero-run" => {
            let member = [text(7, 1024), vec![0; 2048], text(8, 1024)].concat();
            let mut tar = tar(&[("first.txt", &doc[..1024]), ("zeros.bin", &member[..]), ("last.txt", &other[..])]);
            tar[1024 + 512 + 3] ^= 0x20; // the second header's name, so its checksum fails
            tar
        }
        // A directory entry that declares a size: the "data" is a whole tar member that the tar crate would
        // skip; here it is handed on and found.
        "tar-directory-hiding-data" => {
            let hidden = tar(&[("hidden.txt", &doc[..])]);
            let hidden = &hidden[..512 + doc.len().div_ceil(512) * 512];
            let mut header = tar::Header::new_ustar();
            header.set_entry_type(tar::EntryType::Directory);
            header.set_path("innocent-dir/").unwrap_or_else(|e| panic!("{e}"));
            header.set_size(hidden.len() as u64);
            header.set_cksum();
            let mut out = header.as_bytes().to_vec();
            out.extend_from_slice(hidden);
            out.extend_from_slice(&tar(&[("after.txt", &other[..])]));
            out
        }
        "gzip-multimember" => [gzip(&doc, Some("members.txt")), gzip(&other, None)].concat(),
        "gzip-truncated" => {
            let gz = gzip(&text(4, 200_000), None);
            gz[..gz.len() / 2].to_vec()
        }
        "gzip-corrupt" => overwrite_middle(gzip(&text(4, 200_000), None), 32),
        "gzip-trailing-garbage" => [gzip(&doc, None), b"this is not a gzip member".to_vec()].concat(),
        // A gzip with a zip appended (a polyglot): the zip is handed on after the member and opened.
        "gzip-with-appended-zip" => {
            [gzip(&doc, Some("visible.txt")), ZipBuilder::new(vec![Entry::deflated("appended.txt", &other)]).build()]
                .concat()
        }
        "bzip2-basic" => bzip2(&doc),
        "bzip2-truncated" => {
            let bz = bzip2(&text(5, 300_000));
            bz[..bz.len() / 2].to_vec()
        }
        "bzip2-corrupt" => overwrite_middle(bzip2(&text(5, 300_000)), 32),
        "xz-basic" => xz(&doc),
        "xz-truncated" => {
            let x = xz(&text(6, 300_000));
            x[..x.len() / 2].to_vec()
        }
        "xz-corrupt" => overwrite_middle(xz(&text(6, 300_000)), 32),
        "nested-zip-tgz-zip" => {
            let inner_zip = ZipBuilder::new(vec![Entry::deflated("evil.txt", &doc)]).build();
            let inner_tar = tar(&[("dir/inner.zip", &inner_zip[..]), ("notes.txt", &other[..])]);
            let tgz = gzip(&inner_tar, None);
            ZipBuilder::new(vec![Entry::stored("inner.tar.gz", &tgz)]).build()
        }
        // 60 levels of zips: zip(zip(zip(... "bottom.txt" ...))).
        "nesting-60" => {
            let mut data = b"the bottom of sixty levels".to_vec();
            let mut name = "bottom.txt".to_string();
            for level in (0..60).rev() {
                data = ZipBuilder::new(vec![Entry::deflated(&name, &data)]).build();
                name = format!("level{level}.zip");
            }
            data
        }
        "zip-6000-entries" => {
            let entries =
                (0..6000).map(|i| Entry::stored(&format!("f{i:04}.txt"), format!("file {i}\n").as_bytes())).collect();
            ZipBuilder::new(entries).build()
        }
        // With max_extract_size = 1 MiB: one child of 1 MiB + 1 byte.
        "child-over-max-size" => {
            let big = vec![b'A'; (1 << 20) + 1];
            ZipBuilder::new(vec![Entry::deflated("big.bin", &big), Entry::stored("small.txt", b"small")]).build()
        }
        // With max_cumulative_extract_size = 10 MiB: 30 children of 1 MiB each.
        "cumulative-many" => {
            let chunk = vec![b'B'; 1 << 20];
            let raw = deflate_raw(&chunk);
            let crc = crc32fast::hash(&chunk);
            let entries = (0..30)
                .map(|i| Entry::precompressed(&format!("part{i:02}.bin"), 8, raw.clone(), crc, 1 << 20))
                .collect();
            ZipBuilder::new(entries).build()
        }
        "bomb-42" => bomb_42(),
        "bomb-fifield-overlap" => bomb_fifield_overlap(),
        "bomb-fifield-quoted" => bomb_fifield_quoted(),
        "bomb-gzip" => bomb_gzip(),
        // A multi-stream bzip2 file of 5.12 GB of zeros in about 7 KB.
        "bomb-bzip2" => bzip2_zero_kernel().0,
        // Malicious cases: the EICAR test file where a scanner must find it, or cannot.
        "eicar-com" => EICAR.to_vec(),
        // The first of three entries: stopping at the first detection leaves two unscanned.
        "eicar-zip-first-of-three" => ZipBuilder::new(vec![
            Entry::deflated("eicar.com", EICAR),
            Entry::deflated("a.txt", &doc),
            Entry::deflated("b.txt", &other),
        ])
        .build(),
        "eicar-nested-zip-tgz-zip" => {
            let inner_zip = ZipBuilder::new(vec![Entry::deflated("evil.com", EICAR)]).build();
            let inner_tar = tar(&[("notes.txt", &other[..]), ("dir/inner.zip", &inner_zip[..])]);
            ZipBuilder::new(vec![Entry::stored("inner.tar.gz", &gzip(&inner_tar, None))]).build()
        }
        // A local entry the central directory does not list (unzip and 7-Zip do not show it).
        "eicar-hidden-zip-entry" => ZipBuilder::new(vec![
            Entry::deflated("listed.txt", &doc),
            Entry { in_central: false, ..Entry::deflated("hidden.com", EICAR) },
            Entry::stored("listed2.txt", b"tail"),
        ])
        .build(),
        // The member after a damaged header: handed on as a stretch of the archive, and opened.
        "eicar-tar-after-damaged-header" => {
            let zip_inside = ZipBuilder::new(vec![Entry::deflated("eicar.com", EICAR)]).build();
            let mut tar = tar(&[("a.txt", &other[..]), ("b.zip", &zip_inside[..]), ("c.txt", &doc[..])]);
            let second_header = 512 + other.len().div_ceil(512) * 512;
            tar[second_header + 10] ^= 0x55;
            tar
        }
        "eicar-gzip-appended-zip" => {
            [gzip(&doc, Some("visible.txt")), ZipBuilder::new(vec![Entry::deflated("appended.com", EICAR)]).build()]
                .concat()
        }
        "eicar-bz2" => bzip2(EICAR),
        "eicar-xz" => xz(EICAR),
        // Flagged encrypted: not extracted, so not found, and the scan is UNSCANNABLE.
        "eicar-encrypted-zip" => ZipBuilder::new(vec![Entry { flags: 1, ..Entry::stored("eicar.com", EICAR) }]).build(),
        // Twelve zips deep: past max_extract_depth 10, so not found, and the scan is UNSCANNABLE.
        "eicar-beyond-depth" => {
            let mut data = EICAR.to_vec();
            let mut name = "eicar.com".to_string();
            for level in (0..12).rev() {
                data = ZipBuilder::new(vec![Entry::deflated(&name, &data)]).build();
                name = format!("level{level}.zip");
            }
            data
        }
        // A 9 MiB member that starts with EICAR: past the 8 MiB spill threshold, so it is matched from a
        // temporary file in windows unless prefer_mem is set.
        "eicar-spilled-member" => {
            let member = [EICAR, &text(9, 9 << 20)[..]].concat();
            ZipBuilder::new(vec![Entry::deflated("big.com", &member)]).build()
        }
        // EICAR's definition requires it at the start of a file: in the middle of text it is not a detection.
        "eicar-not-at-start" => [&doc[..], EICAR].concat(),
        _ => return mail(name),
    })
}

/// The mail generators. Their texts come from seeds 20 and up, so that the differential database's patterns
/// (cut from seeds 1, 2, 3 and 9) match nothing in them.
fn mail(name: &str) -> Option<Vec<u8>> {
    use crate::mail::{
        base64, binhex, dot_stuff, entity, message, message_headers, multipart_body, quoted_printable, uuencode,
    };
    let note = text(20, 400);
    // Each message's boundary is made from its subject, so that nested messages never share one.
    let mixed = |subject: &str, parts: &[Vec<u8>]| {
        let boundary = format!("=_{}", subject.replace(' ', "_"));
        let field = format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"");
        message(subject, &[&field], &multipart_body(&boundary, parts))
    };
    let text_part = |seed: u64| entity(&["Content-Type: text/plain; charset=us-ascii"], &text(seed, 300));
    let attachment = |name: &str, bytes: &[u8]| {
        entity(
            &[
                &format!("Content-Type: application/octet-stream; name=\"{name}\""),
                "Content-Transfer-Encoding: base64",
                &format!("Content-Disposition: attachment; filename=\"{name}\""),
            ],
            &base64(bytes),
        )
    };
    let binary: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
    Some(match name {
        "mail-7bit-text" => {
            message("plain", &["Content-Type: text/plain; charset=us-ascii", "Content-Transfer-Encoding: 7bit"], &note)
        }
        // A message as a local delivery agent stores it: an mbox `From ` line first. One message: not an mbox.
        "mail-envelope-from-line" => [
            &b"From alice@example.com Mon Jan  1 00:00:00 2024\r\nReturn-Path: <alice@example.com>\r\n"[..],
            &message("envelope", &["Content-Type: text/plain"], &note),
        ]
        .concat(),
        "mail-quoted-printable" => {
            let body = [&"Caf\u{e9} cr\u{e8}me = 100% ".repeat(8).into_bytes()[..], b"\r\n", &note].concat();
            message(
                "quoted",
                &["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable"],
                &quoted_printable(&body),
            )
        }
        "mail-base64-attachment" => mixed("attachment", &[text_part(21), attachment("data.bin", &binary)]),
        // An 8bit text part and a binary part (NULs, bare CRs, every byte value) sent as they are.
        "mail-8bit-binary" => {
            let utf8 = "8bit: na\u{ef}ve fa\u{e7}ade, stra\u{df}e\r\n".repeat(5).into_bytes();
            let binary: Vec<u8> = binary.iter().map(|&b| if b == b'\n' { b'\r' } else { b }).collect();
            mixed(
                "8bit",
                &[
                    entity(&["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit"], &utf8),
                    entity(
                        &[
                            "Content-Type: application/octet-stream",
                            "Content-Transfer-Encoding: binary",
                            "Content-Disposition: attachment; filename=blob.bin",
                        ],
                        &binary,
                    ),
                ],
            )
        }
        "mail-preamble-epilogue" => {
            let body = [
                &b"This is a multi-part message in MIME format.\r\n\r\n"[..],
                &multipart_body("=_outer", &[text_part(21), text_part(22)]),
                b"\r\nAn epilogue that clients do not show.\r\n",
            ]
            .concat();
            message("preamble", &["Content-Type: multipart/mixed; boundary=\"=_outer\""], &body)
        }
        // Names in RFC 2047 encoded words and in RFC 2231 parameters (with continuations and a charset).
        "mail-encoded-names" => mixed(
            "names",
            &[
                entity(
                    &[
                        "Content-Type: text/plain; name=\"=?iso-8859-1?Q?r=E9sum=E9.txt?=\"",
                        "Content-Transfer-Encoding: base64",
                    ],
                    &base64(&text(23, 200)),
                ),
                entity(
                    &[
                        "Content-Type: application/octet-stream",
                        "Content-Disposition: attachment;\r\n filename*0*=utf-8''caf%C3%A9;\r\n filename*1=\".bin\"",
                        "Content-Transfer-Encoding: base64",
                    ],
                    &base64(&binary[..300]),
                ),
                entity(&["Content-Type: text/plain; name=\"=?utf-8?B?0L/RgNC40LLQtdGCLnR4dA==?=\""], &text(24, 100)),
            ],
        ),
        // multipart/digest: parts without a Content-Type are messages.
        "mail-digest" => {
            let digest = multipart_body(
                "=_digest",
                &[
                    entity(&[], &message("first", &["Content-Type: text/plain"], &text(25, 200))),
                    entity(&[], &message("second", &["Content-Type: text/plain"], &text(26, 200))),
                ],
            );
            message("digest", &["Content-Type: multipart/digest; boundary=\"=_digest\""], &digest)
        }
        "mail-zip-attachment" => {
            let zip =
                ZipBuilder::new(vec![Entry::deflated("a.txt", &text(27, 500)), Entry::stored("b.txt", &text(28, 300))])
                    .build();
            mixed("zip", &[text_part(21), attachment("report.zip", &zip)])
        }
        "mail-tgz-attachment" => {
            let tgz = gzip(&tar(&[("logs/x.txt", &text(29, 500)[..]), ("logs/y.txt", &text(30, 300)[..])]), None);
            mixed("tgz", &[text_part(21), attachment("logs.tar.gz", &tgz)])
        }
        // Thirty forwards: each message is a note and the message it forwards (message/rfc822). Each level
        // counts toward max_extract_depth, so the default depth of 10 stops the walk there.
        "mail-rfc822-nesting-30" => {
            let mut inner = message("level 30", &["Content-Type: text/plain"], b"the bottom of thirty forwards\r\n");
            for level in (0..30).rev() {
                let forwarded = entity(&["Content-Type: message/rfc822", "Content-Disposition: inline"], &inner);
                // A note without the differential database's counted words: ClamAV parses an encapsulated
                // message in place, while here it is also a part, so counts over it would differ.
                let note = entity(&["Content-Type: text/plain"], format!("forwarded at level {level}\r\n").as_bytes());
                inner = mixed(&format!("Fwd level {level}"), &[note, forwarded]);
            }
            inner
        }
        // 200 multipart levels, each holding the next one; a text part at the bottom.
        "mail-multipart-nesting-200" => {
            let mut inner = entity(&["Content-Type: text/plain"], b"the bottom of two hundred multiparts\r\n");
            for level in (1..200).rev() {
                let boundary = format!("=_level{level}");
                inner = entity(
                    &[&format!("Content-Type: multipart/mixed; boundary=\"{boundary}\"")],
                    &multipart_body(&boundary, &[inner]),
                );
            }
            [message_headers("deep").into_bytes(), inner].concat()
        }
        // Defects. No boundary parameter: the body is handed on whole.
        "mail-missing-boundary" => {
            message("no boundary", &["Content-Type: multipart/mixed"], &multipart_body("=_lost", &[text_part(21)]))
        }
        // The boundary parameter names no delimiter line in the body.
        "mail-wrong-boundary" => message(
            "wrong boundary",
            &["Content-Type: multipart/mixed; boundary=\"=_declared\""],
            &multipart_body("=_used", &[text_part(21), attachment("data.bin", &binary)]),
        ),
        // Cut before the close delimiter, inside the attachment's base64: the last part runs to the end.
        "mail-unterminated-multipart" => {
            let whole = mixed("unterminated", &[text_part(21), attachment("data.bin", &binary)]);
            whole[..whole.len() - 200].to_vec()
        }
        // A line that is not a header field: the header block ends there and the rest is body.
        "mail-broken-header" => [
            message_headers("broken").into_bytes(),
            b"this line is not a header field\r\nContent-Type: text/plain\r\n\r\n".to_vec(),
            note.clone(),
        ]
        .concat(),
        // A subpart whose header block is damaged in the same way.
        "mail-broken-part-header" => mixed(
            "broken part",
            &[text_part(21), [&b"Content-Type: text/plain\r\nnot a field\r\n\r\n"[..], &text(22, 200)].concat()],
        ),
        "mail-message-partial" => message(
            "partial",
            &["Content-Type: message/partial; id=\"abc@example.com\"; number=1; total=2"],
            &message("inner", &["Content-Type: text/plain"], &text(32, 200)[..100]),
        ),
        "mail-unknown-encoding" => mixed(
            "unknown encoding",
            &[entity(&["Content-Type: text/plain; name=odd.txt", "Content-Transfer-Encoding: x-unknown"], &note)],
        ),
        // Two transfer encodings that disagree: decoded by each.
        "mail-duplicate-encoding" => mixed(
            "two encodings",
            &[entity(
                &[
                    "Content-Type: application/octet-stream; name=two.bin",
                    "Content-Transfer-Encoding: base64",
                    "Content-Transfer-Encoding: quoted-printable",
                ],
                &base64(&binary[..300]),
            )],
        ),
        // SMTP DATA as received: an attachment whose lines start with dots, dot-stuffed, and the final `.`
        // line. Scanned as it is (use_wire_rep), the final line is an epilogue and the attachment's lines
        // start with two dots; `avscan scan --wire` un-stuffs first (scanner/tests/cli.rs).
        "mail-wire-dot-stuffed" => {
            let notes = b".starts with a dot\r\n..two dots\r\nno dot\r\n.\r\nafter a dot line\r\n";
            let part = entity(&["Content-Type: text/plain; name=notes.txt", "Content-Disposition: attachment"], notes);
            dot_stuff(&mixed("dots", &[text_part(21), part]))
        }
        // Three messages; the second has an attachment, the third a `>From ` line to unquote.
        "mail-mbox" => {
            let envelope = b"From alice@example.com Mon Jan  1 00:00:00 2024\r\n";
            [
                &envelope[..],
                &message("first", &["Content-Type: text/plain"], &text(21, 200)),
                b"\r\n",
                envelope,
                &mixed("second", &[text_part(22), attachment("data.bin", &binary)]),
                b"\r\n",
                envelope,
                &message("third", &["Content-Type: text/plain"], b"quoted:\r\n>From the mbox\r\n>>From twice\r\n"),
            ]
            .concat()
        }
        "eicar-mail-zip-attachment" => {
            let zip = ZipBuilder::new(vec![Entry::deflated("invoice.com", EICAR)]).build();
            mixed("invoice", &[text_part(21), attachment("invoice.zip", &zip)])
        }
        // EICAR attached to a message that is itself attached (forwarded as message/rfc822).
        "eicar-mail-forwarded" => {
            let inner = mixed("original", &[text_part(22), attachment("eicar.com", EICAR)]);
            mixed("Fwd: original", &[text_part(21), entity(&["Content-Type: message/rfc822"], &inner)])
        }
        // base64 with characters outside its alphabet on every line and no padding: still decoded.
        "eicar-mail-base64-garbage-no-padding" => {
            let encoded = base64(EICAR);
            let encoded: Vec<u8> = encoded
                .split(|&b| b == b'\n')
                .filter(|line| !line.is_empty())
                .flat_map(|line| [&b"!*"[..], line.strip_suffix(b"\r").unwrap_or(line), b"#\r\n"].concat())
                .filter(|&b| b != b'=')
                .collect();
            let part = entity(
                &["Content-Type: application/octet-stream; name=eicar.com", "Content-Transfer-Encoding: base64"],
                &encoded,
            );
            mixed("garbage", &[text_part(21), part])
        }
        // A zip uuencoded inside the text of a single-part message, between two paragraphs.
        "mail-uuencode-zip" => {
            let zip = ZipBuilder::new(vec![Entry::deflated("c.txt", &text(33, 500))]).build();
            let body = [&text(21, 200)[..], b"\r\n", &uuencode("archive.zip", &zip), &text(22, 100)].concat();
            message("uuencoded zip", &["Content-Type: text/plain; charset=us-ascii"], &body)
        }
        // A uuencoded block cut before its `end` line: what is there is decoded, the defect reported.
        "mail-uuencode-truncated" => {
            let block = uuencode("data.bin", &binary);
            let body = [&text(21, 200)[..], b"\r\n", &block[..block.len() / 2]].concat();
            mixed("truncated uuencode", &[entity(&["Content-Type: text/plain"], &body)])
        }
        // Content-Transfer-Encoding: x-uuencode, as old clients sent attachments.
        "mail-x-uuencode" => mixed(
            "x-uuencode",
            &[
                text_part(21),
                entity(
                    &["Content-Type: application/octet-stream; name=blob.bin", "Content-Transfer-Encoding: x-uuencode"],
                    &uuencode("blob.bin", &binary[..500]),
                ),
            ],
        ),
        // EICAR uuencoded inside a text part.
        "eicar-mail-uuencode" => {
            let body =
                [&b"The file you asked for:\r\n\r\n"[..], &uuencode("eicar.com", EICAR), b"\r\nRegards\r\n"].concat();
            mixed("uuencoded", &[entity(&["Content-Type: text/plain; charset=us-ascii"], &body)])
        }
        // EICAR in a BinHex 4.0 block inside a text part, as Macintosh mail clients sent files.
        "eicar-mail-binhex" => {
            let body = [&b"The file you asked for:\r\n\r\n"[..], &binhex("eicar.com", EICAR, b""), b"\r\nRegards\r\n"]
                .concat();
            mixed("binhex", &[entity(&["Content-Type: text/plain; charset=us-ascii"], &body)])
        }
        // A BinHex block cut in its data fork: what is there is decoded, the defect reported.
        "mail-binhex-truncated" => {
            let block = binhex("data.bin", &binary, b"");
            let body = [&text(21, 200)[..], b"\r\n", &block[..block.len() / 2]].concat();
            mixed("truncated binhex", &[entity(&["Content-Type: text/plain"], &body)])
        }
        // An application/mac-binhex40 attachment (RFC 1741) with a resource fork: the part, then both forks.
        "mail-mac-binhex40" => mixed(
            "mac binhex",
            &[
                text_part(21),
                entity(
                    &["Content-Type: application/mac-binhex40; name=\"notes.hqx\""],
                    &binhex("notes", &text(23, 400), &binary[..200]),
                ),
            ],
        ),
        // EICAR in the data fork of an application/mac-binhex40 attachment (which ClamAV decodes too).
        "eicar-mail-mac-binhex40" => mixed(
            "mac binhex eicar",
            &[
                text_part(21),
                entity(
                    &["Content-Type: application/mac-binhex40; name=\"eicar.hqx\""],
                    &binhex("eicar.com", EICAR, b""),
                ),
            ],
        ),
        // EICAR in a `data:` URI of an HTML part (the HTML itself quoted-printable).
        "eicar-mail-data-uri" => {
            let encoded: Vec<u8> = base64(EICAR).into_iter().filter(|&b| b != b'\r' && b != b'\n').collect();
            let html = [
                &b"<html><body><p>Invoice attached.</p><a href=\"data:application/octet-stream;base64,"[..],
                &encoded,
                b"\">download</a></body></html>\r\n",
            ]
            .concat();
            mixed(
                "data uri",
                &[
                    text_part(21),
                    entity(
                        &["Content-Type: text/html; charset=us-ascii", "Content-Transfer-Encoding: quoted-printable"],
                        &quoted_printable(&html),
                    ),
                ],
            )
        }
        // Declared base64 but sent raw: the decoding is mostly garbage, so the raw bytes are handed on too.
        "eicar-mail-declared-base64-raw" => {
            let part = entity(
                &["Content-Type: application/octet-stream; name=eicar.com", "Content-Transfer-Encoding: base64"],
                EICAR,
            );
            mixed("raw", &[text_part(21), part])
        }
        _ => return None,
    })
}

/// `bytes` with `count` bytes in the middle set to 0xff.
fn overwrite_middle(mut bytes: Vec<u8>, count: usize) -> Vec<u8> {
    let middle = bytes.len() / 2;
    for byte in &mut bytes[middle..middle + count] {
        *byte = 0xff;
    }
    bytes
}

/// Raw deflate of `count` zero bytes, built from one repeated, self-contained chunk: compressing gigabytes
/// of zeros for real would take seconds, this takes milliseconds. Each chunk ends with a full flush, which
/// byte-aligns it and resets the dictionary, so identical input chunks give identical output chunks.
pub fn deflate_zeros(count: u64) -> (Vec<u8>, u32) {
    const CHUNK: usize = 1 << 20;
    let zeros = vec![0u8; CHUNK];
    let mut compress = flate2::Compress::new(flate2::Compression::best(), false);
    let mut chunk_output = |input: &[u8], flush| {
        let mut out = Vec::with_capacity(CHUNK / 100 + 64);
        compress.compress_vec(input, &mut out, flush).unwrap_or_else(|e| panic!("deflate: {e}"));
        out
    };
    let first = chunk_output(&zeros, flate2::FlushCompress::Full);
    let second = chunk_output(&zeros, flate2::FlushCompress::Full);
    let third = chunk_output(&zeros, flate2::FlushCompress::Full);
    assert_eq!(second, third, "full-flush chunks must repeat for the zero-stream shortcut");
    let chunks = count / CHUNK as u64;
    let rest = (count % CHUNK as u64) as usize;
    let mut out = first;
    for _ in 1..chunks {
        out.extend_from_slice(&second);
    }
    out.extend(chunk_output(&zeros[..rest], flate2::FlushCompress::Finish));
    let mut crc = crc32fast::Hasher::new();
    let mut remaining = count;
    while remaining > 0 {
        let n = remaining.min(CHUNK as u64) as usize;
        crc.update(&zeros[..n]);
        remaining -= n as u64;
    }
    (out, crc.finalize())
}

/// In the manner of 42.zip: five levels of 16 zips over 16 files of 4 GB of zeros, 16^5 leaves and 4.2 PB in
/// all. Each level's zip is deflated once and its bytes repeated 16 times; the levels are not tuned to
/// recompress as 42.zip's are, so the input is 170 MB rather than 42 kB, generated in about a second.
fn bomb_42() -> Vec<u8> {
    const LEAF: u64 = 4_000_000_000;
    let (leaf, leaf_crc) = deflate_zeros(LEAF);
    let leaves =
        (0..16).map(|i| Entry::precompressed(&format!("page{i:x}.dll"), 8, leaf.clone(), leaf_crc, LEAF)).collect();
    let mut level = ZipBuilder::new(leaves).build();
    for name in ["doc", "chapter", "book", "lib"] {
        let raw = deflate_raw(&level);
        let crc = crc32fast::hash(&level);
        let entries = (0..16)
            .map(|i| Entry::precompressed(&format!("{name}{i:x}.zip"), 8, raw.clone(), crc, level.len() as u64))
            .collect();
        level = ZipBuilder::new(entries).build();
    }
    level
}

/// 128 concatenated bzip2 streams of 40 MB of zeros each (5.12 GB from about 7 KB), and their total output.
fn bzip2_zero_kernel() -> (Vec<u8>, u64) {
    const STREAM_OUT: u64 = 40_000_000;
    const STREAMS: u64 = 128;
    let stream = {
        let mut encoder = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        let mut left = STREAM_OUT;
        while left > 0 {
            let n = left.min(zeros.len() as u64) as usize;
            encoder.write_all(&zeros[..n]).unwrap_or_default();
            left -= n as u64;
        }
        encoder.finish().unwrap_or_default()
    };
    (stream.repeat(STREAMS as usize), STREAM_OUT * STREAMS)
}

/// Fifield's overlapping-entry construction in its full-overlap form, with a bzip2 kernel: one local
/// header whose data is [`bzip2_zero_kernel`] (5.1 GB from about 7 KB), and 16 central records that all point
/// at it (82 GB declared). About 8 KB in all.
fn bomb_fifield_overlap() -> Vec<u8> {
    let (kernel, total) = bzip2_zero_kernel();
    let mut crc = crc32fast::Hasher::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..total / zeros.len() as u64 {
        crc.update(&zeros);
    }
    crc.update(&zeros[..(total % zeros.len() as u64) as usize]);
    let mut zip = ZipBuilder::new(vec![Entry::precompressed("0", 12, kernel, crc.finalize(), total)]);
    zip.aliases = (1..16).map(|i| (0, format!("{i}"))).collect();
    zip.build()
}

/// A gzip bomb: one member holding 4 GB of zeros (about 3.9 MB), its ISIZE and CRC true.
fn bomb_gzip() -> Vec<u8> {
    const OUT: u32 = 4_000_000_000;
    let (raw, crc) = deflate_zeros(u64::from(OUT));
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
    out.extend_from_slice(&raw);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&OUT.to_le_bytes());
    out
}

/// Fifield's quoted-overlap construction ("A better zip bomb"): 64 entries whose data ranges nest; entry
/// i's data is a stored block quoting entry i+1's local header, followed by entry i+1's data; the last one is
/// a deflate kernel of 1 MiB of zeros. Extracting every entry would inflate the kernel 64 times.
fn bomb_fifield_quoted() -> Vec<u8> {
    const FILES: usize = 64;
    const KERNEL_OUT: u64 = 1 << 20;
    let (kernel, _) = deflate_zeros(KERNEL_OUT);
    let names: Vec<String> = (0..FILES).map(|i| format!("{i:02}")).collect();
    let local_header_len = |i: usize| 30 + names[i].len();
    // Sizes from the last entry backwards: entry i = 5-byte quote + local header i+1 + entry i+1.
    let mut compressed = vec![0u64; FILES];
    let mut uncompressed = vec![0u64; FILES];
    compressed[FILES - 1] = kernel.len() as u64;
    uncompressed[FILES - 1] = KERNEL_OUT;
    for i in (0..FILES - 1).rev() {
        compressed[i] = 5 + local_header_len(i + 1) as u64 + compressed[i + 1];
        uncompressed[i] = local_header_len(i + 1) as u64 + uncompressed[i + 1];
    }
    let local_header = |i: usize, crc: u32| {
        let mut header = b"PK\x03\x04".to_vec();
        crate::zip_writer::push16(&mut header, 20);
        crate::zip_writer::push16(&mut header, 0);
        crate::zip_writer::push16(&mut header, 8);
        crate::zip_writer::push32(&mut header, 0);
        crate::zip_writer::push32(&mut header, crc);
        crate::zip_writer::push32(&mut header, compressed[i] as u32);
        crate::zip_writer::push32(&mut header, uncompressed[i] as u32);
        crate::zip_writer::push16(&mut header, names[i].len() as u16);
        crate::zip_writer::push16(&mut header, 0);
        header.extend_from_slice(names[i].as_bytes());
        header
    };
    // CRCs from the last entry backwards: entry i's output = local header i+1 + entry i+1's output.
    let mut crcs = vec![0u32; FILES];
    let kernel_crc = {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&vec![0u8; KERNEL_OUT as usize]);
        hasher
    };
    crcs[FILES - 1] = kernel_crc.clone().finalize();
    let mut suffix = kernel_crc;
    for i in (0..FILES - 1).rev() {
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&local_header(i + 1, crcs[i + 1]));
        hasher.combine(&suffix);
        crcs[i] = hasher.clone().finalize();
        suffix = hasher;
    }
    let mut out = Vec::new();
    let mut offsets = Vec::new();
    for (i, &crc) in crcs.iter().enumerate() {
        offsets.push(out.len() as u32);
        out.extend(local_header(i, crc));
        if i + 1 < FILES {
            let quoted = local_header_len(i + 1) as u16;
            out.push(0); // a non-final stored block
            crate::zip_writer::push16(&mut out, quoted);
            crate::zip_writer::push16(&mut out, !quoted);
        }
    }
    out.extend_from_slice(&kernel);
    let cd_start = out.len() as u32;
    for i in 0..FILES {
        out.extend_from_slice(b"PK\x01\x02");
        crate::zip_writer::push16(&mut out, 20);
        crate::zip_writer::push16(&mut out, 20);
        crate::zip_writer::push16(&mut out, 0);
        crate::zip_writer::push16(&mut out, 8);
        crate::zip_writer::push32(&mut out, 0);
        crate::zip_writer::push32(&mut out, crcs[i]);
        crate::zip_writer::push32(&mut out, compressed[i] as u32);
        crate::zip_writer::push32(&mut out, uncompressed[i] as u32);
        crate::zip_writer::push16(&mut out, names[i].len() as u16);
        for _ in 0..4 {
            crate::zip_writer::push16(&mut out, 0);
        }
        crate::zip_writer::push32(&mut out, 0);
        crate::zip_writer::push32(&mut out, offsets[i]);
        out.extend_from_slice(names[i].as_bytes());
    }
    let cd_size = out.len() as u32 - cd_start;
    out.extend_from_slice(b"PK\x05\x06");
    crate::zip_writer::push32(&mut out, 0);
    crate::zip_writer::push16(&mut out, FILES as u16);
    crate::zip_writer::push16(&mut out, FILES as u16);
    crate::zip_writer::push32(&mut out, cd_size);
    crate::zip_writer::push32(&mut out, cd_start);
    crate::zip_writer::push16(&mut out, 0);
    out
}
