//! Who may create an account (`[signup]`): the rule that admits a new address, and
//! where a refusal is told. Existing accounts always sign in; only the making of a
//! new one is decided here.

/// `signup.mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignupMode {
    /// Any address may create an account.
    #[default]
    Open,
    /// Only addresses under one of the allowed domains.
    Domains,
    /// Only invited addresses.
    Invite,
    /// Nobody.
    Closed,
}

impl SignupMode {
    pub fn as_str(self) -> &'static str {
        match self {
            SignupMode::Open => "open",
            SignupMode::Domains => "domains",
            SignupMode::Invite => "invite",
            SignupMode::Closed => "closed",
        }
    }
}

/// `[signup]`'s rule, typed: the mode, and for `domains` the domains as addresses
/// store theirs (A-labels, lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupPolicy {
    pub mode: SignupMode,
    pub allowed_domains: Vec<String>,
}

impl Default for SignupPolicy {
    fn default() -> Self {
        Self {
            mode: SignupMode::Open,
            allowed_domains: Vec::new(),
        }
    }
}

impl SignupPolicy {
    /// Whether a new account may be made for `email`; `invited`: it has a live
    /// invitation, which is what admits in `invite` mode (and only there: `domains`
    /// admits exactly its domains, `closed` nobody).
    pub fn admits(&self, email: &crate::domain::EmailAddress, invited: bool) -> bool {
        self.admits_uninvited(email).unwrap_or(invited)
    }

    /// The answer when it does not depend on an invitation; `None` in `invite` mode,
    /// where only an invitation admits (so storage looks one up only then).
    pub fn admits_uninvited(&self, email: &crate::domain::EmailAddress) -> Option<bool> {
        match self.mode {
            SignupMode::Open => Some(true),
            SignupMode::Closed => Some(false),
            SignupMode::Invite => None,
            SignupMode::Domains => Some(self.allowed_domains.iter().any(|d| email.is_under(d))),
        }
    }
}

/// Whether a sign-in is refused before any code is sent. With names asked on the
/// code page the page already tells a new address from a known one, so a new
/// address that may not sign up is told at once; when the first page must look the
/// same for every address (`after_code`), it is told only after the right code.
pub fn refuse_at_start(has_account: bool, admitted: bool, names_after_code: bool) -> bool {
    !has_account && !admitted && !names_after_code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EmailAddress;

    fn policy(mode: SignupMode) -> SignupPolicy {
        SignupPolicy {
            mode,
            allowed_domains: vec!["example.com".into(), "xn--bcher-kva.example".into()],
        }
    }

    #[test]
    fn each_mode_admits_whom_it_says() {
        use SignupMode::*;
        let cases: &[(SignupMode, &str, bool, bool)] = &[
            (Open, "anyone@elsewhere.test", false, true),
            (Closed, "ada@example.com", true, false),
            (Invite, "ada@example.com", false, false),
            (Invite, "ada@elsewhere.test", true, true),
            (Domains, "ada@example.com", false, true),
            (Domains, "ada@team.example.com", false, true),
            (Domains, "ada@a.b.example.com", false, true),
            (Domains, "ada@evil-example.com", false, false),
            (Domains, "ada@example.com.evil.test", false, false),
            (Domains, "ada@bücher.example", false, true),
            (Domains, "ada@elsewhere.test", false, false),
            (Domains, "ada@elsewhere.test", true, false),
        ];
        for (mode, email, invited, expected) in cases {
            let email = EmailAddress::parse(email).unwrap();
            assert_eq!(
                policy(*mode).admits(&email, *invited),
                *expected,
                "{} {} invited={invited}",
                mode.as_str(),
                email.as_str()
            );
        }
    }

    #[test]
    fn only_a_new_refused_address_with_names_on_the_code_page_is_stopped_at_once() {
        assert!(refuse_at_start(false, false, false));
        assert!(
            !refuse_at_start(false, false, true),
            "after_code reveals nothing"
        );
        assert!(
            !refuse_at_start(true, false, false),
            "accounts always sign in"
        );
        assert!(!refuse_at_start(false, true, false));
    }
}
