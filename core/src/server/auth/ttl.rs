//! Simple-token expiry (etcd's `--auth-token-ttl`): a token not used on this member
//! for the TTL is refused here with `invalid auth token`, and stays refused. Like
//! etcd's token keeper this is each member's own state, not replicated: a token's
//! clock starts when this member first sees it (issues or checks it) and every use
//! here restarts it. Time is the member's ticks.

use super::AuthStore;
use crate::api::EtcdError;
use std::collections::BTreeMap;

/// When each token was last used here; None once it expired.
#[derive(Clone, Debug, Default)]
pub struct TokenClock {
    last_used: BTreeMap<String, Option<u64>>,
}

impl TokenClock {
    /// Records a use of `token` at `now_ticks`, or refuses it if it was idle for
    /// `ttl_ticks` (0: tokens never expire). Entries for tokens the store forgot are
    /// dropped once there are more than the store keeps, which bounds the map.
    pub fn touch(
        &mut self,
        token: &str,
        now_ticks: u64,
        ttl_ticks: u64,
        store: &AuthStore,
    ) -> Result<(), EtcdError> {
        if ttl_ticks == 0 {
            return Ok(());
        }
        match self.last_used.get_mut(token) {
            Some(None) => Err(EtcdError::InvalidAuthToken),
            Some(Some(last)) if now_ticks.saturating_sub(*last) > ttl_ticks => {
                self.last_used.insert(token.to_owned(), None);
                Err(EtcdError::InvalidAuthToken)
            }
            Some(Some(last)) => {
                *last = now_ticks;
                Ok(())
            }
            None => {
                if self.last_used.len() >= super::TOKENS_MAX {
                    self.last_used.retain(|t, _| store.knows_token(t));
                }
                // Still full: every entry is a token the store holds; the oldest use
                // goes (its token is refused by the store soon anyway).
                if self.last_used.len() >= super::TOKENS_MAX {
                    let oldest = self
                        .last_used
                        .iter()
                        .min_by_key(|(_, used)| used.unwrap_or(0))
                        .map(|(t, _)| t.clone());
                    if let Some(t) = oldest {
                        self.last_used.remove(&t);
                    }
                }
                self.last_used.insert(token.to_owned(), Some(now_ticks));
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_expires_after_idling_for_the_ttl_and_stays_expired() {
        let store = AuthStore::default();
        let mut clock = TokenClock::default();
        assert_eq!(clock.touch("t", 0, 20, &store), Ok(()));
        assert_eq!(clock.touch("t", 15, 20, &store), Ok(()));
        // Used at 15: alive until 35.
        assert_eq!(clock.touch("t", 35, 20, &store), Ok(()));
        assert_eq!(clock.touch("t", 56, 20, &store), Err(EtcdError::InvalidAuthToken));
        assert_eq!(clock.touch("t", 57, 20, &store), Err(EtcdError::InvalidAuthToken));
        // Another token has its own clock; a TTL of 0 never expires anything.
        assert_eq!(clock.touch("u", 57, 20, &store), Ok(()));
        assert_eq!(clock.touch("t", 1_000, 0, &store), Ok(()));
    }
}
