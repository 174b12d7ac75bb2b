//! Tests that keep a core busy: counting primes by trial division. Running
//! them in parallel only helps up to the number of cores.

/// Number of primes below `n`, by naive trial division (deliberately slow).
pub fn count_primes_below(n: u64) -> u64 {
    let mut count = 0;
    for k in 2..n {
        let mut d = 2;
        let mut prime = true;
        while d * d <= k {
            if k % d == 0 {
                prime = false;
                break;
            }
            d += 1;
        }
        if prime {
            count += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    //! Each test takes roughly 150-300 ms in a debug build on a 2-core box.
    //! Expected counts cross-checked with a sieve of Eratosthenes.
    use super::count_primes_below;

    #[test]
    fn primes_below_1_100_000() {
        assert_eq!(count_primes_below(1_100_000), 85_714);
    }

    #[test]
    fn primes_below_1_200_000() {
        assert_eq!(count_primes_below(1_200_000), 92_938);
    }

    #[test]
    fn primes_below_1_300_000() {
        assert_eq!(count_primes_below(1_300_000), 100_021);
    }

    #[test]
    fn primes_below_1_400_000() {
        assert_eq!(count_primes_below(1_400_000), 107_126);
    }

    #[test]
    fn primes_below_1_500_000() {
        assert_eq!(count_primes_below(1_500_000), 114_155);
    }

    #[test]
    fn primes_below_1_600_000() {
        assert_eq!(count_primes_below(1_600_000), 121_127);
    }
}
