//! A deterministic hash of the store's retained history up to a revision, so replicas
//! can be compared (etcd's HashKV serves the same purpose).

use super::Store;
use crate::api::{EtcdError, HashKvResponse, ResponseHeader};

/// 64-bit FNV-1a, written out so the value never depends on a library version.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn bytes(&mut self, b: &[u8]) {
        self.int(b.len() as i64);
        for &x in b {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(Fnv::PRIME);
        }
    }

    fn int(&mut self, n: i64) {
        for x in n.to_le_bytes() {
            self.0 ^= u64::from(x);
            self.0 = self.0.wrapping_mul(Fnv::PRIME);
        }
    }
}

impl Store {
    /// Hash of every retained version with mod revision <= `rev` (0 = current), in key
    /// then revision order.
    pub fn hash(&self, rev: i64) -> Result<u64, EtcdError> {
        self.check_revision(rev)?;
        let rev = if rev <= 0 { self.current_rev } else { rev };
        let mut h = Fnv(Fnv::OFFSET);
        for (k, versions) in self.keys.iter() {
            let upto = versions.partition_point(|v| v.mod_rev <= rev);
            if upto == 0 {
                continue;
            }
            h.bytes(k.as_slice());
            for v in &versions[..upto] {
                h.int(v.mod_rev);
                h.int(i64::from(v.sub));
                h.int(v.create_rev);
                h.int(v.version);
                h.int(v.lease);
                h.bytes(&v.value);
            }
        }
        Ok(h.0)
    }

    /// The HashKV answer: the hash folded to 32 bits plus the compaction revision.
    pub fn hash_kv(&self, rev: i64) -> Result<HashKvResponse, EtcdError> {
        let h = self.hash(rev)?;
        Ok(HashKvResponse {
            header: ResponseHeader::at(self.current_rev),
            hash: (h ^ (h >> 32)) as u32,
            compact_revision: self.compact_rev,
        })
    }
}
