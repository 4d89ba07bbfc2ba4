//! A cluster of real members on madsim nodes, each with a [`SimDisk`] that outlives
//! its member, and the levers the nemesis pulls: kill (losing unsynced writes) and
//! restart, pause and resume, clogged members and links.

use detcd_node::disk::SimDisk;
use detcd_node::flags::ServeArgs;
use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle};
use std::net::IpAddr;
use std::sync::Mutex;

pub const CLIENT_PORT: u16 = 2379;
const PEER_PORT: u16 = 2380;

pub struct Member {
    pub node: NodeHandle,
    pub disk: SimDisk,
    pub ip: IpAddr,
}

/// What the nemesis has done and not yet undone.
#[derive(Default)]
struct Faults {
    killed: Vec<usize>,
    paused: Vec<usize>,
    clogged: Vec<usize>,
    /// Members clogged one way: (member, outgoing).
    one_way: Vec<(usize, bool)>,
    links: Vec<(usize, usize)>,
}

pub struct Cluster {
    pub members: Vec<Member>,
    handle: Handle,
    faults: Mutex<Faults>,
}

fn member_ip(i: usize) -> IpAddr {
    format!("10.0.0.{}", i + 1).parse().expect("an address")
}

impl Cluster {
    /// Starts `n` members of one new cluster, configured by etcd's own flags.
    pub fn start(n: usize) -> Cluster {
        let handle = Handle::current();
        let initial: Vec<String> =
            (0..n).map(|i| format!("m{i}=http://{}:{PEER_PORT}", member_ip(i))).collect();
        let mut members = Vec::new();
        for i in 0..n {
            let ip = member_ip(i);
            let client = format!("http://{ip}:{CLIENT_PORT}");
            let peer = format!("http://{ip}:{PEER_PORT}");
            let args = [
                "serve".to_string(),
                format!("--name=m{i}"),
                format!("--data-dir=/sim/m{i}"),
                format!("--listen-client-urls={client}"),
                format!("--advertise-client-urls={client}"),
                format!("--listen-peer-urls={peer}"),
                format!("--initial-advertise-peer-urls={peer}"),
                format!("--initial-cluster={}", initial.join(",")),
                "--heartbeat-interval=100".to_string(),
                "--election-timeout=1000".to_string(),
            ];
            let cfg = ServeArgs::try_parse_from(args)
                .expect("flags parse")
                .validate()
                .expect("flags are valid");
            let disk = SimDisk::default();
            let member_disk = disk.clone();
            let node = handle
                .create_node()
                .name(format!("m{i}"))
                .ip(ip)
                .init(move || {
                    let (cfg, disk) = (cfg.clone(), member_disk.clone());
                    async move {
                        let (storage, incarnation) = disk.open();
                        if let Err(e) = detcd_node::server::run_on(cfg, storage, incarnation).await
                        {
                            panic!("member m{i} stopped: {e}");
                        }
                    }
                })
                .build();
            members.push(Member { node, disk, ip });
        }
        Cluster { members, handle, faults: Mutex::new(Faults::default()) }
    }

    pub fn client_url(&self, i: usize) -> String {
        format!("http://{}:{CLIENT_PORT}", self.members[i].ip)
    }

    /// A fresh madsim node for client `c` to run on.
    pub fn client_node(&self, c: usize) -> NodeHandle {
        let ip: IpAddr = format!("10.0.1.{}", c + 1).parse().expect("an address");
        self.handle.create_node().name(format!("client{c}")).ip(ip).build()
    }

    pub fn is_down(&self, i: usize) -> bool {
        let f = self.faults.lock().unwrap();
        f.killed.contains(&i) || f.paused.contains(&i)
    }

    /// Kills member `i` as a power cut would: what its disk had not synced is lost and
    /// the last write may be torn (`crash_seed` decides how).
    pub fn kill(&self, i: usize, crash_seed: u64) {
        let mut f = self.faults.lock().unwrap();
        if f.killed.contains(&i) {
            return;
        }
        f.paused.retain(|&p| p != i);
        self.handle.kill(self.members[i].node.id());
        let loss = self.members[i].disk.crash(crash_seed, true);
        if loss.lost_ops + loss.survived_ops + loss.torn_entries > 0 {
            eprintln!("  m{i} crashed: {loss:?}");
        }
        f.killed.push(i);
    }

    pub fn pause(&self, i: usize) {
        let mut f = self.faults.lock().unwrap();
        if f.killed.contains(&i) || f.paused.contains(&i) {
            return;
        }
        self.handle.pause(self.members[i].node.id());
        f.paused.push(i);
    }

    pub fn clog(&self, i: usize) {
        NetSim::current().clog_node(self.members[i].node.id());
        self.faults.lock().unwrap().clogged.push(i);
    }

    /// Clogs what member `i` sends (`outgoing`) or what it receives, not both.
    pub fn clog_one_way(&self, i: usize, outgoing: bool) {
        let net = NetSim::current();
        let id = self.members[i].node.id();
        if outgoing {
            net.clog_node_out(id);
        } else {
            net.clog_node_in(id);
        }
        self.faults.lock().unwrap().one_way.push((i, outgoing));
    }

    /// Clogs the link from `a` to `b` only.
    pub fn clog_link(&self, a: usize, b: usize) {
        NetSim::current().clog_link(self.members[a].node.id(), self.members[b].node.id());
        self.faults.lock().unwrap().links.push((a, b));
    }

    /// Undoes every fault: restarts the killed, resumes the paused, unclogs all.
    pub fn heal(&self) {
        let f = std::mem::take(&mut *self.faults.lock().unwrap());
        let net = NetSim::current();
        for i in f.clogged {
            net.unclog_node(self.members[i].node.id());
        }
        for (i, outgoing) in f.one_way {
            let id = self.members[i].node.id();
            if outgoing {
                net.unclog_node_out(id);
            } else {
                net.unclog_node_in(id);
            }
        }
        for (a, b) in f.links {
            net.unclog_link(self.members[a].node.id(), self.members[b].node.id());
        }
        for i in f.paused {
            self.handle.resume(self.members[i].node.id());
        }
        for i in f.killed {
            self.handle.restart(self.members[i].node.id());
        }
    }
}
