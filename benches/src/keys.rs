//! Deterministic test data: 16-byte pseudo-random keys, 100-byte values, a fast PRNG and the
//! YCSB zipfian generator.
//!
//! Key `i` of key space `s` is two splitmix64 outputs of `(i, s)`, so keys are uniformly spread
//! (insert order is random with respect to key order) and a miss is a key of another space:
//!
//! ```text
//!   key(i, HIT)  = splitmix(i·4 + 0) ‖ splitmix(i·4 + 0 ⊕ C)      loaded keys, i < n
//!   key(i, MISS) = splitmix(i·4 + 1) ‖ …                           never written
//!   key(i, NEW)  = splitmix(i·4 + 2) ‖ …                           written by the commit workloads
//! ```

/// Loaded keys.
pub const HIT: u64 = 0;
/// Keys never written.
pub const MISS: u64 = 1;
/// Keys written by the individual-commit workload.
pub const NEW: u64 = 2;

pub const KEY_LEN: usize = 16;
pub const VALUE_LEN: usize = 100;

pub fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Key `i` of key space `space`.
pub fn key(i: u64, space: u64) -> [u8; KEY_LEN] {
    let seed = i * 4 + space;
    let mut k = [0u8; KEY_LEN];
    k[..8].copy_from_slice(&splitmix(seed).to_be_bytes());
    k[8..].copy_from_slice(&splitmix(seed ^ 0x5555_AAAA_5555_AAAA).to_be_bytes());
    k
}

/// A 100-byte value for key `i`, version `version`.
pub fn value(i: u64, version: u64) -> [u8; VALUE_LEN] {
    let mut v = [0u8; VALUE_LEN];
    let mut x = splitmix(i ^ (version << 40));
    for chunk in v.chunks_mut(8) {
        x = splitmix(x);
        let b = x.to_le_bytes();
        chunk.copy_from_slice(&b[..chunk.len()]);
    }
    v
}

/// xorshift64*: a fast PRNG for choosing keys.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(splitmix(seed) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next() as u128 * n as u128) >> 64) as u64
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// YCSB's zipfian generator (Gray et al.), constant 0.99, over `0..n`; item ranks are scrambled
/// with a hash so the hot keys are spread over the key space, as YCSB's `ScrambledZipfian` does.
pub struct Zipf {
    n: u64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    pub fn new(n: u64) -> Zipf {
        let theta = 0.99;
        let zeta = |m: u64| (1..=m).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2);
        let alpha = 1.0 / (1.0 - theta);
        let eta = (1.0 - (2.0 / n as f64).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Zipf {
            n,
            theta,
            alpha,
            zetan,
            eta,
        }
    }

    /// The next item in `0..n`.
    pub fn next(&self, rng: &mut Rng) -> u64 {
        let u = rng.unit();
        let uz = u * self.zetan;
        let rank = if uz < 1.0 {
            0
        } else if uz < 1.0 + 0.5f64.powf(self.theta) {
            1
        } else {
            ((self.n as f64) * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as u64
        };
        splitmix(rank.min(self.n - 1) ^ 0xC0FFEE) % self.n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaces_do_not_collide() {
        let hits: std::collections::HashSet<_> = (0..10_000).map(|i| key(i, HIT)).collect();
        assert!((0..10_000).all(|i| !hits.contains(&key(i, MISS)) && !hits.contains(&key(i, NEW))));
    }

    #[test]
    fn zipf_is_skewed_and_in_range() {
        let z = Zipf::new(1000);
        let mut rng = Rng::new(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.next(&mut rng) as usize] += 1;
        }
        counts.sort_unstable();
        // The hottest key takes several percent of all accesses under theta = 0.99.
        assert!(counts[999] > 3_000, "{}", counts[999]);
    }
}
