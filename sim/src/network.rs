//! The simulated network: which directed links are cut (partitions), and the fate of
//! each message (lost, delayed, duplicated, held back to be reordered).

use crate::nemesis::PartitionShape;
use crate::options::NetworkOptions;
use crate::rng::chance;
use crate::types_ext::NodeId;
use rand::seq::SliceRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// What becomes of one sent message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The link is cut.
    Partitioned,
    /// Lost at random.
    Dropped,
    /// Arrives after `delay_us`; a duplicate, if any, after `duplicate_us`.
    Deliver { delay_us: u64, duplicate_us: Option<u64>, reordered: bool },
}

/// Links between nodes `1..=n` and the current rates.
pub struct Network {
    n: u64,
    /// `cut[(from-1)*n + (to-1)]`: messages on that link are lost.
    cut: Vec<bool>,
    /// `slow_us[from-1]`: how much longer than usual every message `from` sends is held.
    slow_us: Vec<u64>,
    pub options: NetworkOptions,
}

impl Network {
    pub fn new(n: u64, options: NetworkOptions) -> Self {
        Network { n, cut: vec![false; (n * n) as usize], slow_us: vec![0; n as usize], options }
    }

    fn slot(&self, from: NodeId, to: NodeId) -> Option<usize> {
        let ok = (1..=self.n).contains(&from) && (1..=self.n).contains(&to);
        ok.then(|| ((from - 1) * self.n + (to - 1)) as usize)
    }

    /// Whether messages from `from` to `to` are lost. Unknown ids are always cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.slot(from, to).is_none_or(|i| self.cut[i])
    }

    /// Replaces every partition with these cut links.
    pub fn set_cut(&mut self, links: &[(NodeId, NodeId)]) {
        self.cut.iter_mut().for_each(|c| *c = false);
        for &(from, to) in links {
            if let Some(i) = self.slot(from, to) {
                self.cut[i] = true;
            }
        }
    }

    pub fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = false);
    }

    /// Every message `from` sends from now on is held `extra_us` longer.
    pub fn set_slow(&mut self, from: NodeId, extra_us: u64) {
        if let Some(s) = from.checked_sub(1).and_then(|i| self.slow_us.get_mut(i as usize)) {
            *s = extra_us;
        }
    }

    /// Ends every slow link (messages already held still arrive late).
    pub fn clear_slow(&mut self) {
        self.slow_us.iter_mut().for_each(|s| *s = 0);
    }

    /// Whether any sender's messages are held longer than usual.
    pub fn has_slow(&self) -> bool {
        self.slow_us.iter().any(|&s| s > 0)
    }

    /// How many directed links are cut.
    pub fn cut_links(&self) -> usize {
        self.cut.iter().filter(|c| **c).count()
    }

    /// The fate of a message sent now. Draws a fixed number of values from `rng`
    /// whatever the rates, so changing one rate does not shift the others' draws.
    pub fn route(&self, rng: &mut ChaCha8Rng, from: NodeId, to: NodeId) -> Fate {
        let o = &self.options;
        let dropped = chance(rng, o.drop_rate);
        let duplicated = chance(rng, o.duplicate_rate);
        let reordered = chance(rng, o.reorder_rate);
        let mut delay_us = o.latency.sample(rng);
        let duplicate_us = o.latency.sample(rng);
        let extra: u64 = rng.gen_range(0..=o.reorder_delay_max_us);
        if self.is_cut(from, to) {
            return Fate::Partitioned;
        }
        if dropped {
            return Fate::Dropped;
        }
        if reordered {
            delay_us += extra;
        }
        let slow = from.checked_sub(1).and_then(|i| self.slow_us.get(i as usize)).copied();
        let slow = slow.unwrap_or(0);
        Fate::Deliver {
            delay_us: delay_us + slow,
            duplicate_us: duplicated.then_some(duplicate_us + slow),
            reordered,
        }
    }
}

/// Symmetric cut links between every pair of nodes in different groups.
fn cut_between_groups(
    nodes: &[NodeId],
    group_of: impl Fn(NodeId) -> usize,
) -> Vec<(NodeId, NodeId)> {
    let mut links = Vec::new();
    for &a in nodes {
        for &b in nodes {
            if a != b && group_of(a) != group_of(b) {
                links.push((a, b));
            }
        }
    }
    links
}

/// The directed links a shape cuts, given the members, the current leader (if any) and
/// a node chosen for `Target`s by the caller. Random choices come from `rng`.
pub fn resolve_shape(
    shape: &PartitionShape,
    nodes: &[NodeId],
    leader: Option<NodeId>,
    target: impl Fn(&crate::nemesis::Target, &mut ChaCha8Rng) -> Option<NodeId>,
    rng: &mut ChaCha8Rng,
) -> Vec<(NodeId, NodeId)> {
    let isolate = |victim: NodeId| cut_between_groups(nodes, |n| usize::from(n == victim));
    match shape {
        PartitionShape::Isolate { node } => target(node, rng).map(isolate).unwrap_or_default(),
        PartitionShape::IsolateLeader => leader.map(isolate).unwrap_or_default(),
        PartitionShape::LeaderMinority => {
            let Some(leader) = leader else { return Vec::new() };
            let mut others: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != leader).collect();
            others.shuffle(rng);
            let companions = ((nodes.len().saturating_sub(1)) / 2).saturating_sub(1);
            let minority: Vec<NodeId> =
                std::iter::once(leader).chain(others.into_iter().take(companions)).collect();
            cut_between_groups(nodes, |n| usize::from(minority.contains(&n)))
        }
        // Needs the links as they are now: the world resolves it to `Groups` first.
        PartitionShape::LeaderQuorum => Vec::new(),
        PartitionShape::MajorityMinority => {
            let mut order = nodes.to_vec();
            order.shuffle(rng);
            let minority: Vec<NodeId> = order[..nodes.len() / 2].to_vec();
            cut_between_groups(nodes, |n| usize::from(minority.contains(&n)))
        }
        PartitionShape::Bridge => {
            let mut order = nodes.to_vec();
            order.shuffle(rng);
            if order.len() < 3 {
                return Vec::new();
            }
            let bridge = order[0];
            let half = (order.len() - 1) / 2;
            let left: Vec<NodeId> = order[1..1 + half].to_vec();
            let mut links = Vec::new();
            for &a in &order[1..] {
                for &b in &order[1..] {
                    if a != b && left.contains(&a) != left.contains(&b) {
                        links.push((a, b));
                    }
                }
            }
            debug_assert!(!links.iter().any(|&(a, b)| a == bridge || b == bridge));
            links
        }
        PartitionShape::Ring => {
            let mut order = nodes.to_vec();
            order.shuffle(rng);
            let k = order.len();
            let pos = |n: NodeId| order.iter().position(|&m| m == n).expect("member");
            let mut links = Vec::new();
            for &a in nodes {
                for &b in nodes {
                    let d = (pos(a) + k - pos(b)) % k;
                    if a != b && d != 1 && d != k - 1 {
                        links.push((a, b));
                    }
                }
            }
            links
        }
        PartitionShape::Groups { groups } => {
            let group_of = |n: NodeId| {
                groups.iter().position(|g| g.contains(&n)).unwrap_or(groups.len() + n as usize)
            };
            cut_between_groups(nodes, group_of)
        }
        PartitionShape::OneWay { from, to } => {
            let mut links = Vec::new();
            for &a in from {
                for &b in to {
                    if a != b {
                        links.push((a, b));
                    }
                }
            }
            links
        }
        PartitionShape::LeaderDeaf => match leader {
            Some(l) => nodes.iter().filter(|&&n| n != l).map(|&n| (n, l)).collect(),
            None => Vec::new(),
        },
        PartitionShape::Links { blocked } => blocked.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Component};

    #[test]
    fn every_message_draws_the_same_amount_whatever_the_rates() {
        let calm = Network::new(3, NetworkOptions::default());
        let mut stormy = Network::new(3, NetworkOptions::default());
        stormy.options.drop_rate = 0.5;
        stormy.options.duplicate_rate = 0.5;
        stormy.options.reorder_rate = 0.5;
        stormy.set_cut(&[(1, 2)]);
        let (mut a, mut b) = (stream(1, Component::Network), stream(1, Component::Network));
        for _ in 0..100 {
            calm.route(&mut a, 1, 2);
            stormy.route(&mut b, 1, 2);
            assert_eq!(a.get_word_pos(), b.get_word_pos());
        }
    }

    #[test]
    fn shapes_cut_the_links_they_name() {
        let nodes = [1, 2, 3, 4, 5];
        let mut rng = stream(3, Component::Nemesis);
        let none = |_: &crate::nemesis::Target, _: &mut ChaCha8Rng| None;
        let cut = resolve_shape(&PartitionShape::IsolateLeader, &nodes, Some(3), none, &mut rng);
        assert_eq!(cut.len(), 8);
        assert!(cut.iter().all(|&(a, b)| a == 3 || b == 3));
        let cut = resolve_shape(&PartitionShape::MajorityMinority, &nodes, None, none, &mut rng);
        assert_eq!(cut.len(), 2 * 2 * 3, "2 against 3, both ways");
        let cut = resolve_shape(&PartitionShape::Bridge, &nodes, None, none, &mut rng);
        assert_eq!(cut.len(), 2 * 2 * 2, "two pairs cut from each other, the bridge reaches all");
        let cut = resolve_shape(&PartitionShape::Ring, &nodes, None, none, &mut rng);
        assert_eq!(cut.len(), 5 * 2, "each node loses the two non-neighbours");
        let one_way = PartitionShape::OneWay { from: vec![1], to: vec![2, 3] };
        assert_eq!(resolve_shape(&one_way, &nodes, None, none, &mut rng), vec![(1, 2), (1, 3)]);
        let groups = PartitionShape::Groups { groups: vec![vec![1, 2], vec![3]] };
        let cut = resolve_shape(&groups, &nodes, None, none, &mut rng);
        assert!(!cut.contains(&(1, 2)) && cut.contains(&(1, 3)) && cut.contains(&(4, 5)));
    }
}
