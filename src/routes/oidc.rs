//! The OpenID Connect endpoints. Pages for people (authorization, consent, signing
//! out) and JSON for apps (token, userinfo, revocation, introspection, discovery,
//! keys); what each decides is `crate::oidc`'s.

use std::sync::Arc;

use base64::Engine;
use poem::http::{HeaderValue, Method, StatusCode, header};
use poem::web::{Data, cookie::CookieJar};
use poem::{Body, Request, Response, handler};
use serde_json::{Value, json};

use super::{PageError, chrome};
use crate::i18n::Language;
use crate::oidc::{AuthorizeError, AuthorizeRequest, OAuthError, authorize::answer_to};
use crate::pages::{ConsentView, LogoutView, consent_page, logout_page, message_page};
use crate::session::{ActiveSession, Surface};
use crate::state::AppState;
use crate::web::{allow_form_target, bearer_token, cookies, page, presented, see_other};

/// Parameters are a few short values; more than this many is not a real request.
const MAX_PARAMS: usize = 64;

/// A request's parameters: the query of a GET, the form of a POST. `Err` says why
/// they cannot be read.
async fn params(req: &Request, body: Body) -> Result<Vec<(String, String)>, &'static str> {
    let raw = if req.method() == Method::POST {
        let form = req.header(header::CONTENT_TYPE).is_some_and(|ct| {
            ct.to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
        if !form {
            return Err("the body must be application/x-www-form-urlencoded");
        }
        body.into_vec()
            .await
            .map_err(|_| "the body could not be read")?
    } else {
        req.uri().query().unwrap_or("").as_bytes().to_vec()
    };
    let params: Vec<(String, String)> = url::form_urlencoded::parse(&raw).into_owned().collect();
    if params.len() > MAX_PARAMS {
        return Err("too many parameters");
    }
    Ok(params)
}

fn bad_request_page(state: &AppState, lang: Language, message: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        message_page(
            &chrome(state, lang),
            lang.text("status.bad_authorize.title"),
            message,
            ("/", lang.text("link.home")),
        ),
    )
}

/// `GET|POST /oidc/authorize`.
#[handler]
pub async fn authorize(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let params = match params(req, body).await {
        Ok(params) => params,
        Err(why) => {
            return Ok(bad_request_page(
                &state,
                lang,
                &format!("The request is malformed: {why}."),
            ));
        }
    };
    decide(&state, lang, req, jar, params, None).await
}

/// `POST /oidc/consent`: the consent page's answer, with the request again.
#[handler]
pub async fn consent(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let mut params = match params(req, body).await {
        Ok(params) => params,
        Err(why) => {
            return Ok(bad_request_page(
                &state,
                lang,
                &format!("The request is malformed: {why}."),
            ));
        }
    };
    let decision = params
        .iter()
        .find(|(k, _)| k == "decision")
        .map(|(_, v)| v == "allow");
    params.retain(|(k, _)| k != "decision");
    let Some(decision) = decision else {
        return Ok(bad_request_page(
            &state,
            lang,
            "The form did not say whether you allow the app.",
        ));
    };
    decide(&state, lang, req, jar, params, Some(decision)).await
}

/// The authorization decision: sign in first, then the groups, then consent,
/// then a code for the app.
async fn decide(
    state: &AppState,
    lang: Language,
    req: &Request,
    jar: &CookieJar,
    params: Vec<(String, String)>,
    decision: Option<bool>,
) -> Result<Response, PageError> {
    let unavailable = |e| PageError::unavailable(state, lang, "authorize an app", e);
    let request = match state
        .oidc
        .authorize_request(params)
        .await
        .map_err(unavailable)?
    {
        Ok(request) => request,
        Err(AuthorizeError::Page(message)) => return Ok(bad_request_page(state, lang, &message)),
        Err(AuthorizeError::Redirect(to)) => return Ok(see_other(&to)),
    };
    let issuer = state.oidc.issuer();
    let refuse = |error: &str, description: &str| -> Response {
        see_other(&request.answer(
            issuer,
            &[("error", error), ("error_description", description)],
        ))
    };
    let now = state.clock.now();
    let checked = state
        .sessions
        .check(presented(req, state, Surface::Page).as_ref())
        .await
        .map_err(unavailable)?;
    cookies::apply(jar, state, &checked.cookie);
    let fresh = checked
        .session
        .filter(|active| request.fresh_enough(active.record.created_at, now));
    let Some(active) = fresh else {
        if request.prompt.none {
            return Ok(refuse("login_required", "the person is not signed in"));
        }
        // The sign-in that comes next began now: back here, a session from it
        // meets `prompt=login` and any `max_age` (even 0), and an older one does not.
        let again = request.again(Some(now));
        let next: String = url::form_urlencoded::byte_serialize(again.as_bytes()).collect();
        return Ok(see_other(&format!("/login?next={next}")));
    };
    if !in_allowed_groups(&request, &active) {
        tracing::info!(
            client = %request.client.id,
            user_id = active.record.user_id,
            "authorization refused: the person is in none of the client's allowed_groups (403)"
        );
        return Ok(page(
            StatusCode::FORBIDDEN,
            message_page(
                &chrome(state, lang),
                lang.text("status.no_access.title"),
                &lang.fill("status.no_access.message", &[("app", &request.client.name)]),
                ("/", lang.text("link.home")),
            ),
        ));
    }
    let user_id = active.record.user_id;
    if !request.client.skip_consent {
        match decision {
            Some(false) => return Ok(refuse("access_denied", "the person denied the request")),
            Some(true) => state
                .storage
                .record_consent(
                    user_id,
                    request.client.id.clone(),
                    request.scope.clone(),
                    now,
                )
                .await
                .map_err(unavailable)?,
            None => {
                let given = state
                    .storage
                    .consent_of(user_id, request.client.id.clone())
                    .await
                    .map_err(unavailable)?;
                let covered = given.is_some_and(|given| {
                    request.scopes().all(|s| given.split(' ').any(|g| g == s))
                });
                if !covered || request.prompt.consent {
                    if request.prompt.none {
                        return Ok(refuse(
                            "consent_required",
                            "the person has not allowed this app yet",
                        ));
                    }
                    return Ok(consent_form(state, lang, &request, &active));
                }
            }
        }
    }
    let code = state
        .oidc
        .issue_code(
            &request,
            user_id,
            active.record.created_at,
            &active.record.amr,
        )
        .await
        .map_err(unavailable)?;
    Ok(see_other(&request.answer(issuer, &[("code", &code)])))
}

fn in_allowed_groups(request: &AuthorizeRequest, active: &ActiveSession) -> bool {
    let allowed = &request.client.allowed_groups;
    allowed.is_empty()
        || allowed
            .iter()
            .any(|group| active.record.groups.contains(group))
}

fn consent_form(
    state: &AppState,
    lang: Language,
    request: &AuthorizeRequest,
    active: &ActiveSession,
) -> Response {
    let scopes: Vec<&str> = request.scopes().collect();
    let params: Vec<(String, String)> = request
        .params
        .iter()
        .filter(|(k, _)| k != "prompt" || request.prompt.consent)
        .cloned()
        .collect();
    let view = ConsentView {
        app: &request.client.name,
        email: active.record.email.as_str(),
        scopes: &scopes,
        params: &params,
    };
    let mut response = page(StatusCode::OK, consent_page(&chrome(state, lang), &view));
    allow_form_target(&mut response, state, &request.redirect_uri);
    response
}

// For apps: JSON.

/// The token, userinfo, revocation and introspection answers. Any origin may read
/// them: they are authenticated by client credentials or tokens, never by a
/// cookie, and an app in the browser (a public client) calls them from its own.
fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .header(header::PRAGMA, "no-cache")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(body.to_string())
}

/// CORS preflight for the endpoints a browser app calls.
#[handler]
pub async fn preflight() -> Response {
    Response::builder()
        .status(StatusCode::NO_CONTENT)
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .header(header::ACCESS_CONTROL_ALLOW_METHODS, "GET, POST")
        .header(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "Authorization, Content-Type",
        )
        .header(header::ACCESS_CONTROL_MAX_AGE, "600")
        .finish()
}

fn oauth_error(error: &OAuthError) -> Response {
    let status = match error.code {
        "invalid_client" => StatusCode::UNAUTHORIZED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = json_response(
        status,
        &json!({ "error": error.code, "error_description": error.description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"doorcode\""),
        );
    }
    response
}

fn unavailable_json(doing: &str, error: impl std::fmt::Display) -> Response {
    tracing::error!(error = %error, "cannot {doing}: database unavailable (503)");
    json_response(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "error": "temporarily_unavailable",
            "error_description": "the service cannot answer right now; try again shortly"
        }),
    )
}

/// The one value of `key`; a repeated key is a malformed request.
fn single<'a>(params: &'a [(String, String)], key: &str) -> Result<Option<&'a str>, OAuthError> {
    let mut values = params
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str());
    let first = values.next();
    if values.next().is_some() {
        return Err(OAuthError::new(
            "invalid_request",
            format!("{key} is given more than once"),
        ));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// The client's id and secret, from `Authorization: Basic` or the form.
fn client_credentials(
    req: &Request,
    params: &[(String, String)],
) -> Result<(String, Option<String>), OAuthError> {
    let form_id = single(params, "client_id")?;
    let form_secret = single(params, "client_secret")?;
    if let Some(value) = req.header(header::AUTHORIZATION) {
        let Some(("basic", encoded)) = value
            .split_once(' ')
            .map(|(scheme, rest)| (scheme.to_ascii_lowercase(), rest.trim()))
            .as_ref()
            .map(|(s, r)| (s.as_str(), *r))
        else {
            return Err(OAuthError::new(
                "invalid_client",
                "Authorization must be Basic",
            ));
        };
        if form_secret.is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                "use one way to authenticate the client, not both Basic and client_secret",
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                OAuthError::new("invalid_client", "Authorization: Basic is not base64")
            })?;
        let (id, secret) = decoded.split_once(':').ok_or_else(|| {
            OAuthError::new("invalid_client", "Authorization: Basic has no id:secret")
        })?;
        // RFC 6749 §2.3.1: both are form-urlencoded before they are joined.
        let decode = |s: &str| -> String {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let id = decode(id);
        if form_id.is_some_and(|form_id| form_id != id) {
            return Err(OAuthError::new(
                "invalid_request",
                "client_id differs from the one in Authorization",
            ));
        }
        return Ok((id, Some(decode(secret))));
    }
    let id = form_id.ok_or_else(|| OAuthError::new("invalid_client", "client_id is missing"))?;
    Ok((id.to_owned(), form_secret.map(str::to_owned)))
}

/// Reads a back-channel request: its form and its authenticated client.
async fn client_request(
    state: &AppState,
    req: &Request,
    body: Body,
) -> Result<(Vec<(String, String)>, crate::config::OidcClient), Response> {
    if req.method() != Method::POST {
        return Err(oauth_error(&OAuthError::new("invalid_request", "use POST")));
    }
    let params = params(req, body)
        .await
        .map_err(|why| oauth_error(&OAuthError::new("invalid_request", why)))?;
    let (id, secret) = client_credentials(req, &params).map_err(|e| oauth_error(&e))?;
    match state.oidc.authenticate(&id, secret.as_deref()).await {
        Ok(Ok(client)) => Ok((params, client)),
        Ok(Err(e)) => {
            tracing::info!(client = %id.escape_debug(), "client authentication failed (401)");
            Err(oauth_error(&e))
        }
        Err(e) => Err(unavailable_json("authenticate a client", e)),
    }
}

/// `POST /oidc/token`.
#[handler]
pub async fn token(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    let (params, client) = match client_request(&state, req, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let answer = (|| {
        let grant_type = single(&params, "grant_type")?
            .ok_or_else(|| OAuthError::new("invalid_request", "grant_type is missing"))?;
        match grant_type {
            "authorization_code" => {
                let code = single(&params, "code")?
                    .ok_or_else(|| OAuthError::new("invalid_request", "code is missing"))?;
                let redirect_uri = single(&params, "redirect_uri")?
                    .ok_or_else(|| OAuthError::new("invalid_request", "redirect_uri is missing"))?;
                let verifier = single(&params, "code_verifier")?;
                Ok(Grant::Code(code, redirect_uri, verifier))
            }
            "refresh_token" => {
                let token = single(&params, "refresh_token")?.ok_or_else(|| {
                    OAuthError::new("invalid_request", "refresh_token is missing")
                })?;
                single(&params, "scope")?;
                Ok(Grant::Refresh(token))
            }
            other => Err(OAuthError::new(
                "unsupported_grant_type",
                format!("grant_type {} is not supported", other.escape_debug()),
            )),
        }
    })();
    let outcome = match answer {
        Err(e) => return oauth_error(&e),
        Ok(Grant::Code(code, redirect_uri, verifier)) => {
            state
                .oidc
                .exchange_code(&client, code, redirect_uri, verifier)
                .await
        }
        Ok(Grant::Refresh(token)) => state.oidc.refresh(&client, token).await,
    };
    match outcome {
        Ok(Ok(tokens)) => json_response(
            StatusCode::OK,
            &serde_json::to_value(tokens).unwrap_or_default(),
        ),
        Ok(Err(e)) => oauth_error(&e),
        Err(e) => unavailable_json("issue tokens", e),
    }
}

enum Grant<'a> {
    Code(&'a str, &'a str, Option<&'a str>),
    Refresh(&'a str),
}

/// `POST /oidc/userinfo` (a `GET` is answered ahead of the middleware, by
/// [`answer_userinfo`]): the claims for a Bearer access token, from the header or
/// the form.
#[handler]
pub async fn userinfo(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    let mut presented = bearer_token(req);
    if presented.is_none() && req.method() == Method::POST {
        presented = params(req, body)
            .await
            .ok()
            .and_then(|p| single(&p, "access_token").ok().flatten().map(str::to_owned));
    }
    userinfo_for(&state, presented).await
}

/// `GET /oidc/userinfo`, which apps call on many requests: answered by `app::hot`.
pub async fn answer_userinfo(state: &AppState, req: &Request) -> Response {
    userinfo_for(state, bearer_token(req)).await
}

async fn userinfo_for(state: &AppState, presented: Option<String>) -> Response {
    let refused = |description: &str| {
        let mut response = json_response(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "invalid_token", "error_description": description }),
        );
        let challenge =
            format!("Bearer error=\"invalid_token\", error_description=\"{description}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, value);
        }
        response
    };
    let Some(presented) = presented else {
        return refused("no access token");
    };
    match state.oidc.access_token(&presented).await {
        Ok(Some(record)) => json_response(StatusCode::OK, &state.oidc.userinfo(&record)),
        Ok(None) => refused("the access token is unknown, expired or revoked"),
        Err(e) => unavailable_json("answer userinfo", e),
    }
}

/// `POST /oidc/revoke` (RFC 7009): 200 whether or not the token was known.
#[handler]
pub async fn revoke(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    let (params, client) = match client_request(&state, req, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    let presented = match single(&params, "token") {
        Ok(Some(presented)) => presented,
        Ok(None) => return oauth_error(&OAuthError::new("invalid_request", "token is missing")),
        Err(e) => return oauth_error(&e),
    };
    match state.oidc.revoke(&client, presented).await {
        Ok(()) => json_response(StatusCode::OK, &json!({})),
        Err(e) => unavailable_json("revoke a token", e),
    }
}

/// `POST /oidc/introspect` (RFC 7662), for confidential clients.
#[handler]
pub async fn introspect(state: Data<&Arc<AppState>>, req: &Request, body: Body) -> Response {
    let (params, client) = match client_request(&state, req, body).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if client.is_public() {
        return oauth_error(&OAuthError::new(
            "invalid_client",
            "introspection needs a client with a secret",
        ));
    }
    let presented = match single(&params, "token") {
        Ok(Some(presented)) => presented,
        Ok(None) => return oauth_error(&OAuthError::new("invalid_request", "token is missing")),
        Err(e) => return oauth_error(&e),
    };
    match state.oidc.introspect(&client, presented).await {
        Ok(answer) => json_response(StatusCode::OK, &answer),
        Err(e) => unavailable_json("introspect a token", e),
    }
}

fn public_json(body: &Value) -> Response {
    Response::builder()
        .content_type("application/json")
        .header(header::CACHE_CONTROL, "public, max-age=300")
        .header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*")
        .body(body.to_string())
}

/// `GET /.well-known/openid-configuration`.
#[handler]
pub async fn discovery(state: Data<&Arc<AppState>>) -> Response {
    public_json(&state.oidc.discovery())
}

/// `GET /oidc/jwks`.
#[handler]
pub async fn jwks(state: Data<&Arc<AppState>>) -> Response {
    match state.oidc.jwks().await {
        Ok(keys) => public_json(&keys),
        Err(e) => unavailable_json("publish the signing keys", e),
    }
}

/// `GET|POST /oidc/logout` (RP-Initiated Logout). A GET shows a confirmation form
/// unless `id_token_hint` names the person signed in here; the POST (same-origin
/// only) signs out. Then back to a registered `post_logout_redirect_uri`, or to
/// the sign-in page.
#[handler]
pub async fn logout(
    state: Data<&Arc<AppState>>,
    lang: Data<&Language>,
    req: &Request,
    jar: &CookieJar,
    body: Body,
) -> Result<Response, PageError> {
    let lang = *lang.0;
    let unavailable = |e| PageError::unavailable(&state, lang, "sign out for an app", e);
    let params = match params(req, body).await {
        Ok(params) => params,
        Err(why) => {
            return Ok(bad_request_page(
                &state,
                lang,
                &format!("The request is malformed: {why}."),
            ));
        }
    };
    let value = |key: &str| match single(&params, key) {
        Ok(value) => Ok(value),
        Err(e) => Err(e.description),
    };
    let read = (|| {
        Ok::<_, String>((
            value("id_token_hint")?,
            value("client_id")?,
            value("post_logout_redirect_uri")?,
            value("state")?,
        ))
    })();
    let (hint, client_id, post_logout, logout_state) = match read {
        Ok(values) => values,
        Err(why) => {
            return Ok(bad_request_page(
                &state,
                lang,
                &format!("The request is malformed: {why}."),
            ));
        }
    };
    let hinted = match hint {
        Some(hint) => match state.oidc.id_token_hint(hint).await.map_err(unavailable)? {
            Some(found) => Some(found),
            None => {
                return Ok(bad_request_page(
                    &state,
                    lang,
                    "The app sent an id_token_hint this service did not sign.",
                ));
            }
        },
        None => None,
    };
    let client_id = match (&hinted, client_id) {
        (Some((_, aud)), Some(id)) if aud != id => {
            return Ok(bad_request_page(
                &state,
                lang,
                "client_id and id_token_hint name different apps.",
            ));
        }
        (Some((_, aud)), _) => Some(aud.clone()),
        (None, id) => id.map(str::to_owned),
    };
    let client = match &client_id {
        Some(id) => state.oidc.client(id).await.map_err(unavailable)?,
        None => None,
    };
    let back = match (post_logout, &client) {
        (None, _) => None,
        (Some(uri), Some(client)) if client.post_logout_redirect_uris.iter().any(|r| r == uri) => {
            Some(answer_to(uri, logout_state, state.oidc.issuer(), &[]))
        }
        (Some(_), _) => {
            return Ok(bad_request_page(
                &state,
                lang,
                "The address this app asked to return to after signing out is not registered for it (post_logout_redirect_uri).",
            ));
        }
    };
    let checked = state
        .sessions
        .check(presented(req, &state, Surface::Page).as_ref())
        .await
        .map_err(unavailable)?;
    let active = checked.session;
    let confirmed = req.method() == Method::POST
        || matches!((&hinted, &active), (Some((sub, _)), Some(active)) if *sub == active.record.user_id.to_string());
    if active.is_some() && !confirmed {
        let app = client.as_ref().map(|c| c.name.as_str());
        return Ok(page(
            StatusCode::OK,
            logout_page(
                &chrome(&state, lang),
                &LogoutView {
                    app,
                    params: &params,
                },
            ),
        ));
    }
    if let Some(active) = active {
        state
            .storage
            .delete_session(active.token.hash())
            .await
            .map_err(unavailable)?;
        tracing::info!(user_id = active.record.user_id, client = ?client_id, "signed out at an app's request");
    }
    cookies::clear_session(jar, &state);
    Ok(see_other(back.as_deref().unwrap_or("/login")))
}
