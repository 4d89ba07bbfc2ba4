//! Prints client latencies of a calm 5-node `RaftProcess` cluster by request kind and
//! target (leader or follower): `cargo run -p detcd-sim --example kv_latency`.

use detcd_sim::raft_process::{KvRequest, KvResponse, RaftProcess, RaftProcessConfig};
use detcd_sim::{Outcome, World, WorldOptions};

fn main() {
    let mut w: World<RaftProcess> =
        World::new(WorldOptions::new(1, 5), RaftProcessConfig::for_setup);
    w.run_until(1_000_000).unwrap();
    let leader = w.leader().expect("a leader after a second");
    let follower = if leader == 1 { 2 } else { 1 };
    for (name, node) in [("leader", leader), ("follower", follower)] {
        for (kind, req) in
            [("put", KvRequest::Put { key: 1, value: 1 }), ("get", KvRequest::Get { key: 1 })]
        {
            let mut total = 0;
            let n = 50;
            for _ in 0..n {
                w.submit(0, node, req.clone(), 1_000_000);
                assert!(w.run_until_result(w.now_us() + 2_000_000).unwrap());
                let r = w.drain_results().next().unwrap();
                assert!(
                    !matches!(r.outcome, Outcome::Timeout | Outcome::Ok(KvResponse::Failed(_))),
                    "{r:?}"
                );
                total += r.complete_us - r.invoke_us;
            }
            println!("{name} {kind}: mean {} us", total / n);
        }
    }
}
