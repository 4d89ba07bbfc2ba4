//! Reading a [`Proposal`] from the binary payload format (layout in `format`).
//!
//! The bytes are untrusted (a disk can corrupt them, a peer can send anything): every
//! length and count is checked against the bytes that remain before it is used, so a
//! corrupt payload is a [`PayloadError`], never a panic or an allocation the payload
//! cannot back; txn nesting is bounded by [`TXN_DEPTH_MAX`].

use super::format::*;
use super::{Op, PayloadError, Proposal, ProposalId};
use crate::api::{
    AuthInfo, AuthRequest, CompactionRequest, Compare, CompareResult, CompareTarget,
    DeleteRangeRequest, LeaseCheckpoint, LeaseCheckpointRequest, LeaseExpireRequest,
    LeaseGrantRequest, LeaseKeepAliveRequest, LeaseRevokeRequest, PermType, Permission, PutRequest,
    RangeRequest, RequestOp, SortOrder, SortTarget, TargetUnion, TxnRequest,
};
use crate::server::members::{Member, MemberOp};
use bytes::Bytes;

type Result<T> = std::result::Result<T, PayloadError>;

fn malformed<T>(why: &'static str) -> Result<T> {
    Err(PayloadError::Malformed(why))
}

/// A bounds-checked cursor over one payload.
pub(super) struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
    /// The payload as a shared buffer when large values may point into it
    /// (`Proposal::decode_shared`); they are copied otherwise.
    shared: Option<&'a Bytes>,
}

impl<'a> Reader<'a> {
    pub(super) fn new(data: &'a [u8], shared: Option<&'a Bytes>) -> Reader<'a> {
        Reader { data, pos: 0, shared }
    }

    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return malformed("field runs past the end of the payload");
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn bool(&mut self) -> Result<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => malformed("boolean is neither 0 nor 1"),
        }
    }

    /// A flags byte whose bits all lie in `known`.
    fn flags(&mut self, known: u8) -> Result<u8> {
        let f = self.u8()?;
        if f & !known != 0 {
            return malformed("unknown flag bits");
        }
        Ok(f)
    }

    fn uvar(&mut self) -> Result<u64> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let b = self.u8()?;
            let bits = u64::from(b & 0x7f);
            // The tenth byte holds bit 63 alone.
            if i == 9 && bits > 1 {
                return malformed("integer overflows 64 bits");
            }
            v |= bits << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return malformed("integer is not in its shortest form");
                }
                return Ok(v);
            }
        }
        malformed("integer overflows 64 bits")
    }

    fn ivar(&mut self) -> Result<i64> {
        let u = self.uvar()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    fn opt_uvar(&mut self) -> Result<Option<u64>> {
        Ok(if self.bool()? { Some(self.uvar()?) } else { None })
    }

    /// A length or count, at most the bytes that remain divided by `item_bytes_min`
    /// (the smallest encoding of one item), so no count can make us allocate more
    /// than the payload backs.
    fn count(&mut self, item_bytes_min: usize) -> Result<usize> {
        let n = self.uvar()?;
        match usize::try_from(n) {
            Ok(n) if n <= self.remaining() / item_bytes_min => Ok(n),
            _ => malformed("length or count exceeds the payload"),
        }
    }

    fn slice(&mut self) -> Result<&'a [u8]> {
        let n = self.count(1)?;
        self.take(n)
    }

    /// A byte string, copied.
    fn bytes(&mut self) -> Result<Bytes> {
        Ok(Bytes::copy_from_slice(self.slice()?))
    }

    /// A put's value: a slice of the shared payload when it makes up at least half of
    /// it, so a value kept after its entry is gone pins at most as many other bytes as
    /// it has itself; a copy otherwise.
    fn value(&mut self) -> Result<Bytes> {
        let n = self.count(1)?;
        let start = self.pos;
        let s = self.take(n)?;
        match self.shared {
            Some(all) if n > 0 && n * 2 >= self.data.len() => Ok(all.slice(start..start + n)),
            _ => Ok(Bytes::copy_from_slice(s)),
        }
    }

    fn string(&mut self) -> Result<String> {
        match std::str::from_utf8(self.slice()?) {
            Ok(s) => Ok(s.to_owned()),
            Err(_) => malformed("text is not UTF-8"),
        }
    }

    fn strings(&mut self) -> Result<Vec<String>> {
        let n = self.count(1)?;
        let mut v = Vec::with_capacity(n);
        for _ in 0..n {
            v.push(self.string()?);
        }
        Ok(v)
    }

    fn finish(&self) -> Result<()> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            malformed("unexpected bytes after the operation")
        }
    }
}

/// Decodes a whole payload whose format byte is [`FORMAT_BINARY`].
pub(super) fn proposal(r: &mut Reader) -> Result<Proposal> {
    let format = r.u8()?;
    debug_assert_eq!(format, FORMAT_BINARY, "the caller dispatches on the format byte");
    let flags = r.flags(HAS_ID | HAS_CALLER)?;
    let id = if flags & HAS_ID != 0 {
        Some(ProposalId { origin: r.uvar()?, incarnation: r.uvar()?, seq: r.uvar()? })
    } else {
        None
    };
    let caller = if flags & HAS_CALLER != 0 {
        Some(AuthInfo { user: r.string()?, revision: r.uvar()? })
    } else {
        None
    };
    let op = op(r)?;
    r.finish()?;
    Ok(Proposal { id, op, caller })
}

fn op(r: &mut Reader) -> Result<Op> {
    Ok(match r.u8()? {
        OP_PUT => Op::Put(put(r)?),
        OP_DELETE_RANGE => Op::DeleteRange(delete(r)?),
        OP_TXN => Op::Txn(txn(r, 1)?),
        OP_COMPACT => Op::Compact(CompactionRequest { revision: r.ivar()?, physical: r.bool()? }),
        OP_LEASE_GRANT => Op::LeaseGrant(LeaseGrantRequest { ttl: r.ivar()?, id: r.ivar()? }),
        OP_LEASE_REVOKE => Op::LeaseRevoke(LeaseRevokeRequest { id: r.ivar()? }),
        OP_LEASE_EXPIRE => {
            Op::LeaseExpire(LeaseExpireRequest { id: r.ivar()?, decided_index: r.opt_uvar()? })
        }
        OP_LEASE_CHECKPOINT => Op::LeaseCheckpoint(checkpoint(r)?),
        OP_LEASE_KEEP_ALIVE => Op::LeaseKeepAlive(LeaseKeepAliveRequest { id: r.ivar()? }),
        OP_AUTH => Op::Auth(auth(r)?),
        OP_MEMBER => Op::Member(member_op(r)?),
        _ => return malformed("unknown operation"),
    })
}

fn put(r: &mut Reader) -> Result<PutRequest> {
    let key = r.bytes()?;
    let value = r.value()?;
    let lease = r.ivar()?;
    let flags = r.flags(PUT_PREV_KV | PUT_IGNORE_VALUE | PUT_IGNORE_LEASE)?;
    Ok(PutRequest {
        key,
        value,
        lease,
        prev_kv: flags & PUT_PREV_KV != 0,
        ignore_value: flags & PUT_IGNORE_VALUE != 0,
        ignore_lease: flags & PUT_IGNORE_LEASE != 0,
    })
}

fn delete(r: &mut Reader) -> Result<DeleteRangeRequest> {
    Ok(DeleteRangeRequest { key: r.bytes()?, range_end: r.bytes()?, prev_kv: r.bool()? })
}

fn range(r: &mut Reader) -> Result<RangeRequest> {
    let key = r.bytes()?;
    let range_end = r.bytes()?;
    let limit = r.ivar()?;
    let revision = r.ivar()?;
    let sort_order = match r.u8()? {
        0 => SortOrder::None,
        1 => SortOrder::Ascend,
        2 => SortOrder::Descend,
        _ => return malformed("unknown sort order"),
    };
    let sort_target = match r.u8()? {
        0 => SortTarget::Key,
        1 => SortTarget::Version,
        2 => SortTarget::Create,
        3 => SortTarget::Mod,
        4 => SortTarget::Value,
        _ => return malformed("unknown sort target"),
    };
    let flags = r.flags(RANGE_SERIALIZABLE | RANGE_KEYS_ONLY | RANGE_COUNT_ONLY)?;
    Ok(RangeRequest {
        key,
        range_end,
        limit,
        revision,
        sort_order,
        sort_target,
        serializable: flags & RANGE_SERIALIZABLE != 0,
        keys_only: flags & RANGE_KEYS_ONLY != 0,
        count_only: flags & RANGE_COUNT_ONLY != 0,
        min_mod_revision: r.ivar()?,
        max_mod_revision: r.ivar()?,
        min_create_revision: r.ivar()?,
        max_create_revision: r.ivar()?,
    })
}

/// Smallest encodings, for bounding counts: a compare (result, target, two empty
/// byte strings, a union tag and a one-byte integer) and a request op (a tag and at
/// least one byte of fields).
const COMPARE_BYTES_MIN: usize = 6;
const REQUEST_OP_BYTES_MIN: usize = 2;
const CHECKPOINT_BYTES_MIN: usize = 2;

/// A txn at nesting `depth` (the outermost is 1).
fn txn(r: &mut Reader, depth: usize) -> Result<TxnRequest> {
    if depth > TXN_DEPTH_MAX {
        return malformed("txn nested too deep");
    }
    let n = r.count(COMPARE_BYTES_MIN)?;
    let mut compare = Vec::with_capacity(n);
    for _ in 0..n {
        compare.push(compare_of(r)?);
    }
    let success = branch(r, depth)?;
    let failure = branch(r, depth)?;
    Ok(TxnRequest { compare, success, failure })
}

fn branch(r: &mut Reader, depth: usize) -> Result<Vec<RequestOp>> {
    let n = r.count(REQUEST_OP_BYTES_MIN)?;
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        ops.push(match r.u8()? {
            REQ_RANGE => RequestOp::Range(range(r)?),
            REQ_PUT => RequestOp::Put(put(r)?),
            REQ_DELETE_RANGE => RequestOp::DeleteRange(delete(r)?),
            REQ_TXN => RequestOp::Txn(txn(r, depth + 1)?),
            _ => return malformed("unknown request op in txn"),
        });
    }
    Ok(ops)
}

fn compare_of(r: &mut Reader) -> Result<Compare> {
    let result = match r.u8()? {
        0 => CompareResult::Equal,
        1 => CompareResult::Greater,
        2 => CompareResult::Less,
        3 => CompareResult::NotEqual,
        _ => return malformed("unknown compare result"),
    };
    let target = match r.u8()? {
        0 => CompareTarget::Version,
        1 => CompareTarget::Create,
        2 => CompareTarget::Mod,
        3 => CompareTarget::Value,
        4 => CompareTarget::Lease,
        _ => return malformed("unknown compare target"),
    };
    let key = r.bytes()?;
    let range_end = r.bytes()?;
    let target_union = match r.u8()? {
        UNION_VERSION => TargetUnion::Version(r.ivar()?),
        UNION_CREATE_REVISION => TargetUnion::CreateRevision(r.ivar()?),
        UNION_MOD_REVISION => TargetUnion::ModRevision(r.ivar()?),
        UNION_VALUE => TargetUnion::Value(r.bytes()?),
        UNION_LEASE => TargetUnion::Lease(r.ivar()?),
        _ => return malformed("unknown compare value"),
    };
    Ok(Compare { result, target, key, target_union, range_end })
}

fn checkpoint(r: &mut Reader) -> Result<LeaseCheckpointRequest> {
    let n = r.count(CHECKPOINT_BYTES_MIN)?;
    let mut checkpoints = Vec::with_capacity(n);
    for _ in 0..n {
        checkpoints.push(LeaseCheckpoint { id: r.ivar()?, remaining_ticks: r.uvar()? });
    }
    Ok(LeaseCheckpointRequest { checkpoints, decided_index: r.opt_uvar()? })
}

fn auth(r: &mut Reader) -> Result<AuthRequest> {
    Ok(match r.u8()? {
        AUTH_ENABLE => AuthRequest::Enable,
        AUTH_DISABLE => AuthRequest::Disable,
        AUTH_STATUS => AuthRequest::Status,
        AUTH_AUTHENTICATE => AuthRequest::Authenticate {
            name: r.string()?,
            token: r.string()?,
            password_hash: r.string()?,
        },
        AUTH_USER_ADD => AuthRequest::UserAdd {
            name: r.string()?,
            password_hash: if r.bool()? { Some(r.string()?) } else { None },
        },
        AUTH_USER_GET => AuthRequest::UserGet { name: r.string()? },
        AUTH_USER_LIST => AuthRequest::UserList,
        AUTH_USER_DELETE => AuthRequest::UserDelete { name: r.string()? },
        AUTH_USER_CHANGE_PASSWORD => {
            AuthRequest::UserChangePassword { name: r.string()?, password_hash: r.string()? }
        }
        AUTH_USER_GRANT_ROLE => AuthRequest::UserGrantRole { user: r.string()?, role: r.string()? },
        AUTH_USER_REVOKE_ROLE => {
            AuthRequest::UserRevokeRole { name: r.string()?, role: r.string()? }
        }
        AUTH_ROLE_ADD => AuthRequest::RoleAdd { name: r.string()? },
        AUTH_ROLE_GET => AuthRequest::RoleGet { role: r.string()? },
        AUTH_ROLE_LIST => AuthRequest::RoleList,
        AUTH_ROLE_DELETE => AuthRequest::RoleDelete { role: r.string()? },
        AUTH_ROLE_GRANT_PERMISSION => {
            AuthRequest::RoleGrantPermission { name: r.string()?, perm: permission(r)? }
        }
        AUTH_ROLE_REVOKE_PERMISSION => AuthRequest::RoleRevokePermission {
            role: r.string()?,
            key: r.bytes()?,
            range_end: r.bytes()?,
        },
        AUTH_USER_PASSWORD_HASH => AuthRequest::UserPasswordHash { name: r.string()? },
        _ => return malformed("unknown auth request"),
    })
}

fn permission(r: &mut Reader) -> Result<Permission> {
    let perm_type = match r.u8()? {
        0 => PermType::Read,
        1 => PermType::Write,
        2 => PermType::ReadWrite,
        _ => return malformed("unknown permission type"),
    };
    Ok(Permission { perm_type, key: r.bytes()?, range_end: r.bytes()? })
}

fn member_op(r: &mut Reader) -> Result<MemberOp> {
    Ok(match r.u8()? {
        MEMBER_ADD => MemberOp::Add(Member {
            id: r.uvar()?,
            name: r.string()?,
            peer_urls: r.strings()?,
            client_urls: r.strings()?,
            is_learner: r.bool()?,
        }),
        MEMBER_REMOVE => MemberOp::Remove(r.uvar()?),
        MEMBER_UPDATE => MemberOp::Update { id: r.uvar()?, peer_urls: r.strings()? },
        MEMBER_PROMOTE => MemberOp::Promote(r.uvar()?),
        _ => return malformed("unknown member change"),
    })
}
