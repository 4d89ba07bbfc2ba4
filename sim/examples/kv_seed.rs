//! Runs one `RaftProcess` swarm seed and prints its report: `cargo run -p detcd-sim
//! --example kv_seed -- SEED NODES [OPS]`.

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let seed = args.first().copied().unwrap_or(0);
    let nodes = args.get(1).copied().unwrap_or(3);
    let mut o = detcd_sim::kv_run::KvRunOptions::new(seed, nodes);
    if let Some(&ops) = args.get(2) {
        o.ops = ops;
    }
    let r = detcd_sim::kv_run::run(&o);
    println!("{}", r.banner);
    println!(
        "ok={} refused={} timed_out={} end_us={} stats={:?}\ntrace_hash={:016x}\nresult={:?}",
        r.ops_ok, r.ops_refused, r.ops_timed_out, r.end_us, r.stats, r.trace_hash, r.result
    );
}
