//! Choosing which key an operation touches: uniformly, or Zipf-distributed so a few hot
//! keys take most of the traffic (contention is where consistency bugs live).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Draws key numbers in `0..keys`.
#[derive(Clone, Debug)]
pub enum KeyChooser {
    Uniform {
        keys: u32,
    },
    /// Cumulative weights of key i ∝ 1 / (i + 1)^s, scaled to integers so every
    /// platform draws the same keys.
    Zipf {
        cumulative: Vec<u64>,
    },
}

impl KeyChooser {
    pub fn uniform(keys: u32) -> Self {
        assert!(keys > 0, "at least one key");
        KeyChooser::Uniform { keys }
    }

    pub fn zipf(keys: u32, s: f64) -> Self {
        assert!(keys > 0 && s > 0.0, "zipf needs keys and a positive exponent");
        let mut total = 0u64;
        let cumulative = (0..keys)
            .map(|i| {
                let weight = (1e9 / ((i + 1) as f64).powf(s)).max(1.0) as u64;
                total += weight;
                total
            })
            .collect();
        KeyChooser::Zipf { cumulative }
    }

    pub fn pick(&self, rng: &mut ChaCha8Rng) -> u32 {
        match self {
            KeyChooser::Uniform { keys } => rng.gen_range(0..*keys),
            KeyChooser::Zipf { cumulative } => {
                let total = *cumulative.last().expect("at least one key");
                let x = rng.gen_range(0..total);
                cumulative.partition_point(|&c| c <= x) as u32
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn zipf_prefers_low_keys_and_stays_in_range() {
        let chooser = KeyChooser::zipf(10, 1.2);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = [0u32; 10];
        for _ in 0..10_000 {
            counts[chooser.pick(&mut rng) as usize] += 1;
        }
        assert!(counts[0] > counts[9] * 5, "{counts:?}");
        assert!(counts.iter().all(|&c| c > 0), "{counts:?}");
    }

    #[test]
    fn uniform_covers_every_key() {
        let chooser = KeyChooser::uniform(4);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut seen = [false; 4];
        for _ in 0..200 {
            seen[chooser.pick(&mut rng) as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }
}
