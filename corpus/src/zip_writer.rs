//! A raw ZIP writer that can also write the lies: entries missing from the central directory, central
//! records that disagree with their local headers, many central records for one local header, zip64
//! records, data in front, another disk number. The `zip` crate writes only honest archives, and these
//! tests need both.

/// One entry: its local header and data, and how its central record differs, if it does.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Name in the local header (and in the central record unless `central_name` is set).
    pub name: Vec<u8>,
    /// Compression method.
    pub method: u16,
    /// General-purpose flags (bit 0: encrypted, bit 3: data descriptor).
    pub flags: u16,
    /// The compressed bytes, written as they are.
    pub data: Vec<u8>,
    /// CRC-32 of the uncompressed bytes.
    pub crc: u32,
    /// Uncompressed size.
    pub uncompressed_size: u64,
    /// Whether the central directory lists the entry.
    pub in_central: bool,
    /// A different name in the central record.
    pub central_name: Option<Vec<u8>>,
    /// A different compressed size in the central record.
    pub central_compressed_size: Option<u64>,
    /// Disk number in the central record.
    pub disk: u16,
}

impl Entry {
    /// A stored entry.
    pub fn stored(name: &str, bytes: &[u8]) -> Entry {
        Entry::compressed(name, 0, bytes.to_vec(), bytes)
    }

    /// A deflated entry.
    pub fn deflated(name: &str, bytes: &[u8]) -> Entry {
        Entry::compressed(name, 8, crate::deflate_raw(bytes), bytes)
    }

    /// An entry whose data `raw` was compressed with `method` from `bytes`.
    pub fn compressed(name: &str, method: u16, raw: Vec<u8>, bytes: &[u8]) -> Entry {
        Entry::precompressed(name, method, raw, crc32fast::hash(bytes), bytes.len() as u64)
    }

    /// An entry whose data, CRC and size are given.
    pub fn precompressed(name: &str, method: u16, raw: Vec<u8>, crc: u32, uncompressed_size: u64) -> Entry {
        Entry {
            name: name.as_bytes().to_vec(),
            method,
            flags: 0,
            data: raw,
            crc,
            uncompressed_size,
            in_central: true,
            central_name: None,
            central_compressed_size: None,
            disk: 0,
        }
    }
}

/// Builds an archive from entries.
#[derive(Debug, Clone, Default)]
pub struct ZipBuilder {
    /// Bytes before the archive (a self-extractor stub); offsets are written relative to the archive.
    pub prefix: Vec<u8>,
    /// The entries, in order.
    pub entries: Vec<Entry>,
    /// Extra central records, each repeating entry `.0`'s local header under the name `.1`.
    pub aliases: Vec<(usize, String)>,
    /// Write zip64 extra fields, a zip64 end record and its locator.
    pub zip64: bool,
    /// The disk number written in the end record.
    pub disk: u16,
}

impl ZipBuilder {
    /// An archive of these entries.
    pub fn new(entries: Vec<Entry>) -> ZipBuilder {
        ZipBuilder { entries, ..ZipBuilder::default() }
    }

    /// The archive's bytes.
    pub fn build(&self) -> Vec<u8> {
        let mut out = self.prefix.clone();
        let base = out.len() as u64;
        let mut offsets = Vec::new();
        for entry in &self.entries {
            offsets.push(out.len() as u64 - base);
            out.extend_from_slice(b"PK\x03\x04");
            push16(&mut out, if self.zip64 { 45 } else { 20 });
            push16(&mut out, entry.flags);
            push16(&mut out, entry.method);
            push32(&mut out, 0); // time and date
            push32(&mut out, entry.crc);
            let extra =
                if self.zip64 { zip64_extra(&[entry.uncompressed_size, entry.data.len() as u64]) } else { vec![] };
            push32(&mut out, if self.zip64 { u32::MAX } else { entry.data.len() as u32 });
            push32(&mut out, if self.zip64 { u32::MAX } else { entry.uncompressed_size as u32 });
            push16(&mut out, entry.name.len() as u16);
            push16(&mut out, extra.len() as u16);
            out.extend_from_slice(&entry.name);
            out.extend_from_slice(&extra);
            out.extend_from_slice(&entry.data);
        }
        let cd_start = out.len() as u64 - base;
        let mut records = 0u64;
        let central: Vec<(usize, Option<Vec<u8>>)> = (0..self.entries.len())
            .filter(|&i| self.entries[i].in_central)
            .map(|i| (i, None))
            .chain(self.aliases.iter().map(|(i, name)| (*i, Some(name.as_bytes().to_vec()))))
            .collect();
        for (index, alias) in central {
            let entry = &self.entries[index];
            let name = alias.or_else(|| entry.central_name.clone()).unwrap_or_else(|| entry.name.clone());
            let compressed = entry.central_compressed_size.unwrap_or(entry.data.len() as u64);
            out.extend_from_slice(b"PK\x01\x02");
            push16(&mut out, 0x031e);
            push16(&mut out, if self.zip64 { 45 } else { 20 });
            push16(&mut out, entry.flags);
            push16(&mut out, entry.method);
            push32(&mut out, 0);
            push32(&mut out, entry.crc);
            let extra =
                if self.zip64 { zip64_extra(&[entry.uncompressed_size, compressed, offsets[index]]) } else { vec![] };
            push32(&mut out, if self.zip64 { u32::MAX } else { compressed as u32 });
            push32(&mut out, if self.zip64 { u32::MAX } else { entry.uncompressed_size as u32 });
            push16(&mut out, name.len() as u16);
            push16(&mut out, extra.len() as u16);
            push16(&mut out, 0); // comment
            push16(&mut out, entry.disk);
            push16(&mut out, 0);
            push32(&mut out, 0o100644 << 16);
            push32(&mut out, if self.zip64 { u32::MAX } else { offsets[index] as u32 });
            out.extend_from_slice(&name);
            out.extend_from_slice(&extra);
            records += 1;
        }
        let cd_size = out.len() as u64 - base - cd_start;
        if self.zip64 {
            let z64_at = out.len() as u64 - base;
            out.extend_from_slice(b"PK\x06\x06");
            push64(&mut out, 44);
            push16(&mut out, 45);
            push16(&mut out, 45);
            push32(&mut out, 0);
            push32(&mut out, 0);
            push64(&mut out, records);
            push64(&mut out, records);
            push64(&mut out, cd_size);
            push64(&mut out, cd_start);
            out.extend_from_slice(b"PK\x06\x07");
            push32(&mut out, 0);
            push64(&mut out, z64_at);
            push32(&mut out, 1);
        }
        out.extend_from_slice(b"PK\x05\x06");
        push16(&mut out, self.disk);
        push16(&mut out, self.disk);
        let count = if self.zip64 { u16::MAX } else { records as u16 };
        push16(&mut out, count);
        push16(&mut out, count);
        push32(&mut out, if self.zip64 { u32::MAX } else { cd_size as u32 });
        push32(&mut out, if self.zip64 { u32::MAX } else { cd_start as u32 });
        push16(&mut out, 0);
        out
    }
}

fn zip64_extra(values: &[u64]) -> Vec<u8> {
    let mut extra = Vec::new();
    push16(&mut extra, 1);
    push16(&mut extra, (values.len() * 8) as u16);
    for &value in values {
        push64(&mut extra, value);
    }
    extra
}

/// Appends a little-endian u16.
pub fn push16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian u32.
pub fn push32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}

/// Appends a little-endian u64.
pub fn push64(out: &mut Vec<u8>, value: u64) {
    out.extend_from_slice(&value.to_le_bytes());
}
