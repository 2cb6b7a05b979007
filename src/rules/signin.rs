//! The sign-in's decisions: whether a sign-in may be continued, what a typed code
//! does, and whether a name finishes a sign-up. Storage loads a sign-in's row and
//! the facts around it, asks here, and writes what the answer says.

use subtle::ConstantTimeEq;

use crate::domain::{CodeHash, EmailAddress};

/// A sign-in as stored.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub email: EmailAddress,
    /// The hash of the login binding of the browser that started it, if any.
    pub browser_hash: Option<String>,
    pub expires_at: i64,
    pub attempts: u32,
    /// When a right code was typed for a new address whose name comes next.
    pub verified_at: Option<i64>,
    pub finished_at: Option<i64>,
    /// Set when the challenge adds its address to an account instead of signing
    /// in (see [`super::emails`]).
    pub adding: Option<Adding>,
}

/// The account a challenge adds its address to, and the session that asked.
#[derive(Debug, Clone)]
pub struct Adding {
    pub user_id: i64,
    /// The token hash of the session that asked: the challenge continues only there.
    pub session_hash: String,
}

impl Adding {
    /// A challenge's `user_id` and `session_hash` columns, set together or not at all.
    pub fn from_columns(user_id: Option<i64>, session_hash: Option<String>) -> Option<Self> {
        Some(Adding {
            user_id: user_id?,
            session_hash: session_hash?,
        })
    }
}

/// Why a sign-in can no longer be used; the person has to start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    Unknown,
    OtherBrowser,
    Finished,
    Expired,
    OutOfAttempts,
}

impl Challenge {
    /// A sign-in started in a browser only continues in that browser, so a code
    /// phished from its owner cannot be used anywhere else.
    pub fn same_browser(&self, presented: Option<&str>) -> bool {
        match (&self.browser_hash, presented) {
            (None, _) => true,
            (Some(bound), Some(presented)) => {
                bool::from(bound.as_bytes().ct_eq(presented.as_bytes()))
            }
            (Some(_), None) => false,
        }
    }

    pub fn attempts_left(&self, max_attempts: u32) -> u32 {
        max_attempts.saturating_sub(self.attempts)
    }
}

/// The checks every step shares: the sign-in exists, is continued in the browser
/// that started it, and is not finished.
pub fn open(row: Option<Challenge>, browser_hash: Option<&str>) -> Result<Challenge, Closed> {
    // A challenge that adds an address never signs anyone in.
    let row = row
        .filter(|row| row.adding.is_none())
        .ok_or(Closed::Unknown)?;
    if !row.same_browser(browser_hash) {
        return Err(Closed::OtherBrowser);
    }
    if row.finished_at.is_some() {
        return Err(Closed::Finished);
    }
    Ok(row)
}

/// A new code is only added to a sign-in whose code is still to be checked, that
/// has attempts left and has not expired.
pub fn resendable(row: &Challenge, max_attempts: u32, now: i64) -> Result<(), Closed> {
    if row.verified_at.is_some() {
        return Err(Closed::Finished);
    }
    if row.attempts >= max_attempts {
        return Err(Closed::OutOfAttempts);
    }
    if row.expires_at <= now {
        return Err(Closed::Expired);
    }
    Ok(())
}

/// Whose account a finished sign-in opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Account {
    /// The address already has this account.
    Existing(i64),
    /// A new account, made once, in the transaction that finishes the sign-in.
    Create,
}

/// Everything a typed code is decided on, read in the check's transaction.
#[derive(Debug)]
pub struct CodeFacts<'a> {
    /// An open sign-in (see [`open`]).
    pub challenge: &'a Challenge,
    pub max_attempts: u32,
    /// The sign-in's codes that have not expired.
    pub live_codes: &'a [CodeHash],
    pub candidate: &'a CodeHash,
    /// The account that owns the address, if any.
    pub account: Option<i64>,
    /// A name came with the code.
    pub named: bool,
    /// `signup.ask_name = after_code`.
    pub names_after_code: bool,
    /// A new account may be made for the address (`[signup]`, see
    /// [`super::signup`]); not asked when it has one.
    pub admitted: bool,
    pub now: i64,
}

/// What a typed code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeDecision {
    /// The code was already right; the name page is still waiting.
    AwaitingName,
    Closed(Closed),
    /// Costs one of the sign-in's attempts and one of the address's failures.
    Wrong,
    /// Right code for a new address that gave no name: the code stays valid.
    NameRequired,
    /// Right code for a new address under `after_code`: the sign-in is marked
    /// verified, its codes are dropped, and the name page comes next.
    HoldForName,
    /// Right code for a new address that may not make an account: the sign-in ends.
    SignupClosed,
    SignIn(Account),
}

impl CodeDecision {
    /// The code was right for an address with no account, so an account is (or
    /// is about to be) made: whether the address may have one is asked then.
    pub fn makes_an_account(self) -> bool {
        matches!(
            self,
            CodeDecision::SignIn(Account::Create)
                | CodeDecision::HoldForName
                | CodeDecision::NameRequired
        )
    }
}

/// The order is the rule: an already verified sign-in waits for its name; then
/// attempts, expiry, and the code itself, compared with every live code in
/// constant time. The address's failure budget is not asked: it stops new sign-ins
/// and resends (see [`super::limits::check_send`]), never a right code, so nobody
/// can lock an address's owner out by typing wrong codes for it.
pub fn judge_code(facts: &CodeFacts) -> CodeDecision {
    let row = facts.challenge;
    if row.verified_at.is_some() {
        return CodeDecision::AwaitingName;
    }
    match check_code(row, facts.max_attempts, facts.live_codes, facts.candidate) {
        CodeCheck::Right => {}
        CodeCheck::Wrong => return CodeDecision::Wrong,
        CodeCheck::Closed(closed) => return CodeDecision::Closed(closed),
    }
    match (facts.account, facts.named) {
        (Some(user_id), _) => CodeDecision::SignIn(Account::Existing(user_id)),
        (None, _) if !facts.admitted => CodeDecision::SignupClosed,
        (None, true) => CodeDecision::SignIn(Account::Create),
        (None, false) if facts.names_after_code => CodeDecision::HoldForName,
        (None, false) => CodeDecision::NameRequired,
    }
}

/// What a typed code is, whatever a right one leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Right,
    /// Costs one of the challenge's attempts and one of the address's failures.
    Wrong,
    Closed(Closed),
}

/// The checks every code shares, in this order: attempts, expiry, and the code
/// itself, compared with every live code in constant time.
pub fn check_code(
    row: &Challenge,
    max_attempts: u32,
    live_codes: &[CodeHash],
    candidate: &CodeHash,
) -> CodeCheck {
    if row.attempts >= max_attempts {
        return CodeCheck::Closed(Closed::OutOfAttempts);
    }
    if live_codes.is_empty() {
        return CodeCheck::Closed(Closed::Expired);
    }
    match candidate.matches_any(live_codes) {
        true => CodeCheck::Right,
        false => CodeCheck::Wrong,
    }
}

/// What a name sent for a sign-in does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameDecision {
    /// The sign-in's code has not been checked yet.
    CodeNeeded,
    Closed(Closed),
    /// A new account may no longer be made for the address (say, its invitation
    /// was revoked meanwhile): the sign-in ends.
    SignupClosed,
    /// The account is made unless the address got one meanwhile.
    SignIn(Account),
}

/// `admitted` as in [`CodeFacts`], asked again: the rule may have changed since
/// the code was right.
pub fn judge_name(row: &Challenge, account: Option<i64>, admitted: bool, now: i64) -> NameDecision {
    if row.verified_at.is_none() {
        return NameDecision::CodeNeeded;
    }
    if row.expires_at <= now {
        return NameDecision::Closed(Closed::Expired);
    }
    match account {
        Some(user_id) => NameDecision::SignIn(Account::Existing(user_id)),
        None if !admitted => NameDecision::SignupClosed,
        None => NameDecision::SignIn(Account::Create),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{LoginCode, ServerSecret};
    use proptest::prelude::*;

    const NOW: i64 = 1_800_000_000;

    fn challenge() -> Challenge {
        Challenge {
            email: EmailAddress::from_trusted("ada@example.com".into()),
            browser_hash: Some("b".repeat(64)),
            expires_at: NOW + 600,
            attempts: 0,
            verified_at: None,
            finished_at: None,
            adding: None,
        }
    }

    fn hash(code: &str) -> CodeHash {
        let secret = ServerSecret::from_bytes(vec![7; 32]);
        LoginCode::parse_input(code)
            .unwrap()
            .hash(&secret, "challenge")
    }

    #[test]
    fn a_sign_in_opens_only_in_its_own_browser_and_only_once() {
        let bound = "b".repeat(64);
        let other = "c".repeat(64);
        let finished = Challenge {
            finished_at: Some(NOW),
            ..challenge()
        };
        let unbound = Challenge {
            browser_hash: None,
            ..challenge()
        };
        type Case<'a> = (
            &'a str,
            Option<Challenge>,
            Option<&'a str>,
            Result<(), Closed>,
        );
        let cases: &[Case] = &[
            ("unknown id", None, Some(&bound), Err(Closed::Unknown)),
            ("same browser", Some(challenge()), Some(&bound), Ok(())),
            (
                "another browser",
                Some(challenge()),
                Some(&other),
                Err(Closed::OtherBrowser),
            ),
            (
                "no binding",
                Some(challenge()),
                None,
                Err(Closed::OtherBrowser),
            ),
            (
                "finished",
                Some(finished),
                Some(&bound),
                Err(Closed::Finished),
            ),
            ("API sign-in, any caller", Some(unbound), None, Ok(())),
        ];
        for (name, row, browser, expected) in cases {
            let got = open(row.clone(), *browser).map(drop);
            assert_eq!(got, *expected, "case: {name}");
        }
    }

    /// A code typed on `row` with nothing else known yet.
    fn base_facts<'a>(row: &'a Challenge, candidate: &'a CodeHash) -> CodeFacts<'a> {
        CodeFacts {
            challenge: row,
            max_attempts: 5,
            live_codes: &[],
            candidate,
            account: None,
            named: false,
            names_after_code: false,
            admitted: true,
            now: NOW,
        }
    }

    #[test]
    fn a_code_is_judged_in_rule_order() {
        let right = hash("123456");
        let wrong = hash("654321");
        let live = [hash("111111"), right.clone()];
        let verified = Challenge {
            verified_at: Some(NOW - 5),
            ..challenge()
        };
        let spent = Challenge {
            attempts: 5,
            ..challenge()
        };
        let open_row = challenge();
        let (open_row, verified, spent) = (&open_row, &verified, &spent);
        let cases: Vec<(&str, CodeFacts, CodeDecision)> = vec![
            (
                "already verified, whatever else",
                CodeFacts {
                    live_codes: &live,
                    ..base_facts(verified, &right)
                },
                CodeDecision::AwaitingName,
            ),
            (
                "out of attempts, even with the right code",
                CodeFacts {
                    live_codes: &live,
                    ..base_facts(spent, &right)
                },
                CodeDecision::Closed(Closed::OutOfAttempts),
            ),
            (
                "no live code",
                base_facts(open_row, &right),
                CodeDecision::Closed(Closed::Expired),
            ),
            (
                "wrong code",
                CodeFacts {
                    live_codes: &live,
                    candidate: &wrong,
                    account: Some(3),
                    ..base_facts(open_row, &right)
                },
                CodeDecision::Wrong,
            ),
            (
                "right code, known address",
                CodeFacts {
                    live_codes: &live,
                    account: Some(3),
                    ..base_facts(open_row, &right)
                },
                CodeDecision::SignIn(Account::Existing(3)),
            ),
            (
                "right code, new address with a name",
                CodeFacts {
                    live_codes: &live,
                    named: true,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::SignIn(Account::Create),
            ),
            (
                "right code, new address, no name, name with the code",
                CodeFacts {
                    live_codes: &live,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::NameRequired,
            ),
            (
                "right code, new address, no name, name after the code",
                CodeFacts {
                    live_codes: &live,
                    names_after_code: true,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::HoldForName,
            ),
            (
                "right code, new address that may not sign up, whatever the name",
                CodeFacts {
                    live_codes: &live,
                    named: true,
                    admitted: false,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::SignupClosed,
            ),
            (
                "right code, known address, sign-up closed: accounts always sign in",
                CodeFacts {
                    live_codes: &live,
                    account: Some(3),
                    admitted: false,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::SignIn(Account::Existing(3)),
            ),
            (
                "wrong code, new address that may not sign up: still just wrong",
                CodeFacts {
                    live_codes: &live,
                    candidate: &wrong,
                    names_after_code: true,
                    admitted: false,
                    ..base_facts(open_row, &right)
                },
                CodeDecision::Wrong,
            ),
        ];
        for (name, facts, expected) in cases {
            assert_eq!(judge_code(&facts), expected, "case: {name}");
        }
    }

    #[test]
    fn a_name_finishes_only_a_verified_live_sign_in() {
        let verified = Challenge {
            verified_at: Some(NOW - 5),
            ..challenge()
        };
        let lapsed = Challenge {
            expires_at: NOW,
            ..verified.clone()
        };
        let cases = [
            (
                "code not checked",
                challenge(),
                None,
                true,
                NameDecision::CodeNeeded,
            ),
            (
                "lapsed",
                lapsed,
                None,
                true,
                NameDecision::Closed(Closed::Expired),
            ),
            (
                "new",
                verified.clone(),
                None,
                true,
                NameDecision::SignIn(Account::Create),
            ),
            (
                "new, no longer admitted",
                verified.clone(),
                None,
                false,
                NameDecision::SignupClosed,
            ),
            (
                "got an account meanwhile",
                verified,
                Some(9),
                false,
                NameDecision::SignIn(Account::Existing(9)),
            ),
        ];
        for (name, row, account, admitted, expected) in cases {
            assert_eq!(
                judge_name(&row, account, admitted, NOW),
                expected,
                "case: {name}"
            );
        }
    }

    #[test]
    fn a_resend_needs_an_unchecked_live_sign_in_with_attempts_left() {
        let cases = [
            ("live", challenge(), Ok(())),
            (
                "verified",
                Challenge {
                    verified_at: Some(NOW),
                    ..challenge()
                },
                Err(Closed::Finished),
            ),
            (
                "spent",
                Challenge {
                    attempts: 5,
                    ..challenge()
                },
                Err(Closed::OutOfAttempts),
            ),
            (
                "expired",
                Challenge {
                    expires_at: NOW,
                    ..challenge()
                },
                Err(Closed::Expired),
            ),
        ];
        for (name, row, expected) in cases {
            assert_eq!(resendable(&row, 5, NOW), expected, "case: {name}");
        }
    }

    proptest! {
        /// Nothing but the right code on a sign-in with attempts left ever signs
        /// anyone in, and the right code there always does (or asks for the name).
        #[test]
        fn only_a_right_code_signs_in_and_it_always_does(
            attempts in 0u32..8,
            max_attempts in 1u32..8,
            right: bool,
            account in proptest::option::of(1i64..100),
            named: bool,
            names_after_code: bool,
            admitted: bool,
        ) {
            let row = Challenge { attempts, ..challenge() };
            let live = [hash("123456")];
            let candidate = if right { hash("123456") } else { hash("000000") };
            let facts = CodeFacts {
                challenge: &row,
                max_attempts,
                live_codes: &live,
                candidate: &candidate,
                account,
                named,
                names_after_code,
                admitted,
                now: NOW,
            };
            let decision = judge_code(&facts);
            let may_try = attempts < max_attempts;
            let accepted = matches!(
                decision,
                CodeDecision::SignIn(_)
                    | CodeDecision::HoldForName
                    | CodeDecision::NameRequired
                    | CodeDecision::SignupClosed
            );
            prop_assert_eq!(accepted, right && may_try);
            if let CodeDecision::SignIn(Account::Create) = decision {
                // An account is only ever made for an address that has none, and
                // that may have one.
                prop_assert!(account.is_none() && named && admitted);
            }
            if decision == CodeDecision::SignupClosed {
                prop_assert!(account.is_none() && !admitted);
            }
            // Judged as admitted first, as storage does: a refusal can only come
            // from a decision that would have made an account.
            let first = judge_code(&CodeFacts { admitted: true, ..facts });
            prop_assert_eq!(
                decision == CodeDecision::SignupClosed,
                first.makes_an_account() && !admitted
            );
        }
    }
}
