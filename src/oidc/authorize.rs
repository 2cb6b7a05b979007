//! The authorization request, checked: who the client is and where it may be
//! answered first (a mistake there is a page, never a redirect), then the rest
//! (a mistake there goes back to the client as `error=`).

use crate::config::OidcClient;
use crate::storage::StorageError;

use super::{Provider, SCOPES};

/// The longest value a parameter may have.
pub const MAX_VALUE_LEN: usize = 2048;

/// doorcode's own parameter, added when it sends a person to sign in again
/// (`prompt=login`, `max_age`): the session must have begun at or after it.
pub const FRESH_AFTER: &str = "doorcode_fresh_after";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A good authorization request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: OidcClient,
    pub redirect_uri: String,
    /// The known scopes asked for, space-separated, each once.
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub fresh_after: Option<i64>,
    /// The request's parameters as sent, to send the person back here after
    /// signing in, or through the consent form.
    pub params: Vec<(String, String)>,
}

impl AuthorizeRequest {
    /// This request as a path and query, without `prompt` and with `fresh_after`
    /// when given: where the sign-in page sends the person back.
    pub fn again(&self, fresh_after: Option<i64>) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.params {
            if key != "prompt" && key != FRESH_AFTER {
                query.append_pair(key, value);
            }
        }
        if let Some(at) = fresh_after.or(self.fresh_after) {
            query.append_pair(FRESH_AFTER, &at.to_string());
        }
        format!("/oidc/authorize?{}", query.finish())
    }

    /// Whether a session that began at `auth_time` is recent enough for this request.
    pub fn fresh_enough(&self, auth_time: i64, now: i64) -> bool {
        match self.fresh_after {
            Some(after) => auth_time >= after,
            // max_age=0 is prompt=login (OpenID Connect Core §3.1.2.1).
            None => {
                !self.prompt.login
                    && self
                        .max_age
                        .is_none_or(|max| max > 0 && now - auth_time <= max)
            }
        }
    }

    /// The redirect back to the client with `params` (plus `state` and `iss`).
    pub fn answer(&self, issuer: &str, params: &[(&str, &str)]) -> String {
        answer_to(&self.redirect_uri, self.state.as_deref(), issuer, params)
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split(' ').filter(|s| !s.is_empty())
    }
}

/// What is wrong with an authorization request.
#[derive(Debug, Clone)]
pub enum AuthorizeError {
    /// The client or the redirect URI cannot be trusted: a 400 page.
    Page(String),
    /// Anything else: back to the client with `error=`.
    Redirect(String),
}

/// `redirect_uri` with the answer added to its query (RFC 9207's `iss` included).
pub fn answer_to(
    redirect_uri: &str,
    state: Option<&str>,
    issuer: &str,
    params: &[(&str, &str)],
) -> String {
    let mut url =
        url::Url::parse(redirect_uri).expect("registered redirect URIs are absolute URLs");
    {
        let mut query = url.query_pairs_mut();
        for (key, value) in params {
            query.append_pair(key, value);
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

impl Provider {
    /// Checks an authorization request's parameters.
    pub async fn authorize_request(
        &self,
        params: Vec<(String, String)>,
    ) -> Result<Result<AuthorizeRequest, AuthorizeError>, StorageError> {
        let page = |message: &str| Ok(Err(AuthorizeError::Page(message.to_owned())));
        let one = |key: &str| -> Result<Option<&str>, String> {
            let mut values = params
                .iter()
                .filter(|(k, _)| k == key)
                .map(|(_, v)| v.as_str());
            let first = values.next();
            if values.next().is_some() {
                return Err(format!("{key} is given more than once"));
            }
            match first {
                Some(value) if value.len() > MAX_VALUE_LEN => {
                    Err(format!("{key} is longer than {MAX_VALUE_LEN} characters"))
                }
                Some("") => Ok(None),
                other => Ok(other),
            }
        };
        let client_id = match one("client_id") {
            Ok(Some(id)) => id,
            Ok(None) => return page("The request names no app (client_id is missing)."),
            Err(e) => return page(&format!("The request is malformed: {e}.")),
        };
        let Some(client) = self.client(client_id).await? else {
            return page(
                "The app that sent you here is not registered with this sign-in service (unknown client_id).",
            );
        };
        let redirect_uri = match one("redirect_uri") {
            Ok(Some(uri)) => uri,
            Ok(None) => {
                return page(
                    "The request does not say where to return to (redirect_uri is missing).",
                );
            }
            Err(e) => return page(&format!("The request is malformed: {e}.")),
        };
        if !client
            .redirect_uris
            .iter()
            .any(|registered| registered == redirect_uri)
        {
            tracing::warn!(
                client = %client.id,
                redirect_uri = %redirect_uri.escape_debug(),
                "authorization refused: redirect_uri is not registered for the client (it must match exactly)"
            );
            return page(
                "The address this app asked to return to is not registered for it (redirect_uri mismatch).",
            );
        }
        let redirect_uri = redirect_uri.to_owned();
        let rest = (|| -> Result<AuthorizeRequest, String> {
            for key in params.iter().map(|(k, _)| k.as_str()) {
                one(key)?;
            }
            if one("request")?.is_some() {
                return Err("request_not_supported".into());
            }
            if one("request_uri")?.is_some() {
                return Err("request_uri_not_supported".into());
            }
            let prompt = parse_prompt(one("prompt")?)?;
            let max_age = match one("max_age")? {
                None => None,
                Some(raw) => Some(raw.parse::<u32>().map_err(|_| {
                    "invalid_request: max_age must be a whole number of seconds".to_string()
                })? as i64),
            };
            let fresh_after = one(FRESH_AFTER)?.and_then(|raw| raw.parse::<i64>().ok());
            match one("response_type")? {
                Some("code") => {}
                None => return Err("invalid_request: response_type is missing".into()),
                Some(_) => {
                    return Err(
                        "unsupported_response_type: only response_type=code is supported".into(),
                    );
                }
            }
            match one("response_mode")? {
                None | Some("query") => {}
                Some(_) => {
                    return Err("invalid_request: only response_mode=query is supported".into());
                }
            }
            let mut scopes: Vec<&str> = Vec::new();
            for scope in one("scope")?.unwrap_or("").split(' ') {
                if SCOPES.contains(&scope) && !scopes.contains(&scope) {
                    scopes.push(scope);
                }
            }
            if !scopes.contains(&"openid") {
                return Err("invalid_scope: scope must include openid".into());
            }
            let code_challenge = one("code_challenge")?.map(str::to_owned);
            match (one("code_challenge_method")?, &code_challenge) {
                (Some("S256"), Some(_)) => {}
                (None, Some(_)) | (Some("plain"), _) => {
                    return Err("invalid_request: code_challenge_method must be S256".into());
                }
                (Some(_), _) => {
                    return Err("invalid_request: code_challenge_method must be S256".into());
                }
                (None, None) => {}
            }
            if let Some(challenge) = &code_challenge
                && (challenge.len() != 43 || !crate::rules::oidc::is_pkce_value(challenge))
            {
                return Err("invalid_request: code_challenge must be an S256 challenge (43 characters of base64url)".into());
            }
            if client.is_public() && code_challenge.is_none() {
                return Err(
                    "invalid_request: this app must use PKCE (code_challenge with S256)".into(),
                );
            }
            Ok(AuthorizeRequest {
                client: client.clone(),
                redirect_uri: redirect_uri.clone(),
                scope: scopes.join(" "),
                state: one("state")?.map(str::to_owned),
                nonce: one("nonce")?.map(str::to_owned),
                code_challenge,
                prompt,
                max_age,
                fresh_after,
                params: params.clone(),
            })
        })();
        Ok(match rest {
            Ok(request) => Ok(request),
            Err(problem) => {
                // The state is echoed even when the rest was wrong, if it is readable.
                let state = one("state").ok().flatten();
                let (code, description) = split_problem(&problem);
                Err(AuthorizeError::Redirect(answer_to(
                    &redirect_uri,
                    state,
                    self.issuer(),
                    &[("error", code), ("error_description", description)],
                )))
            }
        })
    }
}

/// "code: description" into its parts; a bare description is `invalid_request`.
fn split_problem(problem: &str) -> (&str, &str) {
    const CODES: &[&str] = &[
        "invalid_request",
        "unsupported_response_type",
        "invalid_scope",
        "request_not_supported",
        "request_uri_not_supported",
    ];
    match problem.split_once(": ") {
        Some((code, description)) if CODES.contains(&code) => (code, description),
        _ if CODES.contains(&problem) => (problem, "not supported by this provider"),
        _ => ("invalid_request", problem),
    }
}

fn parse_prompt(raw: Option<&str>) -> Result<Prompt, String> {
    let mut prompt = Prompt::default();
    for value in raw.unwrap_or("").split(' ').filter(|v| !v.is_empty()) {
        match value {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            "select_account" => {}
            _ => {
                return Err(format!(
                    "invalid_request: prompt value `{value}` is not known"
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err("invalid_request: prompt=none cannot be combined with other values".into());
    }
    Ok(prompt)
}
