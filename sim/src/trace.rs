//! The world's running trace hash and the names of its events.
//!
//! Every event the world records is mixed into a 64-bit FNV-style hash over words
//! (time, event kind, fields), so two runs can be compared for determinism without a
//! tracing subscriber, and `replay` can print one number that names a whole run.

/// What happened, as mixed into the trace hash. Names match the `tracing` messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Send = 1,
    Deliver = 2,
    Drop = 3,
    Duplicate = 4,
    Tick = 5,
    RoleChange = 6,
    Persist = 7,
    Persisted = 8,
    Crash = 9,
    Restart = 10,
    Partition = 11,
    Heal = 12,
    ClockSkew = 13,
    ClockJump = 14,
    ClientInvoke = 15,
    ClientComplete = 16,
    ClientTimeout = 17,
    NetworkRates = 18,
    TransferLeader = 19,
    Reorder = 20,
    FaultsCancelled = 22,
    Commit = 23,
    ClientPause = 24,
    Membership = 25,
    HostAdded = 26,
    HostRemoved = 27,
    ConfChange = 28,
    SlowLinks = 29,
    SlowDisk = 30,
    Armed = 31,
    Fired = 32,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// A running hash of the events of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceHash {
    hash: u64,
}

impl Default for TraceHash {
    fn default() -> Self {
        TraceHash { hash: FNV_OFFSET }
    }
}

impl TraceHash {
    /// Mixes one event: its time, its kind and up to a few integer fields.
    #[inline]
    pub fn record(&mut self, time_us: u64, kind: EventKind, fields: &[u64]) {
        self.mix(time_us);
        self.mix(kind as u64);
        for &f in fields {
            self.mix(f);
        }
    }

    #[inline]
    fn mix(&mut self, word: u64) {
        self.hash = (self.hash ^ word).wrapping_mul(FNV_PRIME);
    }

    /// The hash so far.
    pub fn value(&self) -> u64 {
        self.hash
    }
}

/// FNV-1a over bytes, for hashing message kinds and entry payloads into fields.
pub fn fnv_bytes(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h = (h ^ u64::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}
