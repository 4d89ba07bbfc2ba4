//! Naming the client write behind a Raft safety violation: the simulator reports the
//! committed entry that was lost or replaced; this reads the etcd proposal in it and
//! finds the client operation that sent it, so a student sees "client 4's put k1=v17,
//! acknowledged at 0.130s" rather than a log index.

use crate::workload::{OpKind, OpRecord};
use detcd_core::api::RequestOp;
use detcd_core::server::{Op, Proposal};
use detcd_core::types::{Entry, EntryKind};
use detcd_sim::Violation;

fn secs(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The (key, value) pairs an operation writes, as the workload spells them.
fn puts(op: &Op) -> Vec<(String, String)> {
    fn from_ops(ops: &[RequestOp], out: &mut Vec<(String, String)>) {
        for op in ops {
            match op {
                RequestOp::Put(p) => out.push((text(&p.key), text(&p.value))),
                RequestOp::Txn(t) => {
                    from_ops(&t.success, out);
                    from_ops(&t.failure, out);
                }
                RequestOp::Range(_) | RequestOp::DeleteRange(_) => {}
            }
        }
    }
    let mut out = Vec::new();
    match op {
        Op::Put(p) => out.push((text(&p.key), text(&p.value))),
        Op::Txn(t) => {
            from_ops(&t.success, &mut out);
            from_ops(&t.failure, &mut out);
        }
        _ => {}
    }
    out
}

/// What a proposal asks for, in the words the step log uses.
fn describe_op(op: &Op) -> String {
    match op {
        Op::Put(p) => format!("put {}={}", text(&p.key), text(&p.value)),
        Op::DeleteRange(d) => format!("delete {}", text(&d.key)),
        Op::Txn(_) => "a transaction".to_string(),
        Op::Compact(c) => format!("compact {}", c.revision),
        Op::LeaseGrant(_) => "a lease grant".to_string(),
        Op::LeaseRevoke(r) => format!("lease revoke {:x}", r.id),
        Op::LeaseExpire(r) => format!("the expiry of lease {:x}", r.id),
        Op::LeaseCheckpoint(_) => "a lease checkpoint".to_string(),
        Op::LeaseKeepAlive(_) => "a lease keep-alive".to_string(),
        Op::Auth(_) => "an auth change".to_string(),
        Op::Member(_) => "a membership change".to_string(),
    }
}

/// The client operation that sent a write of `key`=`value`.
fn sender<'a>(records: &'a [OpRecord], key: &str, value: &str) -> Option<&'a OpRecord> {
    records.iter().find(|r| match &r.kind {
        OpKind::Put { key: k, value: v }
        | OpKind::Cas { key: k, value: v, .. }
        | OpKind::LeasePut { key: k, value: v, .. } => k == key && v == value,
        _ => false,
    })
}

/// One sentence naming the write that `entry` carried and the client that sent it.
pub fn describe_entry(entry: &Entry, records: &[OpRecord]) -> String {
    let at = format!("log index {} (term {})", entry.index, entry.term);
    match entry.kind {
        EntryKind::Noop => {
            return format!("the lost entry at {at} is a new leader's empty entry, no client write")
        }
        EntryKind::ConfChange => return format!("the lost entry at {at} is a membership change"),
        EntryKind::Normal => {}
    }
    let Ok(proposal) = Proposal::decode(&entry.data) else {
        return format!("the lost entry at {at} holds no etcd request");
    };
    let op = describe_op(&proposal.op);
    let found = puts(&proposal.op).into_iter().find_map(|(k, v)| sender(records, &k, &v));
    match found {
        Some(r) => format!(
            "the lost write is client {}'s {} (sent to node {} at {}, answered {} at {}), at {at}",
            r.client,
            r.kind.describe(),
            r.node,
            secs(r.invoke_us),
            r.outcome.label(),
            secs(r.complete_us)
        ),
        None => format!("the lost entry at {at} is {op}"),
    }
}

/// The violation in words, with the client write it lost named where there is one.
pub fn describe(v: &Violation, records: &[OpRecord]) -> String {
    match &v.lost_entry {
        Some(e) => format!("{v}; {}", describe_entry(e, records)),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::OpOutcome;
    use bytes::Bytes;
    use detcd_core::api::PutRequest;
    use detcd_core::server::ProposalId;
    use detcd_sim::ViolationKind;

    fn put_entry(key: &str, value: &str) -> Entry {
        let proposal = Proposal {
            id: Some(ProposalId { origin: 1, incarnation: 0, seq: 3 }),
            op: Op::Put(PutRequest {
                key: Bytes::from(key.to_string()),
                value: Bytes::from(value.to_string()),
                ..PutRequest::default()
            }),
            caller: None,
        };
        Entry { term: 1, index: 12, kind: EntryKind::Normal, data: proposal.encode() }
    }

    fn record(client: u64, key: &str, value: &str) -> OpRecord {
        OpRecord {
            client,
            node: 2,
            incarnation: 0,
            kind: OpKind::Put { key: key.into(), value: value.into() },
            invoke_us: 100_000,
            complete_us: 130_000,
            outcome: OpOutcome::Unknown(None),
        }
    }

    #[test]
    fn names_the_client_that_sent_the_lost_write() {
        let records = vec![record(3, "k1", "v1"), record(4, "k1", "v17")];
        let v = Violation {
            at_us: 332_343,
            node: 3,
            kind: ViolationKind::LeaderMissingCommitted { index: 12, term: 1 },
            lost_entry: Some(put_entry("k1", "v17")),
        };
        let text = describe(&v, &records);
        assert!(text.starts_with("safety violation at 0.332343s on node 3: it became leader without the entry committed at log index 12"), "{text}");
        assert!(
            text.contains("the lost write is client 4's put k1=v17 (sent to node 2 at 0.100000s"),
            "{text}"
        );
        assert!(!text.contains("LeaderMissingCommitted"), "no Rust names: {text}");
    }

    #[test]
    fn an_unmatched_or_empty_entry_is_still_described() {
        assert_eq!(
            describe_entry(&put_entry("k9", "zz"), &[]),
            "the lost entry at log index 12 (term 1) is put k9=zz"
        );
        let noop = Entry { term: 2, index: 5, kind: EntryKind::Noop, data: Bytes::new() };
        assert!(describe_entry(&noop, &[]).contains("empty entry, no client write"));
    }
}
