//! Link faults between namespaced members ([`crate::netns`]): which directed links are
//! cut, lossy, delayed or reordering, rendered as each member's own nftables table and
//! traffic-control qdiscs, and applied inside its namespace. Only peer traffic (member
//! to member address) is touched; clients, on the bridge's host address, are not.
//!
//! - A cut (from, to) drops, in `to`'s input, every packet from `from`: TCP sees a black
//!   hole in that direction, as behind a real partition, and resumes when healed.
//! - Loss drops that percentage of such packets at random (nftables `numgen random`).
//! - Delay and reordering shape `from`'s egress to `to`: nftables sets the packets'
//!   priority to the slow class 1:2 of an HTB root qdisc. With `sch_netem` in the kernel
//!   that class holds `netem delay` (with `reorder` for reordering); without it the class
//!   is a slow rate, so packets queue (a delay that grows with load), and for reordering
//!   only a random half of the packets take the slow class and the rest overtake them.

use crate::netns::Netns;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::time::Duration;

const TABLE: &str = "detcd_chaos";
/// The HTB classes: 1:1 for traffic at full speed, 1:2 for the shaped links.
const FAST: &str = "1:1";
const SLOW: &str = "1:2";
/// The slow class's rate for reordering without netem: a 1 KB packet waits ~125 ms.
const REORDER_RATE_KBIT: u64 = 64;

/// How the egress of a directed link is slowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slow {
    Delay(Duration),
    Reorder(Duration),
}

/// The link faults in force.
#[derive(Default, Debug)]
pub struct LinkFaults {
    cut: BTreeSet<(usize, usize)>,
    loss_percent: BTreeMap<(usize, usize), u32>,
    slow: BTreeMap<(usize, usize), Slow>,
}

impl LinkFaults {
    pub fn cut(&mut self, from: usize, to: usize) {
        self.cut.insert((from, to));
    }
    pub fn lose(&mut self, from: usize, to: usize, percent: u32) {
        assert!((1..=100).contains(&percent), "loss of {percent}%");
        self.loss_percent.insert((from, to), percent);
    }
    pub fn slow(&mut self, from: usize, to: usize, how: Slow) {
        self.slow.insert((from, to), how);
    }
    pub fn heal(&mut self) {
        *self = LinkFaults::default();
    }

    /// Member `m`'s nftables table: drops on its input, classes on its output.
    pub fn nft_table(&self, net: &Netns, m: usize, netem: bool) -> String {
        let mut s =
            format!("table inet {TABLE}\ndelete table inet {TABLE}\ntable inet {TABLE} {{\n");
        s.push_str("  chain input {\n    type filter hook input priority 0; policy accept;\n");
        for &(from, _) in self.cut.iter().filter(|l| l.1 == m) {
            let _ = writeln!(s, "    ip saddr {} drop", net.member_ip(from));
        }
        for (&(from, _), pct) in self.loss_percent.iter().filter(|l| l.0 .1 == m) {
            let _ = writeln!(
                s,
                "    ip saddr {} numgen random mod 100 < {pct} drop",
                net.member_ip(from)
            );
        }
        s.push_str(
            "  }\n  chain output {\n    type filter hook output priority 0; policy accept;\n",
        );
        for (&(_, to), how) in self.slow.iter().filter(|l| l.0 .0 == m) {
            let dst = net.member_ip(to);
            match how {
                Slow::Reorder(_) if !netem => {
                    let _ = writeln!(
                        s,
                        "    ip daddr {dst} meta priority set numgen random mod 2 map {{ 0 : {FAST}, 1 : {SLOW} }}"
                    );
                }
                _ => {
                    let _ = writeln!(s, "    ip daddr {dst} meta priority set {SLOW}");
                }
            }
        }
        s.push_str("  }\n}\n");
        s
    }

    /// Member `m`'s `tc` commands (after deleting its root qdisc), or none when its
    /// egress is not shaped. One fault is in force at a time, so the first shaped link
    /// decides the slow class.
    pub fn tc_commands(&self, m: usize, netem: bool) -> Vec<Vec<String>> {
        let Some(how) = self.slow.iter().find(|l| l.0 .0 == m).map(|l| *l.1) else {
            return Vec::new();
        };
        let words = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
        let mut cmds = vec![
            words("qdisc add dev eth0 root handle 1: htb default 1"),
            words(&format!("class add dev eth0 parent 1: classid {FAST} htb rate 10gbit")),
        ];
        match (how, netem) {
            (Slow::Delay(d) | Slow::Reorder(d), true) => {
                cmds.push(words(&format!(
                    "class add dev eth0 parent 1: classid {SLOW} htb rate 10gbit"
                )));
                let reorder = if matches!(how, Slow::Reorder(_)) { " reorder 50%" } else { "" };
                cmds.push(words(&format!(
                    "qdisc add dev eth0 parent {SLOW} handle 20: netem delay {}ms{reorder}",
                    d.as_millis()
                )));
            }
            (Slow::Delay(d), false) => {
                let kbit = delay_rate_kbit(d);
                cmds.push(words(&format!(
                    "class add dev eth0 parent 1: classid {SLOW} htb rate {kbit}kbit ceil {kbit}kbit"
                )));
            }
            (Slow::Reorder(_), false) => {
                cmds.push(words(&format!(
                    "class add dev eth0 parent 1: classid {SLOW} htb rate {REORDER_RATE_KBIT}kbit ceil {REORDER_RATE_KBIT}kbit"
                )));
            }
        }
        cmds
    }

    /// Puts the faults in force in every member's namespace.
    pub fn apply(&self, net: &Netns) -> Result<(), String> {
        for m in 0..net.names.namespaces.len() {
            net.exec(m, "nft", &["-f", "-"], Some(&self.nft_table(net, m, net.netem)))?;
            // No root qdisc yet is the usual case, not an error.
            let _ = net.exec(m, "tc", &["qdisc", "del", "dev", "eth0", "root"], None);
            for cmd in self.tc_commands(m, net.netem) {
                let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
                net.exec(m, "tc", &args, None)?;
            }
        }
        Ok(())
    }
}

/// Without netem, a delay `d` becomes a rate at which a 1 KB packet takes about `d`.
pub fn delay_rate_kbit(d: Duration) -> u64 {
    (8_000 / (d.as_millis() as u64).max(1)).max(8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_shaped_members_get_a_qdisc_and_netem_only_when_the_kernel_has_it() {
        let mut f = LinkFaults::default();
        f.slow(0, 1, Slow::Reorder(Duration::from_millis(40)));
        assert!(f.tc_commands(1, true).is_empty());
        let with = f.tc_commands(0, true);
        assert!(with.last().unwrap().join(" ").ends_with("netem delay 40ms reorder 50%"));
        let without = f.tc_commands(0, false);
        assert!(without.iter().all(|c| !c.contains(&"netem".to_string())));
        assert!(without.last().unwrap().join(" ").contains("rate 64kbit"));
        f.heal();
        assert!(f.tc_commands(0, true).is_empty());
    }

    #[test]
    fn delays_without_netem_become_rates() {
        assert_eq!(delay_rate_kbit(Duration::from_millis(100)), 80);
        assert_eq!(delay_rate_kbit(Duration::from_millis(4000)), 8);
    }
}
