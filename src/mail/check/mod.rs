//! Talking to the configured SMTP server one step at a time (connect, TLS or
//! STARTTLS, EHLO, AUTH) without sending anything, so that an operator sees which
//! step fails and what the server said. Used by `doorcode check`.

mod certificate;
mod reply;

use std::future::Future;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::Extension;
use tokio::net::TcpStream;

use super::tls::tls_parameters;
use crate::config::{Security, SmtpTarget, SmtpTls, Target};
pub use reply::describe_smtp_error;
use reply::{offered, offers, read_greeting, reply};

/// Each step gets this long before it counts as failed.
pub const STEP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed(String),
    /// Not needed with this configuration; counts as passed.
    Skipped(String),
    Failed(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmtpStep {
    /// `connect`, `TLS`, `EHLO`, `STARTTLS` or `AUTH`.
    pub name: &'static str,
    pub outcome: Outcome,
}

/// Runs the steps `smtp` calls for, stopping at the first failure.
pub async fn check_smtp(smtp: &SmtpTarget) -> Vec<SmtpStep> {
    let mut steps = Steps(Vec::new());
    let _stopped = probe(smtp.url(), &smtp.tls, &mut steps).await;
    steps.0
}

struct Stop;

struct Steps(Vec<SmtpStep>);

impl Steps {
    fn passed(&mut self, name: &'static str, detail: impl Into<String>) {
        let outcome = Outcome::Passed(detail.into());
        self.0.push(SmtpStep { name, outcome });
    }

    fn skipped(&mut self, name: &'static str, detail: impl Into<String>) {
        let outcome = Outcome::Skipped(detail.into());
        self.0.push(SmtpStep { name, outcome });
    }

    fn failed(&mut self, name: &'static str, detail: impl Into<String>) -> Stop {
        let outcome = Outcome::Failed(detail.into());
        self.0.push(SmtpStep { name, outcome });
        Stop
    }
}

async fn probe(url: &str, tls: &SmtpTls, steps: &mut Steps) -> Result<(), Stop> {
    let target = Target::parse(url).map_err(|e| steps.failed("connect", e))?;
    let mut conn = match target.security {
        Security::Wrapper => open_tls(&target, tls, steps).await?,
        Security::Plain | Security::StartTls { .. } => open_plain(&target, steps).await?,
    };
    steps.passed("EHLO", offers(conn.server_info()));
    starttls(&mut conn, &target, tls, steps).await?;
    authenticate(&mut conn, &target, steps).await?;
    let _ = timed(conn.quit()).await;
    Ok(())
}

/// `smtp://`: connect, read the greeting, EHLO.
async fn open_plain(target: &Target, steps: &mut Steps) -> Result<AsyncSmtpConnection, Stop> {
    let address = target.address();
    let stream = connect(target)
        .await
        .map_err(|e| steps.failed("connect", e))?;
    let greeting = timed(read_greeting(&stream))
        .await
        .map_err(|e| steps.failed("connect", format!("{address}: {e}")))?;
    let words = reply(&greeting);
    if !greeting.is_positive() {
        return Err(steps.failed("connect", format!("{address} answered {words}")));
    }
    steps.passed("connect", format!("{address} answered {words}"));
    // lettre reads the greeting again (it was only peeked at) and sends EHLO.
    let stream = Box::new(stream);
    timed(AsyncSmtpConnection::connect_with_transport(
        stream,
        &target.hello,
    ))
    .await
    .map_err(|e| steps.failed("EHLO", e.to_string()))
}

/// `smtps://`: connect, TLS, then the greeting and EHLO inside it.
async fn open_tls(
    target: &Target,
    tls: &SmtpTls,
    steps: &mut Steps,
) -> Result<AsyncSmtpConnection, Stop> {
    // lettre opens TLS connections itself, so reachability is tested on a
    // connection of its own: a refused port then reads as such, not as TLS trouble.
    let probe = connect(target)
        .await
        .map_err(|e| steps.failed("connect", e))?;
    drop(probe);
    steps.passed(
        "connect",
        format!("{} accepts connections", target.address()),
    );
    let parameters = tls_parameters(&target.host, tls).map_err(|e| steps.failed("TLS", e))?;
    let server = (target.host.as_str(), target.port);
    let timeout = Some(STEP_TIMEOUT);
    let opened =
        AsyncSmtpConnection::connect_tokio1(server, timeout, &target.hello, Some(parameters), None);
    match timed(opened).await {
        Ok(conn) => {
            steps.passed("TLS", "TLS from the first byte (smtps://)");
            Ok(conn)
        }
        // A reply came back, so TLS worked and the server refused what followed.
        Err(Failure::Smtp(e)) if e.status().is_some() => {
            steps.passed("TLS", "TLS from the first byte (smtps://)");
            Err(steps.failed("EHLO", describe_smtp_error(&e)))
        }
        Err(e) => {
            let hint = "smtps:// needs a port that speaks TLS from the first byte, usually 465";
            let line = certificate::explain(target, tls, format!("{e} ({hint})")).await;
            Err(steps.failed("TLS", line))
        }
    }
}

async fn starttls(
    conn: &mut AsyncSmtpConnection,
    target: &Target,
    tls: &SmtpTls,
    steps: &mut Steps,
) -> Result<(), Stop> {
    let required = match target.security {
        Security::Wrapper => return Ok(()),
        Security::Plain => {
            let why = "not asked for (no ?tls= in email.smtp_url); mail travels unencrypted";
            steps.skipped("STARTTLS", why);
            return Ok(());
        }
        Security::StartTls { required } => required,
    };
    if conn.server_info().supports_feature(Extension::StartTls) {
        let parameters =
            tls_parameters(&target.host, tls).map_err(|e| steps.failed("STARTTLS", e))?;
        if let Err(e) = timed(conn.starttls(parameters, &target.hello)).await {
            let line = certificate::explain(target, tls, e.to_string()).await;
            return Err(steps.failed("STARTTLS", line));
        }
        steps.passed("STARTTLS", "the connection is encrypted");
    } else if required {
        let offered = offered(conn.server_info());
        return Err(steps.failed(
            "STARTTLS",
            format!(
                "the server does not offer STARTTLS, but email.smtp_url asks for it \
                 (tls=required); it offers {offered}"
            ),
        ));
    } else {
        let why = "the server does not offer it; with tls=opportunistic mail travels unencrypted";
        steps.skipped("STARTTLS", why);
    }
    Ok(())
}

async fn authenticate(
    conn: &mut AsyncSmtpConnection,
    target: &Target,
    steps: &mut Steps,
) -> Result<(), Stop> {
    let Some((user, password)) = &target.credentials else {
        steps.skipped("AUTH", "no user name and password in email.smtp_url");
        return Ok(());
    };
    let credentials = Credentials::new(user.clone(), password.clone());
    let answer = timed(conn.auth(DEFAULT_MECHANISMS, &credentials))
        .await
        .map_err(|e| steps.failed("AUTH", format!("as {user}: {e}")))?;
    steps.passed("AUTH", format!("as {user}: {}", reply(&answer)));
    Ok(())
}

async fn connect(target: &Target) -> Result<TcpStream, String> {
    timed(TcpStream::connect((target.host.as_str(), target.port)))
        .await
        .map_err(|e| format!("cannot connect to {}: {e}", target.address()))
}

/// Why a step failed: lettre's error (which carries the server's reply), or ours.
enum Failure {
    Smtp(lettre::transport::smtp::Error),
    Other(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Smtp(e) => f.write_str(&describe_smtp_error(e)),
            Failure::Other(message) => f.write_str(message),
        }
    }
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Failure::Smtp(e)
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Other(e.to_string())
    }
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure::Other(message)
    }
}

/// `work`, given `STEP_TIMEOUT` to finish.
async fn timed<T, E: Into<Failure>>(
    work: impl Future<Output = Result<T, E>>,
) -> Result<T, Failure> {
    match tokio::time::timeout(STEP_TIMEOUT, work).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(Failure::Other(format!(
            "no answer within {} s",
            STEP_TIMEOUT.as_secs()
        ))),
    }
}
