//! Checks of serializable (member-local) reads, which the linearizability checker does
//! not cover: a serializable read may be stale, but it must never return a value nobody
//! wrote, and one client reading from one member must never see that member's revision
//! go backwards. A member that crashed and restarted re-applies its log from its last
//! snapshot, so monotonicity is required within one incarnation of the member.

use crate::report::{check_names::SERIALIZABLE_READS, CheckResult};
use bytes::Bytes;
use std::collections::{BTreeMap, BTreeSet};

/// One completed serializable read of a single key.
#[derive(Clone, Debug)]
pub struct SerializableRead {
    pub client: u64,
    pub member: u64,
    /// How many times the member had restarted when it answered.
    pub incarnation: u64,
    pub complete_us: u64,
    pub key: Bytes,
    pub header_revision: i64,
    pub value: Option<Bytes>,
}

/// `written` holds every (key, value) any client tried to write, whatever the outcome.
fn secs(us: u64) -> String {
    format!("{}.{:06}s", us / 1_000_000, us % 1_000_000)
}

pub fn check_serializable_reads(
    reads: &[SerializableRead],
    written: &BTreeSet<(Bytes, Bytes)>,
) -> CheckResult {
    let mut last: BTreeMap<(u64, u64, u64), (i64, u64)> = BTreeMap::new();
    let mut sorted: Vec<&SerializableRead> = reads.iter().collect();
    sorted.sort_by_key(|r| r.complete_us);
    for read in sorted {
        if let Some(value) = &read.value {
            if !written.contains(&(read.key.clone(), value.clone())) {
                return CheckResult::fail(
                    SERIALIZABLE_READS,
                    format!(
                        "client {} read {}={} from member {} at {}: no client ever wrote that value",
                        read.client,
                        String::from_utf8_lossy(&read.key),
                        String::from_utf8_lossy(value),
                        read.member,
                        secs(read.complete_us)
                    ),
                );
            }
        }
        let slot = (read.client, read.member, read.incarnation);
        if let Some((revision, at)) = last.get(&slot) {
            if read.header_revision < *revision {
                return CheckResult::fail(
                    SERIALIZABLE_READS,
                    format!(
                        "client {} saw member {} go back from revision {revision} (at {}) to {} (at {})",
                        read.client,
                        read.member,
                        secs(*at),
                        read.header_revision,
                        secs(read.complete_us)
                    ),
                );
            }
        }
        last.insert(slot, (read.header_revision, read.complete_us));
    }
    CheckResult::pass(
        SERIALIZABLE_READS,
        format!("{} serializable read(s): written values only, monotonic per member", reads.len()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn read(at: u64, rev: i64, value: Option<&'static str>) -> SerializableRead {
        SerializableRead {
            client: 1,
            member: 2,
            incarnation: 0,
            complete_us: at,
            key: Bytes::from_static(b"k"),
            header_revision: rev,
            value: value.map(|v| Bytes::from_static(v.as_bytes())),
        }
    }

    fn written() -> BTreeSet<(Bytes, Bytes)> {
        BTreeSet::from([(Bytes::from_static(b"k"), Bytes::from_static(b"1"))])
    }

    #[test]
    fn stale_but_monotonic_reads_pass() {
        let reads = [read(10, 1, None), read(20, 3, Some("1")), read(30, 3, Some("1"))];
        assert_eq!(check_serializable_reads(&reads, &written()).verdict, Verdict::Pass);
    }

    #[test]
    fn invented_value_is_caught() {
        let r = check_serializable_reads(&[read(10, 2, Some("9"))], &written());
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.evidence.contains("no client ever wrote"));
    }

    #[test]
    fn going_back_is_caught_but_not_across_a_restart() {
        let reads = [read(10, 5, Some("1")), read(20, 4, Some("1"))];
        assert_eq!(check_serializable_reads(&reads, &written()).verdict, Verdict::Fail);
        let mut after_restart = read(20, 4, Some("1"));
        after_restart.incarnation = 1;
        let reads = [read(10, 5, Some("1")), after_restart];
        assert_eq!(check_serializable_reads(&reads, &written()).verdict, Verdict::Pass);
    }
}
