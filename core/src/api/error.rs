//! etcd's errors: a typed enum whose gRPC code and message match etcd byte for byte,
//! because clients match on the message strings.

use serde::{Deserialize, Serialize};

/// The gRPC status codes etcd's errors use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Code {
    Canceled,
    InvalidArgument,
    DeadlineExceeded,
    NotFound,
    PermissionDenied,
    ResourceExhausted,
    FailedPrecondition,
    OutOfRange,
    Internal,
    Unavailable,
    Unauthenticated,
}

impl Code {
    /// The numeric gRPC status code.
    pub fn grpc_code(self) -> i32 {
        match self {
            Code::Canceled => 1,
            Code::InvalidArgument => 3,
            Code::DeadlineExceeded => 4,
            Code::NotFound => 5,
            Code::PermissionDenied => 7,
            Code::ResourceExhausted => 8,
            Code::FailedPrecondition => 9,
            Code::OutOfRange => 11,
            Code::Internal => 13,
            Code::Unavailable => 14,
            Code::Unauthenticated => 16,
        }
    }
}

/// An error an etcd request can end with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EtcdError {
    EmptyKey,
    KeyNotFound,
    ValueProvided,
    LeaseProvided,
    TooManyOps,
    DuplicateKey,
    RequestTooLarge,
    Compacted,
    FutureRev,
    NoSpace,
    LeaseNotFound,
    LeaseExists,
    LeaseTtlTooLarge,
    TooManyRequests,
    NoLeader,
    NotLeader,
    LeaderChanged,
    Timeout,
    AuthFailed,
    InvalidAuthToken,
    PermissionDenied,
    RootRoleNotExist,
    MemberNotFound,
    MemberNotLearner,
    LearnerNotReady,
    BadLeaderTransferee,
    NotSupportedForLearner,
    RootUserNotExist,
    UserAlreadyExist,
    UserEmpty,
    UserNotFound,
    RoleAlreadyExist,
    RoleNotFound,
    RoleEmpty,
    RoleNotGranted,
    PermissionNotGranted,
    AuthNotEnabled,
    InvalidAuthMgmt,
    AuthOldRevision,
    MemberExist,
    PeerUrlExist,
    MemberNotEnoughStarted,
    MemberBadUrls,
    Unhealthy,
    TooManyLearners,
}

impl EtcdError {
    /// Every variant, for lookups by message.
    pub const ALL: [EtcdError; 45] = [
        EtcdError::EmptyKey,
        EtcdError::KeyNotFound,
        EtcdError::ValueProvided,
        EtcdError::LeaseProvided,
        EtcdError::TooManyOps,
        EtcdError::DuplicateKey,
        EtcdError::RequestTooLarge,
        EtcdError::Compacted,
        EtcdError::FutureRev,
        EtcdError::NoSpace,
        EtcdError::LeaseNotFound,
        EtcdError::LeaseExists,
        EtcdError::LeaseTtlTooLarge,
        EtcdError::TooManyRequests,
        EtcdError::NoLeader,
        EtcdError::NotLeader,
        EtcdError::LeaderChanged,
        EtcdError::Timeout,
        EtcdError::AuthFailed,
        EtcdError::InvalidAuthToken,
        EtcdError::PermissionDenied,
        EtcdError::RootRoleNotExist,
        EtcdError::MemberNotFound,
        EtcdError::MemberNotLearner,
        EtcdError::LearnerNotReady,
        EtcdError::BadLeaderTransferee,
        EtcdError::NotSupportedForLearner,
        EtcdError::RootUserNotExist,
        EtcdError::UserAlreadyExist,
        EtcdError::UserEmpty,
        EtcdError::UserNotFound,
        EtcdError::RoleAlreadyExist,
        EtcdError::RoleNotFound,
        EtcdError::RoleEmpty,
        EtcdError::RoleNotGranted,
        EtcdError::PermissionNotGranted,
        EtcdError::AuthNotEnabled,
        EtcdError::InvalidAuthMgmt,
        EtcdError::AuthOldRevision,
        EtcdError::MemberExist,
        EtcdError::PeerUrlExist,
        EtcdError::MemberNotEnoughStarted,
        EtcdError::MemberBadUrls,
        EtcdError::Unhealthy,
        EtcdError::TooManyLearners,
    ];

    /// The gRPC status code etcd answers with.
    pub fn code(self) -> Code {
        use EtcdError::*;
        match self {
            EmptyKey | KeyNotFound | ValueProvided | LeaseProvided | TooManyOps | DuplicateKey
            | RequestTooLarge | AuthFailed | UserEmpty | RoleEmpty | InvalidAuthMgmt
            | AuthOldRevision | MemberBadUrls => Code::InvalidArgument,
            Compacted | FutureRev | LeaseTtlTooLarge => Code::OutOfRange,
            NoSpace | TooManyRequests => Code::ResourceExhausted,
            LeaseNotFound | MemberNotFound => Code::NotFound,
            LeaseExists
            | NotLeader
            | RootRoleNotExist
            | MemberNotLearner
            | LearnerNotReady
            | BadLeaderTransferee
            | RootUserNotExist
            | UserAlreadyExist
            | UserNotFound
            | RoleAlreadyExist
            | RoleNotFound
            | RoleNotGranted
            | PermissionNotGranted
            | AuthNotEnabled
            | MemberExist
            | PeerUrlExist
            | MemberNotEnoughStarted
            | TooManyLearners => Code::FailedPrecondition,
            NoLeader | LeaderChanged | Timeout | NotSupportedForLearner | Unhealthy => {
                Code::Unavailable
            }
            InvalidAuthToken => Code::Unauthenticated,
            PermissionDenied => Code::PermissionDenied,
        }
    }

    /// etcd's exact message; clients match on it.
    pub fn message(self) -> &'static str {
        use EtcdError::*;
        match self {
            EmptyKey => "etcdserver: key is not provided",
            KeyNotFound => "etcdserver: key not found",
            ValueProvided => "etcdserver: value is provided",
            LeaseProvided => "etcdserver: lease is provided",
            TooManyOps => "etcdserver: too many operations in txn request",
            DuplicateKey => "etcdserver: duplicate key given in txn request",
            RequestTooLarge => "etcdserver: request is too large",
            Compacted => "etcdserver: mvcc: required revision has been compacted",
            FutureRev => "etcdserver: mvcc: required revision is a future revision",
            NoSpace => "etcdserver: mvcc: database space exceeded",
            LeaseNotFound => "etcdserver: requested lease not found",
            LeaseExists => "etcdserver: lease already exists",
            LeaseTtlTooLarge => "etcdserver: too large lease TTL",
            TooManyRequests => "etcdserver: too many requests",
            NoLeader => "etcdserver: no leader",
            NotLeader => "etcdserver: not leader",
            LeaderChanged => "etcdserver: leader changed",
            Timeout => "etcdserver: request timed out",
            AuthFailed => "etcdserver: authentication failed, invalid user ID or password",
            InvalidAuthToken => "etcdserver: invalid auth token",
            PermissionDenied => "etcdserver: permission denied",
            RootRoleNotExist => "etcdserver: root user does not have root role",
            MemberNotFound => "etcdserver: member not found",
            MemberNotLearner => "etcdserver: can only promote a learner member",
            LearnerNotReady => {
                "etcdserver: can only promote a learner member which is in sync with leader"
            }
            BadLeaderTransferee => "etcdserver: bad leader transferee",
            NotSupportedForLearner => "etcdserver: rpc not supported for learner",
            RootUserNotExist => "etcdserver: root user does not exist",
            UserAlreadyExist => "etcdserver: user name already exists",
            UserEmpty => "etcdserver: user name is empty",
            UserNotFound => "etcdserver: user name not found",
            RoleAlreadyExist => "etcdserver: role name already exists",
            RoleNotFound => "etcdserver: role name not found",
            RoleEmpty => "etcdserver: role name is empty",
            RoleNotGranted => "etcdserver: role is not granted to the user",
            PermissionNotGranted => "etcdserver: permission is not granted to the role",
            AuthNotEnabled => "etcdserver: authentication is not enabled",
            InvalidAuthMgmt => "etcdserver: invalid auth management",
            AuthOldRevision => "etcdserver: revision of auth store is old",
            MemberExist => "etcdserver: member ID already exist",
            PeerUrlExist => "etcdserver: Peer URLs already exists",
            MemberNotEnoughStarted => {
                "etcdserver: re-configuration failed due to not enough started members"
            }
            MemberBadUrls => "etcdserver: given member URLs are invalid",
            Unhealthy => "etcdserver: unhealthy cluster",
            TooManyLearners => "etcdserver: too many learner members in cluster",
        }
    }

    /// The error a client sees for `message`, if it is one of etcd's.
    pub fn from_message(message: &str) -> Option<EtcdError> {
        EtcdError::ALL.into_iter().find(|e| e.message() == message)
    }
}

impl std::fmt::Display for EtcdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for EtcdError {}

/// Why a watch create was refused. These travel in-stream as `cancel_reason`, not as a
/// gRPC status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WatchError {
    /// key >= range_end.
    EmptyRange,
    /// The client-chosen watch id is already in use on the stream.
    DuplicateId,
}

impl WatchError {
    /// etcd's exact `cancel_reason`.
    pub fn message(self) -> &'static str {
        match self {
            WatchError::EmptyRange => "mvcc: watcher range is empty",
            WatchError::DuplicateId => "mvcc: duplicate watch ID provided on the WatchStream",
        }
    }
}

impl std::fmt::Display for WatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.message())
    }
}
