//! Group names: what an operator names a set of people (`admins`, `family`), and
//! what proxies and apps match on.

use std::fmt;

/// The longest group name.
pub const GROUP_NAME_MAX: usize = 64;

/// Lower-case ASCII letters, digits, `-` and `_`; 1 to [`GROUP_NAME_MAX`] long. So a
/// name is safe in a header's comma-separated list, a URL query and a terminal.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    #[error("a group name cannot be empty")]
    Empty,
    #[error("a group name is at most {GROUP_NAME_MAX} characters")]
    TooLong,
    #[error("a group name may hold only lower-case letters a-z, digits, `-` and `_`")]
    BadCharacter,
}

impl GroupName {
    pub fn parse(raw: &str) -> Result<Self, GroupNameError> {
        if raw.is_empty() {
            return Err(GroupNameError::Empty);
        }
        if raw.len() > GROUP_NAME_MAX {
            return Err(GroupNameError::TooLong);
        }
        let allowed =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_';
        if !raw.bytes().all(allowed) {
            return Err(GroupNameError::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A name read back from the database, which only ever stores parsed ones.
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for GroupName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn names_are_lower_case_letters_digits_dashes_and_underscores() {
        for good in ["admins", "family-2", "ops_team", "a", &"x".repeat(64)] {
            assert_eq!(GroupName::parse(good).unwrap().as_str(), good);
        }
        let cases = [
            ("", GroupNameError::Empty),
            ("Admins", GroupNameError::BadCharacter),
            ("a b", GroupNameError::BadCharacter),
            ("a,b", GroupNameError::BadCharacter),
            ("ädmins", GroupNameError::BadCharacter),
            ("admins\n", GroupNameError::BadCharacter),
        ];
        for (bad, error) in cases {
            assert_eq!(GroupName::parse(bad), Err(error), "{bad:?}");
        }
        assert_eq!(
            GroupName::parse(&"x".repeat(65)),
            Err(GroupNameError::TooLong)
        );
    }

    proptest! {
        /// Every name of the allowed alphabet and length is accepted as it is, and
        /// can go into a comma-separated header unquoted.
        #[test]
        fn an_accepted_name_is_a_header_token(raw in "[a-z0-9_-]{1,64}") {
            let name = GroupName::parse(&raw).unwrap();
            prop_assert_eq!(name.as_str(), raw.as_str());
            prop_assert!(poem::http::HeaderValue::from_str(name.as_str()).is_ok());
        }

        /// Anything with a character outside the alphabet is refused.
        #[test]
        fn a_name_with_any_other_character_is_refused(
            head in "[a-z0-9_-]{0,10}",
            odd in "[^a-z0-9_-]",
            tail in "[a-z0-9_-]{0,10}",
        ) {
            let raw = format!("{head}{odd}{tail}");
            prop_assert!(GroupName::parse(&raw).is_err());
        }
    }
}
