//! Per-node clocks. Only the world's time is true; each node's ticks come at its own
//! rate (skew) and may jump (a burst of ticks at once).

/// One node's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    /// Ticks per 1000 ticks of a true clock.
    pub rate_permille: u32,
    /// Ticks this node has received over the whole run (all incarnations).
    pub ticks: u64,
    /// Bumped whenever pending tick events become stale (rate change, crash).
    pub generation: u64,
}

impl Clock {
    pub const RATE_TRUE: u32 = 1000;
    pub const RATE_MIN: u32 = 50;
    pub const RATE_MAX: u32 = 20_000;

    pub fn new() -> Self {
        Clock { rate_permille: Self::RATE_TRUE, ticks: 0, generation: 0 }
    }

    /// True time between two ticks of this clock.
    pub fn period_us(&self, tick_us: u64) -> u64 {
        (tick_us * 1000 / u64::from(self.rate_permille)).max(1)
    }

    /// Sets the rate (clamped to a sane range) and makes scheduled ticks stale.
    pub fn set_rate(&mut self, rate_permille: u32) {
        self.rate_permille = rate_permille.clamp(Self::RATE_MIN, Self::RATE_MAX);
        self.generation += 1;
    }
}

impl Default for Clock {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_clock_ticks_more_often() {
        let mut c = Clock::new();
        assert_eq!(c.period_us(10_000), 10_000);
        c.set_rate(1300);
        assert_eq!(c.period_us(10_000), 7_692);
        c.set_rate(700);
        assert_eq!(c.period_us(10_000), 14_285);
        c.set_rate(0);
        assert_eq!(c.rate_permille, Clock::RATE_MIN);
    }
}
