//! The nemesis: until the deadline, one fault at a time, each held for a while and
//! then undone — a member clogged (partitioned) both ways or one way, clogged links
//! (some one way), a member killed and restarted with disk loss, the leader killed,
//! every member killed at once (a power cut), a member paused. Faults are drawn from madsim's seeded RNG.

use super::client;
use super::cluster::Cluster;
use madsim::rand::{thread_rng, Rng};
use madsim::time::{sleep, Instant};
use std::sync::Arc;
use std::time::Duration;

pub struct Nemesis {
    cluster: Arc<Cluster>,
    log: Vec<String>,
}

impl Nemesis {
    pub fn new(cluster: Arc<Cluster>) -> Nemesis {
        Nemesis { cluster, log: Vec::new() }
    }

    /// Injects faults until `deadline`; returns what it did, for a failure's message.
    pub async fn run(mut self, deadline: Instant) -> String {
        let n = self.cluster.members.len();
        let start = Instant::now();
        let probe = self.cluster.client_node(99);
        loop {
            let quiet = Duration::from_millis(thread_rng().gen_range(500..2500));
            sleep(quiet).await;
            if Instant::now() >= deadline {
                break;
            }
            let at = Instant::now().duration_since(start).as_millis();
            let which = thread_rng().gen_range(0..n);
            let crash_seed: u64 = thread_rng().gen();
            let what = match thread_rng().gen_range(0..7) {
                0 => {
                    self.cluster.clog(which);
                    format!("clog m{which}")
                }
                1 => {
                    let other = (which + thread_rng().gen_range(1..n)) % n;
                    self.cluster.clog_link(which, other);
                    self.cluster.clog_link(other, which);
                    let third = (which + thread_rng().gen_range(1..n)) % n;
                    if third == other {
                        format!("clog links m{which}<->m{other}")
                    } else {
                        self.cluster.clog_link(third, which);
                        format!("clog links m{which}<->m{other}, m{third}->m{which}")
                    }
                }
                2 => {
                    self.cluster.kill(which, crash_seed);
                    format!("kill m{which}")
                }
                3 => {
                    let cluster = self.cluster.clone();
                    let leader = probe.spawn(async move { client::leader(&cluster).await });
                    match leader.await.ok().flatten() {
                        Some(l) => {
                            self.cluster.kill(l, crash_seed);
                            format!("kill leader m{l}")
                        }
                        None => "no leader to kill".to_string(),
                    }
                }
                4 => {
                    for i in 0..n {
                        self.cluster.kill(i, crash_seed.wrapping_add(i as u64));
                    }
                    "power cut: kill all".to_string()
                }
                5 => {
                    let outgoing = thread_rng().gen_bool(0.5);
                    self.cluster.clog_one_way(which, outgoing);
                    format!("clog m{which} {}", if outgoing { "outgoing" } else { "incoming" })
                }
                _ => {
                    self.cluster.pause(which);
                    format!("pause m{which}")
                }
            };
            let held = Duration::from_millis(thread_rng().gen_range(300..4000));
            self.log.push(format!("{at}ms {what} for {}ms", held.as_millis()));
            sleep(held).await;
            self.cluster.heal();
        }
        self.cluster.heal();
        self.log.join("; ")
    }
}
