//! Who this member is in its cluster ([`Identity`]): bootstrapped from the flags
//! (`--initial-cluster-state new`, or any member that has a data dir), or, for a member
//! started with `--initial-cluster-state existing` on an empty data dir, learned from
//! the running members over the peer port, as etcd asks its peers for the member list
//! and finds itself by its peer URLs. A joined member's identity is kept in its data
//! dir (`member/joined`), since its flags no longer derive it; a removed member leaves
//! `member/removed` there and is refused at its next start.

use crate::flags::{ServeConfig, Url};
use crate::pb::peer::ClusterRequest;
use crate::tls::PeerDialer;
use detcd_core::server::Member;
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;
use tracing::{info, warn};

/// Rounds of asking every listed peer before a joining member gives up, and the pause
/// between rounds: about 10 s for a cluster whose members are still starting.
const JOIN_ROUNDS_MAX: u32 = 20;
const JOIN_ROUND_PAUSE: Duration = Duration::from_millis(500);
/// How long one peer may take to answer.
const JOIN_ASK_TIMEOUT: Duration = Duration::from_secs(2);

/// This member's place in the cluster.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub member_id: u64,
    pub cluster_id: u64,
    /// The initial cluster every member applies the log from.
    pub initial_members: Vec<Member>,
    /// Raft voters of a brand-new member: the initial cluster, or none for a member
    /// that joins (it learns the configuration from the leader).
    pub voters: Vec<u64>,
    /// Members to dial at start besides those the recovered state lists: the running
    /// cluster's list, for a member that joins.
    #[serde(skip)]
    pub seed: Vec<Member>,
}

/// Why a member could not find its place in the cluster.
#[derive(Debug)]
pub enum JoinError {
    /// No listed peer answered.
    NoPeer {
        urls: Vec<String>,
        last: String,
    },
    /// The running cluster has no member with this member's peer URLs.
    NotAdded {
        mine: Vec<String>,
        members: String,
    },
    /// `--initial-cluster` does not list as many members as the running cluster.
    CountUnequal {
        given: usize,
        running: usize,
        members: String,
    },
    /// A peer's answer does not decode.
    BadAnswer(String),
    /// The data dir says this member was removed from its cluster.
    Removed,
    Io(std::io::Error),
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::NoPeer { urls, last } => write!(
                f,
                "--initial-cluster-state existing: could not retrieve the cluster's member \
                 list from any peer ({}): {last}",
                urls.join(",")
            ),
            JoinError::NotAdded { mine, members } => write!(
                f,
                "error validating peer URLs {members}: no member has this member's peer URLs \
                 {}; add it first with `etcdctl member add` and start it with what that prints",
                mine.join(",")
            ),
            JoinError::CountUnequal { given, running, members } => write!(
                f,
                "error validating peer URLs {members}: member count is unequal \
                 (--initial-cluster names {given}, the running cluster has {running})"
            ),
            JoinError::BadAnswer(e) => write!(f, "a peer's member list does not decode: {e}"),
            JoinError::Removed => f.write_str(
                "the member has been permanently removed from the cluster; remove its data \
                 dir and add it again to rejoin",
            ),
            JoinError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for JoinError {}

/// The identity of a new cluster's member, from its flags alone.
pub fn bootstrapped(cfg: &ServeConfig) -> Identity {
    let initial_members: Vec<Member> = cfg
        .members()
        .into_iter()
        .map(|m| Member {
            id: m.id,
            name: m.name,
            peer_urls: m.peer_urls.iter().map(Url::to_string).collect(),
            ..Member::default()
        })
        .collect();
    Identity {
        member_id: cfg.member_id(),
        cluster_id: cfg.cluster_id(),
        voters: initial_members.iter().map(|m| m.id).collect(),
        initial_members,
        seed: Vec::new(),
    }
}

/// Finds this member's identity. `fresh`: the data dir holds no state yet. `dir`: where
/// to keep a joined identity (None in the simulation, whose disks hold only the log).
pub async fn resolve(
    cfg: &ServeConfig,
    fresh: bool,
    dialer: &PeerDialer,
    dir: Option<&Path>,
) -> Result<Identity, JoinError> {
    if let Some(dir) = dir {
        if dir.join("member").join("removed").exists() {
            return Err(JoinError::Removed);
        }
        if let Some(saved) = read_joined(dir)? {
            return Ok(saved);
        }
    }
    // As etcd, a member with a data dir ignores --initial-cluster-state.
    if !fresh || cfg.initial_cluster_state == crate::flags::ClusterState::New {
        return Ok(bootstrapped(cfg));
    }
    let identity = join(cfg, dialer).await?;
    if let Some(dir) = dir {
        write_atomically(dir, "joined", &crate::peer::cbor(&identity)).map_err(JoinError::Io)?;
    }
    Ok(identity)
}

/// Asks the listed peers for the running cluster and finds this member in it.
async fn join(cfg: &ServeConfig, dialer: &PeerDialer) -> Result<Identity, JoinError> {
    let urls: Vec<String> = cfg
        .members()
        .into_iter()
        .filter(|m| m.name != cfg.name)
        .flat_map(|m| m.peer_urls.into_iter().map(|u| u.to_string()))
        .collect();
    let mut last = String::from("no peer listed in --initial-cluster");
    for round in 0..JOIN_ROUNDS_MAX {
        if round > 0 {
            tokio::time::sleep(JOIN_ROUND_PAUSE).await;
        }
        for url in &urls {
            let asked = tokio::time::timeout(JOIN_ASK_TIMEOUT, async {
                let mut client = dialer.connect(url.clone()).await.map_err(|e| e.to_string())?;
                client.cluster(ClusterRequest {}).await.map_err(|s| s.message().to_owned())
            })
            .await;
            match asked {
                Ok(Ok(answer)) => return place(cfg, answer.into_inner()),
                Ok(Err(e)) => last = format!("{url}: {e}"),
                Err(_) => last = format!("{url}: no answer within {JOIN_ASK_TIMEOUT:?}"),
            }
        }
        warn!(error = %last, "no running member answered yet; asking again");
    }
    Err(JoinError::NoPeer { urls, last })
}

/// This member in a running member's answer: etcd's join validation (same member count
/// as `--initial-cluster`, a member with exactly this member's peer URLs).
fn place(cfg: &ServeConfig, answer: crate::pb::peer::ClusterInfo) -> Result<Identity, JoinError> {
    let decode = |bytes: &[u8]| -> Result<Vec<Member>, JoinError> {
        ciborium::from_reader(bytes).map_err(|e| JoinError::BadAnswer(e.to_string()))
    };
    let members = decode(&answer.members)?;
    let initial_members = decode(&answer.initial_members)?;
    let describe = || {
        let each: Vec<String> =
            members.iter().map(|m| format!("{:x}={}", m.id, m.peer_urls.join(","))).collect();
        format!("{{cluster {:x}: {}}}", answer.cluster_id, each.join(" "))
    };
    let normal = |urls: &[String]| -> Vec<String> {
        let mut v: Vec<String> = urls
            .iter()
            .map(|u| Url::parse(u).map_or_else(|_| u.clone(), |p| p.to_string()))
            .collect();
        v.sort();
        v
    };
    let mine = normal(&cfg.local_peer_urls().iter().map(Url::to_string).collect::<Vec<_>>());
    if cfg.initial_cluster.len() != members.len() {
        return Err(JoinError::CountUnequal {
            given: cfg.initial_cluster.len(),
            running: members.len(),
            members: describe(),
        });
    }
    let Some(me) = members.iter().find(|m| normal(&m.peer_urls) == mine) else {
        return Err(JoinError::NotAdded { mine, members: describe() });
    };
    info!(
        member = format_args!("{:x}", me.id),
        cluster = format_args!("{:x}", answer.cluster_id),
        "joining the running cluster"
    );
    Ok(Identity {
        member_id: me.id,
        cluster_id: answer.cluster_id,
        initial_members,
        voters: Vec::new(),
        seed: members,
    })
}

fn read_joined(dir: &Path) -> Result<Option<Identity>, JoinError> {
    match std::fs::read(dir.join("member").join("joined")) {
        Ok(bytes) => ciborium::from_reader(&bytes[..])
            .map(Some)
            .map_err(|e| JoinError::BadAnswer(format!("member/joined: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(JoinError::Io(e)),
    }
}

/// Marks the data dir of a member that applied its own removal.
pub fn mark_removed(dir: &Path) -> std::io::Result<()> {
    write_atomically(dir, "removed", b"removed from the cluster\n")
}

/// Writes `member/<name>` atomically: temp file, fsync, rename, directory fsync.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = dir.join("member");
    std::fs::create_dir_all(&dir)?;
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, dir.join(name))?;
    std::fs::File::open(&dir)?.sync_all()
}
