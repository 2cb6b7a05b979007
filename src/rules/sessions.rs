//! When a session is renewed, recorded as seen, or over: decided from its row and
//! the clock. A session's expiry slides forward while it is used, but only once
//! half its lifetime is gone (so a check is not a write), and never past its
//! maximum lifetime from sign-in, however often it is used.

/// `last_seen_at` is written at most this often per session.
pub const LAST_SEEN_EVERY_SECS: i64 = 300;

/// How long sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// From sign-in or the last renewal.
    pub ttl_secs: i64,
    /// From sign-in, whatever happens.
    pub max_secs: i64,
}

impl Lifetimes {
    /// The expiry of a session that begins at `now`.
    pub fn first_expiry(&self, now: i64) -> i64 {
        now + self.ttl_secs.min(self.max_secs)
    }
}

/// A live session's row, as far as these rules look at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    pub created_at: i64,
    pub expires_at: i64,
    pub last_seen_at: i64,
}

/// What a check of a live session writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    /// The session has outlived its maximum lifetime: it is over.
    Over,
    /// Nothing to write.
    Nothing,
    /// Record that it was seen; the expiry stays.
    Seen,
    /// Move the expiry to this, and record it was seen; the cookie goes again.
    Renew { expires_at: i64 },
}

pub fn touch(row: Seen, lifetimes: Lifetimes, now: i64) -> Touch {
    let cap = row.created_at.saturating_add(lifetimes.max_secs);
    if now >= cap {
        return Touch::Over;
    }
    let renewed = (now + lifetimes.ttl_secs).min(cap);
    if row.expires_at - now < lifetimes.ttl_secs / 2 && renewed > row.expires_at {
        return Touch::Renew {
            expires_at: renewed,
        };
    }
    if now - row.last_seen_at >= LAST_SEEN_EVERY_SECS {
        return Touch::Seen;
    }
    Touch::Nothing
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DAY: i64 = 86_400;
    const LIFETIMES: Lifetimes = Lifetimes {
        ttl_secs: 30 * DAY,
        max_secs: 90 * DAY,
    };

    fn row(created_at: i64, expires_at: i64, last_seen_at: i64) -> Seen {
        Seen {
            created_at,
            expires_at,
            last_seen_at,
        }
    }

    #[test]
    fn a_session_is_renewed_seen_or_over_as_the_rules_say() {
        let cases = [
            ("fresh", row(0, 30 * DAY, 0), 60, Touch::Nothing),
            (
                "seen after five minutes",
                row(0, 30 * DAY, 0),
                300,
                Touch::Seen,
            ),
            (
                "half gone: renewed",
                row(0, 30 * DAY, 0),
                16 * DAY,
                Touch::Renew {
                    expires_at: 46 * DAY,
                },
            ),
            (
                "renewed up to the cap only",
                row(0, 80 * DAY, 70 * DAY),
                70 * DAY,
                Touch::Renew {
                    expires_at: 90 * DAY,
                },
            ),
            (
                "at the cap: not renewed again, only seen",
                row(0, 90 * DAY, 80 * DAY),
                85 * DAY,
                Touch::Seen,
            ),
            (
                "past the maximum lifetime",
                row(0, 100 * DAY, 89 * DAY),
                90 * DAY,
                Touch::Over,
            ),
        ];
        for (name, seen, now, expected) in cases {
            assert_eq!(touch(seen, LIFETIMES, now), expected, "case: {name}");
        }
    }

    #[test]
    fn a_new_session_expires_after_the_shorter_lifetime() {
        assert_eq!(LIFETIMES.first_expiry(10), 10 + 30 * DAY);
        let short = Lifetimes {
            ttl_secs: 30 * DAY,
            max_secs: DAY,
        };
        assert_eq!(short.first_expiry(10), 10 + DAY);
    }

    proptest! {
        /// However it is used, a session never gets an expiry past its maximum
        /// lifetime, and a renewal always moves the expiry forward.
        #[test]
        fn no_use_keeps_a_session_past_its_maximum(
            checks in proptest::collection::vec(1i64..20 * DAY, 1..40),
        ) {
            let mut seen = row(0, LIFETIMES.first_expiry(0), 0);
            let mut now = 0;
            for step in checks {
                now += step;
                if now >= seen.expires_at {
                    break;
                }
                match touch(seen, LIFETIMES, now) {
                    Touch::Over => {
                        prop_assert!(now >= LIFETIMES.max_secs);
                        break;
                    }
                    Touch::Renew { expires_at } => {
                        prop_assert!(expires_at > seen.expires_at);
                        prop_assert!(expires_at <= LIFETIMES.max_secs);
                        seen = row(0, expires_at, now);
                    }
                    Touch::Seen => seen.last_seen_at = now,
                    Touch::Nothing => {}
                }
            }
            prop_assert!(seen.expires_at <= LIFETIMES.max_secs);
        }
    }
}
