//! From recorded client operations to the checker's etcd-model history.
//!
//! - Linearizable reads, puts, deletes and compare-and-swap txns go in with their
//!   header revisions, values, create/mod revisions and versions.
//! - A write whose outcome is unknown goes in as unknown (it may have taken effect at
//!   any point after its call, or never); a read with no answer constrains nothing and
//!   is left out, and so is every definite failure.
//! - Serializable reads are not linearizable by design; they have their own check.
//! - Each key attached to a lease is written once, so its removal, by the client's
//!   revoke or by the lease expiring on the leader, is exactly "delete that key": it
//!   goes in as one delete with an unknown outcome from the moment the key was put.
//! - Compaction changes no key and no revision, so it is left out.

use crate::workload::{OpKind, OpOutcome, OpRecord};
use detcd_checker::history::{History, Operation};
use detcd_checker::models::etcd::{
    Compare, CompareResult, CompareTarget, KeyRange, KeyValue, Request, Response, ResponseBody,
};
use detcd_core::api;
use detcd_core::server::Response as ServerResponse;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn kv(kv: &api::KeyValue) -> KeyValue {
    KeyValue {
        key: text(&kv.key),
        value: text(&kv.value),
        create_revision: kv.create_revision,
        mod_revision: kv.mod_revision,
        version: kv.version,
    }
}

fn body(op: &api::ResponseOp) -> ResponseBody {
    match op {
        api::ResponseOp::Range(r) => ResponseBody::Range { kvs: r.kvs.iter().map(kv).collect() },
        api::ResponseOp::Put(p) => ResponseBody::Put { prev_kv: p.prev_kv.as_ref().map(kv) },
        api::ResponseOp::DeleteRange(d) => ResponseBody::DeleteRange {
            deleted: d.deleted,
            prev_kvs: d.prev_kvs.iter().map(kv).collect(),
        },
        api::ResponseOp::Txn(t) => ResponseBody::Txn {
            succeeded: t.succeeded,
            responses: t.responses.iter().map(body).collect(),
        },
    }
}

/// The model's form of a server response, when it is one the model checks.
fn response(r: &ServerResponse) -> Option<Response> {
    Some(match r {
        ServerResponse::Range(r) => Response {
            revision: r.header.revision,
            body: ResponseBody::Range { kvs: r.kvs.iter().map(kv).collect() },
        },
        ServerResponse::Put(p) => Response {
            revision: p.header.revision,
            body: ResponseBody::Put { prev_kv: p.prev_kv.as_ref().map(kv) },
        },
        ServerResponse::DeleteRange(d) => Response {
            revision: d.header.revision,
            body: ResponseBody::DeleteRange {
                deleted: d.deleted,
                prev_kvs: d.prev_kvs.iter().map(kv).collect(),
            },
        },
        ServerResponse::Txn(t) => Response {
            revision: t.header.revision,
            body: ResponseBody::Txn {
                succeeded: t.succeeded,
                responses: t.responses.iter().map(body).collect(),
            },
        },
        _ => return None,
    })
}

/// The model's form of an operation's input, when the model covers it.
fn input(kind: &OpKind) -> Option<Request> {
    use crate::workload::{KEYS_END, KEY_PREFIX};
    Some(match kind {
        OpKind::Put { key, value } | OpKind::LeasePut { key, value, .. } => {
            Request::Put { key: key.clone(), value: value.clone(), prev_kv: false }
        }
        OpKind::Get { key } => Request::Range { range: KeyRange::Key(key.clone()) },
        OpKind::Range => Request::Range {
            range: KeyRange::Span { start: KEY_PREFIX.to_string(), end: KEYS_END.to_string() },
        },
        OpKind::Delete { key } => {
            Request::DeleteRange { range: KeyRange::Key(key.clone()), prev_kv: false }
        }
        OpKind::Cas { key, expected_mod, value } => Request::Txn {
            compare: vec![Compare {
                key: key.clone(),
                target: CompareTarget::ModRevision(*expected_mod),
                result: CompareResult::Equal,
            }],
            success: vec![Request::Put { key: key.clone(), value: value.clone(), prev_kv: false }],
            failure: vec![Request::Range { range: KeyRange::Key(key.clone()) }],
        },
        OpKind::SerializableGet { .. }
        | OpKind::LeaseGrant
        | OpKind::LeaseRevoke { .. }
        | OpKind::Compact { .. }
        | OpKind::WatchCreate { .. } => return None,
    })
}

/// The history the etcd model checks, from every recorded operation.
pub fn etcd_history(records: &[OpRecord]) -> History<Request, Response> {
    let mut history = History::new();
    let mut push = |op: Operation<Request, Response>| {
        history.push(op).expect("recorded operations return after their call");
    };
    for r in records {
        // The removal of a lease's key, by revoke or expiry, at an unknown time.
        if let OpKind::LeasePut { key, .. } = &r.kind {
            if !matches!(r.outcome, OpOutcome::Failed(_)) {
                push(Operation {
                    client: r.client,
                    call: r.invoke_us,
                    ret: None,
                    input: Request::DeleteRange {
                        range: KeyRange::Key(key.clone()),
                        prev_kv: false,
                    },
                    output: None,
                });
            }
        }
        let Some(input) = input(&r.kind) else { continue };
        match &r.outcome {
            OpOutcome::Ok(resp) => {
                let Some(output) = response(resp) else { continue };
                push(Operation {
                    client: r.client,
                    call: r.invoke_us,
                    ret: Some(r.complete_us),
                    input,
                    output: Some(output),
                });
            }
            OpOutcome::Unknown(_) if r.kind.is_write() => push(Operation {
                client: r.client,
                call: r.invoke_us,
                ret: None,
                input,
                output: None,
            }),
            OpOutcome::Unknown(_) | OpOutcome::Failed(_) => {}
        }
    }
    history
}
