//! Types that are valid by construction: parsed once at the edge, trusted behind it.

mod code;
mod email;
mod group;
mod keys;
mod name;
mod secret;
mod token;

pub use code::{CodeHash, LoginCode, LoginCodeError};
pub use email::{EmailAddress, EmailError, domain_name, host_is_under, mask_addresses};
pub use group::{GROUP_NAME_MAX, GroupName, GroupNameError};
pub use keys::{ChallengeId, PublicSessionId, TokenHash};
pub use name::{NameError, PersonName};
pub use secret::{SecretError, ServerSecret, open_to_others};
pub use token::{RandomId, SessionToken, sha256_hex};
