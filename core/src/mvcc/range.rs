//! Range reads: which keys, at which revision, then etcd's post-processing (filters,
//! sort, limit, keys_only, count_only) in etcd's order.

use super::history::visible_at;
use super::{KeyRange, Store};
use crate::api::{KeyValue, RangeRequest, RangeResponse, ResponseHeader, SortOrder, SortTarget};
use std::cmp::Ordering;

impl Store {
    /// Range read as seen by a request whose current revision is `cur` (the store's
    /// revision, or one more inside a write txn that has already written). The request's
    /// revision must already be checked.
    pub(crate) fn range_at(&self, req: &RangeRequest, cur: i64) -> RangeResponse {
        let rev = if req.revision > 0 { req.revision } else { cur };
        let has_filters = req.min_mod_revision != 0
            || req.max_mod_revision != 0
            || req.min_create_revision != 0
            || req.max_create_revision != 0;
        // etcd pushes the limit (plus one, to learn `more`) down into the scan only when
        // the result needs neither an explicit sort nor a filter.
        let fetch = if req.sort_order == SortOrder::None && !has_filters && req.limit > 0 {
            Some(req.limit as usize + 1)
        } else {
            None
        };

        let kr = KeyRange::new(&req.key, &req.range_end);
        let mut kvs = Vec::new();
        let mut count = 0i64;
        if let KeyRange::Single(key) = &kr {
            if let Some(h) = self.history(key) {
                if let Some(v) = visible_at(h, rev) {
                    count = 1;
                    if !req.count_only {
                        kvs.push(v.to_kv(key.clone()));
                    }
                }
            }
        } else if !kr.is_empty() {
            for (k, h) in self.keys.range::<_, [u8]>(kr.bounds()) {
                if let Some(v) = visible_at(h, rev) {
                    count += 1;
                    let room = match fetch {
                        Some(n) => kvs.len() < n,
                        None => true,
                    };
                    if !req.count_only && room {
                        kvs.push(v.to_kv(k.to_bytes()));
                    }
                }
            }
        }

        kvs.retain(|kv| {
            (req.max_mod_revision == 0 || kv.mod_revision <= req.max_mod_revision)
                && (req.min_mod_revision == 0 || kv.mod_revision >= req.min_mod_revision)
                && (req.max_create_revision == 0 || kv.create_revision <= req.max_create_revision)
                && (req.min_create_revision == 0 || kv.create_revision >= req.min_create_revision)
        });

        let mut order = req.sort_order;
        if req.sort_target != SortTarget::Key && order == SortOrder::None {
            // The scan yields keys in ascending order, so only a non-key target needs
            // an implicit ascending sort.
            order = SortOrder::Ascend;
        }
        if order != SortOrder::None {
            // Stable, so ties stay in ascending key order: deterministic on every replica.
            let target = req.sort_target;
            match order {
                SortOrder::Descend => kvs.sort_by(|a, b| compare_by(target, b, a)),
                _ => kvs.sort_by(|a, b| compare_by(target, a, b)),
            }
        }

        let mut more = false;
        if req.limit > 0 && kvs.len() > req.limit as usize {
            kvs.truncate(req.limit as usize);
            more = true;
        }
        if req.keys_only {
            for kv in &mut kvs {
                kv.value = bytes::Bytes::new();
            }
        }
        RangeResponse { header: ResponseHeader::at(cur), kvs, more, count }
    }
}

fn compare_by(target: SortTarget, a: &KeyValue, b: &KeyValue) -> Ordering {
    match target {
        SortTarget::Key => a.key.cmp(&b.key),
        SortTarget::Version => a.version.cmp(&b.version),
        SortTarget::Create => a.create_revision.cmp(&b.create_revision),
        SortTarget::Mod => a.mod_revision.cmp(&b.mod_revision),
        SortTarget::Value => a.value.cmp(&b.value),
    }
}
