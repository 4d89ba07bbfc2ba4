//! Properties of the simulated disk under random write/fsync/crash interleavings:
//! with an honest fsync nothing acknowledged is ever lost, and whatever a crash leaves
//! (torn or not) is a prefix of what was written.

mod common;

use common::pinger::{Pinger, PingerConfig};
use detcd_sim::nemesis::{FaultAction, Target};
use detcd_sim::{LatencyDist, World, WorldOptions};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn crashes_keep_every_acknowledged_write_and_only_a_written_prefix(
        seed in any::<u64>(),
        torn in any::<bool>(),
        fsync_max_us in 1u64..80_000,
        crashes in proptest::collection::vec((1u64..=3, 1u64..200_000, 0u64..50_000), 1..8),
    ) {
        let mut o = WorldOptions::new(seed, 3);
        o.check_raft_safety = false;
        o.disk.torn_writes = torn;
        o.disk.fsync = LatencyDist::uniform(1, fsync_max_us);
        let mut w: World<Pinger> = World::new(o, PingerConfig::from_setup);
        for k in 0..20u64 {
            w.submit_at(k * 10_000, 1, 1 + k % 3, k, 1_000_000);
        }
        for (node, gap_us, down_us) in crashes {
            w.run_for(gap_us).unwrap();
            let p = w.process(node).expect("restarted after every crash");
            let (acked, written) = (p.durable_index, p.log.clone());
            w.apply_fault(&FaultAction::Crash { node: Target::Node(node) });
            let durable = &w.durable(node).unwrap().entries;
            prop_assert!(durable.len() as u64 >= acked, "lost acknowledged writes");
            prop_assert!(durable.len() <= written.len());
            prop_assert_eq!(&durable[..], &written[..durable.len()]);
            w.run_for(down_us).unwrap();
            w.apply_fault(&FaultAction::Restart { node: Target::Node(node) });
        }
        w.run_for(2_000_000).unwrap();
        let results: Vec<_> = w.drain_results().collect();
        prop_assert_eq!(results.len(), 20);
        for r in results {
            if let detcd_sim::Outcome::Ok(index) = r.outcome {
                let durable = w.durable(r.node).unwrap().last_index();
                // Answers promise durability; a crash may have happened since, but never
                // below an answered index.
                prop_assert!(durable >= index, "answered {index}, durable {durable}");
            }
        }
    }
}
