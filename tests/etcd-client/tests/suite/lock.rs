//! The v3lockpb Lock service: mutual exclusion between two holders with their own
//! leases, unlock hands the lock over, a revoked lease releases it.

use detcd_etcd_client_tests::{run, within, Ctx};
use etcd_client::LockOptions;
use std::time::Duration;
use tokio::sync::oneshot;

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);
/// How long a waiter is watched to make sure it does not get a held lock.
const HELD: Duration = Duration::from_millis(1500);

/// Starts a task that takes lock `name` with `lease`; its key arrives on the receiver.
fn lock_in_task(ctx: &Ctx, name: &'static str, lease: i64) -> oneshot::Receiver<Vec<u8>> {
    let (tx, rx) = oneshot::channel();
    let ctx = ctx.clone();
    tokio::spawn(async move {
        let mut c = ctx.client().await;
        let resp = c.lock(name, Some(LockOptions::new().with_lease(lease))).await.unwrap();
        let _ = tx.send(resp.key().to_vec());
    });
    rx
}

#[test]
fn second_locker_waits_for_unlock_then_for_revoke() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let lease1 = c.lease_grant(30, None).await.unwrap().id();
        let lease2 = c.lease_grant(30, None).await.unwrap().id();
        let lease3 = c.lease_grant(30, None).await.unwrap().id();

        let k1 = within(WAIT, "first lock", lock_in_task(&ctx, "mylock", lease1)).await.unwrap();
        // The key is the name, a slash, and the lease id in hex, as etcd's mutex makes it.
        assert_eq!(k1, format!("mylock/{lease1:x}").into_bytes());
        let held = c.get(k1.clone(), None).await.unwrap();
        assert_eq!(held.kvs()[0].lease(), lease1);

        let mut second = lock_in_task(&ctx, "mylock", lease2);
        tokio::time::sleep(HELD).await;
        assert!(second.try_recv().is_err(), "second locker got a held lock");

        c.unlock(k1.clone()).await.unwrap();
        let k2 = within(WAIT, "second lock after unlock", second).await.unwrap();
        assert_ne!(k1, k2);
        assert_eq!(k2, format!("mylock/{lease2:x}").into_bytes());
        assert!(c.get(k1.clone(), None).await.unwrap().kvs().is_empty(), "unlock deletes the key");

        // A third waits on the second; revoking the second's lease lets it in.
        let mut third = lock_in_task(&ctx, "mylock", lease3);
        tokio::time::sleep(HELD).await;
        assert!(third.try_recv().is_err(), "third locker got a held lock");
        c.lease_revoke(lease2).await.unwrap();
        let k3 = within(WAIT, "third lock after revoke", third).await.unwrap();
        assert_eq!(k3, format!("mylock/{lease3:x}").into_bytes());
        assert!(c.get(k2, None).await.unwrap().kvs().is_empty());

        // Another name is independent of this one.
        let other = within(WAIT, "other lock", lock_in_task(&ctx, "otherlock", lease1)).await;
        assert!(other.unwrap().starts_with(b"otherlock/"));

        c.unlock(k3.clone()).await.unwrap();
        let left = c.get("mylock/", Some(etcd_client::GetOptions::new().with_prefix())).await;
        assert_eq!(left.unwrap().count(), 0);
    });
}

#[test]
fn lock_with_a_missing_lease_fails() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let err = c.lock("nolease", Some(LockOptions::new().with_lease(0x1234))).await;
        let err = err.expect_err("lock with a lease that does not exist");
        assert!(format!("{err:?}").contains("lease not found"), "{err:?}");
    });
}
