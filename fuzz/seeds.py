#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/<target>/<name>.

A handful of small inputs per format, valid and slightly damaged, plus nested ones for the `walk` target.
Uses the standard library only (zipfile, tarfile, gzip, bz2, lzma, zlib, struct); the few formats or corner
cases the standard library does not write (zip64 end records, zstd and xz zip entries, hidden and
overlapping zip entries, odd tar types, gzip header fields) are put together by hand below. Every output is
deterministic (fixed timestamps, no random data) and at most 4 KiB, so that the seeds are committed and
`fuzz/replay.sh` needs no generation step.

    python3 fuzz/seeds.py          # rewrites fuzz/corpus/{walk,zip,tar,gzip,bzip2,xz,mime}/

Files that the script does not write (regressions, inputs added by hand) are left alone.
"""

import base64
import binascii
import bz2
import gzip
import io
import lzma
import quopri
import struct
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path

MAX_SEED = 4096
CORPUS = Path(__file__).resolve().parent / "corpus"
# 2024-01-01 00:00:00 in DOS format, and the same for tar/gzip.
DOS_TIME, DOS_DATE = 0, ((2024 - 1980) << 9) | (1 << 5) | 1
MTIME = 1704067200

TEXT = b"The quick brown fox jumps over the lazy dog.\n" * 6
EICAR_LIKE = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$NOT-EICAR-JUST-A-TEST-STRING$H+H*\n"
PE_STUB = b"MZ" + b"\x90\x00" * 29 + b"\x40\x00\x00\x00" + b"This program cannot be run in DOS mode.\r\n"
ELF_STUB = b"\x7fELF\x02\x01\x01" + b"\x00" * 9 + b"\x02\x00\x3e\x00" + b"\x00" * 40
PDF_STUB = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


# ---------------------------------------------------------------------------------------------- compressors

def raw_deflate(data, level=9):
    c = zlib.compressobj(level, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zstd_raw_frame(data):
    """A zstd frame holding `data` in one raw (uncompressed) block; valid for any zstd decoder."""
    assert len(data) < 256
    # Frame header descriptor: single segment, 1-byte frame content size, no checksum, no dictionary.
    header = b"\x28\xb5\x2f\xfd" + bytes([0x20, len(data)])
    block = (1 | (0 << 1) | (len(data) << 3)).to_bytes(3, "little")  # last block, raw
    return header + block + data


def zip_lzma(data):
    c = zipfile.LZMACompressor()
    return c.compress(data) + c.flush()


def xz(data, **kwargs):
    return lzma.compress(data, format=lzma.FORMAT_XZ, **kwargs)


def gz(data, name=None):
    out = io.BytesIO()
    with gzip.GzipFile(filename=name or "", mode="wb", fileobj=out, mtime=MTIME, compresslevel=9) as f:
        f.write(data)
    return out.getvalue()


def gz_member(data, *, fname=None, fextra=None, fcomment=None, fhcrc=False, level=9):
    """A gzip member put together by hand, to reach every optional header field."""
    flags = (2 if fhcrc else 0) | (4 if fextra is not None else 0) | (8 if fname else 0) | (16 if fcomment else 0)
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", MTIME) + b"\x02\x03"
    if fextra is not None:
        header += struct.pack("<H", len(fextra)) + fextra
    if fname:
        header += fname + b"\x00"
    if fcomment:
        header += fcomment + b"\x00"
    if fhcrc:
        header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    return header + raw_deflate(data, level) + struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)


# ---------------------------------------------------------------------------------------------- zip by hand

COMPRESS = {
    0: lambda d: d,
    8: raw_deflate,
    # A deflate stream with no length code 285 is also a valid deflate64 stream.
    9: raw_deflate,
    12: bz2.compress,
    14: zip_lzma,
    93: zstd_raw_frame,
    95: xz,
}


def entry(name, data, method=8, **options):
    """One zip entry. Options: flags, descriptor, hidden (no central entry), payload (raw bytes instead of
    compressing), crc, central (a dict overriding central fields: name, method, csize, usize, crc, offset),
    extra, version."""
    e = dict(name=name.encode() if isinstance(name, str) else name, data=data, method=method)
    e.update(options)
    return e


def make_zip(entries, *, front=b"", zip64=False, comment=b"", end_disk=0, duplicate_central=0):
    body = bytearray()
    centrals = []
    for e in entries:
        name, data, method = e["name"], e["data"], e["method"]
        payload = e.get("payload")
        if payload is None:
            payload = COMPRESS.get(method, lambda d: d)(data)
        crc = e.get("crc", zlib.crc32(data))
        flags = e.get("flags", 0)
        if method == 14:
            flags |= 2  # LZMA with an end-of-stream marker, as zipfile writes it
        descriptor = e.get("descriptor", False)
        if descriptor:
            flags |= 8
        extra = e.get("extra", b"")
        csize, usize = len(payload), len(data)
        local_extra = extra
        if zip64:
            local_extra = struct.pack("<HHQQ", 1, 16, usize, csize) + extra
        version = e.get("version", 45 if zip64 else 20)
        offset = len(body)
        lcrc, lcsize, lusize = (0, 0, 0) if descriptor else (crc, csize, usize)
        if zip64:
            lcsize = lusize = 0xFFFFFFFF
        body += struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", version, flags, method, DOS_TIME, DOS_DATE,
                            lcrc, lcsize, lusize, len(name), len(local_extra)) + name + local_extra
        body += payload
        if descriptor:
            body += struct.pack("<4sIII", b"PK\x07\x08", crc, csize, usize)
        if e.get("hidden"):
            continue
        c = dict(name=name, method=method, csize=csize, usize=usize, crc=crc, offset=offset, flags=flags,
                 extra=extra, version=version)
        c.update(e.get("central", {}))
        centrals.append(c)
    if duplicate_central:
        centrals += [centrals[0]] * duplicate_central
    cd = bytearray()
    for c in centrals:
        extra = c["extra"]
        csize, usize, offset = c["csize"], c["usize"], c["offset"]
        if zip64:
            extra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset) + extra
            csize = usize = offset = 0xFFFFFFFF
        cd += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 0x031E, c["version"], c["flags"], c["method"],
                          DOS_TIME, DOS_DATE, c["crc"], csize, usize, len(c["name"]), len(extra), 0, 0, 0,
                          0o100644 << 16, offset) + c["name"] + extra
    cd_offset = len(body)
    out = body + cd
    count = len(centrals)
    if zip64:
        end64 = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\x06\x06", 44, 0x031E, 45, 0, 0, count, count, len(cd), cd_offset)
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, end64, 1)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF,
                           len(comment)) + comment
    else:
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", end_disk, end_disk, count, count, len(cd), cd_offset,
                           len(comment)) + comment
    return front + bytes(out)


def stdlib_zip(files, compression=zipfile.ZIP_DEFLATED):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as z:
        for name, data in files:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = compression
            info.external_attr = 0o100644 << 16
            z.writestr(info, data)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------- tar

def make_tar(members, fmt=tarfile.USTAR_FORMAT, end_blocks=2):
    """members: (name, data) for files, or a TarInfo for anything else (data None)."""
    out = io.BytesIO()
    tf = tarfile.open(fileobj=out, mode="w", format=fmt)
    for m in members:
        if isinstance(m, tarfile.TarInfo):
            m.mtime = MTIME
            tf.addfile(m)
            continue
        name, data = m
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), MTIME, 0o644
        info.uname = info.gname = "root"
        tf.addfile(info, io.BytesIO(data))
    end = tf.offset
    tf.close()
    # tarfile pads to a 10 KiB record; keep only the end-of-archive blocks.
    return out.getvalue()[:end] + b"\x00" * (512 * end_blocks)


def tar_info(name, kind, **fields):
    info = tarfile.TarInfo(name)
    info.type = kind
    info.uname = info.gname = "root"
    for key, value in fields.items():
        setattr(info, key, value)
    return info


def raw_tar_header(name, size_field, kind=b"0", magic=b"ustar\x0000"):
    """A 512-byte header with the size field written as given (octal text or base-256 bytes)."""
    h = bytearray(512)
    h[0:len(name)] = name
    h[100:108] = b"0000644\x00"
    h[108:116] = b"0000000\x00"
    h[116:124] = b"0000000\x00"
    h[124:136] = size_field.ljust(12, b"\x00")[:12]
    h[136:148] = b"%011o\x00" % MTIME
    h[156:157] = kind
    h[257:265] = magic
    h[148:156] = b" " * 8
    h[148:156] = b"%06o\x00 " % sum(h)
    return bytes(h)


def raw_member(name, data, size_field=None, kind=b"0", magic=b"ustar\x0000"):
    """A hand-made header and its data padded to whole blocks; the size field is the data's unless given."""
    if size_field is None:
        size_field = b"%011o\x00" % len(data)
    padded = data.ljust(-(-len(data) // 512) * 512, b"\x00")
    return raw_tar_header(name, size_field, kind, magic) + padded


TAR_END = b"\x00" * 1024
GNU_MAGIC = b"ustar  \x00"


# ---------------------------------------------------------------------------------------------- damage

def truncate(data, fraction=0.5):
    return data[: max(1, int(len(data) * fraction))]


def flip(data, position, mask=0xFF):
    b = bytearray(data)
    b[position % len(b)] ^= mask
    return bytes(b)


# ---------------------------------------------------------------------------------------------- per format

AES_EXTRA = b"\x01\x99\x07\x00\x02\x00AE\x03\x08\x00"  # WinZip AES, AE-2, AES-256, then deflate


def zip_seeds():
    two = [entry("a.txt", TEXT), entry("dir/b.bin", bytes(range(256)), method=0)]
    seeds = {
        "stdlib-deflate.zip": stdlib_zip([("hello.txt", TEXT), ("dir/", b""), ("eicar.com", EICAR_LIKE)]),
        "stdlib-stored.zip": stdlib_zip([("a.txt", b"hello\n"), ("b.txt", b"")], zipfile.ZIP_STORED),
        "stdlib-bzip2.zip": stdlib_zip([("a.txt", TEXT)], zipfile.ZIP_BZIP2),
        "stdlib-lzma.zip": stdlib_zip([("a.txt", TEXT)], zipfile.ZIP_LZMA),
        "empty.zip": make_zip([]),
        "methods.zip": make_zip([entry("stored", b"stored\n", 0), entry("deflate", TEXT, 8),
                                 entry("deflate64", TEXT, 9), entry("bzip2", TEXT, 12), entry("lzma", TEXT, 14),
                                 entry("zstd", b"zstd raw block\n", 93), entry("xz", TEXT, 95)]),
        "zip64.zip": make_zip(two, zip64=True),
        "descriptor.zip": make_zip([entry("a.txt", TEXT, descriptor=True),
                                    entry("b.txt", b"stored with a descriptor\n", 0, descriptor=True)]),
        "sfx-data-in-front.zip": make_zip(two, front=PE_STUB + b"\x00" * 64),
        "comment.zip": make_zip(two, comment=b"archive comment PK\x05\x06 inside"),
        "encrypted.zip": make_zip([entry("secret.txt", TEXT, 8, flags=1),
                                   entry("aes.txt", TEXT, 99, payload=b"\x00" * 40, extra=AES_EXTRA)]),
        "unknown-method.zip": make_zip([entry("imploded", TEXT, 6, payload=b"\x12\x34" * 20)]),
        "hidden-entry.zip": make_zip([entry("visible.txt", b"visible\n", 0),
                                      entry("hidden.txt", b"not in the central directory\n", 0, hidden=True)]),
        "overlapping.zip": make_zip([entry("one.txt", TEXT)], duplicate_central=3),
        "directories-disagree.zip": make_zip([entry("local-name.txt", TEXT, central={"name": b"central-name.txt"}),
                                              entry("sizes.txt", b"size mismatch\n", 0, central={"usize": 5000})]),
        "multi-disk.zip": make_zip(two, end_disk=1),
        "bad-crc.zip": make_zip([entry("a.txt", TEXT, crc=0x12345678)]),
        "bad-deflate.zip": make_zip([entry("a.txt", TEXT, payload=b"\xff" * 40)]),
        "bomb-deflate-2mib.zip": make_zip([entry("zeros", b"\x00" * (2 << 20))]),
    }
    base = seeds["methods.zip"]
    seeds["truncated-half.zip"] = truncate(base)
    seeds["truncated-end-record.zip"] = base[:-5]
    seeds["cd-offset-off-by-one.zip"] = flip(base, len(base) - 6, 0x01)
    seeds["local-header-damaged.zip"] = flip(stdlib_zip([("a.txt", TEXT)]), 2)
    return seeds


def tar_seeds():
    files = [("hello.txt", b"hello\n"), ("dir/data.bin", bytes(range(200)))]
    long_name = "d" * 60 + "/" + "n" * 80 + ".txt"
    special = [tar_info("dir/", tarfile.DIRTYPE, mode=0o755), tar_info("link", tarfile.SYMTYPE, linkname="hello.txt"),
               tar_info("hard", tarfile.LNKTYPE, linkname="hello.txt"), tar_info("fifo", tarfile.FIFOTYPE),
               tar_info("dev", tarfile.CHRTYPE, devmajor=1, devminor=3)]
    ustar = make_tar(files)
    seeds = {
        "ustar.tar": ustar,
        "gnu-long-name.tar": make_tar([(long_name, b"long\n")], tarfile.GNU_FORMAT),
        "pax-path.tar": make_tar([(long_name, b"pax\n")], tarfile.PAX_FORMAT),
        "pax-unicode.tar": make_tar([("caf\u00e9-\u00fcber.txt", b"x")], tarfile.PAX_FORMAT),
        "special-members.tar": make_tar(special[:4]),
        "device.tar": make_tar(special[4:] + [("after.txt", b"after\n")]),
        "empty.tar": b"\x00" * 1024,
        "one-end-block.tar": make_tar(files, end_blocks=1),
        "no-end-blocks.tar": make_tar(files, end_blocks=0),
        "v7-header.tar": raw_member(b"v7.txt", b"hello\n", magic=b"\x00" * 8) + TAR_END,
        "base256-size.tar": raw_member(b"b256.txt", b"hello\n", b"\x80" + b"\x00" * 10 + b"\x06") + TAR_END,
        "huge-size.tar": raw_member(b"huge.bin", b"data", b"77777777777\x00"),
        "dir-with-data.tar": raw_tar_header(b"dir/", b"00000001000\x00", kind=b"5") + ustar[:512 * 2] + TAR_END,
        "gnu-multivolume.tar": raw_member(b"part2.bin", b"volume", kind=b"M", magic=GNU_MAGIC) + TAR_END,
        "gnu-sparse.tar": raw_member(b"sparse.bin", b"sparse", b"00000000006\x00", b"S", GNU_MAGIC) + TAR_END,
        "pax-global.tar": raw_member(b"pax_global_header", b"17 comment=hello\n", kind=b"g") + ustar,
        "pax-size-override.tar": raw_member(b"PaxHeaders/x", b"11 size=20\n", kind=b"x")
        + raw_member(b"x.txt", b"twenty bytes of data", b"00000000006\x00") + TAR_END,
        "tar-in-tar.tar": make_tar([("inner.tar", make_tar([("x", b"x")], end_blocks=1))]),
    }
    seeds["bad-checksum-first.tar"] = flip(ustar, 150, 0x07)
    seeds["bad-checksum-second.tar"] = flip(ustar, 1024 + 5, 0x20)
    seeds["truncated-member.tar"] = ustar[:1024 + 600]
    seeds["garbage-between.tar"] = ustar[:1024] + b"\xde\xad\xbe\xef" * 128 + ustar[1024:]
    return seeds


def gzip_seeds():
    seeds = {
        "plain.gz": gz(TEXT),
        "fname.gz": gz(TEXT, name="hello.txt"),
        "all-header-fields.gz": gz_member(TEXT, fname=b"name.txt", fextra=b"AB\x04\x00data", fcomment=b"comment",
                                          fhcrc=True),
        "empty.gz": gz(b""),
        "stored-blocks.gz": gz_member(bytes(range(256)) * 2, level=0),
        "multi-member.gz": gz(b"first member\n") + gz(b"second member\n", name="second") + gz(b""),
        "zero-padding.gz": gz(TEXT) + b"\x00" * 512,
        "trailing-garbage.gz": gz(TEXT) + b"this is not another member",
        "tar.gz": gz(make_tar([("a.txt", b"inside a tar.gz\n")], end_blocks=1), name="a.tar"),
        "bomb-3mib.gz": gz(b"\x00" * (3 << 20)),
        "long-fname.gz": gz_member(b"x", fname=b"n" * 1500),
    }
    base = seeds["fname.gz"]
    seeds["truncated.gz"] = truncate(base)
    seeds["truncated-trailer.gz"] = base[:-3]
    seeds["bad-crc.gz"] = flip(base, len(base) - 6)
    seeds["bad-isize.gz"] = flip(base, len(base) - 1, 0x01)
    seeds["bad-deflate.gz"] = base[:20] + b"\xff" * 30 + base[-8:]
    seeds["bad-method.gz"] = base[:2] + b"\x07" + base[3:]
    seeds["truncated-second-member.gz"] = seeds["multi-member.gz"][:-30]
    return seeds


def bzip2_seeds():
    seeds = {
        "level9.bz2": bz2.compress(TEXT, 9),
        "level1.bz2": bz2.compress(TEXT, 1),
        "empty.bz2": bz2.compress(b""),
        "runs.bz2": bz2.compress(b"a" * 1000 + b"b" * 3 + b"c" * 300 + bytes(range(256))),
        "binary.bz2": bz2.compress(bytes((i * 37) & 0xFF for i in range(1500))),
        "multi-stream.bz2": bz2.compress(b"first stream\n") + bz2.compress(b"second stream\n"),
        "tar.bz2": bz2.compress(make_tar([("a.txt", b"inside a tar.bz2\n")], end_blocks=1)),
        "bomb-4mib.bz2": bz2.compress(b"\x00" * (4 << 20)),
    }
    base = seeds["level9.bz2"]
    seeds["truncated.bz2"] = truncate(base)
    seeds["bad-block-crc.bz2"] = flip(base, 10)
    seeds["bad-stream-crc.bz2"] = flip(base, len(base) - 2)
    seeds["bad-block-magic.bz2"] = flip(base, 5)
    seeds["trailing-garbage.bz2"] = base + b"not bzip2"
    seeds["header-only.bz2"] = b"BZh9"
    return seeds


def xz_with_dict_size_byte(data, props_byte):
    """An xz stream whose LZMA2 filter declares the dictionary size `props_byte` (40 = 4 GiB - 1), with the
    block header CRC fixed so that only the memory limit refuses it."""
    out = bytearray(xz(data, check=lzma.CHECK_CRC32))
    start = 12
    size = (out[start] + 1) * 4
    header = out[start:start + size]
    at = header.index(b"\x21\x01")
    header[at + 2] = props_byte
    header[-4:] = struct.pack("<I", zlib.crc32(bytes(header[:-4])))
    out[start:start + size] = header
    return bytes(out)


LZMA2_FAST = {"id": lzma.FILTER_LZMA2, "preset": 1}


def xz_seeds():
    seeds = {
        "crc64.xz": xz(TEXT),
        "crc32.xz": xz(TEXT, check=lzma.CHECK_CRC32),
        "sha256.xz": xz(TEXT, check=lzma.CHECK_SHA256),
        "no-check.xz": xz(TEXT, check=lzma.CHECK_NONE),
        "empty.xz": xz(b""),
        "delta-filter.xz": xz(bytes(range(256)), filters=[{"id": lzma.FILTER_DELTA, "dist": 4}, LZMA2_FAST]),
        "x86-filter.xz": xz(PE_STUB * 4, filters=[{"id": lzma.FILTER_X86}, LZMA2_FAST]),
        "multi-stream.xz": xz(b"first stream\n") + xz(b"second stream\n"),
        "stream-padding.xz": xz(b"padded\n") + b"\x00" * 8 + xz(b"after padding\n"),
        "tar.xz": xz(make_tar([("a.txt", b"inside a tar.xz\n")], end_blocks=1)),
        "bomb-4mib.xz": xz(b"\x00" * (4 << 20)),
        "dict-4gib.xz": xz_with_dict_size_byte(TEXT, 40),
        "lzma-alone.lzma": lzma.compress(TEXT, format=lzma.FORMAT_ALONE),
    }
    base = seeds["crc64.xz"]
    seeds["truncated.xz"] = truncate(base)
    seeds["bad-check.xz"] = flip(base, len(base) - 40)
    seeds["bad-stream-header-crc.xz"] = flip(base, 8)
    seeds["bad-padding.xz"] = xz(b"padded\n") + b"\x00" * 3 + xz(b"after\n")
    seeds["trailing-garbage.xz"] = base + b"garbage"
    return seeds


def walk_seeds():
    inner_zip = stdlib_zip([("inner.txt", TEXT), ("eicar.com", EICAR_LIKE)])
    inner_tar = make_tar([("t.txt", b"in the tar\n")], end_blocks=1)
    nested_zip = b"deepest\n"
    for level in range(6):
        nested_zip = stdlib_zip([(f"level{level}", nested_zip)])
    many_files = make_tar([(f"f{i:02}", b"") for i in range(80)], end_blocks=1)
    return {
        "text.txt": TEXT,
        "pe.exe": PE_STUB,
        "elf.bin": ELF_STUB,
        "doc.pdf": PDF_STUB,
        "zip-in-tar.tar.gz": gz(make_tar([("inner.zip", inner_zip)], end_blocks=1), name="outer.tar"),
        "tar-in-zip.zip": stdlib_zip([("inner.tar", inner_tar), ("inner.tar.gz", gz(inner_tar))]),
        "gz-in-zip-in-xz.xz": xz(stdlib_zip([("a.gz", gz(TEXT, name="a.txt"))], zipfile.ZIP_STORED)),
        "bz2-in-tar.tar": make_tar([("a.bz2", bz2.compress(TEXT))]),
        "tar.bz2": bz2.compress(make_tar([("inner.zip", inner_zip)], end_blocks=1)),
        "tar.xz": xz(make_tar([("x.gz", gz(b"gz in tar in xz\n"))], end_blocks=1)),
        "zip-depth-7.zip": nested_zip,
        "sfx.exe": make_zip([entry("payload.txt", TEXT), entry("inner.tar", inner_tar, 0)],
                            front=PE_STUB + b"\x00" * 200),
        "gz-gz-bomb.gz": gz(gz(b"\x00" * (16 << 20))),
        "zip-of-bombs.zip": make_zip([entry("b1", b"\x00" * (3 << 19)),
                                      entry("b2.gz.gz", gz(gz(b"\x00" * (3 << 20))), 0)]),
        "many-files.tar.gz": gz(many_files),
        "hidden-zip-in-zip.zip": make_zip([entry("shown.txt", b"shown\n", 0),
                                           entry("hidden.zip", inner_zip, 0, hidden=True)]),
        "damaged-tar-in-gz.tgz": gz(flip(make_tar([("a.txt", b"a\n"), ("b.zip", inner_zip)]), 1024 + 150, 0x07)),
        "truncated-zip-in-tar.tar": make_tar([("cut.zip", truncate(inner_zip, 0.7))]),
        "tgz-in-mail.eml": mixed([attachment(b"t.tar.gz", gz(inner_tar))]),
        "mail-in-zip.zip": stdlib_zip([("m.eml", mixed([attachment(b"i.zip", inner_zip)]))]),
    }


# ---------------------------------------------------------------------------------------------------- mail

HEADERS = (b"From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: seed\r\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <seed@example.com>\r\nMIME-Version: 1.0\r\n")


def mime_entity(fields, body):
    return b"".join(f + b"\r\n" for f in fields) + b"\r\n" + body


def multipart(boundary, parts, preamble=b"", epilogue=b"", close=True):
    out = preamble
    for part in parts:
        out += b"--" + boundary + b"\r\n" + part + b"\r\n"
    if close:
        out += b"--" + boundary + b"--\r\n"
    return out + epilogue


def mail(fields, body):
    return HEADERS + mime_entity(fields, body)


def b64(data):
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def attachment(name, data, encoding=b"base64"):
    body = b64(data) if encoding == b"base64" else data
    return mime_entity([b"Content-Type: application/octet-stream; name=\"" + name + b"\"",
                        b"Content-Transfer-Encoding: " + encoding,
                        b"Content-Disposition: attachment; filename=\"" + name + b"\""], body)


def mixed(parts, boundary=b"=_b", **options):
    return mail([b"Content-Type: multipart/mixed; boundary=\"" + boundary + b"\""],
                multipart(boundary, parts, **options))


def uuencode(name, data):
    """A uuencoded block: `begin 644 NAME`, lines of 45 bytes, the empty line and `end`."""
    lines = [b"begin 644 " + name + b"\r\n"]
    for start in range(0, len(data), 45):
        lines.append(binascii.b2a_uu(data[start:start + 45]).rstrip(b"\n") + b"\r\n")
    return b"".join(lines) + b"`\r\nend\r\n"


BINHEX_ALPHABET = b"!\"#$%&'()*+,-012345689@ABCDEFGHIJKLMNPQRSTUVXYZ[`abcdefhijklmpqr"


def crc16_xmodem(data):
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


def binhex(name, data, resource=b""):
    """A BinHex 4.0 block (RFC 1741): the marker line, then `:`, the header and both forks each with its
    CRC-16/XMODEM, 0x90 escaped (no runs compressed), six bits a character in lines of 64, and `:`."""
    header = bytes([len(name)]) + name + b"\x00" + b"TEXTttxt" + b"\x00\x00" + struct.pack(">II", len(data), len(resource))
    stream = b""
    for block in (header, data, resource):
        stream += block + struct.pack(">H", crc16_xmodem(block))
    stream = stream.replace(b"\x90", b"\x90\x00")
    bits, count, chars = 0, 0, bytearray()
    for byte in stream:
        bits, count = (bits << 8) | byte, count + 8
        while count >= 6:
            count -= 6
            chars.append(BINHEX_ALPHABET[(bits >> count) & 0x3F])
    if count:
        chars.append(BINHEX_ALPHABET[(bits << (6 - count)) & 0x3F])
    encoded = b":" + bytes(chars) + b":"
    lines = [encoded[i:i + 64] for i in range(0, len(encoded), 64)]
    return b"(This file must be converted with BinHex 4.0)\r\n" + b"\r\n".join(lines) + b"\r\n"


def mime_seeds():
    text = mime_entity([b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: quoted-printable"],
                       quopri.encodestring("caf\u00e9 = cr\u00e8me, a long line ".encode() * 4))
    small_zip = stdlib_zip([("a.txt", TEXT[:100])])
    nested = b"Content-Type: text/plain\r\n\r\nbottom\r\n"
    for level in range(5):
        boundary = b"=_n%d" % level
        nested = mime_entity([b"Content-Type: multipart/alternative; boundary=\"" + boundary + b"\""],
                             multipart(boundary, [nested]))
    forwarded = mail([b"Content-Type: text/plain"], TEXT[:80])
    for _ in range(3):
        forwarded = mail([b"Content-Type: message/rfc822"], forwarded)
    envelope = b"From alice@example.com Mon Jan  1 00:00:00 2024\r\n"
    # One character of the data fork changed: the fork fails its CRC.
    bad_crc_binhex = bytearray(binhex(b"c.txt", TEXT[:50]))
    at = bad_crc_binhex.index(b":") + 40
    bad_crc_binhex[at] = ord("!") if bad_crc_binhex[at] != ord("!") else ord("#")
    bad_crc_binhex = bytes(bad_crc_binhex)
    return {
        "plain.eml": mail([b"Content-Type: text/plain"], TEXT[:200]),
        "quoted-printable.eml": mail([], b"")[:-2] + text,
        "mixed-base64.eml": mixed([text, attachment(b"data.bin", bytes(range(256)))],
                                  preamble=b"preamble\r\n", epilogue=b"epilogue\r\n"),
        "zip-attachment.eml": mixed([attachment(b"a.zip", small_zip)]),
        "binary-attachment.eml": mixed([attachment(b"b.bin", bytes(range(256)), b"binary")]),
        "nested-multipart.eml": HEADERS + nested,
        "forwarded.eml": forwarded,
        "digest.eml": mail([b"Content-Type: multipart/digest; boundary=d"],
                           multipart(b"d", [mime_entity([], mail([], b"one\r\n")), mime_entity([], b"x")])),
        "partial.eml": mail([b"Content-Type: message/partial; id=\"a@b\"; number=1; total=2"], HEADERS),
        "encoded-names.eml": mixed([
            mime_entity([b"Content-Type: text/plain; name=\"=?utf-8?B?0L/RgNC40LLQtdGC?=\""], b"x\r\n"),
            mime_entity([b"Content-Disposition: attachment; filename*0*=utf-8''caf%C3%A9; filename*1=.txt"], b"y\r\n"),
        ]),
        "two-encodings.eml": mixed([mime_entity([b"Content-Transfer-Encoding: base64",
                                                 b"Content-Transfer-Encoding: quoted-printable"], b64(TEXT[:60]))]),
        "garbage-base64.eml": mixed([mime_entity([b"Content-Transfer-Encoding: base64"], b"!!QUJD*REVG\r\nR0g")]),
        "unterminated.eml": mixed([text, attachment(b"c.bin", TEXT[:90])], close=False),
        "no-boundary.eml": mail([b"Content-Type: multipart/mixed"], b"--x\r\n\r\nbody\r\n--x--\r\n"),
        "broken-header.eml": HEADERS + b"not a field\r\nContent-Type: text/plain\r\n\r\nbody\r\n",
        "mbox.mbox": envelope + mail([b"Content-Type: text/plain"], b"one\r\n>From quoted\r\n\r\n")
                     + envelope + mixed([attachment(b"d.bin", b"two")]),
        "dot-stuffed.eml": mixed([mime_entity([b"Content-Type: text/plain"], b"..dot\r\n")]) + b".\r\n",
        "uuencode-in-text.eml": mixed([mime_entity([b"Content-Type: text/plain"],
                                                   b"see below\r\n" + uuencode(b"a.zip", small_zip) + b"bye\r\n")]),
        "uuencode-part.eml": mixed([mime_entity([b"Content-Transfer-Encoding: x-uuencode"],
                                                uuencode(b"b.bin", bytes(range(200))))]),
        "uuencode-no-end.eml": mail([b"Content-Type: text/plain"], uuencode(b"c.txt", TEXT[:100])[:-6]),
        "binhex-in-text.eml": mixed([mime_entity([b"Content-Type: text/plain"],
                                                 b"hqx:\r\n" + binhex(b"a.zip", small_zip))]),
        "binhex-part.eml": mixed([mime_entity([b"Content-Type: application/mac-binhex40"],
                                              binhex(b"b.bin", bytes(range(256)) + b"\x90" * 5, b"rsrc"))]),
        "binhex-bad-crc.eml": mail([b"Content-Type: application/mac-binhex40"], bad_crc_binhex),
        "html-data-uri.eml": mixed([mime_entity([b"Content-Type: text/html"],
                                                b"<img src=\"data:application/zip;base64," + b64(small_zip).replace(b"\r\n", b"")
                                                + b"\"><a href='DATA:text/plain;base64,aGVsbG8='>x</a>\r\n")]),
    }


# ---------------------------------------------------------------------------------------------- dictionaries

# libFuzzer dictionaries, fuzz/dict/<target>.dict: (name, bytes, why). The walk's is the union of them all plus
# the leaf magics, since libFuzzer takes one -dict per run.
DICTIONARIES = {
    "zip": [
        ("local_header", b"PK\x03\x04", "local file header"),
        ("central_header", b"PK\x01\x02", "central directory header"),
        ("end_record", b"PK\x05\x06", "end of central directory record"),
        ("zip64_end_record", b"PK\x06\x06", "zip64 end of central directory record"),
        ("zip64_locator", b"PK\x06\x07", "zip64 end of central directory locator"),
        ("descriptor", b"PK\x07\x08", "data descriptor / spanned archive marker"),
        ("method_deflate", b"\x08\x00", "method 8"),
        ("method_deflate64", b"\x09\x00", "method 9"),
        ("method_bzip2", b"\x0c\x00", "method 12"),
        ("method_lzma", b"\x0e\x00", "method 14"),
        ("method_zstd", b"\x5d\x00", "method 93"),
        ("method_xz", b"\x5f\x00", "method 95"),
        ("method_aes", b"\x63\x00", "method 99 (AES)"),
        ("extra_zip64", b"\x01\x00\x18\x00", "zip64 extra field, 24 bytes"),
        ("extra_aes", b"\x01\x99\x07\x00", "AES extra field"),
        ("version_zip64", b"\x2d\x00", "version 4.5"),
        ("u32_max", b"\xff\xff\xff\xff", "zip64 placeholder"),
        ("u16_max", b"\xff\xff", "zip64 placeholder"),
        ("lzma_props", b"\x09\x14\x05\x00\x5d\x00\x00\x10\x00", "LZMA entry header and properties"),
        ("zstd_magic", b"\x28\xb5\x2f\xfd", "zstd frame"),
    ],
    "tar": [
        ("ustar", b"ustar\x0000", "POSIX ustar magic and version"),
        ("gnu", b"ustar  \x00", "GNU magic"),
        ("longlink", b"././@LongLink", "GNU long name member"),
        ("pax_path", b" path=", "pax record"),
        ("pax_size", b" size=", "pax record"),
        ("pax_linkpath", b" linkpath=", "pax record"),
        ("pax_sparse", b" GNU.sparse.size=", "pax sparse record"),
        ("octal_size", b"00000001000\x00", "size field"),
        ("octal_mode", b"0000644\x00", "mode field"),
        ("base256", b"\x80\x00\x00\x00", "base-256 number"),
        ("checksum_blank", b"        ", "checksum field as summed"),
        ("type_long_name", b"L", "GNU long name"),
        ("type_pax", b"x", "pax header"),
        ("type_pax_global", b"g", "pax global header"),
        ("type_multivolume", b"M", "GNU multi-volume"),
        ("type_sparse", b"S", "GNU sparse"),
        ("type_dir", b"5", "directory"),
        ("zero_block_start", b"\x00\x00\x00\x00\x00\x00\x00\x00", "zero block"),
    ],
    "gzip": [
        ("magic", b"\x1f\x8b\x08", "gzip member with deflate"),
        ("magic_fname", b"\x1f\x8b\x08\x08", "with FNAME"),
        ("magic_all_flags", b"\x1f\x8b\x08\x1e", "FHCRC FEXTRA FNAME FCOMMENT"),
        ("stored_empty_final", b"\x01\x00\x00\xff\xff", "final stored block of 0 bytes"),
        ("stored_block", b"\x00\x10\x00\xef\xff", "stored block of 16 bytes"),
        ("fixed_final", b"\x03\x00", "empty final fixed-Huffman block"),
        ("os_unix", b"\x00\x03", "XFL and OS"),
        ("isize_max", b"\xff\xff\xff\xff", "trailer"),
    ],
    "bzip2": [
        ("magic9", b"BZh9", "stream header, 900k blocks"),
        ("magic1", b"BZh1", "stream header, 100k blocks"),
        ("block_magic", b"1AY&SY", "block header (pi)"),
        ("eos_magic", b"\x17\x72\x45\x38\x50\x90", "end of stream (sqrt pi)"),
        ("header_and_block", b"BZh91AY&SY", "stream start"),
    ],
    "xz": [
        ("magic", b"\xfd7zXZ\x00", "stream header magic"),
        ("footer_magic", b"YZ", "stream footer magic"),
        ("flags_crc64", b"\x00\x04", "stream flags"),
        ("flags_crc32", b"\x00\x01", "stream flags"),
        ("flags_sha256", b"\x00\x0a", "stream flags"),
        ("filter_lzma2", b"\x21\x01\x16", "LZMA2 filter, 8 MiB dictionary"),
        ("filter_delta", b"\x03\x01\x00", "delta filter"),
        ("filter_x86", b"\x04\x00", "x86 BCJ filter"),
        ("padding", b"\x00\x00\x00\x00", "stream padding"),
        ("lzma2_chunk_reset", b"\xe0", "LZMA2 chunk with dictionary reset"),
        ("lzma2_uncompressed", b"\x01\x00\x0f", "LZMA2 uncompressed chunk of 16 bytes"),
    ],
    "mime": [
        ("content_type", b"Content-Type: ", "MIME field"),
        ("transfer_encoding", b"Content-Transfer-Encoding: ", "MIME field"),
        ("disposition", b"Content-Disposition: attachment; filename=", "MIME field"),
        ("multipart", b"multipart/mixed; boundary=", "multipart type"),
        ("digest", b"multipart/digest; boundary=", "digest: parts default to messages"),
        ("rfc822", b"message/rfc822", "encapsulated message"),
        ("partial", b"message/partial", "message fragment"),
        ("base64", b"base64", "transfer encoding"),
        ("quoted_printable", b"quoted-printable", "transfer encoding"),
        ("delimiter", b"\r\n--=_b\r\n", "delimiter line of boundary =_b"),
        ("close_delimiter", b"\r\n--=_b--\r\n", "close delimiter of boundary =_b"),
        ("blank_line", b"\r\n\r\n", "end of a header block"),
        ("fold", b"\r\n\t", "folded field"),
        ("rfc2231", b"filename*0*=utf-8''", "RFC 2231 parameter"),
        ("rfc2047", b"=?utf-8?B?", "RFC 2047 encoded word"),
        ("qp_soft_break", b"=\r\n", "quoted-printable soft line break"),
        ("envelope", b"From a@b Mon Jan  1 00:00:00 2024\r\n", "mbox separator"),
        ("from_quoted", b">From ", "mboxrd quoted line"),
        ("subject", b"Subject: ", "mail field"),
        ("uu_begin", b"begin 644 ", "uuencoded block"),
        ("uu_end", b"`\r\nend\r\n", "end of a uuencoded block"),
        ("uu_encoding", b"x-uuencode", "transfer encoding"),
        ("binhex_marker", b"(This file must be converted with BinHex 4.0)", "BinHex 4.0 block"),
        ("binhex_type", b"application/mac-binhex40", "BinHex part"),
        ("data_uri", b"data:application/octet-stream;base64,", "data: URI in HTML"),
        ("html", b"text/html", "HTML part"),
    ],
}
DICTIONARIES["walk"] = [
    (f"{target}_{name}", value, why)
    for target in ("zip", "tar", "gzip", "bzip2", "xz", "mime")
    for name, value, why in DICTIONARIES[target]
] + [
    ("pe", b"MZ", "PE/DOS executable"),
    ("elf", b"\x7fELF", "ELF"),
    ("pdf", b"%PDF-", "PDF"),
]


def write_dictionaries():
    directory = CORPUS.parent / "dict"
    directory.mkdir(exist_ok=True)
    for target, entries in DICTIONARIES.items():
        lines = [f"# libFuzzer dictionary for the {target} target; written by fuzz/seeds.py, edit it there."]
        for name, value, why in entries:
            escaped = "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\x{b:02x}" for b in value)
            # libFuzzer wants the value to end its line, so the comment goes above it.
            lines += [f"# {why}", f'{name}="{escaped}"']
        (directory / f"{target}.dict").write_text("\n".join(lines) + "\n")


TARGETS = {
    "walk": walk_seeds, "zip": zip_seeds, "tar": tar_seeds, "gzip": gzip_seeds, "bzip2": bzip2_seeds, "xz": xz_seeds,
    "mime": mime_seeds,
}


def main():
    total = 0
    for target, make in TARGETS.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in make().items():
            if len(data) > MAX_SEED:
                sys.exit(f"seed {target}/{name} is {len(data)} bytes, over {MAX_SEED}")
            (directory / name).write_bytes(data)
            total += 1
    write_dictionaries()
    print(f"wrote {total} seeds under {CORPUS} and {len(DICTIONARIES)} dictionaries")


if __name__ == "__main__":
    main()
