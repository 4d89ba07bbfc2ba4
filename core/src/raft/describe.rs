//! One-line descriptions of Raft messages, outputs, persist requests and process
//! effects (`Display`), shared by logs and tests so both read the same text, e.g.
//! `1->2 Append t3 prev=4/2 [5/3] commit=4` and `Send 1->2 Vote t3 last=4/2 after=s7`.

use super::output::RaftOutput;
use super::{Message, MessageBody};
use crate::process::Effect;
use crate::types::{Entry, PersistOp, SyncId};
use std::fmt;

/// Entries as `[index/term ...]`; a long run shows its ends and its length.
struct Entries<'a>(&'a [Entry]);

impl fmt::Display for Entries<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN_MAX: usize = 4;
        let e = self.0;
        if e.len() > SHOWN_MAX {
            let (a, b) = (&e[0], &e[e.len() - 1]);
            return write!(f, "[{}/{}..{}/{} ({})]", a.index, a.term, b.index, b.term, e.len());
        }
        f.write_str("[")?;
        for (i, x) in e.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{}/{}", x.index, x.term)?;
        }
        f.write_str("]")
    }
}

fn verdict(reject: bool) -> &'static str {
    if reject {
        "reject"
    } else {
        "grant"
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}->{} ", self.from, self.to)?;
        let t = self.term;
        match &self.body {
            MessageBody::PreVote { last_index, last_term } => {
                write!(f, "PreVote t{t} last={last_index}/{last_term}")
            }
            MessageBody::PreVoteResponse { reject } => {
                write!(f, "PreVoteResponse t{t} {}", verdict(*reject))
            }
            MessageBody::Vote { last_index, last_term, transfer } => {
                write!(f, "Vote t{t} last={last_index}/{last_term}")?;
                if *transfer {
                    f.write_str(" transfer")?;
                }
                Ok(())
            }
            MessageBody::VoteResponse { reject } => {
                write!(f, "VoteResponse t{t} {}", verdict(*reject))
            }
            MessageBody::Append { prev_index, prev_term, entries, commit } => write!(
                f,
                "Append t{t} prev={prev_index}/{prev_term} {} commit={commit}",
                Entries(entries)
            ),
            MessageBody::AppendResponse { index, reject: false, .. } => {
                write!(f, "AppendResponse t{t} ok index={index}")
            }
            MessageBody::AppendResponse { index, reject: true, reject_hint, hint_term } => {
                write!(f, "AppendResponse t{t} reject index={index} hint={reject_hint}/{hint_term}")
            }
            MessageBody::Heartbeat { commit, ctx } => {
                write!(f, "Heartbeat t{t} commit={commit} ctx={ctx}")
            }
            MessageBody::HeartbeatResponse { ctx } => write!(f, "HeartbeatResponse t{t} ctx={ctx}"),
            MessageBody::InstallSnapshot { snapshot } => {
                let m = &snapshot.meta;
                write!(f, "InstallSnapshot t{t} snap={}/{}", m.index, m.term)
            }
            MessageBody::Propose { entries } => write!(f, "Propose t{t} {}", Entries(entries)),
            MessageBody::ReadIndex { ctx } => write!(f, "ReadIndex t{t} ctx={ctx}"),
            MessageBody::ReadIndexResponse { ctx, index } => {
                write!(f, "ReadIndexResponse t{t} ctx={ctx} index={index}")
            }
            MessageBody::TimeoutNow => write!(f, "TimeoutNow t{t}"),
        }
    }
}

impl fmt::Display for PersistOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Persist s{}", self.sync)?;
        if let Some(hs) = &self.hard_state {
            write!(f, " hs=t{}", hs.term)?;
            match hs.vote {
                Some(v) => write!(f, "/v{v}")?,
                None => f.write_str("/v-")?,
            }
            write!(f, "/c{}", hs.commit)?;
        }
        if let Some(s) = &self.snapshot {
            write!(f, " snap={}/{}", s.meta.index, s.meta.term)?;
        }
        if !self.entries.is_empty() {
            write!(f, " {}", Entries(&self.entries))?;
        }
        Ok(())
    }
}

/// `Send 1->2 ... after=s7` (no `after=` for a send that need not wait).
fn send(f: &mut fmt::Formatter<'_>, msg: &Message, after: &Option<SyncId>) -> fmt::Result {
    write!(f, "Send {msg}")?;
    match after {
        Some(s) => write!(f, " after=s{s}"),
        None => Ok(()),
    }
}

impl fmt::Display for RaftOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RaftOutput::Send { msg, after } => send(f, msg, after),
            RaftOutput::Persist(op) => write!(f, "{op}"),
            RaftOutput::Apply(entries) => write!(f, "Apply {}", Entries(entries)),
            RaftOutput::RestoreSnapshot(s) => {
                write!(f, "RestoreSnapshot {}/{}", s.meta.index, s.meta.term)
            }
            RaftOutput::ReadReady { ctx, index } => write!(f, "ReadReady ctx={ctx} index={index}"),
            RaftOutput::ReadFailed { ctx, error } => write!(f, "ReadFailed ctx={ctx} ({error})"),
            RaftOutput::RoleChanged { role, term, leader } => {
                write!(f, "RoleChanged {role:?} t{term}")?;
                match leader {
                    Some(l) => write!(f, " leader={l}"),
                    None => f.write_str(" leader=-"),
                }
            }
            RaftOutput::ConfChanged { conf, index } => write!(f, "ConfChanged @{index} {conf}"),
        }
    }
}

impl<R: fmt::Debug> fmt::Display for Effect<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Effect::Send { msg, after } => send(f, msg, after),
            Effect::Persist(op) => write!(f, "{op}"),
            Effect::Respond { id, response } => write!(f, "Respond #{id} {response:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{EntryKind, HardState};
    use bytes::Bytes;

    fn entry(index: u64, term: u64) -> Entry {
        Entry { term, index, kind: EntryKind::Normal, data: Bytes::new() }
    }

    fn msg(body: MessageBody) -> Message {
        Message { from: 1, to: 2, term: 3, body }
    }

    #[test]
    fn messages_read_as_one_line() {
        let append = msg(MessageBody::Append {
            prev_index: 4,
            prev_term: 2,
            entries: vec![entry(5, 3)],
            commit: 4,
        });
        assert_eq!(append.to_string(), "1->2 Append t3 prev=4/2 [5/3] commit=4");
        let long = msg(MessageBody::Propose { entries: (1..=9).map(|i| entry(i, 3)).collect() });
        assert_eq!(long.to_string(), "1->2 Propose t3 [1/3..9/3 (9)]");
        let vote = msg(MessageBody::Vote { last_index: 4, last_term: 2, transfer: true });
        assert_eq!(vote.to_string(), "1->2 Vote t3 last=4/2 transfer");
        let nack = msg(MessageBody::AppendResponse {
            index: 9,
            reject: true,
            reject_hint: 6,
            hint_term: 2,
        });
        assert_eq!(nack.to_string(), "1->2 AppendResponse t3 reject index=9 hint=6/2");
        let answer = msg(MessageBody::VoteResponse { reject: false });
        assert_eq!(answer.to_string(), "1->2 VoteResponse t3 grant");
    }

    #[test]
    fn outputs_and_effects_read_as_one_line() {
        let send = RaftOutput::Send { msg: msg(MessageBody::TimeoutNow), after: Some(7) };
        assert_eq!(send.to_string(), "Send 1->2 TimeoutNow t3 after=s7");
        let op = PersistOp {
            sync: 7,
            hard_state: Some(HardState { term: 3, vote: Some(1), commit: 4 }),
            snapshot: None,
            entries: vec![entry(5, 3), entry(6, 3)],
        };
        assert_eq!(op.to_string(), "Persist s7 hs=t3/v1/c4 [5/3 6/3]");
        let effect: Effect<u8> = Effect::Respond { id: 9, response: 1 };
        assert_eq!(effect.to_string(), "Respond #9 1");
        let effect: Effect<u8> = Effect::Persist(op);
        assert_eq!(effect.to_string(), "Persist s7 hs=t3/v1/c4 [5/3 6/3]");
    }
}
