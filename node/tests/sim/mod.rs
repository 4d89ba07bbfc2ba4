//! The pieces of a simulated run: the cluster of real members ([`cluster`]), clients
//! that record histories through the gRPC stubs ([`client`]), the nemesis
//! ([`nemesis`]), and the checks ([`checks`]).

pub mod checks;
pub mod client;
pub mod cluster;
pub mod nemesis;

use madsim::rand::{thread_rng, Rng};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One run's shape.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub members: usize,
    /// How long the nemesis injects faults (virtual seconds).
    pub fault_secs: u64,
}

/// After the faults heal, the cluster must answer again within this bound.
const RECOVERY_MAX: Duration = Duration::from_secs(60);

/// One simulated run: start the members, run clients under faults, heal, read the
/// final state back, check the history. Panics (failing the seed) on any violation.
pub async fn run(spec: Spec) {
    let seed = madsim::runtime::Handle::current().seed();
    let clients = thread_rng().gen_range(2..=5);
    eprintln!(
        "seed {seed}: {} members, {clients} clients, {} s of faults",
        spec.members, spec.fault_secs
    );
    let cluster = Arc::new(cluster::Cluster::start(spec.members));
    let history = Arc::new(Mutex::new(client::Recorder::new()));
    let watches = Arc::new(Mutex::new(Vec::new()));
    let deadline = madsim::time::Instant::now() + Duration::from_secs(spec.fault_secs);

    let mut tasks = Vec::new();
    for c in 0..clients {
        let node = cluster.client_node(c);
        let (cluster, history, watches) = (cluster.clone(), history.clone(), watches.clone());
        tasks.push(node.spawn(async move {
            client::Client::new(c as u64, cluster, history, watches).run(deadline).await
        }));
    }
    let faults = nemesis::Nemesis::new(cluster.clone()).run(deadline).await;
    for t in tasks {
        t.await.expect("client task");
    }
    cluster.heal();

    // Every member must serve again; the final reads are part of the history, so an
    // acknowledged write the cluster lost fails the etcd model.
    let node = cluster.client_node(clients);
    let (c, h) = (cluster.clone(), history.clone());
    let reader = node.spawn(async move { client::final_reads(clients as u64, c, h).await });
    let recovered = madsim::time::timeout(RECOVERY_MAX, reader).await;
    let records = history.lock().unwrap().records().to_vec();
    let Ok(Ok(Some(reference))) = recovered else {
        panic!(
            "liveness: the healed cluster did not serve every member's final reads within {RECOVERY_MAX:?} (faults: {faults})"
        );
    };
    let streams = watches.lock().unwrap().clone();
    eprintln!("  faults: {faults}");
    checks::all(&records, &streams, &reference, &faults);
}
