//! OpenID Connect's rules for authorization codes: what makes one good at the token
//! endpoint, and PKCE's S256.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The longest an authorization code lives.
pub const CODE_TTL_SECS: i64 = 60;

/// PKCE's S256: base64url (no padding) of the SHA-256 of the verifier.
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Za-z0-9-._~]`. The same shape holds
/// for an S256 challenge (exactly 43).
pub fn is_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Why a code is not good for this token request, for `error_description`; `Ok`
/// when it is. The code is bound to its client, its redirect URI and its PKCE
/// challenge: a challenge sent at authorization must be met with its verifier.
pub fn redeemable(
    grant_client: &str,
    grant_redirect_uri: &str,
    grant_challenge: Option<&str>,
    client_id: &str,
    redirect_uri: &str,
    verifier_challenge: Option<&str>,
) -> Result<(), &'static str> {
    if grant_client != client_id {
        return Err("the code was issued to another client");
    }
    if grant_redirect_uri != redirect_uri {
        return Err("redirect_uri does not match the authorization request");
    }
    match (grant_challenge, verifier_challenge) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err("code_verifier sent, but the authorization had no code_challenge"),
        (Some(_), None) => Err("code_verifier is required"),
        (Some(expected), Some(got)) => {
            match bool::from(expected.as_bytes().ct_eq(got.as_bytes())) {
                true => Ok(()),
                false => Err("code_verifier does not match the code_challenge"),
            }
        }
    }
}

/// Refresh tokens are issued only for `offline_access`.
pub fn grants_refresh(scope: &str) -> bool {
    scope.split(' ').any(|s| s == "offline_access")
}

/// Why `uri` cannot be a client's redirect URI, if it cannot: it must be absolute,
/// without a fragment, and `https` (or `http` to a loopback host, for apps on the
/// person's own machine), or a private-use scheme such as `com.example.app:/cb`.
pub fn redirect_uri_problem(uri: &str) -> Option<&'static str> {
    let Ok(url) = url::Url::parse(uri) else {
        return Some("is not an absolute URL");
    };
    if url.fragment().is_some() {
        return Some("must not have a #fragment");
    }
    match url.scheme() {
        "https" => None,
        "http" => match url.host() {
            Some(url::Host::Domain(host)) if host.eq_ignore_ascii_case("localhost") => None,
            Some(url::Host::Ipv4(ip)) if ip.is_loopback() => None,
            Some(url::Host::Ipv6(ip)) if ip.is_loopback() => None,
            _ => Some("must be https (http only for localhost, 127.0.0.1 or [::1])"),
        },
        "javascript" | "data" | "file" | "blob" | "vbscript" | "about" => {
            Some("must not be a javascript:, data: or file: URL")
        }
        // A private-use scheme (RFC 8252 §7.1) for a native app.
        scheme if scheme.contains('.') => None,
        _ => Some("must be https (http only for localhost, 127.0.0.1 or [::1])"),
    }
}

/// A client id: 1 to 128 of letters, digits, `-`, `_` and `.`.
pub fn is_client_id(id: &str) -> bool {
    (1..=128).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn a_code_is_bound_to_client_redirect_and_challenge() {
        let ok = redeemable(
            "a",
            "https://a/cb",
            Some("x"),
            "a",
            "https://a/cb",
            Some("x"),
        );
        assert_eq!(ok, Ok(()));
        assert!(redeemable("a", "https://a/cb", None, "b", "https://a/cb", None).is_err());
        assert!(redeemable("a", "https://a/cb", None, "a", "https://a/cb2", None).is_err());
        assert!(redeemable("a", "https://a/cb", Some("x"), "a", "https://a/cb", None).is_err());
        assert!(
            redeemable(
                "a",
                "https://a/cb",
                Some("x"),
                "a",
                "https://a/cb",
                Some("y")
            )
            .is_err()
        );
        assert!(redeemable("a", "https://a/cb", None, "a", "https://a/cb", Some("y")).is_err());
    }

    #[test]
    fn redirect_uris_are_https_or_loopback_http() {
        for good in [
            "https://grafana.example.com/login/generic_oauth",
            "http://localhost:3000/cb",
            "http://127.0.0.1:8000/cb?x=1",
            "http://[::1]/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert_eq!(redirect_uri_problem(good), None, "{good}");
        }
        for bad in [
            "http://grafana.example.com/cb",
            "https://a.example/cb#frag",
            "/relative",
            "javascript:alert(1)",
            "ftp://a.example/",
            "http://127.0.0.1.example.com/",
        ] {
            assert!(redirect_uri_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn pkce_values_have_their_length_and_alphabet() {
        assert!(is_pkce_value(&"a".repeat(43)));
        assert!(is_pkce_value(&"a~._-".repeat(20)));
        assert!(!is_pkce_value(&"a".repeat(42)));
        assert!(!is_pkce_value(&"a".repeat(129)));
        assert!(!is_pkce_value(&format!("{}+", "a".repeat(43))));
    }
}
