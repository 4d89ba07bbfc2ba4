//! Plain data shared by the Raft core, its drivers and its storage: identifiers,
//! log entries, the hard state and snapshots. These are the values a driver must make
//! durable and hand back on restart.

use crate::process::RestoreError;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A member of the cluster. Zero is never a valid id.
pub type NodeId = u64;
/// A Raft term.
pub type Term = u64;
/// A position in the replicated log; the first entry has index 1.
pub type Index = u64;
/// Names one `Persist` output so the driver can acknowledge it (`persisted`).
pub type SyncId = u64;
/// The driver's name for a client request; responses carry it back.
pub type RequestId = u64;

/// What an entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// Application data (a proposal).
    Normal,
    /// The empty entry a new leader appends to commit entries of earlier terms
    /// (Raft §5.4.2, §8). Its data is empty.
    Noop,
    /// A membership change; its data is an encoded configuration.
    ConfChange,
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    pub term: Term,
    pub index: Index,
    pub kind: EntryKind,
    pub data: Bytes,
}

/// The state a node must make durable before it answers votes or appends (Figure 2:
/// "persistent state on all servers"), plus the commit index so a restart can re-apply.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct HardState {
    pub term: Term,
    pub vote: Option<NodeId>,
    pub commit: Index,
}

/// The membership: who votes and who only learns. A value, never hard-coded peers.
///
/// While a change is under way the configuration is joint (Raft thesis §4.3):
/// `voters` is the incoming voter set C_new and `voters_outgoing` the outgoing one
/// C_old; elections and commitment then need a majority of each. Outside a change
/// `voters_outgoing` is empty. Quorum arithmetic lives in `raft::quorum`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConfState {
    pub voters: BTreeSet<NodeId>,
    pub learners: BTreeSet<NodeId>,
    /// The outgoing voters of a joint configuration; empty when not joint.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub voters_outgoing: BTreeSet<NodeId>,
}

impl ConfState {
    /// A configuration of voters only.
    pub fn with_voters(voters: impl IntoIterator<Item = NodeId>) -> Self {
        ConfState {
            voters: voters.into_iter().collect(),
            learners: BTreeSet::new(),
            voters_outgoing: BTreeSet::new(),
        }
    }

    /// Every member (voters of either half, then learners), each once, in id order
    /// within each group.
    pub fn members(&self) -> impl Iterator<Item = NodeId> + '_ {
        self.voters
            .iter()
            .chain(self.voters_outgoing.iter().filter(|v| !self.voters.contains(v)))
            .chain(self.learners.iter())
            .copied()
    }

    /// Whether `id` votes in either half.
    pub fn is_voter(&self, id: NodeId) -> bool {
        self.voters.contains(&id) || self.voters_outgoing.contains(&id)
    }

    /// Whether `id` is a voter or a learner.
    pub fn contains(&self, id: NodeId) -> bool {
        self.is_voter(id) || self.learners.contains(&id)
    }

    /// Whether a change is half done (C_old,new).
    pub fn is_joint(&self) -> bool {
        !self.voters_outgoing.is_empty()
    }
}

impl std::fmt::Display for ConfState {
    /// `voters=(1 2 3)` with `&&(1 2 4)`-style outgoing half and `learners=(5)` when present.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        fn set(f: &mut std::fmt::Formatter<'_>, s: &BTreeSet<NodeId>) -> std::fmt::Result {
            f.write_str("(")?;
            for (i, id) in s.iter().enumerate() {
                if i > 0 {
                    f.write_str(" ")?;
                }
                write!(f, "{id}")?;
            }
            f.write_str(")")
        }
        f.write_str("voters=")?;
        set(f, &self.voters)?;
        if self.is_joint() {
            f.write_str("&&")?;
            set(f, &self.voters_outgoing)?;
        }
        if !self.learners.is_empty() {
            f.write_str(" learners=")?;
            set(f, &self.learners)?;
        }
        Ok(())
    }
}

/// Where a snapshot sits in the log and the membership at that point.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SnapshotMeta {
    pub index: Index,
    pub term: Term,
    pub conf: ConfState,
}

/// The application state up to `meta.index`, opaque to Raft.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    pub meta: SnapshotMeta,
    pub data: SnapshotData,
}

/// An application state that encodes itself on demand (see [`SnapshotData::Image`]).
pub trait SnapshotImage: Send + Sync {
    /// Writes the encoded image to `out`; the same state always gives the same bytes.
    fn encode_into(&self, out: &mut dyn std::io::Write) -> std::io::Result<()>;
}

/// A snapshot's image: the encoded bytes, or the state itself, encoded only where bytes
/// are needed.
///
/// Why both: an image taken here would otherwise be encoded at once and its bytes
/// (tens of megabytes) held by Raft until the next snapshot, in case a follower falls
/// behind. The application's state is made of persistent maps, so holding it costs
/// only the parts changed since, and whoever needs bytes (a peer link sending it, the
/// disk writing its file) encodes it off the core's path. Equality, hashing and
/// serialization are those of the encoded bytes, whichever form holds them.
#[derive(Clone)]
pub enum SnapshotData {
    /// Read from a disk or received from a peer.
    Bytes(Bytes),
    /// Taken here.
    Image(std::sync::Arc<dyn SnapshotImage>),
}

impl SnapshotData {
    /// The encoded image (a new buffer for an `Image`, shared bytes otherwise).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            SnapshotData::Bytes(b) => b.clone(),
            SnapshotData::Image(image) => {
                let mut buf = Vec::new();
                image.encode_into(&mut buf).expect("writing to a Vec cannot fail");
                Bytes::from(buf)
            }
        }
    }

    /// Writes the encoded image to `out` without buffering all of it.
    pub fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            SnapshotData::Bytes(b) => out.write_all(b),
            SnapshotData::Image(image) => image.encode_into(out),
        }
    }
}

impl Default for SnapshotData {
    fn default() -> Self {
        SnapshotData::Bytes(Bytes::new())
    }
}

impl From<Bytes> for SnapshotData {
    fn from(bytes: Bytes) -> Self {
        SnapshotData::Bytes(bytes)
    }
}

impl std::fmt::Debug for SnapshotData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotData::Bytes(b) => write!(f, "{b:?}"),
            SnapshotData::Image(_) => f.write_str("<image encoded on demand>"),
        }
    }
}

impl PartialEq for SnapshotData {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (SnapshotData::Image(a), SnapshotData::Image(b)) if std::sync::Arc::ptr_eq(a, b) => {
                true
            }
            _ => self.to_bytes() == other.to_bytes(),
        }
    }
}

impl Eq for SnapshotData {}

impl std::hash::Hash for SnapshotData {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_bytes().hash(state);
    }
}

impl Serialize for SnapshotData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_bytes().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SnapshotData {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Bytes::deserialize(deserializer).map(SnapshotData::Bytes)
    }
}

/// Everything a node made durable: what a driver hands to the constructor on restart.
///
/// `entries` follow `snapshot` without a gap (the first entry, if any, has index
/// `snapshot.meta.index + 1`, or 1 with no snapshot).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DurableState {
    pub hard_state: HardState,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

/// One request to make state durable. The driver applies the parts in this order:
/// `snapshot` (replace the log up to its index; drop every entry at or below it and any
/// that conflict with it), then `entries` (truncate the log after
/// `entries[0].index - 1`, then append), then `hard_state`. When all of it is on stable
/// storage the driver calls `persisted(sync)`. Persist requests are acknowledged in
/// order: acknowledging one acknowledges every earlier one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PersistOp {
    pub sync: SyncId,
    pub hard_state: Option<HardState>,
    pub snapshot: Option<Snapshot>,
    pub entries: Vec<Entry>,
}

impl DurableState {
    /// Applies a persist request exactly as its documentation says a driver must.
    /// Drivers (the simulator's disk, the real node's WAL replay) share this so they
    /// cannot disagree on what a request means.
    pub fn apply(&mut self, op: &PersistOp) {
        if let Some(snap) = &op.snapshot {
            let keep_from = snap.meta.index + 1;
            let consistent = self
                .entries
                .iter()
                .find(|e| e.index == snap.meta.index)
                .is_some_and(|e| e.term == snap.meta.term);
            if consistent {
                self.entries.retain(|e| e.index >= keep_from);
            } else {
                self.entries.clear();
            }
            self.snapshot = Some(snap.clone());
        }
        if let Some(first) = op.entries.first() {
            self.entries.retain(|e| e.index < first.index);
            self.entries.extend(op.entries.iter().cloned());
        }
        if let Some(hs) = op.hard_state {
            self.hard_state = hs;
        }
    }

    /// Checks what Raft relies on when it rebuilds itself from this state: after the
    /// snapshot the entries are contiguous, their terms never decrease (starting from
    /// the snapshot's), and the commit index does not pass the last entry. Entries at or below the snapshot's index are
    /// ignored on restore, as they are covered by it. Payloads are the node type's
    /// business.
    pub fn check(&self) -> Result<(), RestoreError> {
        let (snap_index, snap_term) =
            self.snapshot.as_ref().map_or((0, 0), |s| (s.meta.index, s.meta.term));
        let (mut last_index, mut last_term) = (snap_index, snap_term);
        for e in self.entries.iter().filter(|e| e.index > snap_index) {
            if e.index != last_index + 1 {
                return Err(RestoreError::LogGap { expected: last_index + 1, found: e.index });
            }
            if e.term < last_term {
                let (index, term, previous) = (e.index, e.term, last_term);
                return Err(RestoreError::LogTermDecreases { index, term, previous });
            }
            (last_index, last_term) = (e.index, e.term);
        }
        let commit = self.hard_state.commit;
        if commit > last_index {
            return Err(RestoreError::CommitBeyondLog { commit, last_index });
        }
        Ok(())
    }

    /// Index of the last durable entry (or of the snapshot when the log is empty).
    pub fn last_index(&self) -> Index {
        self.entries
            .last()
            .map(|e| e.index)
            .or_else(|| self.snapshot.as_ref().map(|s| s.meta.index))
            .unwrap_or(0)
    }
}
