//! Checks of the answers that open and close a watch, as opposed to the events between
//! them (`watch.rs`): each request that carries a stream gets, first, one create answer
//! (`created`, a watch id, not canceled: the workload only asks for valid watches);
//! every later answer on it carries that watch id and is no create answer; a watch
//! canceled because its start was compacted says so (`compact_revision` above the
//! revision it asked for, a reason) and is the last answer; and every header names the
//! member that sent it at a revision no lower than the events it carries, never going
//! back on one request, and never below the compaction it reports (etcd v3 API,
//! `WatchResponse`).

use crate::report::{check_names::WATCH, CheckResult};

/// One answer a watch request received, as the workload recorded it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchAnswerRecord {
    /// Which request carried the stream: 0 for the first, one more per resumption.
    pub carrier: u32,
    /// The member that request was sent to.
    pub member: u64,
    /// The revision that request asked to start from.
    pub start_revision: i64,
    pub header_revision: i64,
    pub header_member: u64,
    pub watch_id: i64,
    pub created: bool,
    pub canceled: bool,
    pub compact_revision: i64,
    pub cancel_reason: String,
    /// The revision of the last event the answer carried, if it carried any.
    pub last_event_revision: Option<i64>,
}

/// Checks the answers of every request of one logical stream (`who` names it).
/// `Ok(answers checked)` or the first broken rule in words.
pub fn check_answers(who: &str, answers: &[WatchAnswerRecord]) -> Result<usize, String> {
    for run in answers.chunk_by(|a, b| a.carrier == b.carrier) {
        check_carrier(&format!("{who}, request {}", run[0].carrier), run)?;
    }
    Ok(answers.len())
}

fn check_carrier(who: &str, answers: &[WatchAnswerRecord]) -> Result<(), String> {
    let Some(first) = answers.first() else { return Ok(()) };
    if !first.created || first.canceled || first.watch_id < 0 {
        return Err(format!(
            "{who}: the first answer is no create answer (created {}, canceled {}, watch id {}, reason {:?})",
            first.created, first.canceled, first.watch_id, first.cancel_reason
        ));
    }
    let mut header_revision = 0;
    for (n, a) in answers.iter().enumerate() {
        if n > 0 && a.created {
            return Err(format!("{who}: answer {n} is a second create answer"));
        }
        if a.watch_id != first.watch_id {
            return Err(format!(
                "{who}: answer {n} carries watch id {}, the create answer said {}",
                a.watch_id, first.watch_id
            ));
        }
        if a.header_member != a.member {
            return Err(format!(
                "{who}: answer {n} was sent by member {} but its header names member {}",
                a.member, a.header_member
            ));
        }
        if a.header_revision < 1 || a.header_revision < header_revision {
            return Err(format!(
                "{who}: answer {n} has header revision {} (before it: {header_revision}; a store starts at 1 and never goes back)",
                a.header_revision
            ));
        }
        header_revision = a.header_revision;
        if let Some(last) = a.last_event_revision.filter(|&r| r > a.header_revision) {
            return Err(format!(
                "{who}: answer {n} carries an event at revision {last} under header revision {}",
                a.header_revision
            ));
        }
        if a.canceled {
            if n + 1 != answers.len() {
                return Err(format!("{who}: answer {n} canceled the watch, yet answers followed"));
            }
            if a.compact_revision > 0 {
                check_compacted(who, n, a)?;
            }
        } else if a.compact_revision != 0 {
            return Err(format!(
                "{who}: answer {n} reports compaction at {} without canceling",
                a.compact_revision
            ));
        }
    }
    Ok(())
}

/// A watch canceled because the revision it needed was compacted.
fn check_compacted(who: &str, n: usize, a: &WatchAnswerRecord) -> Result<(), String> {
    if a.compact_revision <= a.start_revision {
        return Err(format!(
            "{who}: answer {n} canceled the watch from revision {} as compacted at {}, which does not reach it",
            a.start_revision, a.compact_revision
        ));
    }
    if a.header_revision < a.compact_revision {
        return Err(format!(
            "{who}: answer {n} reports compaction at {} under header revision {}",
            a.compact_revision, a.header_revision
        ));
    }
    if a.cancel_reason.is_empty() {
        return Err(format!("{who}: answer {n} canceled the watch as compacted without a reason"));
    }
    Ok(())
}

/// The answers check over every stream, as one result of the watch check.
pub fn check_watch_answers(streams: &[(String, &[WatchAnswerRecord])]) -> CheckResult {
    let mut checked = 0;
    for (who, answers) in streams {
        match check_answers(who, answers) {
            Ok(n) => checked += n,
            Err(why) => return CheckResult::fail(WATCH, why),
        }
    }
    CheckResult::pass(WATCH, format!("{checked} create/cancel/event answer(s) well formed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(carrier: u32, rev: i64) -> WatchAnswerRecord {
        WatchAnswerRecord {
            carrier,
            member: 2,
            start_revision: 5,
            header_revision: rev,
            header_member: 2,
            watch_id: 3,
            ..WatchAnswerRecord::default()
        }
    }

    fn created(carrier: u32, rev: i64) -> WatchAnswerRecord {
        WatchAnswerRecord { created: true, ..answer(carrier, rev) }
    }

    fn compacted(carrier: u32, rev: i64, at: i64) -> WatchAnswerRecord {
        WatchAnswerRecord {
            canceled: true,
            compact_revision: at,
            cancel_reason: "mvcc: required revision has been compacted".into(),
            ..answer(carrier, rev)
        }
    }

    fn good() -> Vec<WatchAnswerRecord> {
        let mut events = answer(0, 7);
        events.last_event_revision = Some(7);
        // A resumption on another member with its own watch id.
        let mut resumed = created(1, 9);
        resumed.member = 3;
        resumed.header_member = 3;
        resumed.watch_id = 0;
        let mut more = answer(1, 9);
        more.member = 3;
        more.header_member = 3;
        more.watch_id = 0;
        vec![created(0, 6), events, compacted(0, 8, 6), resumed, more]
    }

    #[test]
    fn faithful_answers_pass() {
        assert_eq!(check_answers("s", &good()), Ok(5));
        let r = check_watch_answers(&[("s".into(), &good()[..])]);
        assert_eq!(r.verdict, crate::report::Verdict::Pass, "{}", r.evidence);
    }

    #[test]
    fn each_broken_answer_is_caught() {
        type Break = fn(&mut Vec<WatchAnswerRecord>);
        let cases: [(Break, &str); 12] = [
            (|a| a[0].created = false, "no create answer"),
            (|a| a[0].watch_id = -1, "no create answer"),
            (|a| a[1].created = true, "second create answer"),
            (|a| a[1].watch_id = 0, "carries watch id 0, the create answer said 3"),
            (|a| a[0].header_member = 0, "its header names member 0"),
            (|a| a[0].header_revision = 0, "header revision 0"),
            (|a| a[2].header_revision = 6, "never goes back"),
            (|a| a[1].last_event_revision = Some(8), "event at revision 8 under header"),
            (|a| a[2].compact_revision = 5, "does not reach it"),
            (|a| a[2].cancel_reason.clear(), "without a reason"),
            (|a| a[1].compact_revision = 6, "without canceling"),
            (|a| a.insert(3, answer(0, 8)), "yet answers followed"),
        ];
        for (brk, why) in cases {
            let mut a = good();
            brk(&mut a);
            let r = check_answers("s", &a);
            assert!(r.as_ref().is_err_and(|e| e.contains(why)), "{why}: {r:?}");
        }
        let mut low = good();
        low[2].header_revision = 5;
        low[2].compact_revision = 6;
        assert!(check_answers("s", &low).is_err_and(|e| e.contains("never goes back")));
        let mut under = good();
        under[2].header_revision = 8;
        under[2].compact_revision = 9;
        assert!(check_answers("s", &under).is_err_and(|e| e.contains("under header revision 8")));
    }
}
