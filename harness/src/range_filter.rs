//! The revision filters of a range (etcdctl get's `--min-mod-rev`, `--max-mod-rev`,
//! `--min-create-rev`, `--max-create-rev`): which keys a read at a revision keeps.
//!
//! etcd counts before it filters: a filtered range's `count` is every key of the range
//! at that revision, and only `kvs` (and `more`) shrink.

use detcd_core::api::RangeRequest;

/// Bounds on a key's mod and create revisions, inclusive; 0 leaves a bound out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RevisionFilter {
    pub min_mod: i64,
    pub max_mod: i64,
    pub min_create: i64,
    pub max_create: i64,
}

impl RevisionFilter {
    pub fn is_none(&self) -> bool {
        *self == RevisionFilter::default()
    }

    /// Whether a key of this create and mod revision passes every bound.
    pub fn keeps(&self, create: i64, modified: i64) -> bool {
        let within = |v: i64, min: i64, max: i64| (min == 0 || v >= min) && (max == 0 || v <= max);
        within(modified, self.min_mod, self.max_mod)
            && within(create, self.min_create, self.max_create)
    }

    /// Sets the request's bounds.
    pub fn apply(&self, req: &mut RangeRequest) {
        req.min_mod_revision = self.min_mod;
        req.max_mod_revision = self.max_mod;
        req.min_create_revision = self.min_create;
        req.max_create_revision = self.max_create;
    }

    /// The bounds set, as etcdctl's flags name them ("" when none is).
    pub fn describe(&self) -> String {
        [
            ("--min-mod-rev", self.min_mod),
            ("--max-mod-rev", self.max_mod),
            ("--min-create-rev", self.min_create),
            ("--max-create-rev", self.max_create),
        ]
        .iter()
        .filter(|(_, v)| *v != 0)
        .map(|(flag, v)| format!(" {flag}={v}"))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_bound_is_inclusive_and_zero_leaves_it_out() {
        let f = RevisionFilter { min_mod: 3, max_create: 5, ..RevisionFilter::default() };
        assert!(f.keeps(5, 3));
        assert!(!f.keeps(6, 3), "created after the maximum");
        assert!(!f.keeps(2, 2), "modified before the minimum");
        assert!(RevisionFilter::default().keeps(1, 100));
        assert_eq!(f.describe(), " --min-mod-rev=3 --max-create-rev=5");
    }
}
