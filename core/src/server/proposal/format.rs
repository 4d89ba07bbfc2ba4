//! The tags and flag bits of the binary payload format, shared by the encoder and the
//! decoder so the two cannot disagree on a number.
//!
//! Layout (`uvar` is LEB128 in its shortest form, `ivar` a zigzag-mapped `uvar`, a
//! byte string or text is a `uvar` length then the bytes, a list a `uvar` count then
//! its items, an option a 0/1 byte then the value):
//!
//! ```text
//! payload  = FORMAT_BINARY:u8  flags:u8  [origin incarnation seq : uvar]  [user:text revision:uvar]  op
//! op       = OP_*:u8 then the op's fields in declaration order
//! put      = key value lease:ivar flags:u8 (PUT_*)
//! delete   = key range_end prev_kv:u8
//! txn      = compare-list success-list failure-list   (lists of REQ_*-tagged request ops)
//! ```
//!
//! Booleans are 0 or 1, several of one struct packed into one flags byte; enums are
//! one byte in declaration order. Every value has exactly one encoding: the decoder
//! refuses unknown tags, unknown flag bits, longer-than-needed integers and trailing
//! bytes, so a payload that decodes encodes back to the same bytes.

/// First byte of every payload in this format. Earlier builds wrote CBOR, whose
/// proposals always start with a map header (0xa0..=0xbf), so the two never collide.
pub(super) const FORMAT_BINARY: u8 = 1;

/// Deepest txn nesting a payload may hold (a txn in a txn is depth 2): the decoder
/// recurses once per level, so bytes it did not write must not choose the depth. A
/// deeper txn is refused before it is proposed (`validate`). Deeper than etcd's default
/// `--max-txn-ops` (128, each level one op of its parent) lets a txn nest, so no
/// request etcd accepts by default is refused.
pub const TXN_DEPTH_MAX: usize = 256;

pub(super) const HAS_ID: u8 = 1;
pub(super) const HAS_CALLER: u8 = 2;

pub(super) const OP_PUT: u8 = 1;
pub(super) const OP_DELETE_RANGE: u8 = 2;
pub(super) const OP_TXN: u8 = 3;
pub(super) const OP_COMPACT: u8 = 4;
pub(super) const OP_LEASE_GRANT: u8 = 5;
pub(super) const OP_LEASE_REVOKE: u8 = 6;
pub(super) const OP_LEASE_EXPIRE: u8 = 7;
pub(super) const OP_LEASE_CHECKPOINT: u8 = 8;
pub(super) const OP_LEASE_KEEP_ALIVE: u8 = 9;
pub(super) const OP_AUTH: u8 = 10;
pub(super) const OP_MEMBER: u8 = 11;

pub(super) const PUT_PREV_KV: u8 = 1;
pub(super) const PUT_IGNORE_VALUE: u8 = 2;
pub(super) const PUT_IGNORE_LEASE: u8 = 4;

pub(super) const RANGE_SERIALIZABLE: u8 = 1;
pub(super) const RANGE_KEYS_ONLY: u8 = 2;
pub(super) const RANGE_COUNT_ONLY: u8 = 4;

pub(super) const REQ_RANGE: u8 = 1;
pub(super) const REQ_PUT: u8 = 2;
pub(super) const REQ_DELETE_RANGE: u8 = 3;
pub(super) const REQ_TXN: u8 = 4;

pub(super) const UNION_VERSION: u8 = 1;
pub(super) const UNION_CREATE_REVISION: u8 = 2;
pub(super) const UNION_MOD_REVISION: u8 = 3;
pub(super) const UNION_VALUE: u8 = 4;
pub(super) const UNION_LEASE: u8 = 5;

pub(super) const AUTH_ENABLE: u8 = 1;
pub(super) const AUTH_DISABLE: u8 = 2;
pub(super) const AUTH_STATUS: u8 = 3;
pub(super) const AUTH_AUTHENTICATE: u8 = 4;
pub(super) const AUTH_USER_ADD: u8 = 5;
pub(super) const AUTH_USER_GET: u8 = 6;
pub(super) const AUTH_USER_LIST: u8 = 7;
pub(super) const AUTH_USER_DELETE: u8 = 8;
pub(super) const AUTH_USER_CHANGE_PASSWORD: u8 = 9;
pub(super) const AUTH_USER_GRANT_ROLE: u8 = 10;
pub(super) const AUTH_USER_REVOKE_ROLE: u8 = 11;
pub(super) const AUTH_ROLE_ADD: u8 = 12;
pub(super) const AUTH_ROLE_GET: u8 = 13;
pub(super) const AUTH_ROLE_LIST: u8 = 14;
pub(super) const AUTH_ROLE_DELETE: u8 = 15;
pub(super) const AUTH_ROLE_GRANT_PERMISSION: u8 = 16;
pub(super) const AUTH_ROLE_REVOKE_PERMISSION: u8 = 17;
pub(super) const AUTH_USER_PASSWORD_HASH: u8 = 18;

pub(super) const MEMBER_ADD: u8 = 1;
pub(super) const MEMBER_REMOVE: u8 = 2;
pub(super) const MEMBER_UPDATE: u8 = 3;
pub(super) const MEMBER_PROMOTE: u8 = 4;
