//! The v3electionpb Election service: campaign, leader, proclaim, observe, resign.

use detcd_etcd_client_tests::{run, within, Ctx};
use etcd_client::{LeaderKey, ObserveStream, ProclaimOptions, ResignOptions};
use std::time::Duration;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);

/// The value of the next leader announcement on the observe stream.
async fn observed(stream: &mut ObserveStream) -> String {
    let resp = within(WAIT, "observe message", stream.message()).await;
    let resp = resp.expect("observe stream error").expect("observe stream ended");
    resp.kv().expect("observed kv").value_str().unwrap().to_string()
}

#[test]
fn campaign_proclaim_observe_resign() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let lease1 = c.lease_grant(30, None).await.unwrap().id();
        let lease2 = c.lease_grant(30, None).await.unwrap().id();

        // No leader yet.
        let err = c.leader("el").await.expect_err("leader of an election nobody campaigned in");
        assert!(format!("{err:?}").contains("no leader"), "{err:?}");

        let won = within(WAIT, "first campaign", c.campaign("el", "v1", lease1)).await.unwrap();
        let lk1: LeaderKey = won.leader().expect("leader key").clone();
        assert_eq!(lk1.name(), b"el");
        assert_eq!(lk1.key(), format!("el/{lease1:x}").as_bytes());
        assert_eq!(lk1.lease(), lease1);
        let kv = c.get(lk1.key(), None).await.unwrap().kvs()[0].clone();
        assert_eq!((kv.create_revision(), kv.value_str().unwrap()), (lk1.rev(), "v1"));

        let leader = c.leader("el").await.unwrap();
        assert_eq!(leader.kv().unwrap().value_str().unwrap(), "v1");
        assert_eq!(leader.kv().unwrap().key(), lk1.key());

        // Observe starts with the current leader's value, then sees every proclamation.
        let mut obs = ctx.client().await.observe("el").await.unwrap();
        assert_eq!(observed(&mut obs).await, "v1");
        c.proclaim("v2", Some(ProclaimOptions::new().with_leader(lk1.clone()))).await.unwrap();
        assert_eq!(observed(&mut obs).await, "v2");
        c.proclaim("v3", Some(ProclaimOptions::new().with_leader(lk1.clone()))).await.unwrap();
        assert_eq!(observed(&mut obs).await, "v3");
        assert_eq!(c.leader("el").await.unwrap().kv().unwrap().value_str().unwrap(), "v3");

        // A second campaigner waits while the first leads.
        let (tx, mut second) = oneshot::channel();
        let ctx2 = ctx.clone();
        tokio::spawn(async move {
            let mut c2 = ctx2.client().await;
            let won = c2.campaign("el", "w1", lease2).await.unwrap();
            let _ = tx.send(won.leader().expect("leader key").clone());
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(second.try_recv().is_err(), "second campaigner won while the first leads");
        assert_eq!(c.leader("el").await.unwrap().kv().unwrap().value_str().unwrap(), "v3");

        // Resign: the second campaigner wins, and observers see its value.
        c.resign(Some(ResignOptions::new().with_leader(lk1.clone()))).await.unwrap();
        let lk2 = within(WAIT, "second campaign after resign", second).await.unwrap();
        assert_ne!(lk2.key(), lk1.key());
        assert_eq!(lk2.key(), format!("el/{lease2:x}").as_bytes());
        assert!(lk2.rev() > lk1.rev());
        assert_eq!(c.leader("el").await.unwrap().kv().unwrap().value_str().unwrap(), "w1");
        assert_eq!(observed(&mut obs).await, "w1");

        // The resigned leader can no longer proclaim.
        let err = c
            .proclaim("stale", Some(ProclaimOptions::new().with_leader(lk1.clone())))
            .await
            .expect_err("proclaim after resign");
        assert!(format!("{err:?}").contains("not leader"), "{err:?}");
        c.proclaim("w2", Some(ProclaimOptions::new().with_leader(lk2.clone()))).await.unwrap();
        assert_eq!(observed(&mut obs).await, "w2");
    });
}
