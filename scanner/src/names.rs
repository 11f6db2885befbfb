//! Signature names, interned: every name is stored once in one string, and signatures refer to it by a `u32`.
//!
//! Real databases hold millions of signatures whose names repeat (one name for many hashes) and share long
//! prefixes (`Win.Trojan.Agent-`); a `String` per signature would cost a heap allocation and 24 bytes of header
//! each. The table is built once while a database loads and is read-only afterwards.

use std::collections::HashMap;

/// An index into a [`NameTable`].
pub type NameId = u32;

/// Interned signature names.
#[derive(Debug, Default, Clone)]
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

/// Builds a [`NameTable`], handing out one id per distinct name.
#[derive(Debug, Default)]
pub struct NameTableBuilder {
    table: NameTable,
    ids: HashMap<Box<str>, NameId>,
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
}
