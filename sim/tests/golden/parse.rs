//! Reads back what golden files write: a Raft message in the one-line form
//! `describe.rs` prints (`1->2 Append t3 prev=4/2 [5/3] commit=4`), entries as
//! `[index/term ...]` and `key=value` options, so a case hand-builds its input in the
//! same words the output uses.

use detcd_core::raft::{Message, MessageBody};
use detcd_core::types::{ConfState, Entry, Index, Term};
use detcd_sim::raft_process::{empty_snapshot, test_entry};

/// A number, or a panic naming the command it came from.
pub fn num(word: &str, command: &str) -> u64 {
    word.parse().unwrap_or_else(|_| panic!("{command:?}: {word:?} is not a number"))
}

/// `index/term`.
pub fn pair(word: &str, command: &str) -> (Index, Term) {
    let (i, t) = word.split_once('/').unwrap_or_else(|| panic!("{command:?}: {word:?}: i/t"));
    (num(i, command), num(t, command))
}

/// The value of `key=` among `words`, if present.
pub fn opt<'a>(words: &[&'a str], key: &str) -> Option<&'a str> {
    words.iter().find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
}

/// Entries written `[1/1 2/1 3/2]`, starting at `words[0]`; returns them and how many
/// words they took. Each is a `test_entry` (a put of key index, value term).
pub fn entries(words: &[&str], command: &str) -> (Vec<Entry>, usize) {
    let first = words.first().and_then(|w| w.strip_prefix('['));
    let mut rest = first.unwrap_or_else(|| panic!("{command:?}: entries start with `[`"));
    let mut out = Vec::new();
    for (used, word) in words.iter().enumerate() {
        if used > 0 {
            rest = word;
        }
        let (body, last) = match rest.strip_suffix(']') {
            Some(b) => (b, true),
            None => (rest, false),
        };
        if !body.is_empty() {
            let (index, term) = pair(body, command);
            out.push(test_entry(index, term));
        }
        if last {
            return (out, used + 1);
        }
    }
    panic!("{command:?}: entries end with `]`")
}

/// A message as `describe.rs` prints it; `voters` fills in a snapshot's membership.
pub fn message(words: &[&str], voters: &[u64], command: &str) -> Message {
    let bad = || -> ! { panic!("{command:?}: not a message") };
    let [route, kind, term, rest @ ..] = words else { bad() };
    let (from, to) = route.split_once("->").unwrap_or_else(|| bad());
    let term = num(term.strip_prefix('t').unwrap_or_else(|| bad()), command);
    let get = |key: &str| opt(rest, key).unwrap_or_else(|| panic!("{command:?}: needs {key}="));
    let n = |key: &str| num(get(key), command);
    let verdict = || match rest.first() {
        Some(&"grant") => false,
        Some(&"reject") => true,
        _ => panic!("{command:?}: grant or reject"),
    };
    let body = match *kind {
        "PreVote" => {
            let (last_index, last_term) = pair(get("last"), command);
            MessageBody::PreVote { last_index, last_term }
        }
        "PreVoteResponse" => MessageBody::PreVoteResponse { reject: verdict() },
        "Vote" => {
            let (last_index, last_term) = pair(get("last"), command);
            MessageBody::Vote { last_index, last_term, transfer: rest.contains(&"transfer") }
        }
        "VoteResponse" => MessageBody::VoteResponse { reject: verdict() },
        "Append" => {
            let (prev_index, prev_term) = pair(get("prev"), command);
            let at = rest.iter().position(|w| w.starts_with('[')).unwrap_or_else(|| bad());
            let (entries, _) = entries(&rest[at..], command);
            MessageBody::Append { prev_index, prev_term, entries, commit: n("commit") }
        }
        "AppendResponse" if rest.first() == Some(&"ok") => MessageBody::AppendResponse {
            index: n("index"),
            reject: false,
            reject_hint: 0,
            hint_term: 0,
        },
        "AppendResponse" => {
            let (reject_hint, hint_term) = pair(get("hint"), command);
            MessageBody::AppendResponse { index: n("index"), reject: true, reject_hint, hint_term }
        }
        "Heartbeat" => MessageBody::Heartbeat { commit: n("commit"), ctx: n("ctx") },
        "HeartbeatResponse" => MessageBody::HeartbeatResponse { ctx: n("ctx") },
        "InstallSnapshot" => {
            let (index, term) = pair(get("snap"), command);
            let conf = ConfState::with_voters(voters.iter().copied());
            MessageBody::InstallSnapshot { snapshot: empty_snapshot(index, term, conf) }
        }
        "Propose" => MessageBody::Propose { entries: entries(rest, command).0 },
        "ReadIndex" => MessageBody::ReadIndex { ctx: n("ctx") },
        "ReadIndexResponse" => MessageBody::ReadIndexResponse { ctx: n("ctx"), index: n("index") },
        "TimeoutNow" => MessageBody::TimeoutNow,
        _ => bad(),
    };
    Message { from: num(from, command), to: num(to, command), term, body }
}
