//! The nemesis: until the deadline, it waits a quiet spell, injects one fault of the
//! kinds asked for, holds it, and heals it, logging each with its wall-clock span.
//! Pauses outlast the election timeout and the workload's lease TTL; killed members
//! come back on their data dirs. At the end everything is healed.

use crate::client::{Shared, LEASE_TTL_SECS};
use crate::cluster::{Cluster, ELECTION_TIMEOUT_MS};
use crate::config::{Fault, NetworkMode, Target};
use crate::netns_links::Slow;
use detcd_node::pb::etcdserverpb as pb;
use detcd_node::pb::etcdserverpb::maintenance_client::MaintenanceClient;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{sleep, timeout, Instant};

/// One injected fault.
#[derive(Clone, Debug, Serialize)]
pub struct FaultEvent {
    pub fault: Fault,
    pub what: String,
    pub start_us: u64,
    pub end_us: u64,
    /// From the heal until the first write invoked after it was acknowledged (None: no
    /// write was acknowledged before the clients stopped).
    pub recovery_ms: Option<u64>,
}

const QUIET_MS: std::ops::Range<u64> = 1500..4000;
const HOLD_MS: std::ops::Range<u64> = 3000..8000;

pub struct Nemesis {
    pub cluster: Arc<Mutex<Cluster>>,
    pub shared: Arc<Shared>,
    pub rng: ChaCha8Rng,
    pub faults: Vec<Fault>,
    pub events: Vec<FaultEvent>,
    /// Faults asked for that this target cannot take, with why.
    pub skipped: Vec<String>,
}

/// The member every reachable member names as leader, if one does.
pub async fn leader(shared: &Shared) -> Option<usize> {
    for (i, ch) in shared.channels.iter().enumerate() {
        let mut m = MaintenanceClient::new(ch.clone());
        let Ok(Ok(s)) = timeout(Duration::from_millis(300), m.status(pb::StatusRequest {})).await
        else {
            continue;
        };
        let s = s.into_inner();
        if s.leader != 0 && s.header.is_some_and(|h| h.member_id == s.leader) {
            return Some(i);
        }
    }
    None
}

impl Nemesis {
    fn us(&self) -> u64 {
        self.shared.recorder.lock().expect("recorder").us(Instant::now())
    }

    fn cluster(&self) -> std::sync::MutexGuard<'_, Cluster> {
        self.cluster.lock().expect("cluster lock")
    }

    /// A member to hit: the leader half the time (when one is known), else any.
    async fn victim(&mut self) -> usize {
        let n = self.cluster().size();
        if self.rng.gen_bool(0.5) {
            if let Some(l) = leader(&self.shared).await {
                return l;
            }
        }
        self.rng.gen_range(0..n)
    }

    fn ms(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(self.rng.gen_range(range))
    }

    pub async fn run(&mut self, deadline: Instant) {
        let mut usable = self.faults.clone();
        if self.cluster().target == Target::Etcd {
            for f in usable.iter().filter(|f| f.detcd_only()) {
                let why = match f {
                    Fault::Clock => "no clock control without libfaketime",
                    Fault::KillUnsynced => "no unsynced-write loss without LazyFS",
                    Fault::Fsync => "no fsync delay without a slow-disk layer",
                    _ => "needs a detcd test-only disk flag",
                };
                self.skipped.push(format!("{}: skipped for etcd ({why})", f.name()));
            }
            usable.retain(|f| !f.detcd_only());
        }
        if self.cluster().network() == NetworkMode::Proxy {
            for f in usable.iter().filter(|f| f.needs_netns()) {
                self.skipped.push(format!(
                    "{}: skipped (packet faults need --network netns; the proxies see streams)",
                    f.name()
                ));
            }
            usable.retain(|f| !f.needs_netns());
        }
        if self.cluster().size() < 2 {
            for f in [Fault::Partition, Fault::Delay, Fault::Loss, Fault::Reorder] {
                if usable.contains(&f) {
                    usable.retain(|g| *g != f);
                    self.skipped.push(format!("{}: skipped for a one-member cluster", f.name()));
                }
            }
        }
        while !usable.is_empty() {
            let quiet = self.ms(QUIET_MS);
            // No fault starts that could not be held for its shortest span.
            if Instant::now() + quiet + Duration::from_millis(HOLD_MS.start) >= deadline {
                break;
            }
            sleep(quiet).await;
            let fault = *usable.choose(&mut self.rng).expect("non-empty");
            let hold = self.ms(HOLD_MS).min(deadline.saturating_duration_since(Instant::now()));
            self.inject(fault, hold).await;
        }
    }

    async fn inject(&mut self, fault: Fault, hold: Duration) {
        let start_us = self.us();
        let what = match fault {
            Fault::Kill => self.kill(hold).await,
            Fault::Pause => self.pause().await,
            Fault::Partition => self.partition(hold).await,
            Fault::Delay => self.delay(hold).await,
            Fault::Loss => self.loss(hold).await,
            Fault::Reorder => self.reorder(hold).await,
            Fault::Clock => self.clock(hold).await,
            Fault::Fsync => self.fsync(hold).await,
            Fault::KillUnsynced => self.kill_unsynced(hold).await,
            Fault::WipeAll => self.wipe_all(hold).await,
            Fault::AckBeforeFsync => self.ack_before_fsync(hold).await,
        };
        let end_us = self.us();
        self.events.push(FaultEvent { fault, what, start_us, end_us, recovery_ms: None });
    }

    /// One member (the leader half the time), a majority, or the whole cluster (a power
    /// cut: only what each member synced survives).
    async fn kill(&mut self, hold: Duration) -> String {
        let n = self.cluster().size();
        let (victims, what) = match self.rng.gen_range(0..10) {
            0..=6 => {
                let v = self.victim().await;
                (vec![v], format!("kill -9 m{v}"))
            }
            7 | 8 => {
                let mut all: Vec<usize> = (0..n).collect();
                all.shuffle(&mut self.rng);
                let majority: Vec<usize> = all[..n / 2 + 1].to_vec();
                (majority.clone(), format!("kill -9 majority {majority:?}"))
            }
            _ => ((0..n).collect(), "kill -9 every member".to_string()),
        };
        for &v in &victims {
            self.cluster().kill(v);
        }
        sleep(hold).await;
        for &v in &victims {
            self.restart(v);
        }
        format!("{what}, restart after {} ms", hold.as_millis())
    }

    /// One member, a majority or every member restarted into losing unsynced WAL bytes
    /// on a kill, with slow fsyncs so a kill finds bytes in flight; after `hold` under
    /// the workload they are killed -9 and come back on what they had fsynced.
    async fn kill_unsynced(&mut self, hold: Duration) -> String {
        let n = self.cluster().size();
        let victims: Vec<usize> = match self.rng.gen_range(0..10) {
            0..=5 => vec![self.victim().await],
            6..=8 => {
                let mut all: Vec<usize> = (0..n).collect();
                all.shuffle(&mut self.rng);
                all[..n / 2 + 1].to_vec()
            }
            _ => (0..n).collect(),
        };
        let delay_ms = *[5, 20, 100].choose(&mut self.rng).expect("delays");
        for &v in &victims {
            self.restart_as(v, |m| {
                m.lose_unsynced = true;
                m.fsync_delay_ms = delay_ms;
            });
        }
        sleep(hold).await;
        for &v in &victims {
            self.cluster().kill(v);
        }
        let down = self.ms(500..2500);
        sleep(down).await;
        for &v in &victims {
            self.restart_as(v, |m| {
                m.lose_unsynced = false;
                m.fsync_delay_ms = 0;
            });
        }
        format!(
            "{victims:?} run {} ms losing unsynced writes on kill (fsyncs {delay_ms} ms slower), \
             kill -9, restart after {} ms",
            hold.as_millis(),
            down.as_millis()
        )
    }

    /// The second negative control: every member acknowledges WAL records before
    /// writing them, then the whole cluster is killed: the acknowledged tail is lost.
    async fn ack_before_fsync(&mut self, hold: Duration) -> String {
        let n = self.cluster().size();
        for v in 0..n {
            self.restart_as(v, |m| {
                m.lose_unsynced = true;
                m.ack_before_fsync = true;
            });
        }
        sleep(hold).await;
        for v in 0..n {
            self.cluster().kill(v);
        }
        for v in 0..n {
            self.restart_as(v, |m| {
                m.lose_unsynced = false;
                m.ack_before_fsync = false;
            });
        }
        format!(
            "every member acknowledges before fsync for {} ms, then kill -9 every member",
            hold.as_millis()
        )
    }

    /// The negative control: a whole-cluster crash that loses every data dir.
    async fn wipe_all(&mut self, hold: Duration) -> String {
        let n = self.cluster().size();
        for v in 0..n {
            let mut c = self.cluster();
            c.kill(v);
            if let Err(e) = c.wipe(v) {
                eprintln!("chaos: {e}");
            }
        }
        sleep(hold).await;
        for v in 0..n {
            self.restart(v);
        }
        format!(
            "kill -9 every member, delete every data dir, restart after {} ms",
            hold.as_millis()
        )
    }

    fn restart(&mut self, v: usize) {
        let mut c = self.cluster();
        if let Err(e) = c.start(v) {
            eprintln!("chaos: {e}");
        }
        self.shared.incarnations.lock().expect("incarnations")[v] = c.members[v].starts;
    }

    async fn pause(&mut self) -> String {
        let v = self.victim().await;
        // Longer than the election timeout and the lease TTL, as a long GC stall.
        let floor = (LEASE_TTL_SECS as u64 * 1000).max(ELECTION_TIMEOUT_MS) + 500;
        let hold = self.ms(floor..floor + 3000);
        self.cluster().pause(v);
        sleep(hold).await;
        self.cluster().resume(v);
        format!("SIGSTOP m{v} for {} ms", hold.as_millis())
    }

    async fn partition(&mut self, hold: Duration) -> String {
        let n = self.cluster().size();
        let v = self.victim().await;
        let mut order: Vec<usize> = (0..n).collect();
        order.shuffle(&mut self.rng);
        let shape = self.rng.gen_range(0..3);
        let what = {
            let mut c = self.cluster();
            match shape {
                0 => {
                    for o in (0..n).filter(|&o| o != v) {
                        c.cut(v, o);
                        c.cut(o, v);
                    }
                    format!("isolate m{v}")
                }
                1 => {
                    let minority: Vec<usize> = order[..n / 2].to_vec();
                    for &a in &minority {
                        for b in (0..n).filter(|b| !minority.contains(b)) {
                            c.cut(a, b);
                            c.cut(b, a);
                        }
                    }
                    format!("split {minority:?} from the rest")
                }
                _ => {
                    for o in (0..n).filter(|&o| o != v) {
                        c.cut(v, o);
                    }
                    format!("one-way: m{v} cannot send to anyone (but hears all)")
                }
            }
        };
        self.hold_links(hold).await;
        format!("{what} for {} ms", hold.as_millis())
    }

    /// Puts the link faults just asked for in force, holds them, and heals them.
    async fn hold_links(&mut self, hold: Duration) {
        if let Err(e) = self.cluster().apply_links() {
            eprintln!("chaos: {e}");
        }
        sleep(hold).await;
        if let Err(e) = self.cluster().heal_links() {
            eprintln!("chaos: {e}");
        }
    }

    /// Every link of one member (the leader half the time), both ways.
    async fn victim_links(&mut self) -> (usize, Vec<(usize, usize)>) {
        let n = self.cluster().size();
        let v = self.victim().await;
        let links = (0..n).filter(|&o| o != v).flat_map(|o| [(v, o), (o, v)]).collect();
        (v, links)
    }

    async fn delay(&mut self, hold: Duration) -> String {
        let (v, links) = self.victim_links().await;
        let d = self.ms(50..400);
        {
            let mut c = self.cluster();
            for &(a, b) in &links {
                c.slow(a, b, Slow::Delay(d));
            }
        }
        let how = self.slow_kind(d);
        self.hold_links(hold).await;
        format!("delay every link of m{v} by {how} for {} ms", hold.as_millis())
    }

    /// How a delay of `d` is made on this network, in words.
    fn slow_kind(&self, d: Duration) -> String {
        let c = self.cluster();
        match &c.netns {
            Some(n) if !n.netem => format!(
                "a {} kbit/s rate limit (no netem: about {} ms per KB, more under load)",
                crate::netns_links::delay_rate_kbit(d),
                d.as_millis()
            ),
            _ => format!("{} ms", d.as_millis()),
        }
    }

    /// Drops a share of the packets on every link of one member, both ways.
    async fn loss(&mut self, hold: Duration) -> String {
        let (v, links) = self.victim_links().await;
        let percent = *[5, 10, 20, 40].choose(&mut self.rng).expect("percentages");
        {
            let mut c = self.cluster();
            for &(a, b) in &links {
                c.lose(a, b, percent);
            }
        }
        self.hold_links(hold).await;
        format!("drop {percent}% of the packets on every link of m{v} for {} ms", hold.as_millis())
    }

    /// Reorders the packets on every link of one member, both ways.
    async fn reorder(&mut self, hold: Duration) -> String {
        let (v, links) = self.victim_links().await;
        let d = self.ms(20..100);
        let netem = self.cluster().netns.as_ref().is_some_and(|n| n.netem);
        {
            let mut c = self.cluster();
            for &(a, b) in &links {
                c.slow(a, b, Slow::Reorder(d));
            }
        }
        self.hold_links(hold).await;
        let how = if netem {
            format!("netem: half the packets {} ms late", d.as_millis())
        } else {
            "a random half of the packets through a 64 kbit/s class, the rest overtaking".into()
        };
        format!("reorder the packets on every link of m{v} ({how}) for {} ms", hold.as_millis())
    }

    /// Restarts a detcd member with its clock running fast or slow, then back at rate 1.
    async fn clock(&mut self, hold: Duration) -> String {
        let v = self.victim().await;
        let rate = *[0.5, 0.75, 1.5, 2.0].choose(&mut self.rng).expect("rates");
        self.restart_as(v, |m| m.clock_rate = rate);
        sleep(hold).await;
        self.restart_as(v, |m| m.clock_rate = 1.0);
        format!(
            "m{v} clock at rate {rate} for {} ms (restarted into it and back)",
            hold.as_millis()
        )
    }

    /// Restarts a detcd member (the leader half the time) with slow WAL fsyncs, then
    /// back to normal ones.
    async fn fsync(&mut self, hold: Duration) -> String {
        let v = self.victim().await;
        let delay_ms = *[20, 100, 500].choose(&mut self.rng).expect("delays");
        self.restart_as(v, |m| m.fsync_delay_ms = delay_ms);
        sleep(hold).await;
        self.restart_as(v, |m| m.fsync_delay_ms = 0);
        format!(
            "m{v} fsyncs {delay_ms} ms slower for {} ms (restarted into it and back)",
            hold.as_millis()
        )
    }

    /// Kills member `v`, changes how it will run, and starts it again.
    fn restart_as(&mut self, v: usize, change: impl FnOnce(&mut crate::cluster::Member)) {
        {
            let mut c = self.cluster();
            c.kill(v);
            change(&mut c.members[v]);
        }
        self.restart(v);
    }

    /// Ends every fault: resumes paused members, starts killed ones, heals the network.
    pub fn heal(&mut self) {
        let n = self.cluster().size();
        if let Err(e) = self.cluster().heal_links() {
            eprintln!("chaos: {e}");
        }
        for i in 0..n {
            let running = self.cluster().is_running(i);
            if running {
                self.cluster().resume(i);
            } else {
                self.restart(i);
            }
        }
    }
}
