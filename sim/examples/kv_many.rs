//! Runs swarm seeds back to back and prints the event count and trace hash of each,
//! for profiling and quick sweeps: `cargo run --release -p detcd-sim --example kv_many
//! -- FIRST_SEED COUNT NODES [FAULT_WINDOW_US]`.

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().expect("a number")).collect();
    let first = args.first().copied().unwrap_or(0);
    let count = args.get(1).copied().unwrap_or(100);
    let nodes = args.get(2).copied().unwrap_or(5);
    let window_us = args.get(3).copied();
    let mut events = 0;
    let mut failures = 0;
    let mut slowest = (0, 0);
    for seed in first..first + count {
        let mut o = detcd_sim::kv_run::KvRunOptions::new(seed, nodes);
        if let Some(w) = window_us {
            o.fault_window_us = w;
            o.safety_us_max = w + 1_000_000;
            o.ops = w / 10_000;
        }
        let r = detcd_sim::kv_run::run(&o);
        events += r.stats.events;
        if let Ok(l) = &r.result {
            slowest = slowest.max((l.elapsed_us, seed));
        }
        if let Err(e) = &r.result {
            failures += 1;
            println!("seed {seed}: {e}");
        }
    }
    println!("{count} seeds, {events} events, {failures} failures");
    println!("slowest liveness phase: {} us (seed {})", slowest.0, slowest.1);
}
