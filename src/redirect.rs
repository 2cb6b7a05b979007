//! Where a person may be sent after signing in (`/login?next=…`): the site itself,
//! or a host the operator listed in `server.allowed_redirect_hosts`. Anything else
//! is dropped, so doorcode is never an open redirect.

use url::Url;

use crate::config::BaseUrl;
use crate::domain::host_is_under;

/// Longest `next` considered; longer ones are dropped rather than truncated.
const MAX_LEN: usize = 8192;

/// Where a person may be returned to besides the site itself.
#[derive(Debug, Clone, Copy)]
pub struct Targets<'a> {
    /// `server.allowed_redirect_hosts`.
    pub hosts: &'a [String],
    /// `session.cookie_domain`: every host under it shares the session, so every
    /// host under it may be returned to.
    pub cookie_domain: Option<&'a str>,
}

/// The absolute URL to return to, if `raw` is a safe target.
pub fn safe_next(raw: &str, base: &BaseUrl, targets: Targets<'_>) -> Option<String> {
    let allowed_hosts = targets.hosts;
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_LEN {
        return None;
    }
    // Browsers read `\` as `/` and skip tabs and newlines, which turns innocent-looking
    // values such as `/\evil.example` into other hosts; refuse them all outright.
    if raw.contains('\\') || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return None;
    }
    let url = if raw.starts_with('/') {
        // A path on this site. `//host/…` would be another site to a browser, so the
        // leading slashes collapse into one: `//dashboard` is `/dashboard` here.
        let path = format!("/{}", raw.trim_start_matches('/'));
        Url::parse(base.origin()).ok()?.join(&path).ok()?
    } else {
        Url::parse(raw).ok()?
    };
    if !matches!(url.scheme(), "http" | "https")
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let same_origin = url.origin().ascii_serialization() == base.origin();
    let host = url.host_str()?;
    let port = url.port_or_known_default();
    // `app.example.com` allows any port of that host; `app.example.com:8443` that
    // port only.
    let listed = allowed_hosts
        .iter()
        .any(|allowed| match allowed.rsplit_once(':') {
            Some((name, wanted)) => {
                name.eq_ignore_ascii_case(host) && wanted.parse::<u16>().ok() == port
            }
            None => allowed.eq_ignore_ascii_case(host),
        });
    let shares_cookie = targets
        .cookie_domain
        .is_some_and(|domain| host_is_under(&host.to_ascii_lowercase(), domain));
    // An allowed host still has to match the site's https-ness: no downgrade to http.
    let scheme_ok = !base.is_https() || url.scheme() == "https";
    (same_origin || ((listed || shares_cookie) && scheme_ok)).then(|| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(hosts: &[String]) -> Targets<'_> {
        Targets {
            hosts,
            cookie_domain: None,
        }
    }

    #[test]
    fn with_a_cookie_domain_every_host_under_it_may_be_returned_to() {
        let base = BaseUrl::parse("https://auth.example.com").unwrap();
        let shared = Targets {
            hosts: &[],
            cookie_domain: Some("example.com"),
        };
        let cases = [
            ("https://grafana.example.com/d/1", true),
            ("https://a.b.example.com/", true),
            ("https://example.com/", true),
            ("https://GRAFANA.Example.com/", true),
            ("http://grafana.example.com/", false),
            ("https://evil-example.com/", false),
            ("https://example.com.evil.test/", false),
            ("https://grafana.example.com@evil.test/", false),
        ];
        for (raw, allowed) in cases {
            assert_eq!(
                safe_next(raw, &base, shared).is_some(),
                allowed,
                "next={raw:?}"
            );
        }
        assert_eq!(
            safe_next("https://grafana.example.com/", &base, targets(&[])),
            None
        );
    }

    #[test]
    fn only_the_site_and_listed_hosts_are_returned_to() {
        let base = BaseUrl::parse("https://login.example.com").unwrap();
        let allowed = vec!["app.example.com".to_string()];
        let cases = [
            ("/", Some("https://login.example.com/")),
            (
                "/account?tab=1#top",
                Some("https://login.example.com/account?tab=1#top"),
            ),
            (
                "https://login.example.com/x",
                Some("https://login.example.com/x"),
            ),
            (
                "https://app.example.com/dashboard",
                Some("https://app.example.com/dashboard"),
            ),
            ("https://APP.example.com/", Some("https://app.example.com/")),
            (
                "https://app.example.com:8443/",
                Some("https://app.example.com:8443/"),
            ),
            ("http://app.example.com/", None),
            ("http://login.example.com/", None),
            ("https://evil.example/", None),
            // Collapsed to a path of this site, never another host.
            (
                "//evil.example/",
                Some("https://login.example.com/evil.example/"),
            ),
            (
                "///evil.example/",
                Some("https://login.example.com/evil.example/"),
            ),
            ("/\\evil.example", None),
            ("\\\\evil.example", None),
            ("https:evil.example", None),
            ("https:/evil.example", None),
            ("https://app.example.com@evil.example/", None),
            ("https://user:pw@app.example.com/", None),
            ("https://evil.example\\@app.example.com/", None),
            ("https://app.example.com.evil.example/", None),
            ("javascript:alert(1)", None),
            ("data:text/html,hi", None),
            ("ftp://app.example.com/", None),
            ("/\tevil", None),
            ("\u{0}/x", None),
            ("", None),
            ("evil.example", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(
                safe_next(raw, &base, targets(&allowed)).as_deref(),
                expected,
                "next={raw:?}"
            );
        }
        let long = format!("/{}", "a".repeat(MAX_LEN));
        assert_eq!(safe_next(&long, &base, targets(&allowed)), None);
    }

    #[test]
    fn a_listed_host_with_a_port_allows_that_port_only() {
        let base = BaseUrl::parse("https://login.example.com").unwrap();
        let allowed = vec![
            "app.example.com:8443".to_string(),
            "wiki.example.com".into(),
        ];
        let cases = [
            ("https://app.example.com:8443/", true),
            ("https://app.example.com/", false),
            ("https://app.example.com:9443/", false),
            ("https://wiki.example.com:9443/", true),
            ("https://wiki.example.com/", true),
        ];
        for (raw, allowed_to) in cases {
            assert_eq!(
                safe_next(raw, &base, targets(&allowed)).is_some(),
                allowed_to,
                "{raw}"
            );
        }
    }

    #[test]
    fn an_http_site_may_return_to_listed_hosts_over_http() {
        let base = BaseUrl::parse("http://localhost:8080").unwrap();
        let allowed = vec!["app.localhost".to_string()];
        assert!(safe_next("http://app.localhost:3000/", &base, targets(&allowed)).is_some());
        assert!(
            safe_next("http://localhost:8081/", &base, targets(&allowed)).is_none(),
            "another port is another origin"
        );
    }
}
