//! The keys rows are found by, each its own type so that one cannot be passed
//! where another is meant (a session's public id where its token hash belongs).

use std::fmt;

use super::token::{RandomId, SessionToken, sha256_hex};

/// `user_sessions.token_hash`: hex SHA-256 of a session token. The token itself is
/// never stored.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct TokenHash(String);

impl TokenHash {
    pub fn of(token: &SessionToken) -> Self {
        Self(sha256_hex(token.expose()))
    }

    /// A hash read back from the database.
    pub fn from_stored(hash: String) -> Self {
        Self(hash)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Short, as it identifies a session as well as the token does for anyone who
/// can read the database.
impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", self.0.get(..8).unwrap_or_default())
    }
}

/// A sign-in's id: in the code page's form and the API's requests, and mixed into
/// its codes' hashes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChallengeId(String);

impl ChallengeId {
    pub fn generate() -> Self {
        Self(RandomId::generate().into_string())
    }

    /// An id as a request carries it. Any string is accepted: one that names no
    /// sign-in is answered as an unknown sign-in, whatever its shape.
    pub fn presented(id: &str) -> Self {
        Self(id.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for ChallengeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id a session is shown and ended by (sessions list, CLI, API); unlike the
/// token hash it grants nothing.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PublicSessionId(String);

impl PublicSessionId {
    pub fn generate() -> Self {
        Self(RandomId::generate().into_string())
    }

    /// An id as a request or the database carries it.
    pub fn presented(id: &str) -> Self {
        Self(id.to_owned())
    }

    pub fn from_stored(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PublicSessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
