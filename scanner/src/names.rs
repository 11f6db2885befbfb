//! Signature names, interned: every name is stored once in one string, and signatures refer to it by a `u32`.
//!
//! Real databases hold millions of signatures whose names repeat (one name for many hashes) and share long
//! prefixes (`Win.Trojan.Agent-`); a `String` per signature would cost a heap allocation and 24 bytes of header
//! each. The table is built once while a database loads and is read-only afterwards.

use crate::fasthash::FastHasher;

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

    /// Drops spare capacity (a table decoded by serde has some: it grows a vector from at most 1 MiB of room).
    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.spans.shrink_to_fit();
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.spans.capacity() * std::mem::size_of::<(u32, u32)>()
    }
}

/// Builds a [`NameTable`].
///
/// Two ways in, by how names repeat:
/// - [`NameTableBuilder::intern`] looks the name up and hands out one id per distinct name. Its map holds ids
///   only and compares through the table's text: no copy of a name, no allocation per name.
/// - [`NameTableBuilder::append`] adds the name unless it repeats the one added just before. Hash signatures
///   take this way: millions of lines whose names are nearly all distinct, and a repeated name is most often
///   the next line's (several hashes of one sample). Looking each up in a map of millions, a cache miss per
///   line, took 15 % of loading a set of 8.7 M signatures and saved nothing.
#[derive(Debug, Default)]
pub struct NameTableBuilder {
    table: NameTable,
    ids: hashbrown::HashTable<NameId>,
}

impl NameTableBuilder {
    /// The id of `name`, adding it on first sight. `None` once the table would pass 4 GiB of text or 2^32
    /// names, which no real database approaches.
    pub fn intern(&mut self, name: &str) -> Option<NameId> {
        let hash = FastHasher::hash_bytes(name.as_bytes());
        let table = &self.table;
        if let Some(&id) = self.ids.find(hash, |&id| table.get(id) == name) {
            return Some(id);
        }
        let id = self.push(name)?;
        let table = &self.table;
        self.ids.insert_unique(hash, id, |&id| FastHasher::hash_bytes(table.get(id).as_bytes()));
        Some(id)
    }

    /// The id of a new copy of `name`, or of the last name added when it is the same (see the type's doc).
    /// `None` as for [`NameTableBuilder::intern`]. The name is not entered in `intern`'s map.
    pub fn append(&mut self, name: &str) -> Option<NameId> {
        if let Some(last) = self.table.spans.len().checked_sub(1).and_then(|last| NameId::try_from(last).ok())
            && self.table.get(last) == name
        {
            return Some(last);
        }
        self.push(name)
    }

    /// Adds `name` to the table's text; its new id.
    fn push(&mut self, name: &str) -> Option<NameId> {
        let id = NameId::try_from(self.table.spans.len()).ok()?;
        let start = u32::try_from(self.table.text.len()).ok()?;
        let end = u32::try_from(self.table.text.len() + name.len()).ok()?;
        self.table.text.push_str(name);
        self.table.spans.push((start, end));
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
    fn appending_reuses_only_the_name_just_added() {
        let mut builder = NameTableBuilder::default();
        let a = builder.append("Win.Trojan.Agent-1").unwrap();
        assert_eq!(builder.append("Win.Trojan.Agent-1"), Some(a));
        let b = builder.append("Win.Trojan.Agent-2").unwrap();
        assert_ne!(a, b);
        let again = builder.append("Win.Trojan.Agent-1").unwrap();
        assert_ne!(again, a, "only the last name is compared");
        // A name appended is not in intern's map: interning it gives a new id, then that one.
        let interned = builder.intern("Win.Trojan.Agent-2").unwrap();
        assert_eq!(builder.intern("Win.Trojan.Agent-2"), Some(interned));
        let table = builder.finish();
        assert_eq!(table.len(), 4);
        assert_eq!(
            [a, b, again, interned].map(|id| table.get(id)),
            ["Win.Trojan.Agent-1", "Win.Trojan.Agent-2", "Win.Trojan.Agent-1", "Win.Trojan.Agent-2"]
        );
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
