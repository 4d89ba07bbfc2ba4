//! The etcd model on synthetic histories: a seeded sequential run of Range / Put /
//! DeleteRange / Txn on 8 keys, each operation stretched into a random interval around
//! its instant (about a dozen operations overlap at any time), 5% with unknown outcome.
//! Such histories are linearizable by construction; the bench times the check.
//!
//! `cargo bench -p detcd-checker --bench etcd_model -- --quick`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use detcd_checker::models::etcd::{
    apply, Compare, CompareResult, CompareTarget, EtcdState, KeyRange, Request,
};
use detcd_checker::models::Etcd;
use detcd_checker::{check, Budget, History, Operation, Verdict};

/// splitmix64: a tiny seeded generator, enough for shaping a benchmark input.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn history(ops: usize, seed: u64) -> History<Request, detcd_checker::models::etcd::Response> {
    let mut rng = Rng(seed);
    let mut state = EtcdState::new();
    let mut h = History::new();
    for i in 0..ops {
        let key = format!("k{}", rng.below(8));
        let request = match rng.below(10) {
            0..=4 => Request::Range { range: KeyRange::Key(key) },
            5..=7 => Request::Put { key, value: format!("v{i}"), prev_kv: false },
            8 => Request::DeleteRange { range: KeyRange::Key(key), prev_kv: false },
            _ => Request::Txn {
                compare: vec![Compare {
                    key: key.clone(),
                    target: CompareTarget::Version(0),
                    result: CompareResult::Greater,
                }],
                success: vec![Request::Put {
                    key: key.clone(),
                    value: format!("t{i}"),
                    prev_kv: true,
                }],
                failure: vec![Request::Range { range: KeyRange::Prefix("k".into()) }],
            },
        };
        let (next, response) = apply(&state, &request);
        state = next;
        let point = 10 * i as u64 + 100;
        let call = point - rng.below(60);
        let op = if rng.below(20) == 0 {
            Operation { client: i as u64, call, ret: None, input: request, output: None }
        } else {
            Operation {
                client: i as u64,
                call,
                ret: Some(point + rng.below(60)),
                input: request,
                output: Some(response),
            }
        };
        h.push(op).expect("intervals hold their instants");
    }
    h
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("etcd-model");
    group.sample_size(10);
    for ops in [1000, 2000, 4000] {
        let h = history(ops, 7);
        assert_eq!(check(&Etcd, &h, &Budget::default()).verdict, Verdict::Linearizable);
        group.bench_with_input(BenchmarkId::from_parameter(ops), &h, |b, h| {
            b.iter(|| check(&Etcd, h, &Budget::default()).verdict)
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
