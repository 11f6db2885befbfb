//! Signature names, interned: every name is stored once in one string, and signatures refer to it by a `u32`.
//!
//! Real databases hold millions of signatures whose names repeat (one name for many hashes) and share long
//! prefixes (`Win.Trojan.Agent-`); a `String` per signature would cost a heap allocation and 24 bytes of header
//! each. The table is built once while a database loads and is read-only afterwards.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// An index into a [`NameTable`].
pub type NameId = u32;

/// Interned signature names.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct NameTable {
    text: String,
    /// `(start, end)` byte offsets into `text`, indexed by [`NameId`].
    spans: Vec<(u32, u32)>,
}

impl NameTable {
    /// The name with this id (an empty string for an id the table never gave out).
    pub fn get(&self, id: NameId) -> &str {
        self.spans.get(id as usize).and_then(|&(start, end)| self.text.get(start as usize..end as usize)).unwrap_or("")
    }

    /// How many distinct names are held.
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether no name is held.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

/// The intern map's hasher: FxHash's rotate-xor-multiply over 8-byte words, as rustc's own maps use. SipHash,
/// the standard map's default, took 6 % of loading a set of 3.65 M signatures. Its resistance to chosen
/// collisions buys nothing here: names come from the definitions, never from scanned input.
#[derive(Debug, Default, Clone, Copy)]
struct NameHasher(u64);

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut buffer = [0u8; 8];
            buffer.copy_from_slice(word);
            self.add(u64::from_le_bytes(buffer));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut buffer = [0u8; 8];
            buffer[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buffer));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Builds a [`NameTable`], handing out one id per distinct name.
#[derive(Debug, Default)]
pub struct NameTableBuilder {
    table: NameTable,
    ids: HashMap<Box<str>, NameId, BuildHasherDefault<NameHasher>>,
}

impl NameTableBuilder {
    /// The id of `name`, adding it on first sight. `None` once the table would pass 4 GiB of text or 2^32
    /// names, which no real database approaches.
    pub fn intern(&mut self, name: &str) -> Option<NameId> {
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        let id = NameId::try_from(self.table.spans.len()).ok()?;
        let start = u32::try_from(self.table.text.len()).ok()?;
        let end = u32::try_from(self.table.text.len() + name.len()).ok()?;
        self.table.text.push_str(name);
        self.table.spans.push((start, end));
        self.ids.insert(name.into(), id);
        Some(id)
    }

    /// How many distinct names were interned.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no name was interned.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The finished table.
    pub fn finish(mut self) -> NameTable {
        self.table.text.shrink_to_fit();
        self.table.spans.shrink_to_fit();
        self.table
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_gives_one_id_per_distinct_name() {
        let mut builder = NameTableBuilder::default();
        let a = builder.intern("Win.Trojan.Agent-1").unwrap();
        let b = builder.intern("Eicar-Signature").unwrap();
        assert_eq!(builder.intern("Win.Trojan.Agent-1"), Some(a));
        let table = builder.finish();
        assert_eq!(table.len(), 2);
        assert_eq!(table.get(a), "Win.Trojan.Agent-1");
        assert_eq!(table.get(b), "Eicar-Signature");
        assert_eq!(table.get(99), "");
    }

    #[test]
    fn names_sharing_long_prefixes_stay_distinct() {
        // Lengths around the hasher's 8-byte words, and names that differ only in their last byte.
        let names: Vec<String> = (0..20_000).map(|i| format!("Win.Trojan.Agent-{i}-{}", "x".repeat(i % 17))).collect();
        let mut builder = NameTableBuilder::default();
        let ids: Vec<NameId> = names.iter().map(|name| builder.intern(name).unwrap()).collect();
        assert_eq!(builder.len(), names.len());
        assert_eq!(names.iter().map(|name| builder.intern(name).unwrap()).collect::<Vec<_>>(), ids);
        let table = builder.finish();
        assert!(names.iter().zip(&ids).all(|(name, &id)| table.get(id) == name));
    }
}
