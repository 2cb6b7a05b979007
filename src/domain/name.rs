/// A person's name as given at sign-up: first name required, last name optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName {
    pub first: String,
    pub last: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("Enter your first name.")]
    FirstMissing,
    #[error("Your first name is too long (127 characters at most).")]
    FirstTooLong,
    #[error("Your last name is too long (127 characters at most).")]
    LastTooLong,
    #[error("Names cannot contain control characters.")]
    ControlCharacter,
}

impl NameError {
    /// The form field the message belongs to.
    pub fn field(&self) -> &'static str {
        match self {
            NameError::LastTooLong => "last_name",
            _ => "first_name",
        }
    }
}

impl PersonName {
    /// The `users` columns hold fewer than 128 characters.
    pub const MAX_CHARS: usize = 127;

    pub fn parse(first: &str, last: &str) -> Result<Self, NameError> {
        let (first, last) = (first.trim(), last.trim());
        if first.chars().chain(last.chars()).any(char::is_control) {
            return Err(NameError::ControlCharacter);
        }
        if first.is_empty() {
            return Err(NameError::FirstMissing);
        }
        if first.chars().count() > Self::MAX_CHARS {
            return Err(NameError::FirstTooLong);
        }
        if last.chars().count() > Self::MAX_CHARS {
            return Err(NameError::LastTooLong);
        }
        Ok(Self {
            first: first.to_owned(),
            last: (!last.is_empty()).then(|| last.to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_last_name_is_optional() {
        let name = PersonName::parse("  Ada ", " ").unwrap();
        assert_eq!(name.first, "Ada");
        assert_eq!(name.last, None);
        let name = PersonName::parse("Ada", "Lovelace").unwrap();
        assert_eq!(name.last.as_deref(), Some("Lovelace"));
        assert!(PersonName::parse(&"é".repeat(127), "").is_ok());
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        let long = "x".repeat(128);
        let cases = [
            ("", "Lovelace", NameError::FirstMissing),
            ("  ", "", NameError::FirstMissing),
            (long.as_str(), "", NameError::FirstTooLong),
            ("Ada", long.as_str(), NameError::LastTooLong),
            ("Ad\0a", "", NameError::ControlCharacter),
            ("Ada", "Love\rlace", NameError::ControlCharacter),
        ];
        for (first, last, expected) in cases {
            assert_eq!(
                PersonName::parse(first, last),
                Err(expected),
                "{first:?} {last:?}"
            );
        }
    }
}
