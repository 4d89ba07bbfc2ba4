//! Progress requests on watch streams (etcd's `WatchProgressRequest`): the answer is a
//! notice with watch id -1, no events, and a header revision up to which the stream's
//! watchers have been sent everything. Two promises, judged per stream:
//!
//! - never ahead: no event at or below a notice's revision arrives on the stream after
//!   the notice (with the watch check's gap-free rule this means every such event came
//!   before it);
//! - prompt: a member answers a progress request once its watchers are caught up, which
//!   they are after every apply, so a request sent to a member that stays up is
//!   answered long before its timeout. A request that ran its whole timeout without
//!   an answer was held; one ended by a crash says nothing.
//!
//! Only notices answered while the stream was still carried by the request it was
//! asked about are recorded: a member that carries no watcher of the stream answers at
//! once and promises nothing about it.

use crate::report::{check_names::WATCH, CheckResult};

/// A progress notice that answered a request about the stream's current carrier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgressNotice {
    /// How many event responses the stream had delivered when the notice came.
    pub after_responses: usize,
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

fn secs(us: u64) -> String {
    format!("{}.{:03}s", us / 1_000_000, (us % 1_000_000) / 1_000)
}

/// Judges each stream: `(name, event revisions of each response in arrival order,
/// its progress)`.
pub fn check_progress(streams: &[(String, Vec<Vec<i64>>, &StreamProgress)]) -> CheckResult {
    let (mut notices, mut asked) = (0usize, 0usize);
    for (who, responses, progress) in streams {
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
            "{notices} progress notice(s) on {asked} stream(s), none ahead of its events or held"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn notice(after_responses: usize, revision: i64) -> ProgressNotice {
        ProgressNotice { after_responses, revision, member: 1, complete_us: 1_000 }
    }

    fn judge(responses: Vec<Vec<i64>>, progress: &StreamProgress) -> Verdict {
        check_progress(&[("stream".into(), responses, progress)]).verdict
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
    fn a_request_held_for_its_whole_timeout_fails() {
        let held = ProgressHeld { member: 2, invoke_us: 1_000, complete_us: 2_001_000 };
        let progress = StreamProgress { notices: vec![], held: vec![held] };
        assert_eq!(judge(vec![], &progress), Verdict::Fail);
        assert_eq!(judge(vec![], &StreamProgress::default()), Verdict::Pass);
    }
}
