//! The etcd server state machine's throughput, driven in one thread with disks that
//! acknowledge at once (the in-test cluster driver of `tests/server_net`), taking a
//! snapshot every 1000 entries.
//!
//! - `put_batch_3_nodes`: 64 puts (16-byte keys, 64-byte values) handed to the leader
//!   of a 3-member cluster, then delivered until all are answered (elements = puts);
//!   history is compacted to the last ~1000 revisions every 1024 puts.
//! - `linearizable_get_batch_follower`: 64 ReadIndex ranges on a follower.
//! - `serializable_get`: one local range on a follower.

#[path = "../tests/server_net/mod.rs"]
mod server_net;

use bytes::Bytes;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use detcd_core::api::{CompactionRequest, PutRequest, RangeRequest};
use detcd_core::server::Request;
use server_net::Cluster;

const BATCH: u64 = 64;

fn key(i: u64) -> Bytes {
    Bytes::from(format!("key-{:012}", i % 1000))
}

fn answer_all(c: &mut Cluster, ids: &[u64]) {
    c.deliver();
    for _ in 0..100 {
        if ids.iter().all(|id| c.answers.contains_key(id)) {
            c.sent_at.clear();
            c.sent_to.clear();
            c.answered_at.clear();
            return;
        }
        c.tick();
    }
    panic!("batch not answered");
}

fn bench(cr: &mut Criterion) {
    let mut g = cr.benchmark_group("server");
    g.throughput(Throughput::Elements(BATCH));
    // Snapshots bound the in-memory disks' logs, which the driver rewrites per persist.
    let configs = (1..=3)
        .map(|id| {
            let mut cfg = server_net::config(id, 3);
            cfg.snapshot_entries = 1000;
            cfg
        })
        .collect();
    let mut c = Cluster::with_configs(configs);
    let leader = c.elect();
    let follower = c.followers()[0];
    let value = Bytes::from(vec![b'v'; 64]);
    let mut n = 0u64;
    g.bench_function("put_batch_3_nodes", |b| {
        b.iter(|| {
            let ids: Vec<u64> = (0..BATCH)
                .map(|_| {
                    n += 1;
                    let put =
                        PutRequest { key: key(n), value: value.clone(), ..Default::default() };
                    c.submit(leader, Request::Put(put))
                })
                .collect();
            answer_all(&mut c, &ids);
            // Keep about 1000 revisions of history, as an auto-compacting etcd would.
            let rev = c.node(leader).store().current_revision() - 1000;
            if rev > 1 && n.is_multiple_of(1024) {
                let req = CompactionRequest { revision: rev, physical: false };
                let id = c.submit(leader, Request::Compact(req));
                answer_all(&mut c, &[id]);
            }
            c.answers.clear();
        })
    });
    g.bench_function("linearizable_get_batch_follower", |b| {
        b.iter(|| {
            let ids: Vec<u64> = (0..BATCH)
                .map(|i| {
                    let r = RangeRequest { key: key(i), ..Default::default() };
                    c.submit(follower, Request::Range(r))
                })
                .collect();
            answer_all(&mut c, &ids);
            c.answers.clear();
        })
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("serializable_get", |b| {
        b.iter(|| {
            let r = RangeRequest { key: key(7), serializable: true, ..Default::default() };
            let id = c.submit(follower, Request::Range(r));
            black_box(c.answers.remove(&id).expect("answered at once"));
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
