//! Simulator throughput: events per wall second for a 5-node Raft cluster under swarm
//! faults, and the wall time of a 5-node run of 10,000 client operations with faults
//! (safety checks after every event included).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use detcd_sim::kv_run::{run, KvRunOptions};

/// A swarm seed with several fault kinds on (see its banner with the `kv_seed` example).
const SEED: u64 = 7;

fn swarm_run() -> KvRunOptions {
    let mut o = KvRunOptions::new(SEED, 5);
    o.ops = 2_000;
    o.clients = 5;
    o.think_us = 5_000;
    o.fault_window_us = 5_000_000;
    o.safety_us_max = 20_000_000;
    o
}

fn ten_thousand_ops() -> KvRunOptions {
    let mut o = KvRunOptions::new(SEED, 5);
    o.ops = 10_000;
    o.clients = 10;
    o.keys = 16;
    o.think_us = 0;
    o.fault_window_us = 5_000_000;
    o.safety_us_max = 600_000_000;
    o
}

fn events_per_second(c: &mut Criterion) {
    let o = swarm_run();
    let probe = run(&o);
    assert!(probe.result.is_ok(), "{:?}", probe.result);
    let mut g = c.benchmark_group("world");
    g.throughput(Throughput::Elements(probe.stats.events));
    g.bench_function("swarm_5_nodes_events", |b| {
        b.iter_batched(|| o.clone(), |o| run(&o), BatchSize::SmallInput)
    });
    g.finish();
}

fn ten_thousand_client_ops(c: &mut Criterion) {
    let o = ten_thousand_ops();
    let probe = run(&o);
    assert!(probe.result.is_ok(), "{:?}", probe.result);
    assert_eq!(probe.ops_ok + probe.ops_refused + probe.ops_timed_out, 10_000);
    let mut g = c.benchmark_group("world");
    g.sample_size(10);
    g.throughput(Throughput::Elements(probe.stats.events));
    g.bench_function("kv_5_nodes_10k_ops", |b| {
        b.iter_batched(|| o.clone(), |o| run(&o), BatchSize::SmallInput)
    });
    g.finish();
}

criterion_group!(benches, events_per_second, ten_thousand_client_ops);
criterion_main!(benches);
