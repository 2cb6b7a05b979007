//! The sign-in and limit decisions, as pure functions over facts: a sign-in's
//! stored state, what the window of recent events holds, and the clock. Storage
//! loads the facts inside its transaction, asks here, and writes the answer, so a
//! rule is written once whatever database holds the facts.

pub mod emails;
pub mod limits;
pub mod oidc;
pub mod sessions;
pub mod signin;
pub mod signup;

pub use limits::{EventKind, Limits, Probe, Refusal, SendFacts, WINDOW_SECS};
pub use signin::{Account, Adding, Challenge, Closed, CodeDecision, CodeFacts, NameDecision};
pub use signup::{SignupMode, SignupPolicy};
