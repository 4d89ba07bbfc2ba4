//! Writing a [`Proposal`] in the binary payload format (the layout is on the parent
//! module). Every function is generic over a [`Sink`], so the same code first counts
//! the payload's exact length and then writes it into one buffer of that size: one
//! allocation per entry, nothing to grow or shrink, and no spare capacity kept for as
//! long as the log holds the entry.

use super::format::*;
use super::{Op, Proposal};
use crate::api::{
    AuthRequest, Compare, CompareResult, CompareTarget, DeleteRangeRequest, LeaseCheckpointRequest,
    PermType, Permission, PutRequest, RangeRequest, RequestOp, SortOrder, SortTarget, TargetUnion,
    TxnRequest,
};
use crate::server::members::{Member, MemberOp};

/// Where encoded bytes go.
pub(super) trait Sink {
    fn put_u8(&mut self, b: u8);
    fn put_slice(&mut self, s: &[u8]);
}

/// Counts bytes without writing them.
#[derive(Default)]
pub(super) struct Counter(pub usize);

impl Sink for Counter {
    fn put_u8(&mut self, _: u8) {
        self.0 += 1;
    }

    fn put_slice(&mut self, s: &[u8]) {
        self.0 += s.len();
    }
}

impl Sink for Vec<u8> {
    fn put_u8(&mut self, b: u8) {
        self.push(b);
    }

    fn put_slice(&mut self, s: &[u8]) {
        self.extend_from_slice(s);
    }
}

pub(super) fn proposal<S: Sink>(out: &mut S, p: &Proposal) {
    out.put_u8(FORMAT_BINARY);
    let mut flags = 0;
    if p.id.is_some() {
        flags |= HAS_ID;
    }
    if p.caller.is_some() {
        flags |= HAS_CALLER;
    }
    out.put_u8(flags);
    if let Some(id) = &p.id {
        uvar(out, id.origin);
        uvar(out, id.incarnation);
        uvar(out, id.seq);
    }
    if let Some(caller) = &p.caller {
        bytes(out, caller.user.as_bytes());
        uvar(out, caller.revision);
    }
    op(out, &p.op);
}

fn op<S: Sink>(out: &mut S, op: &Op) {
    match op {
        Op::Put(p) => {
            out.put_u8(OP_PUT);
            put(out, p);
        }
        Op::DeleteRange(d) => {
            out.put_u8(OP_DELETE_RANGE);
            delete(out, d);
        }
        Op::Txn(t) => {
            out.put_u8(OP_TXN);
            txn(out, t);
        }
        Op::Compact(c) => {
            out.put_u8(OP_COMPACT);
            ivar(out, c.revision);
            out.put_u8(u8::from(c.physical));
        }
        Op::LeaseGrant(g) => {
            out.put_u8(OP_LEASE_GRANT);
            ivar(out, g.ttl);
            ivar(out, g.id);
        }
        Op::LeaseRevoke(r) => {
            out.put_u8(OP_LEASE_REVOKE);
            ivar(out, r.id);
        }
        Op::LeaseExpire(e) => {
            out.put_u8(OP_LEASE_EXPIRE);
            ivar(out, e.id);
            opt_uvar(out, e.decided_index);
        }
        Op::LeaseCheckpoint(c) => {
            out.put_u8(OP_LEASE_CHECKPOINT);
            checkpoint(out, c);
        }
        Op::LeaseKeepAlive(k) => {
            out.put_u8(OP_LEASE_KEEP_ALIVE);
            ivar(out, k.id);
        }
        Op::Auth(a) => {
            out.put_u8(OP_AUTH);
            auth(out, a);
        }
        Op::Member(m) => {
            out.put_u8(OP_MEMBER);
            member_op(out, m);
        }
    }
}

fn put<S: Sink>(out: &mut S, p: &PutRequest) {
    bytes(out, &p.key);
    bytes(out, &p.value);
    ivar(out, p.lease);
    let mut flags = 0;
    if p.prev_kv {
        flags |= PUT_PREV_KV;
    }
    if p.ignore_value {
        flags |= PUT_IGNORE_VALUE;
    }
    if p.ignore_lease {
        flags |= PUT_IGNORE_LEASE;
    }
    out.put_u8(flags);
}

fn delete<S: Sink>(out: &mut S, d: &DeleteRangeRequest) {
    bytes(out, &d.key);
    bytes(out, &d.range_end);
    out.put_u8(u8::from(d.prev_kv));
}

fn range<S: Sink>(out: &mut S, r: &RangeRequest) {
    bytes(out, &r.key);
    bytes(out, &r.range_end);
    ivar(out, r.limit);
    ivar(out, r.revision);
    out.put_u8(match r.sort_order {
        SortOrder::None => 0,
        SortOrder::Ascend => 1,
        SortOrder::Descend => 2,
    });
    out.put_u8(match r.sort_target {
        SortTarget::Key => 0,
        SortTarget::Version => 1,
        SortTarget::Create => 2,
        SortTarget::Mod => 3,
        SortTarget::Value => 4,
    });
    let mut flags = 0;
    if r.serializable {
        flags |= RANGE_SERIALIZABLE;
    }
    if r.keys_only {
        flags |= RANGE_KEYS_ONLY;
    }
    if r.count_only {
        flags |= RANGE_COUNT_ONLY;
    }
    out.put_u8(flags);
    ivar(out, r.min_mod_revision);
    ivar(out, r.max_mod_revision);
    ivar(out, r.min_create_revision);
    ivar(out, r.max_create_revision);
}

fn txn<S: Sink>(out: &mut S, t: &TxnRequest) {
    len(out, t.compare.len());
    for c in &t.compare {
        compare(out, c);
    }
    for branch in [&t.success, &t.failure] {
        len(out, branch.len());
        for op in branch {
            request_op(out, op);
        }
    }
}

fn request_op<S: Sink>(out: &mut S, op: &RequestOp) {
    match op {
        RequestOp::Range(r) => {
            out.put_u8(REQ_RANGE);
            range(out, r);
        }
        RequestOp::Put(p) => {
            out.put_u8(REQ_PUT);
            put(out, p);
        }
        RequestOp::DeleteRange(d) => {
            out.put_u8(REQ_DELETE_RANGE);
            delete(out, d);
        }
        RequestOp::Txn(t) => {
            out.put_u8(REQ_TXN);
            txn(out, t);
        }
    }
}

fn compare<S: Sink>(out: &mut S, c: &Compare) {
    out.put_u8(match c.result {
        CompareResult::Equal => 0,
        CompareResult::Greater => 1,
        CompareResult::Less => 2,
        CompareResult::NotEqual => 3,
    });
    out.put_u8(match c.target {
        CompareTarget::Version => 0,
        CompareTarget::Create => 1,
        CompareTarget::Mod => 2,
        CompareTarget::Value => 3,
        CompareTarget::Lease => 4,
    });
    bytes(out, &c.key);
    bytes(out, &c.range_end);
    match &c.target_union {
        TargetUnion::Version(v) => {
            out.put_u8(UNION_VERSION);
            ivar(out, *v);
        }
        TargetUnion::CreateRevision(v) => {
            out.put_u8(UNION_CREATE_REVISION);
            ivar(out, *v);
        }
        TargetUnion::ModRevision(v) => {
            out.put_u8(UNION_MOD_REVISION);
            ivar(out, *v);
        }
        TargetUnion::Value(v) => {
            out.put_u8(UNION_VALUE);
            bytes(out, v);
        }
        TargetUnion::Lease(v) => {
            out.put_u8(UNION_LEASE);
            ivar(out, *v);
        }
    }
}

fn checkpoint<S: Sink>(out: &mut S, c: &LeaseCheckpointRequest) {
    len(out, c.checkpoints.len());
    for cp in &c.checkpoints {
        ivar(out, cp.id);
        uvar(out, cp.remaining_ticks);
    }
    opt_uvar(out, c.decided_index);
}

fn auth<S: Sink>(out: &mut S, a: &AuthRequest) {
    match a {
        AuthRequest::Enable => out.put_u8(AUTH_ENABLE),
        AuthRequest::Disable => out.put_u8(AUTH_DISABLE),
        AuthRequest::Status => out.put_u8(AUTH_STATUS),
        AuthRequest::Authenticate { name, token, password_hash } => {
            out.put_u8(AUTH_AUTHENTICATE);
            string(out, name);
            string(out, token);
            string(out, password_hash);
        }
        AuthRequest::UserAdd { name, password_hash } => {
            out.put_u8(AUTH_USER_ADD);
            string(out, name);
            match password_hash {
                None => out.put_u8(0),
                Some(h) => {
                    out.put_u8(1);
                    string(out, h);
                }
            }
        }
        AuthRequest::UserGet { name } => {
            out.put_u8(AUTH_USER_GET);
            string(out, name);
        }
        AuthRequest::UserList => out.put_u8(AUTH_USER_LIST),
        AuthRequest::UserDelete { name } => {
            out.put_u8(AUTH_USER_DELETE);
            string(out, name);
        }
        AuthRequest::UserChangePassword { name, password_hash } => {
            out.put_u8(AUTH_USER_CHANGE_PASSWORD);
            string(out, name);
            string(out, password_hash);
        }
        AuthRequest::UserGrantRole { user, role } => {
            out.put_u8(AUTH_USER_GRANT_ROLE);
            string(out, user);
            string(out, role);
        }
        AuthRequest::UserRevokeRole { name, role } => {
            out.put_u8(AUTH_USER_REVOKE_ROLE);
            string(out, name);
            string(out, role);
        }
        AuthRequest::RoleAdd { name } => {
            out.put_u8(AUTH_ROLE_ADD);
            string(out, name);
        }
        AuthRequest::RoleGet { role } => {
            out.put_u8(AUTH_ROLE_GET);
            string(out, role);
        }
        AuthRequest::RoleList => out.put_u8(AUTH_ROLE_LIST),
        AuthRequest::RoleDelete { role } => {
            out.put_u8(AUTH_ROLE_DELETE);
            string(out, role);
        }
        AuthRequest::RoleGrantPermission { name, perm } => {
            out.put_u8(AUTH_ROLE_GRANT_PERMISSION);
            string(out, name);
            permission(out, perm);
        }
        AuthRequest::RoleRevokePermission { role, key, range_end } => {
            out.put_u8(AUTH_ROLE_REVOKE_PERMISSION);
            string(out, role);
            bytes(out, key);
            bytes(out, range_end);
        }
        AuthRequest::UserPasswordHash { name } => {
            out.put_u8(AUTH_USER_PASSWORD_HASH);
            string(out, name);
        }
    }
}

fn permission<S: Sink>(out: &mut S, p: &Permission) {
    out.put_u8(match p.perm_type {
        PermType::Read => 0,
        PermType::Write => 1,
        PermType::ReadWrite => 2,
    });
    bytes(out, &p.key);
    bytes(out, &p.range_end);
}

fn member_op<S: Sink>(out: &mut S, m: &MemberOp) {
    match m {
        MemberOp::Add(member) => {
            out.put_u8(MEMBER_ADD);
            member_fields(out, member);
        }
        MemberOp::Remove(id) => {
            out.put_u8(MEMBER_REMOVE);
            uvar(out, *id);
        }
        MemberOp::Update { id, peer_urls } => {
            out.put_u8(MEMBER_UPDATE);
            uvar(out, *id);
            strings(out, peer_urls);
        }
        MemberOp::Promote(id) => {
            out.put_u8(MEMBER_PROMOTE);
            uvar(out, *id);
        }
    }
}

fn member_fields<S: Sink>(out: &mut S, m: &Member) {
    uvar(out, m.id);
    string(out, &m.name);
    strings(out, &m.peer_urls);
    strings(out, &m.client_urls);
    out.put_u8(u8::from(m.is_learner));
}

fn strings<S: Sink>(out: &mut S, list: &[String]) {
    len(out, list.len());
    for s in list {
        string(out, s);
    }
}

fn string<S: Sink>(out: &mut S, s: &str) {
    bytes(out, s.as_bytes());
}

fn bytes<S: Sink>(out: &mut S, b: &[u8]) {
    len(out, b.len());
    out.put_slice(b);
}

fn len<S: Sink>(out: &mut S, n: usize) {
    // usize is at most 64 bits on every target Rust supports.
    uvar(out, n as u64);
}

fn opt_uvar<S: Sink>(out: &mut S, v: Option<u64>) {
    match v {
        None => out.put_u8(0),
        Some(v) => {
            out.put_u8(1);
            uvar(out, v);
        }
    }
}

/// A signed integer, zigzag-mapped so small negative numbers stay short.
fn ivar<S: Sink>(out: &mut S, v: i64) {
    uvar(out, ((v << 1) ^ (v >> 63)) as u64);
}

/// LEB128: seven bits per byte, low bits first, the high bit set on every byte but
/// the last. Always the shortest form (the decoder refuses any other).
fn uvar<S: Sink>(out: &mut S, mut v: u64) {
    while v >= 0x80 {
        out.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    out.put_u8(v as u8);
}
