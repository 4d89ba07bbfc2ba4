//! The log payload codec on the put path: payload bytes, heap allocations and time per
//! encode and per shared decode of a put (10-byte key, 256-byte value, as `detcd bench
//! put` sends) and of a small txn, for the binary format beside the CBOR of earlier
//! builds (still read from old data directories). Allocations are counted by a
//! counting global allocator.

use bytes::Bytes;
use criterion::{black_box, Criterion};
use detcd_core::api::{
    Compare, CompareResult, CompareTarget, PutRequest, RangeRequest, RequestOp, TargetUnion,
    TxnRequest,
};
use detcd_core::server::{Op, Proposal, ProposalId};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts allocation calls (a realloc is one).
struct Counting;

static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Ordering::Relaxed);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn put_request(key: &str, value_bytes: usize) -> PutRequest {
    PutRequest {
        key: Bytes::from(key.to_owned()),
        value: Bytes::from(vec![7u8; value_bytes]),
        ..PutRequest::default()
    }
}

fn with_id(op: Op) -> Proposal {
    Proposal {
        id: Some(ProposalId { origin: 3, incarnation: 1 << 40, seq: 123_456 }),
        op,
        caller: None,
    }
}

fn put() -> Proposal {
    with_id(Op::Put(put_request("key/000042", 256)))
}

/// A compare-and-swap as a lock or a Kubernetes update sends it.
fn txn() -> Proposal {
    with_id(Op::Txn(TxnRequest {
        compare: vec![Compare {
            result: CompareResult::Equal,
            target: CompareTarget::Mod,
            key: Bytes::from_static(b"key/000042"),
            target_union: TargetUnion::ModRevision(98_765),
            range_end: Bytes::new(),
        }],
        success: vec![RequestOp::Put(put_request("key/000042", 256))],
        failure: vec![RequestOp::Range(RangeRequest {
            key: Bytes::from_static(b"key/000042"),
            ..RangeRequest::default()
        })],
    }))
}

fn cbor_encode(p: &Proposal) -> Bytes {
    let mut buf = Vec::new();
    ciborium::into_writer(p, &mut buf).expect("serializes");
    buf.shrink_to_fit();
    Bytes::from(buf)
}

/// Allocation calls of one run of `f`.
fn allocations<T>(f: impl FnOnce() -> T) -> usize {
    let before = CALLS.load(Ordering::Relaxed);
    black_box(f());
    CALLS.load(Ordering::Relaxed) - before
}

fn report(name: &str, p: &Proposal) {
    let binary = p.encode();
    let cbor = cbor_encode(p);
    assert_eq!(Proposal::decode_shared(&cbor).as_ref(), Ok(p), "the CBOR payload reads back");
    println!(
        "{name}: payload binary {} B, CBOR {} B; allocations per encode binary {}, CBOR {}; \
         per shared decode binary {}, CBOR {}",
        binary.len(),
        cbor.len(),
        allocations(|| p.encode()),
        allocations(|| cbor_encode(p)),
        allocations(|| Proposal::decode_shared(&binary)),
        allocations(|| Proposal::decode_shared(&cbor)),
    );
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("proposal");
    for (name, p) in [("put_256B", put()), ("txn_cas_256B", txn())] {
        let binary = p.encode();
        let cbor = cbor_encode(&p);
        g.bench_function(format!("{name}/encode_binary"), |b| b.iter(|| black_box(&p).encode()));
        g.bench_function(format!("{name}/encode_cbor"), |b| b.iter(|| cbor_encode(black_box(&p))));
        g.bench_function(format!("{name}/decode_shared_binary"), |b| {
            b.iter(|| Proposal::decode_shared(black_box(&binary)))
        });
        g.bench_function(format!("{name}/decode_shared_cbor"), |b| {
            b.iter(|| Proposal::decode_shared(black_box(&cbor)))
        });
    }
    g.finish();
}

fn main() {
    report("put 10 B key, 256 B value", &put());
    report("txn compare-and-swap, 256 B value", &txn());
    let mut c = Criterion::default().configure_from_args();
    benches(&mut c);
    c.final_summary();
}
