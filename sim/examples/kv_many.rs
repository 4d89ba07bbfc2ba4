//! Runs swarm seeds back to back and prints the event count and trace hash of each,
//! for profiling and quick sweeps: `cargo run --release -p detcd-sim --example kv_many
//! -- FIRST_SEED COUNT NODES`.

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let first = args.first().copied().unwrap_or(0);
    let count = args.get(1).copied().unwrap_or(100);
    let nodes = args.get(2).copied().unwrap_or(5);
    let mut events = 0;
    let mut failures = 0;
    for seed in first..first + count {
        let r = detcd_sim::kv_run::run(&detcd_sim::kv_run::KvRunOptions::new(seed, nodes));
        events += r.stats.events;
        if let Err(e) = &r.result {
            failures += 1;
            println!("seed {seed}: {e}");
        }
    }
    println!("{count} seeds, {events} events, {failures} failures");
}
