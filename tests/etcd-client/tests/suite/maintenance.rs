//! Maintenance and cluster: status of every member, the member list, alarms.

use detcd_etcd_client_tests::{run, Ctx, Target};
use etcd_client::{AlarmAction, AlarmType};
use std::collections::BTreeSet;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn status_member_list_and_alarms() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut ids = Vec::new();
        let mut leaders = BTreeSet::new();
        let mut cluster_ids = BTreeSet::new();
        for i in 0..3 {
            let mut c = ctx.client_of(i).await;
            // A write through the member, which answers once the member applied it, so
            // its status shows an applied index past the write.
            c.put(format!("written-through-m{i}"), "x", None).await.unwrap();
            let status = c.status().await.unwrap();
            let version = status.version();
            let series = match ctx.target {
                Target::Detcd => "3.5.",
                Target::Etcd => "3.4.",
            };
            assert!(version.starts_with(series), "member {i} version {version:?}");
            assert!(version[series.len()..].parse::<u32>().is_ok(), "version {version:?}");
            assert!(status.raft_term() > 0 && status.raft_applied_index() > 0, "{status:?}");
            assert!(status.raft_index() >= status.raft_applied_index(), "{status:?}");
            assert!(status.db_size() > 0, "{status:?}");
            assert!(status.errors().is_empty(), "{status:?}");
            assert!(!status.is_learner());
            let header = status.header().expect("status header");
            ids.push(header.member_id());
            cluster_ids.insert(header.cluster_id());
            leaders.insert(status.leader());
        }
        assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 3, "member ids {ids:?}");
        assert_eq!(cluster_ids.len(), 1, "one cluster id: {cluster_ids:?}");
        assert_eq!(leaders.len(), 1, "members disagree on the leader: {leaders:?}");
        let leader = *leaders.first().unwrap();
        assert!(ids.contains(&leader), "leader {leader:x} is not a member ({ids:x?})");

        let mut c = ctx.client().await;
        let list = c.member_list().await.unwrap();
        assert_eq!(list.header().unwrap().cluster_id(), *cluster_ids.first().unwrap());
        let mut members: Vec<_> = list
            .members()
            .iter()
            .map(|m| {
                assert!(!m.is_learner());
                (m.name().to_string(), m.client_urls().to_vec(), m.peer_urls().to_vec(), m.id())
            })
            .collect();
        members.sort();
        assert_eq!(members.len(), 3, "{list:?}");
        for ((name, client, peer, id), (want_name, want_client, want_peer)) in
            members.iter().zip(&ctx.urls)
        {
            assert_eq!(
                (name, client, peer),
                (want_name, &vec![want_client.clone()], &vec![want_peer.clone()])
            );
            assert!(ids.contains(id), "member {name} id {id:x} not among the status ids");
        }
        // Each member's status id is the id the member list gives its name.
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(members[i].3, *id, "member m{i}");
        }

        let alarms = c.alarm(AlarmAction::Get, AlarmType::None, None).await.unwrap();
        // (etcd 3.4 answers an alarm GET without a header, so none is asserted.)
        assert!(alarms.alarms().is_empty(), "{alarms:?}");
    });
}
