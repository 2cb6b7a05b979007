use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// A configuration string that must never reach a log line: passwords inside
/// SMTP URLs, the Turnstile secret, the server secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("[empty]")
        } else {
            f.write_str("[redacted]")
        }
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(|s| Secret(s.trim().to_owned()))
    }
}

/// The public origin people see, e.g. `https://login.example.com`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaseUrl {
    url: Url,
    origin: String,
}

impl BaseUrl {
    pub fn parse(input: &str) -> Result<Self, String> {
        let url = Url::parse(input.trim()).map_err(|e| format!("`{input}` is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("`{input}` must start with http:// or https://"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("`{input}` has no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{input}` must be an origin only (scheme, host and port, no path)"
            ));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "`{input}` must not contain a user name or password"
            ));
        }
        let origin = url.origin().ascii_serialization();
        Ok(Self { url, origin })
    }

    /// `scheme://host[:port]`, as browsers send it in the `Origin` header.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or("localhost")
    }

    /// Whether browsers treat pages from here as a secure context (https, or
    /// the local machine), which Web Crypto, passkeys and ALTCHA's widget need.
    pub fn is_secure_context(&self) -> bool {
        let host = self.host();
        self.is_https()
            || host == "localhost"
            || host.ends_with(".localhost")
            || host == "[::1]"
            || host
                .parse::<std::net::Ipv4Addr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// An absolute URL for `path` (which starts with `/`).
    pub fn join(&self, path: &str) -> String {
        format!("{}{}", self.origin, path)
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.origin)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        BaseUrl::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "[redacted]");
        assert!(!format!("{:?}", Some(secret)).contains("hunter2"));
    }

    #[test]
    fn base_url_accepts_origins_and_refuses_the_rest() {
        let ok = BaseUrl::parse("https://login.example.com/").unwrap();
        assert_eq!(ok.origin(), "https://login.example.com");
        assert!(ok.is_https());
        assert_eq!(
            BaseUrl::parse("http://localhost:8080").unwrap().origin(),
            "http://localhost:8080"
        );
        for bad in [
            "ftp://example.com",
            "https://example.com/app",
            "https://user:pw@example.com",
            "example.com",
            "https://example.com/?a=b",
        ] {
            assert!(BaseUrl::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn secure_contexts_are_https_or_this_machine() {
        for (url, secure) in [
            ("https://auth.example.com", true),
            ("http://localhost:8080", true),
            ("http://app.localhost", true),
            ("http://127.0.0.1:8080", true),
            ("http://[::1]:8080", true),
            ("http://auth.example.com", false),
            ("http://192.168.1.10", false),
        ] {
            assert_eq!(
                BaseUrl::parse(url).unwrap().is_secure_context(),
                secure,
                "{url}"
            );
        }
    }
}
