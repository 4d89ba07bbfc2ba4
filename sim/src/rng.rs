//! The run's randomness: one seed, one ChaCha key, a separate stream per component.
//!
//! Every component (network, disk, clocks, nemesis, clients, swarm, node seeds) draws
//! from its own ChaCha stream of the same key, so enabling a new kind of fault, or a
//! component drawing more values, never shifts the numbers any other component sees.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The components that draw randomness. The discriminant is the ChaCha stream number:
/// never renumber an existing one (that would change every recorded seed's run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Network = 1,
    Disk = 2,
    Clocks = 3,
    Nemesis = 4,
    Client = 5,
    Swarm = 6,
    NodeSeeds = 7,
    Workload = 8,
}

/// The ChaCha key for `seed`: the seed spread over 32 bytes with splitmix64 so that
/// nearby seeds give unrelated keys.
fn key(seed: u64) -> [u8; 32] {
    let mut state = seed;
    let mut out = [0u8; 32];
    for chunk in out.chunks_mut(8) {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        chunk.copy_from_slice(&z.to_le_bytes());
    }
    out
}

/// The random stream of one component of the run seeded by `seed`.
pub fn stream(seed: u64, component: Component) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(key(seed));
    rng.set_stream(component as u64);
    rng
}

/// A Bernoulli draw that consumes exactly one value whatever `p` is, so that a rate of
/// zero and a rate above zero leave the stream in the same place.
pub fn chance(rng: &mut ChaCha8Rng, p: f64) -> bool {
    let x: f64 = rng.gen();
    x < p
}
