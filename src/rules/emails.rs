//! The decisions about a person's addresses: whether an address may be added,
//! what a code typed to add one does, and whether one may be removed. An address
//! is added by the same kind of challenge as a sign-in (codes, attempts, expiry,
//! limits), marked with the account it is for ([`Adding`]).

use subtle::ConstantTimeEq;

use super::signin::{Adding, Challenge, Closed, CodeCheck};

/// The most addresses one account may hold.
pub const MAX_ADDRESSES: usize = 10;

/// Why an address cannot be added, told before any code is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAddable {
    /// It is already one of the person's addresses.
    AlreadyYours,
    /// The account holds [`MAX_ADDRESSES`].
    TooMany,
}

/// Asked before a code is mailed. Whether the address belongs to *another*
/// account is not asked here: that is told only to whoever proves they read its
/// mail (see [`judge_adding`]), so this step reveals nothing about other accounts.
pub fn addable(owner: Option<i64>, user_id: i64, addresses: usize) -> Result<(), NotAddable> {
    if owner == Some(user_id) {
        return Err(NotAddable::AlreadyYours);
    }
    if addresses >= MAX_ADDRESSES {
        return Err(NotAddable::TooMany);
    }
    Ok(())
}

/// The checks every step of an address's challenge shares: it exists, adds to
/// this person's account, is continued in the session that asked, and is not
/// finished. A sign-in's challenge is unknown here, as this one is to sign-in.
pub fn open(
    row: Option<Challenge>,
    user_id: i64,
    session_hash: &str,
) -> Result<(Challenge, Adding), Closed> {
    let row = row.ok_or(Closed::Unknown)?;
    let adding = match &row.adding {
        Some(adding) if adding.user_id == user_id => adding.clone(),
        _ => return Err(Closed::Unknown),
    };
    if !bool::from(
        adding
            .session_hash
            .as_bytes()
            .ct_eq(session_hash.as_bytes()),
    ) {
        return Err(Closed::OtherBrowser);
    }
    if row.finished_at.is_some() {
        return Err(Closed::Finished);
    }
    Ok((row, adding))
}

/// What a code typed to add an address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddDecision {
    Closed(Closed),
    /// Costs one of the challenge's attempts and one of the address's failures.
    Wrong,
    /// Right code, and the address is added; the challenge ends.
    Add,
    /// Right code, but the address was added meanwhile (by another session of the
    /// same person): nothing changes and the challenge ends.
    AlreadyYours,
    /// Right code for an address that belongs to another account: it never changes
    /// hands. The person has just proved they read its mail, so they are told.
    InUse,
    /// Right code, but the account filled up meanwhile.
    TooMany,
}

/// The code is checked first, so that nothing about the address is learnt
/// without it.
pub fn judge_adding(
    check: CodeCheck,
    owner: Option<i64>,
    user_id: i64,
    addresses: usize,
) -> AddDecision {
    match check {
        CodeCheck::Closed(closed) => return AddDecision::Closed(closed),
        CodeCheck::Wrong => return AddDecision::Wrong,
        CodeCheck::Right => {}
    }
    match owner {
        Some(owner) if owner == user_id => AddDecision::AlreadyYours,
        Some(_) => AddDecision::InUse,
        None if addresses >= MAX_ADDRESSES => AddDecision::TooMany,
        None => AddDecision::Add,
    }
}

/// What removing an address does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Not one of the person's addresses.
    NotYours,
    /// The person's only address: without it they could not sign in by code.
    Last,
    /// Removed; when it was the primary one, `promote` (the oldest address left)
    /// becomes primary.
    Remove { promote: Option<usize> },
}

/// `addresses` is the person's, primary first then oldest first, as
/// `(address, primary)`.
pub fn judge_removal(addresses: &[(String, bool)], address: &str) -> Removal {
    let Some(position) = addresses.iter().position(|(a, _)| a == address) else {
        return Removal::NotYours;
    };
    if addresses.len() == 1 {
        return Removal::Last;
    }
    let promote = match addresses[position].1 {
        true => addresses.iter().position(|(a, _)| a != address),
        false => None,
    };
    Removal::Remove { promote }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    const ME: i64 = 7;

    fn adding(finished: bool) -> Challenge {
        Challenge {
            email: EmailAddress::from_trusted("new@example.com".into()),
            browser_hash: None,
            expires_at: 1_000,
            attempts: 0,
            verified_at: None,
            finished_at: finished.then_some(900),
            adding: Some(Adding {
                user_id: ME,
                session_hash: "s".repeat(64),
            }),
        }
    }

    #[test]
    fn an_address_challenge_opens_only_for_its_own_session_and_account() {
        let mine = "s".repeat(64);
        assert!(open(Some(adding(false)), ME, &mine).is_ok());
        assert_eq!(
            open(Some(adding(false)), ME, &"t".repeat(64)).unwrap_err(),
            Closed::OtherBrowser
        );
        assert_eq!(
            open(Some(adding(false)), ME + 1, &mine).unwrap_err(),
            Closed::Unknown
        );
        assert_eq!(
            open(Some(adding(true)), ME, &mine).unwrap_err(),
            Closed::Finished
        );
        assert_eq!(open(None, ME, &mine).unwrap_err(), Closed::Unknown);
        let sign_in = Challenge {
            adding: None,
            ..adding(false)
        };
        assert_eq!(
            open(Some(sign_in), ME, &mine).unwrap_err(),
            Closed::Unknown,
            "a sign-in's challenge never adds an address"
        );
        assert_eq!(
            super::super::signin::open(Some(adding(false)), None).unwrap_err(),
            Closed::Unknown,
            "an address's challenge never signs in"
        );
    }

    #[test]
    fn only_a_right_code_tells_whether_the_address_is_someone_elses() {
        use AddDecision::{Add, AlreadyYours, InUse, TooMany, Wrong};
        let expired = crate::rules::signin::Closed::Expired;
        let cases = [
            (CodeCheck::Wrong, Some(ME + 1), 1, Wrong),
            (
                CodeCheck::Closed(expired),
                Some(ME + 1),
                1,
                AddDecision::Closed(expired),
            ),
            (CodeCheck::Right, Some(ME + 1), 1, InUse),
            (CodeCheck::Right, Some(ME), 1, AlreadyYours),
            (CodeCheck::Right, None, 1, Add),
            (CodeCheck::Right, None, MAX_ADDRESSES, TooMany),
        ];
        for (check, owner, count, expected) in cases {
            assert_eq!(
                judge_adding(check, owner, ME, count),
                expected,
                "{check:?} {owner:?}"
            );
        }
        assert_eq!(
            addable(Some(ME + 1), ME, 1),
            Ok(()),
            "told only after the code"
        );
        assert_eq!(addable(Some(ME), ME, 1), Err(NotAddable::AlreadyYours));
        assert_eq!(addable(None, ME, MAX_ADDRESSES), Err(NotAddable::TooMany));
    }

    #[test]
    fn the_last_address_stays_and_a_removed_primary_passes_to_the_oldest_left() {
        let list = |items: &[(&str, bool)]| -> Vec<(String, bool)> {
            items.iter().map(|(a, p)| (a.to_string(), *p)).collect()
        };
        let one = list(&[("a@x.example", true)]);
        assert_eq!(judge_removal(&one, "a@x.example"), Removal::Last);
        assert_eq!(judge_removal(&one, "b@x.example"), Removal::NotYours);
        let three = list(&[
            ("a@x.example", true),
            ("b@x.example", false),
            ("c@x.example", false),
        ]);
        assert_eq!(
            judge_removal(&three, "a@x.example"),
            Removal::Remove { promote: Some(1) }
        );
        assert_eq!(
            judge_removal(&three, "c@x.example"),
            Removal::Remove { promote: None }
        );
    }
}
