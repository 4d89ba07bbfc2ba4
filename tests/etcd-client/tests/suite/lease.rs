//! Lease: grant, keys attached, keep-alive over a stream, time-to-live with keys, the
//! list of leases, revoke; and a lease left alone expires with its keys.

use crate::{keys, value};
use detcd_etcd_client_tests::{run, within, Ctx};
use etcd_client::{LeaseTimeToLiveOptions, PutOptions};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);
const WAIT: Duration = Duration::from_secs(10);
const TTL: i64 = 3;

#[test]
fn keep_alive_time_to_live_and_revoke() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let grant = c.lease_grant(TTL, None).await.unwrap();
        let id = grant.id();
        assert!(id > 0, "{grant:?}");
        assert_eq!(grant.ttl(), TTL);
        for k in ["l/a", "l/b"] {
            c.put(k, "v", Some(PutOptions::new().with_lease(id))).await.unwrap();
        }
        let kv = c.get("l/a", None).await.unwrap().kvs()[0].clone();
        assert_eq!(kv.lease(), id);

        let ttl = c.lease_time_to_live(id, Some(LeaseTimeToLiveOptions::new().with_keys()));
        let ttl = ttl.await.unwrap();
        assert_eq!((ttl.id(), ttl.granted_ttl()), (id, TTL));
        assert!((0..=TTL).contains(&ttl.ttl()), "{ttl:?}");
        let mut attached: Vec<&[u8]> = ttl.keys().iter().map(|k| k.as_slice()).collect();
        attached.sort();
        assert_eq!(attached, [&b"l/a"[..], &b"l/b"[..]]);
        // Without `keys`, none are listed.
        let ttl = c.lease_time_to_live(id, None).await.unwrap();
        assert!(ttl.keys().is_empty());

        let leases = c.leases().await.unwrap();
        assert!(leases.leases().iter().any(|l| l.id() == id), "{leases:?}");

        // Keep it alive for well past its TTL: each answer renews it to the full TTL.
        let (mut keeper, mut answers) = c.lease_keep_alive(id).await.unwrap();
        assert_eq!(keeper.id(), id);
        let start = Instant::now();
        let mut renewals = 0;
        while start.elapsed() < Duration::from_secs(2 * TTL as u64) {
            tokio::time::sleep(Duration::from_millis(800)).await;
            keeper.keep_alive().await.unwrap();
            let answer = within(WAIT, "keep-alive answer", answers.message()).await;
            let answer = answer.expect("keep-alive stream error").expect("keep-alive stream ended");
            assert_eq!((answer.id(), answer.ttl()), (id, TTL), "{answer:?}");
            renewals += 1;
            let left = c.lease_time_to_live(id, None).await.unwrap().ttl();
            assert!(left >= TTL - 1, "just renewed, yet {left}s left");
        }
        assert!(renewals >= 5);
        assert_eq!(keys(&mut c, "l/").await, ["l/a", "l/b"], "a kept-alive lease keeps its keys");

        // Revoke: the keys go with the lease.
        c.lease_revoke(id).await.unwrap();
        assert!(keys(&mut c, "l/").await.is_empty());
        let ttl = c.lease_time_to_live(id, None).await.unwrap();
        assert_eq!(ttl.ttl(), -1, "a revoked lease: {ttl:?}");
        let leases = c.leases().await.unwrap();
        assert!(!leases.leases().iter().any(|l| l.id() == id), "{leases:?}");
        // A keep-alive of a revoked lease answers TTL 0.
        keeper.keep_alive().await.unwrap();
        let answer = within(WAIT, "keep-alive answer", answers.message()).await;
        let answer = answer.expect("keep-alive stream error").expect("keep-alive stream ended");
        assert_eq!(answer.ttl(), 0, "{answer:?}");
        // Revoking it again is an error; so is putting with it.
        let err = c.lease_revoke(id).await.expect_err("revoke of a revoked lease");
        assert!(format!("{err:?}").contains("lease not found"), "{err:?}");
        let err = c.put("l/c", "v", Some(PutOptions::new().with_lease(id))).await;
        assert!(
            format!("{:?}", err.expect_err("put with a revoked lease")).contains("lease not found")
        );
    });
}

#[test]
fn lease_not_kept_alive_expires_with_its_keys() {
    run(3, LIMIT, |ctx: Ctx| async move {
        let mut c = ctx.client().await;
        let granted = Instant::now();
        let id = c.lease_grant(TTL, None).await.unwrap().id();
        // A chosen id is kept.
        let chosen = c
            .lease_grant(TTL, Some(etcd_client::LeaseGrantOptions::new().with_id(0x5eed)))
            .await
            .unwrap();
        assert_eq!(chosen.id(), 0x5eed);
        c.put("e/a", "v", Some(PutOptions::new().with_lease(id))).await.unwrap();
        c.put("e/b", "v", Some(PutOptions::new().with_lease(chosen.id()))).await.unwrap();
        c.put("e/stays", "v", None).await.unwrap();
        assert_eq!(value(&mut c, "e/a").await.as_deref(), Some("v"));
        let gone = loop {
            if value(&mut c, "e/a").await.is_none() {
                break granted.elapsed();
            }
            assert!(granted.elapsed() < Duration::from_secs(15), "lease {id:x} never expired");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert!(gone >= Duration::from_millis(2500), "expired after {gone:?}, TTL is {TTL}s");
        let ttl = c.lease_time_to_live(id, None).await.unwrap();
        assert_eq!(ttl.ttl(), -1, "an expired lease: {ttl:?}");
        // The other lease expires too; the key without a lease stays.
        let deadline = Instant::now() + WAIT;
        while keys(&mut c, "e/").await != ["e/stays"] {
            assert!(Instant::now() < deadline, "e/b outlived its lease");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}
