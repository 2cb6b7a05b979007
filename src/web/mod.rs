//! HTTP plumbing shared by both surfaces (the pages in `routes/`, the JSON API in
//! `api/`) and the app around them: cookies, credentials, client addresses, the
//! request's language, and plain responses. It knows nothing of either surface.

pub mod cookies;

use std::net::IpAddr;

use maud::Markup;
use poem::http::{HeaderValue, StatusCode, header};
use poem::{Request, Response};

use crate::config::{CaptchaSettings, ServerConfig, TrustedProxies};
use crate::domain::SessionToken;
use crate::i18n::Language;
use crate::login::Device;
use crate::session::{Presented, Surface};
use crate::state::AppState;

/// The language chosen for `req` (by the app's language middleware, which runs
/// first; ahead of it, from the request itself).
pub fn language_of(req: &Request, state: &AppState) -> Language {
    req.extensions()
        .get::<Language>()
        .copied()
        .unwrap_or_else(|| choose_language(req, state))
}

/// `Accept-Language`'s best match, else `server.default_language`.
pub fn choose_language(req: &Request, state: &AppState) -> Language {
    Language::negotiate(
        req.header(header::ACCEPT_LANGUAGE),
        state.config.server.default_language(),
    )
}

/// The credential that counts for `surface`, read straight from the headers (so
/// also ahead of the cookie jar).
pub fn presented(req: &Request, state: &AppState, surface: Surface) -> Option<Presented> {
    Presented::read(surface, bearer_token(req), || {
        cookies::session_from_headers(req, state).map(str::to_owned)
    })
}

/// The browser or app a new session is for: its `User-Agent`, and the session
/// its cookie holds now (which signing in again ends).
pub fn device<'a>(req: &'a Request, state: &AppState) -> Device<'a> {
    Device {
        user_agent: req.header(header::USER_AGENT),
        replaces: cookies::session_from_headers(req, state)
            .and_then(SessionToken::from_presented)
            .map(|token| token.hash()),
    }
}

/// An HTML page. Pages show forms or personal data, so none may be cached.
pub fn page(status: StatusCode, markup: Markup) -> Response {
    Response::builder()
        .status(status)
        .content_type("text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(markup.into_string())
}

pub fn see_other(location: &str) -> Response {
    Response::builder()
        .status(StatusCode::SEE_OTHER)
        .header(header::LOCATION, location)
        .header(header::CACHE_CONTROL, "no-store")
        .finish()
}

pub fn with_retry_after(mut response: Response, secs: Option<i64>) -> Response {
    if let Some(secs) = secs
        && let Ok(value) = HeaderValue::from_str(&secs.max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The token in `Authorization: Bearer …`, if the request carries one.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.header(header::AUTHORIZATION)
        .and_then(|value| value.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
}

/// The client's address for rate limits and siteverify: the peer, or with
/// `server.trust_proxy_headers` what [`client_address`] reads from
/// `X-Forwarded-For`.
pub fn client_ip(req: &Request, state: &AppState) -> IpAddr {
    let peer = req
        .remote_addr()
        .as_socket_addr()
        .map(|addr| addr.ip().to_canonical())
        .unwrap_or(IpAddr::from([0, 0, 0, 0]));
    let Some(proxies) = &state.settings.proxies else {
        return peer;
    };
    let hops: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .collect();
    client_address(peer, &hops, proxies)
}

/// The chain of hops, client first, is the `X-Forwarded-For` entries and then the
/// peer. It is read from the right: each hop in `trusted` is a proxy that says who
/// sent it the request, so the walk goes on left; the first hop that is not a proxy
/// is the client. Whatever stands further left was written by the client and is
/// never believed. An entry may carry a port; one that is not an address
/// (`unknown`) ends the walk at the hop that wrote it.
pub fn client_address(peer: IpAddr, forwarded: &[&str], trusted: &TrustedProxies) -> IpAddr {
    let mut client = peer.to_canonical();
    for entry in forwarded.iter().rev() {
        if !trusted.contains(client) {
            break;
        }
        match hop_address(entry.trim()) {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
    }
    client
}

/// `203.0.113.8`, `203.0.113.8:51234`, `2001:db8::1`, `[2001:db8::1]:443`.
fn hop_address(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())
}

/// Only what the pages and the CAPTCHA widget need; no framing. Turnstile's and
/// hCaptcha's hosts are the ones they document (Cloudflare `script-src` and
/// `frame-src`; hCaptcha those and `style-src`, `connect-src`); ALTCHA's widget and
/// its worker are served from `'self'`, and without CAPTCHA no other host is named. Forms
/// post to the site itself, and the redirect after signing in may go to a host in
/// `server.allowed_redirect_hosts` (browsers apply `form-action` to that redirect),
/// or to `form_target`: the app a person is signing in to with OpenID Connect.
pub fn content_security_policy(
    server: &ServerConfig,
    captcha: Option<&CaptchaSettings>,
    form_target: Option<&str>,
) -> String {
    let mut form_action = String::from("'self'");
    for host in &server.allowed_redirect_hosts {
        form_action.push_str(&format!(" https://{host}"));
        if !server.base_url.is_https() {
            form_action.push_str(&format!(" http://{host}"));
        }
    }
    if let Some(target) = form_target {
        form_action.push(' ');
        form_action.push_str(target);
    }
    // An https logo elsewhere (`server.logo_url`) is the one image from another host.
    let mut img_src = String::from("'self'");
    if let Some(origin) = server
        .logo()
        .and_then(|logo| url::Url::parse(logo).ok())
        .map(|url| url.origin().ascii_serialization())
    {
        img_src.push(' ');
        img_src.push_str(&origin);
    }
    let (script, frame, style, connect) = match captcha {
        Some(CaptchaSettings::Turnstile(_)) => {
            let cloudflare = " https://challenges.cloudflare.com";
            (cloudflare, cloudflare, "", "")
        }
        Some(CaptchaSettings::Hcaptcha(_)) => {
            let hcaptcha = " https://hcaptcha.com https://*.hcaptcha.com";
            (hcaptcha, hcaptcha, hcaptcha, hcaptcha)
        }
        Some(CaptchaSettings::Altcha(_)) | None => ("", "", "", ""),
    };
    let frame_src = if frame.is_empty() {
        String::new()
    } else {
        format!("frame-src{frame}; ")
    };
    // ALTCHA's widget solves in a worker of its own file.
    let worker_src = if matches!(captcha, Some(CaptchaSettings::Altcha(_))) {
        "worker-src 'self'; "
    } else {
        ""
    };
    format!(
        "default-src 'none'; script-src 'self'{script}; {worker_src}{frame_src}\
         style-src 'self'{style}; img-src {img_src}; connect-src 'self'{connect}; \
         form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// The CSP source for where a redirect URI sends a browser: its origin, or its
/// scheme for a native app's private-use scheme. `None` for anything else.
pub fn form_target_of(redirect_uri: &str) -> Option<String> {
    let url = url::Url::parse(redirect_uri).ok()?;
    match url.scheme() {
        "http" | "https" => Some(url.origin().ascii_serialization()),
        scheme if scheme.contains('.') => Some(format!("{scheme}:")),
        _ => None,
    }
}

/// Lets the page's forms lead, through redirects, to `redirect_uri`: the app a
/// person signs in to (browsers check `form-action` against every redirect that
/// follows a form, the one back to the app included).
pub fn allow_form_target(response: &mut Response, state: &AppState, redirect_uri: &str) {
    let Some(target) = form_target_of(redirect_uri) else {
        return;
    };
    let policy = content_security_policy(
        &state.config.server,
        state.settings.captcha.as_ref(),
        Some(&target),
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_first_hop_from_the_right_that_is_not_a_proxy() {
        let trusted = TrustedProxies::parse(&["127.0.0.0/8".into(), "10.0.0.0/8".into()]).unwrap();
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let cases: &[(&str, IpAddr, &[&str], &str)] = &[
            ("no header", loopback, &[], "127.0.0.1"),
            ("one hop", loopback, &["203.0.113.8"], "203.0.113.8"),
            (
                "a forged entry left of the real one",
                loopback,
                &["1.2.3.4", "203.0.113.8"],
                "203.0.113.8",
            ),
            (
                "two proxies",
                loopback,
                &["203.0.113.8", "10.1.2.3"],
                "203.0.113.8",
            ),
            (
                "a port",
                loopback,
                &["6.6.6.6", "203.0.113.8:51234"],
                "203.0.113.8",
            ),
            (
                "an IPv6 hop with a port",
                loopback,
                &["6.6.6.6", "[2001:db8::1]:443"],
                "2001:db8::1",
            ),
            (
                "unknown ends the walk at the proxy that wrote it",
                loopback,
                &["6.6.6.6", "unknown"],
                "127.0.0.1",
            ),
            (
                "unknown behind a second proxy",
                loopback,
                &["6.6.6.6", "unknown", "10.0.0.5"],
                "10.0.0.5",
            ),
            (
                "a peer that is no proxy is the client",
                stranger,
                &["6.6.6.6"],
                "198.51.100.9",
            ),
            (
                "only proxies: the leftmost",
                loopback,
                &["10.0.0.7", "10.0.0.5"],
                "10.0.0.7",
            ),
        ];
        for (name, peer, hops, expected) in cases {
            let got = client_address(*peer, hops, &trusted);
            assert_eq!(got.to_string(), *expected, "case: {name}");
        }
    }
}
