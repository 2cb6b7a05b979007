//! Sliding-window limits on sending and checking codes. Every limit is "at most
//! `n` events of one kind for one subject in the last hour"; storage answers one
//! question per limit (a [`Probe`]) and the decision is made here.

use std::net::{IpAddr, Ipv6Addr};

/// The length of every sliding window.
pub const WINDOW_SECS: i64 = 3600;

/// How many passkey ceremonies a client network may begin for each code it may
/// ask for.
const PASSKEY_FACTOR: u32 = 10;

/// What a window counts, and the subject it counts it for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A code mailed to an address, whoever asked.
    Send,
    /// A code mailed to an address at the request of one client network.
    SendFrom,
    /// A code asked for by a client address.
    Ip,
    /// A wrong code typed for an address.
    Fail,
    /// An address's owner told that its limits refused a code.
    Notice,
    /// A passkey ceremony begun by a client network.
    Passkey,
    /// A code mailed to an address a signed-in person wants to add; the subject
    /// is the account.
    AddressCode,
}

impl EventKind {
    /// The `rate_events.kind` value.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Send => "send",
            EventKind::SendFrom => "send_from",
            EventKind::Ip => "ip",
            EventKind::Fail => "fail",
            EventKind::Notice => "notice",
            EventKind::Passkey => "passkey",
            EventKind::AddressCode => "address_code",
        }
    }
}

/// Codes for new addresses one account may ask for per rolling hour.
pub const ADDRESS_CODES_PER_ACCOUNT: u32 = 10;

/// The numbers from `[rate_limit]` and `[code]` that guard sending and checking codes.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Per address and client network.
    pub email_per_hour: u32,
    /// Per address, over every network.
    pub email_total_per_hour: u32,
    pub ip_per_hour: u32,
    pub failures_per_email_per_hour: u32,
    pub resend_interval_secs: i64,
}

/// Why a request was refused, and in how many seconds it may be tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    EmailHourly {
        retry_after: i64,
    },
    IpHourly {
        retry_after: i64,
    },
    /// One account asked for too many codes for addresses to add.
    AccountHourly {
        retry_after: i64,
    },
    FailureBudget {
        retry_after: i64,
    },
    ResendTooSoon {
        retry_after: i64,
    },
}

impl Refusal {
    pub fn retry_after(&self) -> i64 {
        match *self {
            Refusal::EmailHourly { retry_after }
            | Refusal::IpHourly { retry_after }
            | Refusal::AccountHourly { retry_after }
            | Refusal::FailureBudget { retry_after }
            | Refusal::ResendTooSoon { retry_after } => retry_after.max(1),
        }
    }
}

/// The one question storage answers for a limit: when did the `nth` newest event of
/// `kind` (for some subject) happen, among those after `since`? With events newest
/// first, the window is full exactly when that event exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub kind: EventKind,
    pub since: i64,
    /// At least 1.
    pub nth: u32,
}

impl Probe {
    fn new(kind: EventKind, limit: u32, now: i64) -> Self {
        Self {
            kind,
            since: now - WINDOW_SECS,
            nth: limit.max(1),
        }
    }

    /// The row offset of the `nth` newest event, for `LIMIT 1 OFFSET`.
    pub fn offset(self) -> i64 {
        i64::from(self.nth) - 1
    }
}

impl Limits {
    /// Wrong codes for an address.
    pub fn failures(&self, now: i64) -> Probe {
        Probe::new(EventKind::Fail, self.failures_per_email_per_hour, now)
    }

    /// Codes asked for by a client address.
    pub fn per_ip(&self, now: i64) -> Probe {
        Probe::new(EventKind::Ip, self.ip_per_hour, now)
    }

    /// Codes mailed to an address at one client network's request; its subject is
    /// [`address_from`].
    pub fn per_email(&self, now: i64) -> Probe {
        Probe::new(EventKind::SendFrom, self.email_per_hour, now)
    }

    /// Codes mailed to an address, whoever asked.
    pub fn per_email_total(&self, now: i64) -> Probe {
        Probe::new(EventKind::Send, self.email_total_per_hour, now)
    }

    /// Passkey ceremonies begun by a client network. A ceremony mails nothing and
    /// costs a challenge row and a signature check, so a network may begin ten
    /// times as many as it may ask for codes: enough for an office behind one
    /// address, too few to fill the database.
    /// Codes one account asked for, for addresses to add. No CAPTCHA guards
    /// them (the person is signed in), so one account cannot mail more than this
    /// an hour, from however many networks.
    pub fn address_codes_per_account(&self, now: i64) -> Probe {
        Probe::new(EventKind::AddressCode, ADDRESS_CODES_PER_ACCOUNT, now)
    }

    pub fn passkeys_per_ip(&self, now: i64) -> Probe {
        Probe::new(
            EventKind::Passkey,
            self.ip_per_hour.saturating_mul(PASSKEY_FACTOR),
            now,
        )
    }
}

/// The network a client address counts as: an IPv4 address, or an IPv6 /64 (one
/// home or one server is given a whole /64, so each of its addresses is not a new
/// client).
pub fn client_network(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// The subject of [`EventKind::SendFrom`]: one address asked for by one network.
pub fn address_from(email: &str, network: &str) -> String {
    format!("{email} {network}")
}

/// Seconds until a window has room for one more event, given the answer to its
/// [`Probe`], or `None` when it has room now.
pub fn full_for(nth_newest_at: Option<i64>, now: i64) -> Option<i64> {
    nth_newest_at.map(|at| at + WINDOW_SECS - now)
}

/// What a code send is decided on, each read in the send's transaction: the
/// answers to the three probes, and (for a resend) when the address was last sent
/// a code.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendFacts {
    pub failures: Option<i64>,
    pub per_ip: Option<i64>,
    /// For this address from this client network.
    pub per_email: Option<i64>,
    /// For this address from anywhere.
    pub per_email_total: Option<i64>,
    pub last_send: Option<i64>,
}

/// Whether a code may be sent. The order is the rule: a spent failure budget
/// first (it says the most about the address), then the resend interval (for
/// resends), the client network's hourly count, the address's hourly count from
/// that network, and the address's hourly count from everywhere. Counting an
/// address per network first means nobody uses up someone else's allowance from
/// their own network. On `Ok` the caller records one [`EventKind::Ip`], one
/// [`EventKind::SendFrom`] and one [`EventKind::Send`].
pub fn check_send(
    limits: &Limits,
    facts: &SendFacts,
    now: i64,
    is_resend: bool,
) -> Result<(), Refusal> {
    if let Some(retry_after) = full_for(facts.failures, now) {
        return Err(Refusal::FailureBudget { retry_after });
    }
    if is_resend
        && let Some(last) = facts.last_send
        && last + limits.resend_interval_secs > now
    {
        return Err(Refusal::ResendTooSoon {
            retry_after: last + limits.resend_interval_secs - now,
        });
    }
    if let Some(retry_after) = full_for(facts.per_ip, now) {
        return Err(Refusal::IpHourly { retry_after });
    }
    if let Some(retry_after) = full_for(facts.per_email, now) {
        return Err(Refusal::EmailHourly { retry_after });
    }
    if let Some(retry_after) = full_for(facts.per_email_total, now) {
        return Err(Refusal::EmailHourly { retry_after });
    }
    Ok(())
}

/// Whether the owner of an address is mailed about a refusal: only for a refusal
/// that is about the address (its hourly counts, its failure budget: someone keeps
/// asking for, or guessing, its codes), and at most once per window, so that the
/// notice cannot itself become a flood. `last_notice` is when the address was last
/// told.
pub fn notify_owner(refusal: &Refusal, last_notice: Option<i64>, now: i64) -> bool {
    let about_the_address = matches!(
        refusal,
        Refusal::EmailHourly { .. } | Refusal::FailureBudget { .. }
    );
    about_the_address && last_notice.is_none_or(|at| at + WINDOW_SECS <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_owner_hears_of_limits_on_their_address_once_per_window() {
        let email = Refusal::EmailHourly { retry_after: 10 };
        let failures = Refusal::FailureBudget { retry_after: 10 };
        let cases: &[(&str, Refusal, Option<i64>, bool)] = &[
            ("address limit, never told", email, None, true),
            ("failure budget, never told", failures, None, true),
            ("told a minute ago", email, Some(NOW - 60), false),
            (
                "told just under an hour ago",
                failures,
                Some(NOW - WINDOW_SECS + 1),
                false,
            ),
            ("told an hour ago", email, Some(NOW - WINDOW_SECS), true),
            (
                "the client's own limit is not about the address",
                Refusal::IpHourly { retry_after: 10 },
                None,
                false,
            ),
            (
                "a resend too soon is not news",
                Refusal::ResendTooSoon { retry_after: 10 },
                None,
                false,
            ),
        ];
        for (name, refusal, last, expected) in cases {
            assert_eq!(notify_owner(refusal, *last, NOW), *expected, "case: {name}");
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn limits() -> Limits {
        Limits {
            email_per_hour: 5,
            email_total_per_hour: 20,
            ip_per_hour: 30,
            failures_per_email_per_hour: 20,
            resend_interval_secs: 60,
        }
    }

    #[test]
    fn the_first_refusal_in_rule_order_answers() {
        let full = Some(NOW - 100); // room again in 3,500 s
        let cases: &[(&str, SendFacts, bool, Result<(), Refusal>)] = &[
            ("nothing full", SendFacts::default(), false, Ok(())),
            (
                "everything full: the failure budget answers",
                SendFacts {
                    failures: full,
                    per_ip: full,
                    per_email: full,
                    per_email_total: full,
                    last_send: Some(NOW - 1),
                },
                true,
                Err(Refusal::FailureBudget { retry_after: 3500 }),
            ),
            (
                "a resend too soon answers before the hourly counts",
                SendFacts {
                    per_ip: full,
                    per_email: full,
                    last_send: Some(NOW - 20),
                    ..SendFacts::default()
                },
                true,
                Err(Refusal::ResendTooSoon { retry_after: 40 }),
            ),
            (
                "a first send ignores the resend interval",
                SendFacts {
                    last_send: Some(NOW - 20),
                    ..SendFacts::default()
                },
                false,
                Ok(()),
            ),
            (
                "a resend after the interval passes",
                SendFacts {
                    last_send: Some(NOW - 60),
                    ..SendFacts::default()
                },
                true,
                Ok(()),
            ),
            (
                "the client's count answers before the address's",
                SendFacts {
                    per_ip: Some(NOW - 600),
                    per_email: full,
                    ..SendFacts::default()
                },
                false,
                Err(Refusal::IpHourly { retry_after: 3000 }),
            ),
            (
                "the address's count from everywhere, last",
                SendFacts {
                    per_email_total: Some(NOW - 1000),
                    ..SendFacts::default()
                },
                false,
                Err(Refusal::EmailHourly { retry_after: 2600 }),
            ),
            (
                "the address's count from this network",
                SendFacts {
                    per_email: full,
                    ..SendFacts::default()
                },
                true,
                Err(Refusal::EmailHourly { retry_after: 3500 }),
            ),
        ];
        for (name, facts, resend, expected) in cases {
            assert_eq!(
                check_send(&limits(), facts, NOW, *resend),
                *expected,
                "case: {name}"
            );
        }
    }

    #[test]
    fn probes_ask_for_the_limit_th_newest_event_of_the_last_hour() {
        let probe = limits().per_email(NOW);
        assert_eq!(
            (probe.kind, probe.since, probe.nth, probe.offset()),
            (EventKind::SendFrom, NOW - 3600, 5, 4)
        );
        let total = limits().per_email_total(NOW);
        assert_eq!((total.kind, total.nth), (EventKind::Send, 20));
        assert_eq!(limits().failures(NOW).kind.as_str(), "fail");
        assert_eq!(limits().per_ip(NOW).kind.as_str(), "ip");
    }

    #[test]
    fn a_client_network_is_an_ipv4_address_or_an_ipv6_slash_64() {
        let cases = [
            ("203.0.113.8", "203.0.113.8"),
            ("::ffff:203.0.113.8", "203.0.113.8"),
            ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
            ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
            ("::1", "::/64"),
        ];
        for (ip, network) in cases {
            assert_eq!(client_network(ip.parse().unwrap()), network, "{ip}");
        }
    }

    proptest! {
        /// An event inside the window keeps it full for exactly the rest of the
        /// window, never for zero or negative time, never for more than an hour.
        #[test]
        fn a_full_window_opens_when_its_event_ages_out(age in 0..WINDOW_SECS) {
            let retry = full_for(Some(NOW - age), NOW).unwrap();
            prop_assert!(retry > 0 && retry <= WINDOW_SECS);
            prop_assert_eq!(NOW + retry, NOW - age + WINDOW_SECS);
        }

        /// A refusal always says when to come back, at least a second ahead.
        #[test]
        fn every_refusal_names_a_positive_wait(
            failures in proptest::option::of(0..WINDOW_SECS),
            per_ip in proptest::option::of(0..WINDOW_SECS),
            per_email in proptest::option::of(0..WINDOW_SECS),
            per_email_total in proptest::option::of(0..WINDOW_SECS),
            last_send in proptest::option::of(0..120i64),
            resend: bool,
        ) {
            let facts = SendFacts {
                failures: failures.map(|age| NOW - age),
                per_ip: per_ip.map(|age| NOW - age),
                per_email: per_email.map(|age| NOW - age),
                per_email_total: per_email_total.map(|age| NOW - age),
                last_send: last_send.map(|age| NOW - age),
            };
            match check_send(&limits(), &facts, NOW, resend) {
                Ok(()) => {
                    prop_assert!(failures.is_none() && per_ip.is_none());
                    prop_assert!(per_email.is_none() && per_email_total.is_none());
                }
                Err(refusal) => prop_assert!(refusal.retry_after() >= 1),
            }
        }
    }
}
