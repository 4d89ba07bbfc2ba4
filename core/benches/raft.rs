//! Raft per-step cost of one node: a follower handles an append of one 64-byte entry
//! (step + drain + persisted ack; compaction amortised in). Whole-cluster throughput
//! is measured through the step cluster in `detcd-sim`'s `raft` bench.

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use detcd_core::raft::{Config, Message, MessageBody, RaftNode, RaftOutput};
use detcd_core::types::{DurableState, Entry, EntryKind, Snapshot};

fn follower_append_one(c: &mut Criterion) {
    let mut node = RaftNode::new(Config::new(2, vec![1, 2, 3], 2), DurableState::default());
    let mut out = Vec::new();
    let payload = Bytes::from(vec![7u8; 64]);
    let mut last = 0u64;
    let mut g = c.benchmark_group("raft");
    g.throughput(Throughput::Elements(1));
    g.bench_function("follower_append_one_64B", |b| {
        b.iter(|| {
            let entry =
                Entry { term: 1, index: last + 1, kind: EntryKind::Normal, data: payload.clone() };
            let body = MessageBody::Append {
                prev_index: last,
                prev_term: if last == 0 { 0 } else { 1 },
                entries: vec![entry],
                commit: last,
            };
            node.step(Message { from: 1, to: 2, term: 1, body });
            node.drain(&mut out);
            let mut sync = None;
            for o in out.drain(..) {
                if let RaftOutput::Persist(op) = o {
                    sync = Some(op.sync);
                }
            }
            if let Some(s) = sync {
                node.persisted(s);
            }
            last += 1;
            if last.is_multiple_of(65_536) {
                node.drain(&mut out);
                out.clear();
                let mut snap = Snapshot::default();
                snap.meta.index = node.status().applied;
                node.compact(snap);
                node.drain(&mut out);
                out.clear();
            }
            black_box(&out);
        })
    });
    g.finish();
}

criterion_group!(benches, follower_append_one);
criterion_main!(benches);
