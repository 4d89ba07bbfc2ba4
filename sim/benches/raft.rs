//! Raft throughput through the step cluster: a 3-node `RaftProcess` cluster whose
//! disks acknowledge at once (sends held in each node's outbox until then), committing
//! batches of 64-byte proposals (elements = entries). Every step is safety-checked, as
//! in every step cluster; nothing is formatted (`set_quiet`).

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use detcd_core::process::Process;
use detcd_sim::raft_process::{RaftProcess, RaftProcessConfig};
use detcd_sim::StepCluster;

const BATCH_ENTRIES: u64 = 4096;

fn cluster() -> StepCluster<RaftProcess> {
    let mut c = StepCluster::new(3, |setup| {
        let mut config = RaftProcessConfig::for_setup(setup);
        config.raft.inflight_appends_max = 64;
        // A snapshot every so often bounds the log across criterion's iterations.
        config.compact_every_entries = 100_000;
        config
    });
    c.set_quiet(true);
    c.set_auto_persist(true);
    c.with(1, |p: &mut RaftProcess| p.raft_mut().campaign());
    c.deliver_all();
    assert_eq!(c.leader(), Some(1), "node 1 leads");
    c
}

fn cluster_commit(c: &mut Criterion) {
    let payload = Bytes::from(vec![7u8; 64]);
    let mut g = c.benchmark_group("raft");
    g.throughput(Throughput::Elements(BATCH_ENTRIES));
    let mut cluster = cluster();
    g.bench_function("cluster_commit_3_nodes_64B_x4096", |b| {
        b.iter(|| {
            let target = cluster.process(1).expect("leader up").status().applied + BATCH_ENTRIES;
            cluster.with(1, |p: &mut RaftProcess| {
                for _ in 0..BATCH_ENTRIES {
                    p.raft_mut().propose(payload.clone()).expect("leader accepts");
                }
            });
            let lines = cluster.deliver_all();
            assert!(lines.is_empty(), "{lines:?}");
            let applied = cluster.process(1).expect("leader up").status().applied;
            assert!(applied >= target, "batch committed: {applied} < {target}");
            // Two ticks: the first notes the state to snapshot, the second compacts.
            cluster.tick_all();
            cluster.tick_all();
        })
    });
    g.finish();
}

criterion_group!(benches, cluster_commit);
criterion_main!(benches);
