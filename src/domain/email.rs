use std::fmt;

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// A normalised (trimmed, lower-cased) email address that lettre can send to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("Enter your email address.")]
    Empty,
    #[error("That email address is too long.")]
    TooLong,
    #[error("That email address contains characters that are not allowed.")]
    ForbiddenCharacter,
    #[error("An email address needs one @, like name@example.com.")]
    NotOneAt,
    #[error("The part before the @ is missing.")]
    EmptyLocalPart,
    #[error("The part after the @ should be a domain, like example.com.")]
    BadDomain,
    #[error("That does not look like an email address.")]
    Invalid,
}

impl EmailAddress {
    /// Longest address accepted, in bytes (the `user_emails.email` column holds < 256).
    pub const MAX_LEN: usize = 255;

    /// One address per mailbox: the domain is mapped (UTS 46) to its A-labels, so
    /// `ｅｘａｍｐｌｅ.com` and `example.com` are one identity; unnecessary quotes
    /// around the local part are dropped; no invisible or bidi characters, IP
    /// literals or underscores; and whatever is accepted can be sent to.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let lowered = input.trim().to_lowercase();
        if lowered.is_empty() {
            return Err(EmailError::Empty);
        }
        if lowered.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // Control characters (CR, LF, NUL …) would let an address inject mail headers
        // or SMTP commands; whitespace inside an address is never what a person meant;
        // format characters (bidi overrides, zero-width spaces) make two addresses
        // look alike.
        if lowered.chars().any(|c| {
            c.is_control()
                || c.is_whitespace()
                || matches!(
                    c.general_category(),
                    GeneralCategory::Format
                        | GeneralCategory::LineSeparator
                        | GeneralCategory::ParagraphSeparator
                        | GeneralCategory::PrivateUse
                )
        }) {
            return Err(EmailError::ForbiddenCharacter);
        }
        let mut parts = lowered.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(EmailError::NotOneAt);
        };
        let local = unquote(local)?;
        if local.is_empty() {
            return Err(EmailError::EmptyLocalPart);
        }
        let domain = host_name(domain).ok_or(EmailError::BadDomain)?;
        let normalised = format!("{local}@{domain}");
        if normalised.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        // Whatever passes here must also be an address the mailer can send to: it
        // is parsed with the type it is sent with.
        if normalised.parse::<lettre::Address>().is_err() {
            return Err(EmailError::Invalid);
        }
        Ok(Self(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after the `@`: IDNA A-labels, lower case.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, domain)| domain)
    }

    /// Whether the address is under `domain` (given as [`domain_name`] makes it):
    /// the domain itself or one of its subdomains, never a look-alike that merely
    /// ends the same (`evil-example.com` is not under `example.com`).
    pub fn is_under(&self, domain: &str) -> bool {
        host_is_under(self.domain(), domain)
    }

    /// Trusts a value that was parsed before it was stored.
    pub(crate) fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// `j***@example.com`: enough for a log line to be useful, not enough to identify.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.masked())
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A quoted local part is one mailbox with the quotes or without them when they
/// are not needed; so they are dropped. One that needs them (spaces, quotes,
/// backslashes inside) is refused: it is never a person's everyday address, and
/// it cannot be told apart from its unquoted look-alikes at a glance.
fn unquote(local: &str) -> Result<&str, EmailError> {
    let Some(inner) = local.strip_prefix('"').and_then(|l| l.strip_suffix('"')) else {
        return match local.contains('"') {
            true => Err(EmailError::Invalid),
            false => Ok(local),
        };
    };
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c);
    let dot_atom = !inner.is_empty()
        && !inner.starts_with('.')
        && !inner.ends_with('.')
        && !inner.contains("..")
        && inner.chars().all(|c| c == '.' || atext(c));
    if dot_atom {
        Ok(inner)
    } else {
        Err(EmailError::Invalid)
    }
}

/// Whether `host` is `domain` or one of its subdomains (both lower case): never a
/// look-alike that merely ends the same (`evil-example.com` is not under
/// `example.com`).
pub fn host_is_under(host: &str, domain: &str) -> bool {
    host == domain
        || host
            .strip_suffix(domain)
            .is_some_and(|head| head.ends_with('.'))
}

/// A domain as addresses store theirs (IDNA A-labels after UTS 46 mapping, lower
/// case), if it is a host name with a dot; for settings that name domains.
pub fn domain_name(domain: &str) -> Option<String> {
    host_name(domain.trim())
}

/// The domain as IDNA A-labels after UTS 46 mapping, if it is a host name with a
/// dot: no IP literal, no underscores, no empty or hyphen-edged labels.
fn host_name(domain: &str) -> Option<String> {
    if domain.is_empty() || domain.starts_with('[') {
        return None;
    }
    let ascii = idna::domain_to_ascii(domain).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let top = labels.last()?;
    let numeric_top = top.bytes().all(|b| b.is_ascii_digit());
    (labels.len() >= 2 && labels.iter().all(label_ok) && !numeric_top).then_some(ascii)
}

/// `text` with every address in it masked as [`EmailAddress::masked`] masks one:
/// for what another system wrote, such as an SMTP server's reply
/// (`550 5.1.1 <jane@example.com>: Recipient address rejected`), before it is
/// logged or stored.
pub fn mask_addresses(text: &str) -> String {
    // What may stand around an address in such text, and so ends its local part.
    let ends_local = |c: char| c.is_whitespace() || "<>()[],;:\"'".contains(c);
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('@') {
        let before = &rest[..at];
        // A quoted local part (`"jane doe"@…`) runs back to its opening quote.
        let local_start = match before.strip_suffix('"').and_then(|b| b.rfind('"')) {
            Some(open) => open + 1,
            None => before
                .char_indices()
                .rev()
                .find(|&(_, c)| ends_local(c))
                .map_or(0, |(i, c)| i + c.len_utf8()),
        };
        let local = &before[local_start..];
        out.push_str(&before[..local_start]);
        match local.chars().next() {
            Some(first) => {
                out.push(first);
                out.push_str("***@");
            }
            None => out.push('@'),
        }
        rest = &rest[at + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn addresses_inside_other_text_are_masked() {
        let cases = [
            (
                "550 5.1.1 <reject-me@victim.example>: Recipient address rejected",
                "550 5.1.1 <r***@victim.example>: Recipient address rejected",
            ),
            (
                "to jane.doe+tag@example.com failed",
                "to j***@example.com failed",
            ),
            ("\"quoted\"@example.com", "\"q***@example.com"),
            ("a@b.c, bob@d.e", "a***@b.c, b***@d.e"),
            ("no address here", "no address here"),
            ("a lone @ sign", "a lone @ sign"),
            ("ünïcødé@例え.jp", "ü***@例え.jp"),
        ];
        for (text, expected) in cases {
            assert_eq!(mask_addresses(text), expected, "{text}");
        }
    }

    proptest! {
        /// Whatever surrounds it, an address's local part beyond its first letter
        /// never survives masking.
        #[test]
        fn no_local_part_survives(
            before in "[ -~]{0,20}",
            local in "[a-z0-9._%+-]{6,20}",
            after in "[ -~]{0,20}",
        ) {
            let text = format!("{before} <{local}@example.com> {after}");
            let masked = mask_addresses(&text);
            prop_assert!(!masked.contains(&format!("{local}@")), "{masked}");
        }
    }

    #[test]
    fn addresses_are_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Ada.Lovelace@Example.COM \t").unwrap();
        assert_eq!(email.as_str(), "ada.lovelace@example.com");
    }

    #[test]
    fn malformed_addresses_are_refused_with_a_reason() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases = [
            ("", EmailError::Empty),
            ("   ", EmailError::Empty),
            ("plainaddress", EmailError::NotOneAt),
            ("a@b@example.com", EmailError::NotOneAt),
            ("@example.com", EmailError::EmptyLocalPart),
            ("ada@", EmailError::BadDomain),
            ("ada@localhost", EmailError::BadDomain),
            ("ada@example..com", EmailError::BadDomain),
            ("ada@.example.com", EmailError::BadDomain),
            ("ada@example.com.", EmailError::BadDomain),
            ("ada@exa\r\nBcc: x@evil.com", EmailError::ForbiddenCharacter),
            ("ada\n@example.com", EmailError::ForbiddenCharacter),
            ("ada\0@example.com", EmailError::ForbiddenCharacter),
            ("ada lovelace@example.com", EmailError::ForbiddenCharacter),
            (long.as_str(), EmailError::TooLong),
            ("a(b)@example.com", EmailError::Invalid),
            // What a probe got accepted.
            ("a\u{202e}@example.com", EmailError::ForbiddenCharacter),
            ("admin@example.com\u{200b}", EmailError::ForbiddenCharacter),
            ("\"a\\\"b\"@example.com", EmailError::Invalid),
            ("\"a b\"@example.com", EmailError::ForbiddenCharacter),
            ("a@[127.0.0.1]", EmailError::BadDomain),
            ("a@127.0.0.1", EmailError::BadDomain),
            ("a@exa_mple.com", EmailError::BadDomain),
            ("a@-example.com", EmailError::BadDomain),
        ];
        for (input, expected) in cases {
            assert_eq!(
                EmailAddress::parse(input),
                Err(expected.clone()),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn one_mailbox_is_one_address() {
        let cases = [
            ("\"quoted\"@example.com", "quoted@example.com"),
            ("ada@ｅｘａｍｐｌｅ.com", "ada@example.com"),
            ("ada@EXAMPLE.com", "ada@example.com"),
            ("ada@bücher.example", "ada@xn--bcher-kva.example"),
        ];
        for (input, stored) in cases {
            assert_eq!(
                EmailAddress::parse(input).unwrap().as_str(),
                stored,
                "{input}"
            );
        }
    }

    #[test]
    fn debug_output_masks_the_address() {
        let email = EmailAddress::parse("ada@example.com").unwrap();
        assert_eq!(format!("{email:?}"), "EmailAddress(a***@example.com)");
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_is_idempotent(input in "\\PC{0,80}|[a-zA-Z0-9.@ \r\n\t\0-]{0,40}") {
            if let Ok(email) = EmailAddress::parse(&input) {
                prop_assert_eq!(EmailAddress::parse(email.as_str()), Ok(email.clone()));
                prop_assert!(email.as_str().len() <= EmailAddress::MAX_LEN);
                prop_assert!(!email.as_str().chars().any(char::is_control));
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                // Every accepted address composes a message.
                let to: lettre::message::Mailbox = email.as_str().parse().unwrap();
                prop_assert!(lettre::Message::builder()
                    .from("d <d@example.com>".parse().unwrap())
                    .to(to)
                    .body(String::new())
                    .is_ok());
            }
        }

        #[test]
        fn case_and_padding_do_not_change_the_address(local in "[a-z0-9]{1,20}", domain in "[a-z]{1,10}\\.[a-z]{2,5}") {
            let plain = format!("{local}@{domain}");
            let noisy = format!("  {}  ", plain.to_uppercase());
            prop_assert_eq!(EmailAddress::parse(&noisy).unwrap(), EmailAddress::parse(&plain).unwrap());
        }
    }
}
