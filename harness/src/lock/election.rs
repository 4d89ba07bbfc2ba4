//! The election check. etcd's election recipe is the lock recipe read differently: the
//! key with the lowest create revision under the election prefix is the leader, its
//! create revision is the term, its value is the proclaimed value. From the store's
//! history of the prefix (the truth) this checks that every client that believed it
//! won, or whose proclaim succeeded, was the leader of that term at that revision — so
//! no term has two leaders — and that each observer saw leaders and values in the
//! order the store made them, without going back or inventing any.

use crate::report::{check_names, CheckResult};
use bytes::Bytes;
use std::collections::BTreeMap;

/// One change under the election prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyEvent {
    pub key: Bytes,
    pub create_revision: i64,
    pub value: Bytes,
    pub delete: bool,
}

/// Who leads: (term, proclaimed value).
pub type Leadership = (i64, Bytes);

/// Folds events into the leader an observer would report, revision by revision.
#[derive(Clone, Debug, Default)]
pub struct LeaderFold {
    keys: BTreeMap<Bytes, (i64, Bytes)>,
    /// (revision, leadership) each time it changed.
    pub changes: Vec<(i64, Option<Leadership>)>,
}

impl LeaderFold {
    /// Applies every event of one revision.
    pub fn apply(&mut self, revision: i64, events: &[KeyEvent]) {
        for e in events {
            if e.delete {
                self.keys.remove(&e.key);
            } else {
                self.keys.insert(e.key.clone(), (e.create_revision, e.value.clone()));
            }
        }
        let leader = self.keys.values().min_by_key(|(create, _)| *create).cloned();
        if self.changes.last().map(|c| &c.1) != Some(&leader) {
            self.changes.push((revision, leader));
        }
    }

    /// The term that leads at `revision`, if any.
    pub fn term_at(&self, revision: i64) -> Option<i64> {
        let i = self.changes.partition_point(|(r, _)| *r <= revision);
        i.checked_sub(1).and_then(|i| self.changes[i].1.as_ref().map(|l| l.0))
    }

    /// The leaderships in order, without the leaderless gaps.
    pub fn leaderships(&self) -> Vec<&Leadership> {
        self.changes.iter().filter_map(|(_, l)| l.as_ref()).collect()
    }
}

/// A client's belief that it leads `term`, learned at `revision` (a won campaign or a
/// successful proclaim).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub client: u64,
    pub term: i64,
    pub revision: i64,
    pub what: &'static str,
}

fn show(l: &Leadership) -> String {
    format!("term {} value {:?}", l.0, String::from_utf8_lossy(&l.1))
}

/// The election check over the store's history, the claims and what observers saw.
pub fn check_election(
    truth: &LeaderFold,
    claims: &[Claim],
    observers: &[Vec<Leadership>],
) -> CheckResult {
    let fail = |e: String| CheckResult::fail(check_names::ELECTION, e);
    let mut owners: BTreeMap<i64, u64> = BTreeMap::new();
    for c in claims {
        if let Some(other) = owners.insert(c.term, c.client).filter(|o| *o != c.client) {
            return fail(format!("two leaders of term {}: c{other} and c{}", c.term, c.client));
        }
        let leading = truth.term_at(c.revision);
        if leading != Some(c.term) {
            return fail(format!(
                "c{} {} as leader of term {} at revision {}, but the store's leader then was {}",
                c.client,
                c.what,
                c.term,
                c.revision,
                leading.map_or("nobody".to_string(), |t| format!("term {t}"))
            ));
        }
    }
    let order = truth.leaderships();
    for (i, seen) in observers.iter().enumerate() {
        let mut at = 0;
        for l in seen {
            match order[at..].iter().position(|t| *t == l) {
                Some(p) => at += p + 1,
                None => {
                    return fail(format!(
                        "observer {} saw {} out of the store's order (or never made)",
                        i + 1,
                        show(l)
                    ))
                }
            }
        }
    }
    CheckResult::pass(
        check_names::ELECTION,
        format!(
            "{} leadership(s), {} claim(s): one leader per term; {} observer(s) saw {} leadership(s), in order",
            order.len(),
            claims.len(),
            observers.len(),
            observers.iter().map(Vec::len).sum::<usize>()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &'static str, create: i64, value: &'static str) -> KeyEvent {
        KeyEvent { key: key.into(), create_revision: create, value: value.into(), delete: false }
    }

    fn del(key: &'static str) -> KeyEvent {
        KeyEvent { key: key.into(), create_revision: 0, value: Bytes::new(), delete: true }
    }

    fn truth() -> LeaderFold {
        let mut f = LeaderFold::default();
        f.apply(2, &[put("e/a", 2, "a1")]);
        f.apply(3, &[put("e/b", 3, "b1")]);
        f.apply(4, &[put("e/a", 2, "a2")]);
        f.apply(5, &[del("e/a")]);
        f
    }

    fn l(term: i64, v: &str) -> Leadership {
        (term, Bytes::from(v.to_string()))
    }

    #[test]
    fn the_lowest_create_revision_leads() {
        let f = truth();
        assert_eq!(f.leaderships(), vec![&l(2, "a1"), &l(2, "a2"), &l(3, "b1")]);
        assert_eq!(f.term_at(4), Some(2));
        assert_eq!(f.term_at(5), Some(3));
        assert_eq!(f.term_at(1), None);
    }

    #[test]
    fn claims_and_observers_are_checked() {
        let f = truth();
        let ok = Claim { client: 1, term: 2, revision: 4, what: "proclaimed" };
        let ordered = vec![l(2, "a2"), l(3, "b1")];
        assert_eq!(
            check_election(&f, std::slice::from_ref(&ok), &[ordered]).verdict,
            crate::Verdict::Pass
        );
        let late = Claim { client: 1, term: 2, revision: 5, what: "proclaimed" };
        assert_eq!(check_election(&f, &[late], &[]).verdict, crate::Verdict::Fail);
        let twice = Claim { client: 2, ..ok.clone() };
        assert_eq!(check_election(&f, &[ok, twice], &[]).verdict, crate::Verdict::Fail);
        let backwards = vec![l(3, "b1"), l(2, "a2")];
        assert_eq!(check_election(&f, &[], &[backwards]).verdict, crate::Verdict::Fail);
    }
}
