//! How long a login must wait after failed attempts.
//!
//! Failures are counted per account *and address*: guessing one account's password from one
//! address slows that pair down, with a delay that doubles per failure, and never locks the
//! account for its owner signing in from elsewhere. A second count per address (whatever the
//! account) stops one address from spraying a common password over many accounts. Both counts
//! live in the database, so they hold across several app servers.

/// Failures of one account from one address are counted over this window.
pub const PAIR_WINDOW_MS: i64 = 24 * 3600 * 1000;
/// Failures of one account from one address that cost nothing: typos happen.
pub const FREE_PAIR_FAILURES: i64 = 4;
/// The wait after the first failure beyond the free ones; it doubles with each further one.
pub const FIRST_DELAY_MS: i64 = 30 * 1000;
/// The longest wait, however many failures: an hour, so a forgetful owner is never locked out
/// for the day, and a guesser gets at most a few dozen tries a day from one address.
pub const MAX_DELAY_MS: i64 = 3600 * 1000;
/// Failures from one address, over all accounts, within `ADDRESS_WINDOW_MS`…
pub const MAX_ADDRESS_FAILURES: i64 = 20;
/// …after which the address waits until its oldest failure leaves this window.
pub const ADDRESS_WINDOW_MS: i64 = 15 * 60 * 1000;

/// The failures on record that bear on one login attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Failures {
    /// Failures of this account from this address within `PAIR_WINDOW_MS`.
    pub pair: i64,
    /// When the latest of them happened (ms since the epoch).
    pub pair_last_at: Option<i64>,
    /// Failures from this address, any account, within `ADDRESS_WINDOW_MS`.
    pub address: i64,
    /// When the oldest of those happened.
    pub address_oldest_at: Option<i64>,
}

/// The delay owed after `pair_failures` failures of one account from one address.
pub fn pair_delay_ms(pair_failures: i64) -> i64 {
    let beyond = pair_failures - FREE_PAIR_FAILURES;
    if beyond <= 0 {
        return 0;
    }
    // 30 s × 2^(beyond-1), capped; the shift is bounded so it cannot overflow.
    let shift = (beyond - 1).min(20) as u32;
    FIRST_DELAY_MS.saturating_mul(1 << shift).min(MAX_DELAY_MS)
}

/// How many milliseconds the attempt must still wait, or `None` if it may go ahead.
pub fn wait_ms(f: &Failures, now: i64) -> Option<i64> {
    let pair_until = f
        .pair_last_at
        .map_or(0, |last| last + pair_delay_ms(f.pair));
    let address_until = match f.address_oldest_at {
        Some(oldest) if f.address >= MAX_ADDRESS_FAILURES => oldest + ADDRESS_WINDOW_MS,
        _ => 0,
    };
    let until = pair_until.max(address_until);
    (until > now).then_some(until - now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_failures_are_free_then_the_delay_doubles_up_to_an_hour() {
        let table = [
            (0, 0),
            (4, 0),
            (5, 30_000),
            (6, 60_000),
            (7, 120_000),
            (11, 1_920_000),
            (12, 3_600_000),
            (1_000, 3_600_000),
        ];
        for (n, delay) in table {
            assert_eq!(pair_delay_ms(n), delay, "{n} failures");
        }
    }

    #[test]
    fn a_pair_waits_from_its_last_failure() {
        let f = Failures {
            pair: 5,
            pair_last_at: Some(1_000),
            ..Failures::default()
        };
        assert_eq!(wait_ms(&f, 1_000), Some(30_000));
        assert_eq!(wait_ms(&f, 21_000), Some(10_000));
        assert_eq!(wait_ms(&f, 31_000), None);
        let free = Failures { pair: 4, ..f };
        assert_eq!(wait_ms(&free, 1_000), None);
    }

    #[test]
    fn an_address_with_many_failures_waits_for_the_window() {
        let f = Failures {
            address: MAX_ADDRESS_FAILURES,
            address_oldest_at: Some(0),
            ..Failures::default()
        };
        assert_eq!(wait_ms(&f, 60_000), Some(ADDRESS_WINDOW_MS - 60_000));
        let fewer = Failures {
            address: MAX_ADDRESS_FAILURES - 1,
            ..f
        };
        assert_eq!(wait_ms(&fewer, 60_000), None);
    }
}
