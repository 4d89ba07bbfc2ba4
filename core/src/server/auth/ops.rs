//! Which key ranges each KV operation reads and writes, checked against the caller's
//! permissions as etcd does: a put writes its key (and reads it with `prev_kv`), a
//! delete writes its range, a txn reads every compared range and is checked op by op
//! down its nested txns, revoking a lease writes every key attached to it.

use super::AuthStore;
use crate::api::{AuthInfo, DeleteRangeRequest, EtcdError, PutRequest, RequestOp, TxnRequest};

impl AuthStore {
    pub fn check_put(&self, caller: Option<&AuthInfo>, p: &PutRequest) -> Result<(), EtcdError> {
        self.check_range(caller, &p.key, b"", true)?;
        if p.prev_kv {
            self.check_range(caller, &p.key, b"", false)?;
        }
        Ok(())
    }

    pub fn check_delete(
        &self,
        caller: Option<&AuthInfo>,
        d: &DeleteRangeRequest,
    ) -> Result<(), EtcdError> {
        self.check_range(caller, &d.key, &d.range_end, true)?;
        if d.prev_kv {
            self.check_range(caller, &d.key, &d.range_end, false)?;
        }
        Ok(())
    }

    pub fn check_txn(&self, caller: Option<&AuthInfo>, t: &TxnRequest) -> Result<(), EtcdError> {
        for c in &t.compare {
            self.check_range(caller, &c.key, &c.range_end, false)?;
        }
        for op in t.success.iter().chain(&t.failure) {
            match op {
                RequestOp::Range(r) => self.check_range(caller, &r.key, &r.range_end, false)?,
                RequestOp::Put(p) => self.check_put(caller, p)?,
                RequestOp::DeleteRange(d) => self.check_delete(caller, d)?,
                RequestOp::Txn(nested) => self.check_txn(caller, nested)?,
            }
        }
        Ok(())
    }
}
