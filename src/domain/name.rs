use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A person's name as given at sign-up: first name required, last name optional.
/// NFC-normalised, and free of what would let it look like something else where it
/// is shown (`X-Doorcode-Name`, the CLI's tables, an app's page): no control,
/// format, bidi or invisible characters, no line or paragraph separators, no
/// private-use characters, and no pile of combining marks.
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
    #[error("Names cannot contain control or invisible characters.")]
    ControlCharacter,
    #[error("Names cannot stack more than four accents on one letter.")]
    TooManyMarks,
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

    /// More combining marks in a row than this is not a name, it is a way to draw
    /// over the page around it.
    pub const MAX_MARKS_IN_A_ROW: usize = 4;

    pub fn parse(first: &str, last: &str) -> Result<Self, NameError> {
        let first: String = first.trim().nfc().collect();
        let last: String = last.trim().nfc().collect();
        let (first, last) = (first.trim(), last.trim());
        if first.chars().chain(last.chars()).any(forbidden) {
            return Err(NameError::ControlCharacter);
        }
        if [first, last]
            .iter()
            .any(|part| marks_in_a_row(part) > Self::MAX_MARKS_IN_A_ROW)
        {
            return Err(NameError::TooManyMarks);
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

/// Characters a name never holds. Bidi controls (U+202A–U+202E, U+2066–U+2069),
/// zero-width characters and the BOM are all format characters.
fn forbidden(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::PrivateUse
            | GeneralCategory::Surrogate
    )
}

fn marks_in_a_row(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        let mark = matches!(
            c.general_category(),
            GeneralCategory::NonspacingMark
                | GeneralCategory::SpacingMark
                | GeneralCategory::EnclosingMark
        );
        run = if mark { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    longest
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
    fn names_are_stored_in_nfc_and_real_accents_pass() {
        // "é" typed as e + combining acute is stored as the one character é.
        let name = PersonName::parse("Rene\u{0301}", "").unwrap();
        assert_eq!(name.first, "Ren\u{e9}");
        // Vietnamese stacks two marks on a letter; that is a name.
        assert!(PersonName::parse("Nguy\u{1ec5}n", "Th\u{1ecb}").is_ok());
        assert!(PersonName::parse("a\u{0323}\u{0302}\u{0301}", "").is_ok());
    }

    #[test]
    fn bad_names_are_refused_with_a_reason() {
        let long = "x".repeat(128);
        let zalgo = format!("Z{}", "\u{0301}".repeat(120));
        let cases = [
            ("", "Lovelace", NameError::FirstMissing),
            ("  ", "", NameError::FirstMissing),
            (long.as_str(), "", NameError::FirstTooLong),
            ("Ada", long.as_str(), NameError::LastTooLong),
            ("Ad\0a", "", NameError::ControlCharacter),
            ("Ada", "Love\rlace", NameError::ControlCharacter),
            ("a\u{202e}dA", "", NameError::ControlCharacter),
            ("Ada", "Love\u{2028}lace", NameError::ControlCharacter),
            ("\u{feff}Ada", "", NameError::ControlCharacter),
            ("Ada\u{200b}", "", NameError::ControlCharacter),
            ("Ada", "\u{2066}x\u{2069}", NameError::ControlCharacter),
            ("Ad\u{e000}a", "", NameError::ControlCharacter),
            (&zalgo, "", NameError::TooManyMarks),
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
