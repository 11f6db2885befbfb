//! Hash signatures (`.hdb`, `.hsb`, `.fp`, ...): a compact store and the one-pass part hasher.
//!
//! A database can hold millions of hashes, so they are kept as fixed-width records in sorted arrays, one table
//! per digest width, with no allocation per signature: a 16-byte MD5 record costs 16 bytes of digest, 4 bytes of
//! name id and a share of the size index. Records are sorted by (size, digest); the distinct sizes form an
//! index, so asking "does any signature have this size?" is one binary search over the sizes and needs no
//! hashing at all. That is what keeps hashing off the hot path: a part is hashed only when its size occurs in
//! the store or the store has size-less (`*`) entries, and then only with the algorithms those entries use.

use md5::Digest as _;

use crate::names::NameId;

/// The digest algorithms ClamAV hash signatures use, told apart by the digest's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HashAlgorithm {
    /// 16-byte digest.
    Md5,
    /// 20-byte digest.
    Sha1,
    /// 32-byte digest.
    Sha256,
}

impl HashAlgorithm {
    /// The algorithm whose digests are `len` bytes long.
    pub fn from_digest_len(len: usize) -> Option<Self> {
        match len {
            16 => Some(HashAlgorithm::Md5),
            20 => Some(HashAlgorithm::Sha1),
            32 => Some(HashAlgorithm::Sha256),
            _ => None,
        }
    }

    fn bit(self) -> u8 {
        match self {
            HashAlgorithm::Md5 => 1,
            HashAlgorithm::Sha1 => 2,
            HashAlgorithm::Sha256 => 4,
        }
    }
}

/// A set of [`HashAlgorithm`]s: which digests a part needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlgorithmSet(u8);

impl AlgorithmSet {
    /// The set of one algorithm.
    pub fn only(algorithm: HashAlgorithm) -> AlgorithmSet {
        AlgorithmSet(algorithm.bit())
    }

    /// Whether no algorithm is needed (the common case: the part is not hashed).
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether `algorithm` is in the set.
    pub fn contains(self, algorithm: HashAlgorithm) -> bool {
        self.0 & algorithm.bit() != 0
    }

    /// The algorithms of both sets.
    pub fn union(self, other: AlgorithmSet) -> AlgorithmSet {
        AlgorithmSet(self.0 | other.0)
    }

    fn insert(&mut self, algorithm: HashAlgorithm) {
        self.0 |= algorithm.bit();
    }
}

/// The digests of one part, for the algorithms that were asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PartDigests {
    /// MD5, when asked for.
    pub md5: Option<[u8; 16]>,
    /// SHA-1, when asked for.
    pub sha1: Option<[u8; 20]>,
    /// SHA-256, when asked for.
    pub sha256: Option<[u8; 32]>,
}

/// Computes the digests in `algorithms` in one pass over the bytes fed to it.
pub struct PartHasher {
    md5: Option<md5::Md5>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
}

impl PartHasher {
    /// A hasher for the algorithms in `algorithms`.
    pub fn new(algorithms: AlgorithmSet) -> Self {
        PartHasher {
            md5: algorithms.contains(HashAlgorithm::Md5).then(md5::Md5::new),
            sha1: algorithms.contains(HashAlgorithm::Sha1).then(sha1::Sha1::new),
            sha256: algorithms.contains(HashAlgorithm::Sha256).then(sha2::Sha256::new),
        }
    }

    /// Feeds the next bytes of the part.
    pub fn update(&mut self, bytes: &[u8]) {
        if let Some(hasher) = &mut self.md5 {
            hasher.update(bytes);
        }
        if let Some(hasher) = &mut self.sha1 {
            hasher.update(bytes);
        }
        if let Some(hasher) = &mut self.sha256 {
            hasher.update(bytes);
        }
    }

    /// The digests of everything fed.
    pub fn finish(self) -> PartDigests {
        PartDigests {
            md5: self.md5.map(|hasher| hasher.finalize().into()),
            sha1: self.sha1.map(|hasher| hasher.finalize().into()),
            sha256: self.sha256.map(|hasher| hasher.finalize().into()),
        }
    }
}

/// One digest width's records, sorted by (size, digest); size-less records apart, sorted by digest.
#[derive(Debug, Clone)]
struct Table<const N: usize> {
    /// The distinct sizes, ascending.
    sizes: Vec<u64>,
    /// `starts[i]..starts[i + 1]` are the records of `sizes[i]`; one more entry than `sizes`.
    starts: Vec<u32>,
    digests: Vec<[u8; N]>,
    names: Vec<NameId>,
    any_size_digests: Vec<[u8; N]>,
    any_size_names: Vec<NameId>,
}

/// A table in the compiled definitions form: the digests as one run of bytes each (copied back in one pass,
/// not decoded digest by digest), the rest as they are.
impl<const N: usize> serde::Serialize for Table<N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeTuple as _;
        let mut tuple = serializer.serialize_tuple(6)?;
        tuple.serialize_element(&self.sizes)?;
        tuple.serialize_element(&self.starts)?;
        tuple.serialize_element(&Digests(&self.digests))?;
        tuple.serialize_element(&self.names)?;
        tuple.serialize_element(&Digests(&self.any_size_digests))?;
        tuple.serialize_element(&self.any_size_names)?;
        tuple.end()
    }
}

impl<'de, const N: usize> serde::Deserialize<'de> for Table<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TableVisitor<const N: usize>;
        impl<'de, const N: usize> serde::de::Visitor<'de> for TableVisitor<N> {
            type Value = Table<N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a hash table of {N}-byte digests")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Table<N>, A::Error> {
                fn next<'de, T: serde::Deserialize<'de>, A: serde::de::SeqAccess<'de>>(
                    seq: &mut A,
                    index: usize,
                ) -> Result<T, A::Error> {
                    seq.next_element()?.ok_or_else(|| serde::de::Error::invalid_length(index, &"six fields"))
                }
                // serde grows a decoded vector from at most 1 MiB of room: each is trimmed to its length, as
                // a table built from source is.
                fn trimmed<T>(mut vector: Vec<T>) -> Vec<T> {
                    vector.shrink_to_fit();
                    vector
                }
                let sizes: Vec<u64> = next(&mut seq, 0).map(trimmed)?;
                let starts: Vec<u32> = next(&mut seq, 1).map(trimmed)?;
                let digests: DigestsOwned<N> = next(&mut seq, 2)?;
                let names: Vec<NameId> = next(&mut seq, 3).map(trimmed)?;
                let any_size_digests: DigestsOwned<N> = next(&mut seq, 4)?;
                let any_size_names: Vec<NameId> = next(&mut seq, 5).map(trimmed)?;
                Ok(Table {
                    sizes,
                    starts,
                    digests: digests.0,
                    names,
                    any_size_digests: any_size_digests.0,
                    any_size_names,
                })
            }
        }
        deserializer.deserialize_tuple(6, TableVisitor::<N>)
    }
}

/// Digests serialized as one byte string.
struct Digests<'a, const N: usize>(&'a [[u8; N]]);

impl<const N: usize> serde::Serialize for Digests<'_, N> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0.as_flattened())
    }
}

/// Digests read back from one byte string.
struct DigestsOwned<const N: usize>(Vec<[u8; N]>);

impl<'de, const N: usize> serde::Deserialize<'de> for DigestsOwned<N> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct BytesVisitor<const N: usize>;
        impl<const N: usize> serde::de::Visitor<'_> for BytesVisitor<N> {
            type Value = DigestsOwned<N>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "a byte string of {N}-byte digests")
            }
            fn visit_bytes<E: serde::de::Error>(self, bytes: &[u8]) -> Result<DigestsOwned<N>, E> {
                let (digests, rest) = bytes.as_chunks::<N>();
                if !rest.is_empty() {
                    return Err(E::invalid_length(bytes.len(), &self));
                }
                Ok(DigestsOwned(digests.to_vec()))
            }
        }
        deserializer.deserialize_bytes(BytesVisitor::<N>)
    }
}

impl<const N: usize> Default for Table<N> {
    fn default() -> Self {
        Table {
            sizes: Vec::new(),
            starts: vec![0],
            digests: Vec::new(),
            names: Vec::new(),
            any_size_digests: Vec::new(),
            any_size_names: Vec::new(),
        }
    }
}

impl<const N: usize> Table<N> {
    fn build(mut sized: Vec<(u64, [u8; N], NameId)>, mut any_size: Vec<([u8; N], NameId)>) -> Self {
        sized.sort_unstable();
        sized.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1 && a.2 == b.2);
        any_size.sort_unstable();
        any_size.dedup();
        let mut table = Table::default();
        table.starts.clear();
        table.digests.reserve_exact(sized.len());
        table.names.reserve_exact(sized.len());
        for (index, (size, digest, name)) in sized.into_iter().enumerate() {
            if table.sizes.last() != Some(&size) {
                table.sizes.push(size);
                table.starts.push(u32::try_from(index).unwrap_or(u32::MAX));
            }
            table.digests.push(digest);
            table.names.push(name);
        }
        table.starts.push(u32::try_from(table.digests.len()).unwrap_or(u32::MAX));
        table.sizes.shrink_to_fit();
        table.starts.shrink_to_fit();
        (table.any_size_digests, table.any_size_names) = any_size.into_iter().unzip();
        table
    }

    fn len(&self) -> usize {
        self.digests.len() + self.any_size_digests.len()
    }

    fn has_size(&self, size: u64) -> bool {
        !self.any_size_digests.is_empty() || self.sizes.binary_search(&size).is_ok()
    }

    /// Every name whose record has this digest and this size (or any size), sized records first.
    fn lookup(&self, size: u64, digest: &[u8; N], found: &mut Vec<NameId>) {
        if let Ok(index) = self.sizes.binary_search(&size) {
            let start = self.starts.get(index).copied().unwrap_or(0) as usize;
            let end = self.starts.get(index + 1).copied().unwrap_or(0) as usize;
            if let (Some(digests), Some(names)) = (self.digests.get(start..end), self.names.get(start..end)) {
                let first = digests.partition_point(|d| d < digest);
                for (d, &name) in digests[first..].iter().zip(&names[first..]) {
                    if d != digest {
                        break;
                    }
                    found.push(name);
                }
            }
        }
        let first = self.any_size_digests.partition_point(|d| d < digest);
        for (d, &name) in self.any_size_digests[first..].iter().zip(&self.any_size_names[first..]) {
            if d != digest {
                break;
            }
            found.push(name);
        }
    }

    fn heap_bytes(&self) -> usize {
        self.sizes.capacity() * 8
            + self.starts.capacity() * 4
            + (self.digests.capacity() + self.any_size_digests.capacity()) * N
            + (self.names.capacity() + self.any_size_names.capacity()) * 4
    }
}

/// Hash signatures of whole parts, by algorithm.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct HashStore {
    md5: Table<16>,
    sha1: Table<20>,
    sha256: Table<32>,
}

impl HashStore {
    /// The algorithms a part of `size` bytes must be hashed with; empty for most parts.
    pub fn algorithms_for(&self, size: u64) -> AlgorithmSet {
        let mut set = AlgorithmSet::default();
        if self.md5.has_size(size) {
            set.insert(HashAlgorithm::Md5);
        }
        if self.sha1.has_size(size) {
            set.insert(HashAlgorithm::Sha1);
        }
        if self.sha256.has_size(size) {
            set.insert(HashAlgorithm::Sha256);
        }
        set
    }

    /// Appends to `found` the names of every signature matching these digests of a part of `size` bytes.
    pub fn lookup(&self, size: u64, digests: &PartDigests, found: &mut Vec<NameId>) {
        if let Some(digest) = &digests.md5 {
            self.md5.lookup(size, digest, found);
        }
        if let Some(digest) = &digests.sha1 {
            self.sha1.lookup(size, digest, found);
        }
        if let Some(digest) = &digests.sha256 {
            self.sha256.lookup(size, digest, found);
        }
    }

    /// The number of signatures held.
    pub fn len(&self) -> usize {
        self.md5.len() + self.sha1.len() + self.sha256.len()
    }

    /// Whether no signature is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of memory held.
    pub fn heap_bytes(&self) -> usize {
        self.md5.heap_bytes() + self.sha1.heap_bytes() + self.sha256.heap_bytes()
    }
}

/// Records of one digest width before sorting: sized ones and size-less (`*`) ones.
type Pending<const N: usize> = (Vec<(u64, [u8; N], NameId)>, Vec<([u8; N], NameId)>);

/// Collects hash signatures, then sorts them into a [`HashStore`].
#[derive(Debug, Default)]
pub struct HashStoreBuilder {
    md5: Pending<16>,
    sha1: Pending<20>,
    sha256: Pending<32>,
}

fn push<const N: usize>(lists: &mut Pending<N>, digest: &[u8], size: Option<u64>, name: NameId) -> bool {
    let Ok(digest) = <[u8; N]>::try_from(digest) else { return false };
    match size {
        Some(size) => lists.0.push((size, digest, name)),
        None => lists.1.push((digest, name)),
    }
    true
}

impl HashStoreBuilder {
    /// Adds one signature: its digest (16, 20 or 32 bytes), the part size it applies to (`None` for `*`) and its
    /// name. Returns `false`, adding nothing, when the digest length is none of the three.
    pub fn add(&mut self, digest: &[u8], size: Option<u64>, name: NameId) -> bool {
        match HashAlgorithm::from_digest_len(digest.len()) {
            Some(HashAlgorithm::Md5) => push(&mut self.md5, digest, size, name),
            Some(HashAlgorithm::Sha1) => push(&mut self.sha1, digest, size, name),
            Some(HashAlgorithm::Sha256) => push(&mut self.sha256, digest, size, name),
            None => false,
        }
    }

    /// The sorted store.
    pub fn finish(self) -> HashStore {
        HashStore {
            md5: Table::build(self.md5.0, self.md5.1),
            sha1: Table::build(self.sha1.0, self.sha1.1),
            sha256: Table::build(self.sha256.0, self.sha256.1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digests_of(bytes: &[u8]) -> PartDigests {
        let mut all = AlgorithmSet::default();
        all.insert(HashAlgorithm::Md5);
        all.insert(HashAlgorithm::Sha1);
        all.insert(HashAlgorithm::Sha256);
        let mut hasher = PartHasher::new(all);
        hasher.update(bytes);
        hasher.finish()
    }

    #[test]
    fn known_digests_of_abc() {
        let digests = digests_of(b"abc");
        assert_eq!(digests.md5.unwrap()[..4], [0x90, 0x01, 0x50, 0x98]);
        assert_eq!(digests.sha1.unwrap()[..4], [0xa9, 0x99, 0x3e, 0x36]);
        assert_eq!(digests.sha256.unwrap()[..4], [0xba, 0x78, 0x16, 0xbf]);
    }

    #[test]
    fn only_parts_of_a_listed_size_need_hashing() {
        let mut builder = HashStoreBuilder::default();
        let digests = digests_of(b"abc");
        assert!(builder.add(&digests.md5.unwrap(), Some(3), 0));
        assert!(builder.add(&digests.sha256.unwrap(), Some(3), 1));
        assert!(builder.add(&[0; 16], Some(1000), 2));
        assert!(!builder.add(&[0; 15], Some(3), 3));
        let store = builder.finish();
        assert_eq!(store.len(), 3);
        assert!(store.algorithms_for(4).is_empty());
        let needed = store.algorithms_for(3);
        assert!(needed.contains(HashAlgorithm::Md5) && needed.contains(HashAlgorithm::Sha256));
        assert!(!needed.contains(HashAlgorithm::Sha1));
        let mut found = Vec::new();
        store.lookup(3, &digests, &mut found);
        assert_eq!(found, [0, 1]);
        found.clear();
        store.lookup(1000, &digests, &mut found);
        assert!(found.is_empty());
    }

    #[test]
    fn any_size_entries_make_every_part_hashed() {
        let mut builder = HashStoreBuilder::default();
        let digests = digests_of(b"abc");
        builder.add(&digests.sha1.unwrap(), None, 7);
        let store = builder.finish();
        assert_eq!(store.algorithms_for(12345), {
            let mut set = AlgorithmSet::default();
            set.insert(HashAlgorithm::Sha1);
            set
        });
        let mut found = Vec::new();
        store.lookup(3, &digests, &mut found);
        assert_eq!(found, [7]);
    }

    #[test]
    fn same_size_many_digests_finds_each() {
        let mut builder = HashStoreBuilder::default();
        for i in 0..=255u8 {
            builder.add(&[i; 16], Some(10), u32::from(i));
        }
        let store = builder.finish();
        for i in [0u8, 1, 128, 255] {
            let mut found = Vec::new();
            store.lookup(10, &PartDigests { md5: Some([i; 16]), ..Default::default() }, &mut found);
            assert_eq!(found, [u32::from(i)]);
        }
    }
}
