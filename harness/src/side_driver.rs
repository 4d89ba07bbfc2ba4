//! The safety-phase loop the side workloads (auth, lock) share: clients sleep until a
//! virtual time, the world runs to the next wake (or the end of the phase), answers are
//! routed to whoever asked, then every client due wakes. One loop, so the workloads
//! cannot drift apart in how they interleave answers and wakes.

use detcd_core::server::{EtcdNode, Request, Response};
use detcd_sim::{ClientResult, SimError, World};
use std::collections::BTreeMap;

/// A side workload's driver as the loop sees it.
pub(crate) trait SideDriver {
    /// Who wakes (a client, with what it wakes for).
    type Wake;
    fn world(&mut self) -> &mut World<EtcdNode>;
    /// Pending wakes by (virtual time in µs, sequence number).
    fn wakes(&mut self) -> &mut BTreeMap<(u64, u64), Self::Wake>;
    /// An answer reached its client.
    fn route(&mut self, r: ClientResult<Request, Response>);
    /// `who` is due.
    fn wake(&mut self, who: Self::Wake);
}

/// Runs `d` until virtual time `end_us`. Bounded by virtual time: every turn runs the
/// world up to the next wake, which is at `end_us` at the latest.
pub(crate) fn run_until<D: SideDriver>(d: &mut D, end_us: u64) -> Result<(), SimError> {
    loop {
        let next = d.wakes().keys().next().map(|k| k.0);
        let deadline = next.map_or(end_us, |t| t.min(end_us));
        d.world().run_until_result(deadline)?;
        let results: Vec<_> = d.world().drain_results().collect();
        for r in results {
            d.route(r);
        }
        let now = d.world().now_us();
        while let Some((&key, _)) = d.wakes().first_key_value() {
            if key.0 > now {
                break;
            }
            let who = d.wakes().remove(&key).expect("first key exists");
            d.wake(who);
        }
        if now >= end_us {
            return Ok(());
        }
    }
}
