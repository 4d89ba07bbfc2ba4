//! Periodic progress notices (etcd's `WatchCreateRequest.progress_notify`): a watch
//! that asks for them is sent, every notify interval, a response with its watch id and
//! no events, whose header revision everything before it has been delivered up to
//! (etcd: "the etcd server will periodically send a WatchResponse with no events to
//! the new watcher if there are no recent events"). Two promises, judged per stream:
//!
//! - due: while the stream stays on one member that is up, connected, led and caught
//!   up (the healed cluster after the liveness phase), a stream that asked gets a
//!   notice within a few intervals of its last events;
//! - asked for: a stream whose watches did not ask gets no such notice, and a stream
//!   with no progress request waiting gets no answer to one (watch id -1). A simulated
//!   stream's answers go to the request they answer, so a member counts the -1
//!   notices no request was waiting for; each member's count must be 0.
//!
//! The notices also join the progress notices that must never run ahead of events
//! still to come (`watch_progress`).

use super::secs;
use crate::report::{check_names::WATCH, CheckResult};

/// What a stream that asked for notices received while its member was settled.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NotifyWindow {
    pub member: u64,
    pub from_us: u64,
    pub to_us: u64,
    /// When the last response with events arrived, if one did in the window.
    pub last_events_us: Option<u64>,
    /// When each notice arrived in the window.
    pub notices_us: Vec<u64>,
}

/// A notice sent to a stream that did not ask for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unasked {
    pub member: u64,
    pub at_us: u64,
    pub revision: i64,
}

/// One stream as this check sees it.
pub struct NotifyStream<'a> {
    pub name: String,
    pub asked: bool,
    pub window: Option<&'a NotifyWindow>,
    pub unasked: &'a [Unasked],
}

fn wrong(s: &NotifyStream, due_us: u64) -> Option<String> {
    if let Some(u) = s.unasked.first().filter(|_| !s.asked) {
        return Some(format!(
            "{}: its watch asked for no progress notifications, yet member {} sent one at {} (revision {})",
            s.name,
            u.member,
            secs(u.at_us),
            u.revision
        ));
    }
    let w = s.window.filter(|_| s.asked)?;
    let quiet_from = w.last_events_us.map_or(w.from_us, |e| e.max(w.from_us));
    let noticed = w.notices_us.iter().any(|&at| at >= quiet_from && at <= w.to_us);
    (w.to_us.saturating_sub(quiet_from) >= due_us && !noticed).then(|| {
        format!(
            "{}: its watch asked for progress notifications, but member {} sent none from {} to {}, though it stayed up, led and caught up (due within {})",
            s.name,
            w.member,
            secs(quiet_from),
            secs(w.to_us),
            secs(due_us)
        )
    })
}

/// Judges every stream, and every member's `(member, count)` of -1 notices no
/// request waited for; a notice is due within `due_us` of quiet.
pub fn check_notify(streams: &[NotifyStream], unasked: &[(u64, u64)], due_us: u64) -> CheckResult {
    if let Some(why) = streams.iter().find_map(|s| wrong(s, due_us)) {
        return CheckResult::fail(WATCH, why);
    }
    if let Some((member, n)) = unasked.iter().find(|(_, n)| *n > 0) {
        return CheckResult::fail(
            WATCH,
            format!(
                "member {member} sent {n} progress notice(s) (watch id -1) to streams with no progress request waiting"
            ),
        );
    }
    let judged = streams.iter().filter(|s| s.asked && s.window.is_some()).count();
    let quiet = streams.iter().filter(|s| !s.asked).count();
    CheckResult::pass(
        WATCH,
        format!(
            "{judged} stream(s) asking for progress notifications got them when due; {quiet} not asking got none"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Verdict;

    fn window(last_events_us: Option<u64>, notices_us: Vec<u64>) -> NotifyWindow {
        NotifyWindow { member: 2, from_us: 1_000, to_us: 1_300, last_events_us, notices_us }
    }

    fn judge(asked: bool, w: Option<&NotifyWindow>, unasked: &[Unasked]) -> Verdict {
        let s = NotifyStream { name: "stream".into(), asked, window: w, unasked };
        check_notify(&[s], &[], 200).verdict
    }

    #[test]
    fn a_stream_that_asked_gets_a_notice_when_due() {
        assert_eq!(judge(true, Some(&window(None, vec![1_100])), &[]), Verdict::Pass);
        assert_eq!(judge(true, Some(&window(None, vec![])), &[]), Verdict::Fail);
        // A notice before the last events does not count for the quiet after them.
        assert_eq!(judge(true, Some(&window(Some(1_050), vec![1_020])), &[]), Verdict::Fail);
        // Too little quiet after the last events to demand one.
        assert_eq!(judge(true, Some(&window(Some(1_150), vec![])), &[]), Verdict::Pass);
        // No settled window (the stream moved or broke): nothing is due.
        assert_eq!(judge(true, None, &[]), Verdict::Pass);
        // A stream that did not ask is not owed notices.
        assert_eq!(judge(false, Some(&window(None, vec![])), &[]), Verdict::Pass);
    }

    #[test]
    fn a_stream_that_did_not_ask_gets_no_notice() {
        let u = [Unasked { member: 1, at_us: 700, revision: 9 }];
        assert_eq!(judge(false, None, &u), Verdict::Fail);
        assert_eq!(judge(false, None, &[]), Verdict::Pass);
        assert_eq!(judge(true, None, &u), Verdict::Pass, "asked: a notice is welcome");
    }

    #[test]
    fn a_progress_answer_no_request_waited_for_fails() {
        assert_eq!(check_notify(&[], &[(1, 0), (2, 3)], 200).verdict, Verdict::Fail);
        assert_eq!(check_notify(&[], &[(1, 0), (2, 0)], 200).verdict, Verdict::Pass);
    }
}
