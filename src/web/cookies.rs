//! Setting and clearing doorcode's cookies: the session, the login binding that ties
//! a code page to the browser that asked for the code, and a one-time notice for the
//! page after a redirect.

use std::time::Duration;

use poem::http::{HeaderValue, header};
use poem::web::cookie::{Cookie, CookieJar, SameSite};
use poem::{Request, Response};

use crate::domain::{RandomId, sha256_hex};
use crate::login::SignedIn;
use crate::session::CookieAction;
use crate::state::AppState;

/// How long a browser keeps its login binding; longer than any code lives.
const LOGIN_BINDING_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

fn base_cookie(state: &AppState, name: &str, value: &str) -> Cookie {
    let mut cookie = Cookie::new_with_str(name, value);
    cookie.set_http_only(true);
    cookie.set_same_site(SameSite::Lax);
    cookie.set_path("/");
    cookie.set_secure(state.cookies.secure);
    cookie
}

/// The session cookie: host-only, or for `session.cookie_domain` when set.
fn session_cookie(state: &AppState, value: &str) -> Cookie {
    let mut cookie = base_cookie(state, &state.cookies.session, value);
    if let Some(domain) = &state.cookies.session_domain {
        cookie.set_domain(domain);
    }
    cookie
}

/// Sent when a session starts and when its expiry slides forward, living as long
/// as the session now does.
pub fn set_session(jar: &CookieJar, state: &AppState, token: &str, max_age_secs: i64) {
    let mut cookie = session_cookie(state, token);
    let max_age = u64::try_from(max_age_secs).unwrap_or_default();
    cookie.set_max_age(Duration::from_secs(max_age));
    jar.add(cookie);
}

/// The cookie of a session that has just begun.
pub fn set_signed_in(jar: &CookieJar, state: &AppState, signed_in: &SignedIn) {
    // From the session's own start, not the clock again: a second that ticks in
    // between would make the cookie outlive nothing but differ from the session.
    let session = &signed_in.session;
    let max_age = session.expires_at - session.created_at;
    set_session(jar, state, signed_in.token.expose(), max_age);
}

/// Does what the session gate said to the session cookie.
pub fn apply(jar: &CookieJar, state: &AppState, action: &CookieAction) {
    match action {
        CookieAction::Keep => {}
        CookieAction::Renew {
            token,
            max_age_secs,
        } => set_session(jar, state, token.expose(), *max_age_secs),
        CookieAction::Clear => clear_session(jar, state),
    }
}

/// For answers made ahead of the cookie-jar middleware (`web::hot`): sends what
/// `jar`, which started empty, was given, as that middleware would.
pub fn send(jar: &CookieJar, response: &mut Response) {
    let headers = response.headers_mut();
    jar.with_cookies(|set| {
        for cookie in set {
            if let Ok(value) = HeaderValue::from_str(&cookie.encoded().to_string()) {
                headers.append(header::SET_COOKIE, value);
            }
        }
    });
}

/// Tells the browser to drop a cookie. It carries the same attributes as the
/// original, which `__Host-` cookies need for the removal to be accepted.
pub fn clear(jar: &CookieJar, state: &AppState, name: &str) {
    let mut cookie = base_cookie(state, name, "");
    cookie.set_max_age(Duration::ZERO);
    jar.add(cookie);
}

/// Drops the session cookie, with the domain it was set for.
pub fn clear_session(jar: &CookieJar, state: &AppState) {
    let mut cookie = session_cookie(state, "");
    cookie.set_max_age(Duration::ZERO);
    jar.add(cookie);
}

/// The session cookie read straight from the `Cookie` headers, for answers made
/// ahead of the cookie jar: the first one of that name, as the jar takes it.
pub fn session_from_headers<'a>(req: &'a Request, state: &AppState) -> Option<&'a str> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == state.cookies.session)
        .map(|(_, value)| value.trim())
}

/// The hash stored with a sign-in for this browser, if the browser has a binding.
pub fn login_binding_hash(jar: &CookieJar, state: &AppState) -> Option<String> {
    jar.get(&state.cookies.login)
        .and_then(|c| RandomId::parse(c.value_str()))
        .map(|id| sha256_hex(id.as_str()))
}

/// This browser's binding, created (and set as a cookie) if it has none.
pub fn ensure_login_binding(jar: &CookieJar, state: &AppState) -> String {
    if let Some(hash) = login_binding_hash(jar, state) {
        return hash;
    }
    let id = RandomId::generate();
    let mut cookie = base_cookie(state, &state.cookies.login, id.as_str());
    cookie.set_max_age(LOGIN_BINDING_MAX_AGE);
    jar.add(cookie);
    sha256_hex(id.as_str())
}

/// A one-time confirmation for the next page. `POST /logout` must answer a plain 303
/// to exactly `/login` (no query string), so what it has to say travels in a cookie
/// that the next `GET /login` reads, shows and clears. The cookie holds only a name
/// from this list, never text, so nobody can put words on the page with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    SignedOut,
}

impl Notice {
    fn value(self) -> &'static str {
        match self {
            Notice::SignedOut => "signed_out",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "signed_out" => Some(Notice::SignedOut),
            _ => None,
        }
    }

    /// The catalogue key of what the page says.
    pub fn text_key(self) -> &'static str {
        match self {
            Notice::SignedOut => "login.signed_out",
        }
    }
}

/// Long enough to survive the redirect, short enough not to greet someone who comes
/// back much later.
const NOTICE_MAX_AGE: Duration = Duration::from_secs(60);

/// `__Host-` on https, like the other cookies.
fn notice_name(state: &AppState) -> &'static str {
    if state.cookies.secure {
        "__Host-doorcode_notice"
    } else {
        "doorcode_notice"
    }
}

pub fn set_notice(jar: &CookieJar, state: &AppState, notice: Notice) {
    let mut cookie = base_cookie(state, notice_name(state), notice.value());
    cookie.set_max_age(NOTICE_MAX_AGE);
    jar.add(cookie);
}

/// The notice waiting for this page, if any, cleared so that it shows once.
pub fn take_notice(jar: &CookieJar, state: &AppState) -> Option<Notice> {
    let name = notice_name(state);
    let value = jar.get(name)?.value_str().to_owned();
    clear(jar, state, name);
    Notice::parse(&value)
}
