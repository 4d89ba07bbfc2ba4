//! MVCC throughput (puts of 256-byte values, single-key ranges) and the memory a
//! compacted store of 100,000 keys x 256-byte values holds, measured with a counting
//! global allocator.

use bytes::Bytes;
use criterion::{black_box, BatchSize, Criterion, Throughput};
use detcd_core::api::{DeleteRangeRequest, LeaseId, PutRequest, RangeRequest};
use detcd_core::mvcc::Store;
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts live heap bytes (requested sizes).
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const KEYS: usize = 100_000;
const VALUE_BYTES: usize = 256;

fn no_lease(_: LeaseId) -> bool {
    false
}

fn keys() -> Vec<Bytes> {
    (0..KEYS).map(|i| Bytes::from(format!("key/{i:06}"))).collect()
}

fn put(key: &Bytes, value: &Bytes) -> PutRequest {
    PutRequest { key: key.clone(), value: value.clone(), ..PutRequest::default() }
}

fn filled(keys: &[Bytes], value: &Bytes) -> Store {
    let mut s = Store::new();
    for k in keys {
        s.put(&put(k, value), &no_lease).expect("put");
    }
    s
}

/// Builds 100k keys, overwrites each once, deletes and re-creates 1%, compacts to the
/// current revision and reports the bytes still held against the raw key+value bytes.
fn memory_report() {
    let keys = keys();
    let raw: usize = keys.iter().map(|k| k.len() + VALUE_BYTES).sum();
    let before = LIVE.load(Ordering::Relaxed);
    let mut s = Store::new();
    for round in 0..2u8 {
        let value = Bytes::from(vec![round; VALUE_BYTES]);
        for k in &keys {
            s.put(&put(k, &value), &no_lease).expect("put");
        }
    }
    let uncompacted = LIVE.load(Ordering::Relaxed) - before;
    s.compact(s.current_revision()).expect("compact");
    let held = LIVE.load(Ordering::Relaxed) - before;
    println!(
        "memory: {KEYS} keys x {VALUE_BYTES} B values: raw {raw} B; store before compaction \
         {uncompacted} B ({:.2}x); after compaction {held} B ({:.2}x raw)",
        uncompacted as f64 / raw as f64,
        held as f64 / raw as f64
    );
    black_box(&s);
}

fn benches(c: &mut Criterion) {
    let keys = keys();
    let value = Bytes::from(vec![7u8; VALUE_BYTES]);
    const BATCH: usize = 10_000;

    let mut g = c.benchmark_group("mvcc");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("put_256B_new_keys", |b| {
        b.iter_batched(
            Store::new,
            |mut s| {
                for k in &keys[..BATCH] {
                    s.put(&put(k, &value), &no_lease).expect("put");
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    let base = filled(&keys, &value);
    g.bench_function("put_256B_overwrite_in_100k", |b| {
        let mut offset = 0;
        b.iter_batched(
            || base.clone(),
            |mut s| {
                offset = (offset + BATCH) % KEYS;
                for k in &keys[offset..offset + BATCH] {
                    s.put(&put(k, &value), &no_lease).expect("put");
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    // One DeleteRange over every key (etcdctl's `del "" --from-key`), on a copy of the
    // store as a member holds one while a snapshot image shares it; per key deleted.
    let every_key = DeleteRangeRequest {
        key: Bytes::from_static(b"\0"),
        range_end: Bytes::from_static(b"\0"),
        ..DeleteRangeRequest::default()
    };
    g.throughput(Throughput::Elements(KEYS as u64));
    g.sample_size(10);
    g.bench_function("delete_range_all_100k", |b| {
        b.iter_batched(
            || base.clone(),
            |mut s| {
                black_box(s.delete_range(&every_key).expect("delete"));
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("delete_range_all_100k_in_slices_of_4096", |b| {
        b.iter_batched(
            || base.clone(),
            |mut s| {
                let mut d = s.delete_slices(&every_key).expect("delete");
                while !d.step(&mut s, 4096) {}
                black_box(d.finish(&mut s));
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.sample_size(100);
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    let reqs: Vec<RangeRequest> =
        keys.iter().map(|k| RangeRequest { key: k.clone(), ..RangeRequest::default() }).collect();
    g.bench_function("range_one_key_in_100k", |b| {
        b.iter(|| {
            i = (i + 7919) % KEYS;
            black_box(base.range(&reqs[i]).expect("range"))
        })
    });
    let hot = RangeRequest { key: keys[KEYS / 2].clone(), ..RangeRequest::default() };
    g.bench_function("range_same_key_in_100k", |b| {
        b.iter(|| black_box(base.range(black_box(&hot)).expect("range")))
    });
    g.finish();
}

fn main() {
    memory_report();
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
