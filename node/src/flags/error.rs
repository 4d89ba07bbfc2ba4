//! Every way a set of `detcd serve` flags can be inconsistent, each printed as one line
//! that names the flag. Where etcd has a message for the same mistake, the wording is
//! etcd's, so operators can search for it.

use super::url::UrlError;
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagError {
    /// `--name` is empty or holds `=` or `,`, which `--initial-cluster` cannot express.
    Name {
        name: String,
    },
    Url {
        flag: &'static str,
        url: String,
        reason: UrlError,
    },
    NoUrls {
        flag: &'static str,
    },
    DuplicateUrl {
        flag: &'static str,
        url: String,
    },
    /// etcd binds listen URLs without DNS.
    ListenHostNotIp {
        flag: &'static str,
        url: String,
    },
    /// An `--initial-cluster` entry that is not `name=url`.
    InitialClusterEntry {
        entry: String,
    },
    InitialClusterDuplicateUrl {
        cluster: String,
        url: String,
    },
    LocalMemberMissing {
        name: String,
    },
    /// `--initial-cluster` lists URLs for this member that it does not advertise.
    InitialClusterNotAdvertised {
        missing: String,
        advertised: String,
    },
    /// This member advertises URLs that `--initial-cluster` does not list for it.
    AdvertisedNotInInitialCluster {
        missing: String,
        local_entry: String,
    },
    HeartbeatZero,
    ElectionTooShort {
        election_ms: u64,
        heartbeat_ms: u64,
    },
    ElectionTooLong {
        election_ms: u64,
        election_ms_max: u64,
    },
    Retention {
        value: String,
        reason: &'static str,
    },
    LogOutputs {
        value: String,
    },
    /// `--auth-token` names a token type detcd does not provide.
    AuthToken {
        value: String,
    },
    /// An `https://` listen URL without a certificate and key for its port.
    TlsMissing {
        prefix: &'static str,
        noun: &'static str,
        url: String,
    },
    /// A certificate without its key, or a key without its certificate.
    TlsPair {
        prefix: &'static str,
    },
    /// Client certificates are required but there is no CA to check them against.
    TlsClientCertAuthWithoutCa {
        prefix: &'static str,
    },
    /// A peer is reached over TLS but nothing says which CA its certificate must chain
    /// to (detcd does not read the system's roots).
    TlsPeerWithoutCa {
        url: String,
    },
}

impl fmt::Display for FlagError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagError::Name { name } => {
                write!(f, "--name {name:?} must be non-empty and contain neither '=' nor ','")
            }
            FlagError::Url { flag, url, reason } => {
                write!(f, "invalid value {url:?} for flag --{flag}: {reason}")
            }
            FlagError::NoUrls { flag } => write!(f, "--{flag} needs at least one URL"),
            FlagError::DuplicateUrl { flag, url } => write!(f, "--{flag} lists {url} twice"),
            FlagError::ListenHostNotIp { flag, url } => write!(
                f,
                "--{flag}: expected IP in URL for binding ({url}); only IP addresses and \
                 localhost can be listened on"
            ),
            FlagError::InitialClusterEntry { entry } => {
                write!(f, "--initial-cluster entry {entry:?} is not of the form name=url")
            }
            FlagError::InitialClusterDuplicateUrl { cluster, url } => {
                write!(f, "--initial-cluster: initial cluster {cluster} has duplicate url {url}")
            }
            FlagError::LocalMemberMissing { name } => write!(
                f,
                "--initial-cluster: couldn't find local name {name:?} in the initial cluster \
                 configuration"
            ),
            FlagError::InitialClusterNotAdvertised { missing, advertised } => write!(
                f,
                "--initial-cluster has {missing} but missing from \
                 --initial-advertise-peer-urls={advertised}"
            ),
            FlagError::AdvertisedNotInInitialCluster { missing, local_entry } => write!(
                f,
                "--initial-advertise-peer-urls has {missing} but missing from \
                 --initial-cluster={local_entry}"
            ),
            FlagError::HeartbeatZero => write!(f, "--heartbeat-interval must be >0 (set to 0ms)"),
            FlagError::ElectionTooShort { election_ms, heartbeat_ms } => write!(
                f,
                "--election-timeout[{election_ms}ms] should be at least 5 times \
                 --heartbeat-interval[{heartbeat_ms}ms]"
            ),
            FlagError::ElectionTooLong { election_ms, election_ms_max } => write!(
                f,
                "--election-timeout[{election_ms}ms] is too long, and should be at most \
                 {election_ms_max}ms"
            ),
            FlagError::Retention { value, reason } => {
                write!(f, "invalid value {value:?} for flag --auto-compaction-retention: {reason}")
            }
            FlagError::AuthToken { value } => write!(
                f,
                "invalid value {value:?} for flag --auth-token: auth: invalid auth options \
                 (detcd provides simple tokens only: 'simple')"
            ),
            FlagError::LogOutputs { value } => write!(
                f,
                "invalid value {value:?} for flag --log-outputs: expected a comma-separated \
                 list of default, stderr, stdout or file paths"
            ),
            FlagError::TlsMissing { prefix, noun, url } => write!(
                f,
                "TLS key/cert (--{prefix}cert-file, --{prefix}key-file) must be provided for \
                 {noun} url {url} with HTTPS scheme"
            ),
            FlagError::TlsPair { prefix } => {
                write!(f, "--{prefix}cert-file and --{prefix}key-file must be given together")
            }
            FlagError::TlsClientCertAuthWithoutCa { prefix } => write!(
                f,
                "--{prefix}client-cert-auth needs --{prefix}trusted-ca-file to verify \
                 certificates against"
            ),
            FlagError::TlsPeerWithoutCa { url } => write!(
                f,
                "--initial-cluster has the https peer url {url}: give \
                 --peer-trusted-ca-file to verify peers' certificates against"
            ),
        }
    }
}

impl std::error::Error for FlagError {}
