//! Progress requests on watch streams (etcd's `WatchProgressRequest`): the answer is a
//! notice with watch id -1, no events, and a header revision up to which the stream's
//! watchers have been sent everything. Three promises, judged per stream:
//!
//! - never ahead: no event at or below a notice's revision arrives on the stream after
//!   the notice (with the watch check's gap-free rule this means every such event came
//!   before it);
//! - never behind its own member: a notice names the member's current revision, which
//!   is at least 1 (a store starts there) and at least the revision of every event that
//!   member has sent. So it is no lower than the last event the same request delivered
//!   before it. Events of earlier requests of the stream are no bound: a resumed stream
//!   may land on a member that is behind the one it left;
//! - prompt: a member answers a progress request once its watchers are caught up, which
//!   they are after every apply, so a request sent to a member that stays up is
//!   answered long before its timeout. A request that ran its whole timeout without
//!   an answer was held; one ended by a crash says nothing.
//!
//! Only notices answered while the stream was still carried by the request it was
//! asked about are recorded: a member that carries no watcher of the stream answers at
//! once and promises nothing about it.
//!
//! The simulator hands a member's answers to the client in the order the member sent
//! them, and a crash ends every request on the member, so a request's answers all come
//! from one life of one member, whose revision never goes back.

use super::secs;
use super::watch_answers::WatchAnswerRecord;
use crate::report::{check_names::WATCH, CheckResult};

/// A progress notice that answered a request about the stream's current carrier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressNotice {
    /// How many event responses the stream had delivered when the notice came.
    pub after_responses: usize,
    /// How many answers the stream's requests had received when the notice came (a
    /// periodic notice is itself one of them).
    pub after_answers: usize,
    /// The request that carried the stream (its `WatchAnswerRecord::carrier`).
    pub carrier: u32,
    pub revision: i64,
    pub member: u64,
    pub complete_us: u64,
}

/// A progress request that was held for its whole timeout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressHeld {
    pub member: u64,
    pub invoke_us: u64,
    pub complete_us: u64,
}

/// What one stream saw of its progress requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StreamProgress {
    pub notices: Vec<ProgressNotice>,
    pub held: Vec<ProgressHeld>,
}

/// One stream as this check sees it.
pub struct ProgressStream<'a> {
    pub name: String,
    /// The event revisions of each event response, in arrival order.
    pub responses: Vec<Vec<i64>>,
    /// Every answer of every request that carried the stream, in arrival order.
    pub answers: &'a [WatchAnswerRecord],
    pub progress: &'a StreamProgress,
}

/// A notice below its own member's events, in words.
fn behind(who: &str, answers: &[WatchAnswerRecord], n: &ProgressNotice) -> Option<String> {
    if n.revision < 1 {
        return Some(format!(
            "{who}: member {} sent a progress notice at revision {} (at {}), but a store starts at revision 1",
            n.member,
            n.revision,
            secs(n.complete_us)
        ));
    }
    let last = answers
        .iter()
        .take(n.after_answers)
        .filter(|a| a.carrier == n.carrier)
        .filter_map(|a| a.last_event_revision)
        .max()?;
    (last > n.revision).then(|| {
        format!(
            "{who}: member {} sent a progress notice at revision {} (at {}), after it had sent an event of revision {last} on the same request: the notice fell behind the member's own events",
            n.member,
            n.revision,
            secs(n.complete_us)
        )
    })
}

/// Judges each stream.
pub fn check_progress(streams: &[ProgressStream]) -> CheckResult {
    let (mut notices, mut asked) = (0usize, 0usize);
    for ProgressStream { name: who, responses, answers, progress } in streams {
        if let Some(h) = progress.held.first() {
            return CheckResult::fail(
                WATCH,
                format!(
                    "{who}: a progress request sent to member {} at {} was never answered (timed out at {}), though the member stayed up",
                    h.member,
                    secs(h.invoke_us),
                    secs(h.complete_us)
                ),
            );
        }
        for n in &progress.notices {
            if let Some(why) = behind(who, answers, n) {
                return CheckResult::fail(WATCH, why);
            }
            let later = responses.iter().skip(n.after_responses).flatten();
            if let Some(rev) = later.copied().find(|&rev| rev <= n.revision) {
                return CheckResult::fail(
                    WATCH,
                    format!(
                        "{who}: member {} sent a progress notice at revision {} (at {}), then an event of revision {rev}: the notice ran ahead of events not yet delivered",
                        n.member,
                        n.revision,
                        secs(n.complete_us)
                    ),
                );
            }
        }
        notices += progress.notices.len();
        asked += usize::from(!progress.notices.is_empty());
    }
    CheckResult::pass(
        WATCH,
        format!(
            "{notices} progress notice(s) on {asked} stream(s), none ahead of its events, behind its member's or held"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn notice(after_responses: usize, revision: i64) -> ProgressNotice {
        ProgressNotice {
            after_responses,
            after_answers: 0,
            carrier: 0,
            revision,
            member: 1,
            complete_us: 1_000,
        }
    }

    fn judge_with(
        responses: Vec<Vec<i64>>,
        answers: &[WatchAnswerRecord],
        progress: &StreamProgress,
    ) -> CheckResult {
        let s = ProgressStream { name: "stream".into(), responses, answers, progress };
        check_progress(&[s])
    }

    fn judge(responses: Vec<Vec<i64>>, progress: &StreamProgress) -> Verdict {
        judge_with(responses, &[], progress).verdict
    }

    /// An answer of request `carrier`, from `member`, whose last event is at `last`.
    fn answer(carrier: u32, member: u64, last: Option<i64>) -> WatchAnswerRecord {
        WatchAnswerRecord {
            carrier,
            member,
            last_event_revision: last,
            ..WatchAnswerRecord::default()
        }
    }

    /// A notice on request `carrier` after the first `after_answers` answers.
    fn notice_on(carrier: u32, after_answers: usize, revision: i64) -> ProgressNotice {
        ProgressNotice { after_answers, carrier, ..notice(0, revision) }
    }

    fn judge_notice(answers: &[WatchAnswerRecord], n: ProgressNotice) -> CheckResult {
        judge_with(vec![], answers, &StreamProgress { notices: vec![n], held: vec![] })
    }

    #[test]
    fn a_notice_ahead_of_undelivered_events_fails() {
        let responses = vec![vec![3], vec![5, 5], vec![7]];
        // After the first response (revision 3), a notice at 6: revision 5 came later.
        let ahead = StreamProgress { notices: vec![notice(1, 6)], held: vec![] };
        assert_eq!(judge(responses.clone(), &ahead), Verdict::Fail);
        // After the second, a notice at 6 is right: only 7 is still to come.
        let right = StreamProgress { notices: vec![notice(2, 6)], held: vec![] };
        assert_eq!(judge(responses.clone(), &right), Verdict::Pass);
        // A notice at the revision of an event still to come is ahead too.
        let at = StreamProgress { notices: vec![notice(2, 7)], held: vec![] };
        assert_eq!(judge(responses, &at), Verdict::Fail);
    }

    #[test]
    fn a_notice_behind_its_own_members_events_fails() {
        // Request 0 on member 1 delivered events up to 9; the stream then resumed on
        // member 2 (request 1), which delivered 10.
        let answers = [
            answer(0, 1, None),
            answer(0, 1, Some(7)),
            answer(0, 1, Some(9)),
            answer(1, 2, None),
            answer(1, 2, Some(10)),
        ];
        let r = judge_notice(&answers, notice_on(0, 3, 8));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.evidence.contains("event of revision 9"), "{}", r.evidence);
        // At the member's last event, or past it, is right.
        assert_eq!(judge_notice(&answers, notice_on(0, 3, 9)).verdict, Verdict::Pass);
        assert_eq!(judge_notice(&answers, notice_on(0, 3, 12)).verdict, Verdict::Pass);
        // Only the events before the notice bound it.
        assert_eq!(judge_notice(&answers, notice_on(0, 2, 8)).verdict, Verdict::Pass);
        // A resumed request is not held to the events of the member it left: member 2
        // may be behind member 1.
        assert_eq!(judge_notice(&answers, notice_on(1, 4, 8)).verdict, Verdict::Pass);
        assert_eq!(judge_notice(&answers, notice_on(1, 5, 9)).verdict, Verdict::Fail);
    }

    #[test]
    fn a_notice_at_revision_0_fails() {
        // No event delivered yet, so no event bounds it; a store is at 1 or later.
        let r = judge_notice(&[answer(0, 1, None)], notice_on(0, 1, 0));
        assert_eq!(r.verdict, Verdict::Fail);
        assert!(r.evidence.contains("starts at revision 1"), "{}", r.evidence);
        assert_eq!(judge_notice(&[answer(0, 1, None)], notice_on(0, 1, 1)).verdict, Verdict::Pass);
    }

    #[test]
    fn a_request_held_for_its_whole_timeout_fails() {
        let held = ProgressHeld { member: 2, invoke_us: 1_000, complete_us: 2_001_000 };
        let progress = StreamProgress { notices: vec![], held: vec![held] };
        assert_eq!(judge(vec![], &progress), Verdict::Fail);
        assert_eq!(judge(vec![], &StreamProgress::default()), Verdict::Pass);
    }
}
