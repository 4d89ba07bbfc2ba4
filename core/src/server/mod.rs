//! The etcd server state machine: requests in, Raft proposals, applies, responses out.
