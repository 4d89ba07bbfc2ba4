//! The log payload codec on arbitrary input: every operation the core proposes round
//! trips (copied and shared decoding alike), and bytes from anywhere (random, or a
//! valid payload damaged) decode to a typed error or to a proposal that encodes back
//! to exactly those bytes, never a panic.

use bytes::Bytes;
use detcd_core::api::*;
use detcd_core::server::{Member, MemberOp, Op, Proposal, ProposalId};
use proptest::collection::vec;
use proptest::prelude::*;

fn bytes_of(max: usize) -> impl Strategy<Value = Bytes> {
    prop_oneof![
        3 => vec(any::<u8>(), 0..=max.min(8)).prop_map(Bytes::from),
        1 => vec(any::<u8>(), 0..=max).prop_map(Bytes::from),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![Just(String::new()), "[a-z]{1,8}", "\\PC{0,6}"]
}

/// Integers at the edges of every encoding width as well as anywhere.
fn int() -> impl Strategy<Value = i64> {
    prop_oneof![Just(0i64), Just(-1), Just(i64::MIN), Just(i64::MAX), -200i64..200, any::<i64>(),]
}

fn uint() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0u64), Just(u64::MAX), 0u64..300, any::<u64>()]
}

fn put() -> impl Strategy<Value = PutRequest> {
    (bytes_of(16), bytes_of(600), int(), any::<[bool; 3]>()).prop_map(|(key, value, lease, f)| {
        PutRequest { key, value, lease, prev_kv: f[0], ignore_value: f[1], ignore_lease: f[2] }
    })
}

fn delete() -> impl Strategy<Value = DeleteRangeRequest> {
    (bytes_of(16), bytes_of(16), any::<bool>())
        .prop_map(|(key, range_end, prev_kv)| DeleteRangeRequest { key, range_end, prev_kv })
}

fn range() -> impl Strategy<Value = RangeRequest> {
    let order =
        prop_oneof![Just(SortOrder::None), Just(SortOrder::Ascend), Just(SortOrder::Descend)];
    let target = prop_oneof![
        Just(SortTarget::Key),
        Just(SortTarget::Version),
        Just(SortTarget::Create),
        Just(SortTarget::Mod),
        Just(SortTarget::Value),
    ];
    (
        bytes_of(16),
        bytes_of(16),
        int(),
        int(),
        order,
        target,
        any::<[bool; 3]>(),
        [int(), int(), int(), int()],
    )
        .prop_map(|(key, range_end, limit, revision, sort_order, sort_target, f, r)| {
            RangeRequest {
                key,
                range_end,
                limit,
                revision,
                sort_order,
                sort_target,
                serializable: f[0],
                keys_only: f[1],
                count_only: f[2],
                min_mod_revision: r[0],
                max_mod_revision: r[1],
                min_create_revision: r[2],
                max_create_revision: r[3],
            }
        })
}

fn compare() -> impl Strategy<Value = Compare> {
    let result = prop_oneof![
        Just(CompareResult::Equal),
        Just(CompareResult::Greater),
        Just(CompareResult::Less),
        Just(CompareResult::NotEqual),
    ];
    let target = prop_oneof![
        Just(CompareTarget::Version),
        Just(CompareTarget::Create),
        Just(CompareTarget::Mod),
        Just(CompareTarget::Value),
        Just(CompareTarget::Lease),
    ];
    let union = prop_oneof![
        int().prop_map(TargetUnion::Version),
        int().prop_map(TargetUnion::CreateRevision),
        int().prop_map(TargetUnion::ModRevision),
        bytes_of(32).prop_map(TargetUnion::Value),
        int().prop_map(TargetUnion::Lease),
    ];
    (result, target, bytes_of(16), union, bytes_of(16)).prop_map(
        |(result, target, key, target_union, range_end)| Compare {
            result,
            target,
            key,
            target_union,
            range_end,
        },
    )
}

fn txn() -> impl Strategy<Value = TxnRequest> {
    let leaf = prop_oneof![
        range().prop_map(RequestOp::Range),
        put().prop_map(RequestOp::Put),
        delete().prop_map(RequestOp::DeleteRange),
    ];
    let ops = leaf.prop_recursive(4, 24, 4, |inner| {
        (vec(compare(), 0..3), vec(inner.clone(), 0..4), vec(inner, 0..3)).prop_map(
            |(compare, success, failure)| RequestOp::Txn(TxnRequest { compare, success, failure }),
        )
    });
    (vec(compare(), 0..4), vec(ops.clone(), 0..5), vec(ops, 0..4))
        .prop_map(|(compare, success, failure)| TxnRequest { compare, success, failure })
}

fn auth() -> impl Strategy<Value = AuthRequest> {
    let perm = (
        prop_oneof![Just(PermType::Read), Just(PermType::Write), Just(PermType::ReadWrite)],
        bytes_of(16),
        bytes_of(16),
    )
        .prop_map(|(perm_type, key, range_end)| Permission { perm_type, key, range_end });
    prop_oneof![
        Just(AuthRequest::Enable),
        Just(AuthRequest::Disable),
        Just(AuthRequest::Status),
        (text(), text(), text()).prop_map(|(name, token, password_hash)| {
            AuthRequest::Authenticate { name, token, password_hash }
        }),
        (text(), proptest::option::of(text()))
            .prop_map(|(name, password_hash)| AuthRequest::UserAdd { name, password_hash }),
        text().prop_map(|name| AuthRequest::UserGet { name }),
        Just(AuthRequest::UserList),
        text().prop_map(|name| AuthRequest::UserDelete { name }),
        (text(), text()).prop_map(|(name, password_hash)| AuthRequest::UserChangePassword {
            name,
            password_hash
        }),
        (text(), text()).prop_map(|(user, role)| AuthRequest::UserGrantRole { user, role }),
        (text(), text()).prop_map(|(name, role)| AuthRequest::UserRevokeRole { name, role }),
        text().prop_map(|name| AuthRequest::RoleAdd { name }),
        text().prop_map(|role| AuthRequest::RoleGet { role }),
        Just(AuthRequest::RoleList),
        text().prop_map(|role| AuthRequest::RoleDelete { role }),
        (text(), perm).prop_map(|(name, perm)| AuthRequest::RoleGrantPermission { name, perm }),
        (text(), bytes_of(16), bytes_of(16)).prop_map(|(role, key, range_end)| {
            AuthRequest::RoleRevokePermission { role, key, range_end }
        }),
        text().prop_map(|name| AuthRequest::UserPasswordHash { name }),
    ]
}

fn member_op() -> impl Strategy<Value = MemberOp> {
    let urls = || vec(text(), 0..3);
    prop_oneof![
        (uint(), text(), urls(), urls(), any::<bool>()).prop_map(
            |(id, name, peer_urls, client_urls, is_learner)| MemberOp::Add(Member {
                id,
                name,
                peer_urls,
                client_urls,
                is_learner
            })
        ),
        uint().prop_map(MemberOp::Remove),
        (uint(), urls()).prop_map(|(id, peer_urls)| MemberOp::Update { id, peer_urls }),
        uint().prop_map(MemberOp::Promote),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let checkpoint =
        (uint(), int()).prop_map(|(remaining_ticks, id)| LeaseCheckpoint { id, remaining_ticks });
    prop_oneof![
        4 => put().prop_map(Op::Put),
        1 => delete().prop_map(Op::DeleteRange),
        2 => txn().prop_map(Op::Txn),
        1 => (int(), any::<bool>())
            .prop_map(|(revision, physical)| Op::Compact(CompactionRequest { revision, physical })),
        1 => (int(), int()).prop_map(|(ttl, id)| Op::LeaseGrant(LeaseGrantRequest { ttl, id })),
        1 => int().prop_map(|id| Op::LeaseRevoke(LeaseRevokeRequest { id })),
        1 => (int(), proptest::option::of(uint()))
            .prop_map(|(id, decided_index)| Op::LeaseExpire(LeaseExpireRequest { id, decided_index })),
        1 => (vec(checkpoint, 0..4), proptest::option::of(uint())).prop_map(
            |(checkpoints, decided_index)| Op::LeaseCheckpoint(LeaseCheckpointRequest {
                checkpoints,
                decided_index
            })
        ),
        1 => int().prop_map(|id| Op::LeaseKeepAlive(LeaseKeepAliveRequest { id })),
        2 => auth().prop_map(Op::Auth),
        1 => member_op().prop_map(Op::Member),
    ]
}

fn proposal() -> impl Strategy<Value = Proposal> {
    let id = (uint(), uint(), uint()).prop_map(|(origin, incarnation, seq)| ProposalId {
        origin,
        incarnation,
        seq,
    });
    let caller = (text(), uint()).prop_map(|(user, revision)| AuthInfo { user, revision });
    (proptest::option::of(id), op(), proptest::option::of(caller))
        .prop_map(|(id, op, caller)| Proposal { id, op, caller })
}

/// Decodes `data` both ways; whatever decodes must encode back to `data` (the format
/// has one encoding per proposal) and both ways must agree.
fn check_bytes(data: &[u8]) -> Result<(), TestCaseError> {
    let copied = Proposal::decode(data);
    let shared = Proposal::decode_shared(&Bytes::copy_from_slice(data));
    prop_assert_eq!(&copied, &shared);
    if let Ok(p) = copied {
        // CBOR (earlier builds) is read, not written, so only the binary format must
        // encode back to the same bytes.
        if data[0] == 1 {
            prop_assert_eq!(&p.encode()[..], data);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_proposal_round_trips(p in proposal()) {
        let data = p.encode();
        prop_assert_eq!(data[0], 1, "the binary format's byte leads");
        prop_assert_eq!(Proposal::decode(&data), Ok(p.clone()));
        prop_assert_eq!(Proposal::decode_shared(&data), Ok(p));
    }

    #[test]
    fn random_bytes_never_panic(mut data in vec(any::<u8>(), 0..64), binary in any::<bool>()) {
        // Most random first bytes name no format; half the cases reach the decoder.
        if binary && !data.is_empty() {
            data[0] = 1;
        }
        check_bytes(&data)?;
    }

    #[test]
    fn damaged_payloads_never_panic(
        p in proposal(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        how in 0..3u8,
    ) {
        let mut data = p.encode().to_vec();
        let i = at.index(data.len());
        match how {
            0 => data[i] = byte,
            1 => data.truncate(i),
            _ => data.insert(i, byte),
        }
        if !data.is_empty() {
            check_bytes(&data)?;
        }
    }
}
