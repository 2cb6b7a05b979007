//! Building and running the service. `main` and every integration test go through
//! `Application::build`, so tests run exactly what operators run.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use poem::{EndpointExt, endpoint::BoxEndpoint};
use tokio::sync::watch;

use crate::app::server;
use crate::captcha::Captcha;
use crate::clock::Clock;
use crate::config::{CaptchaProvider, Config, SecretSource, Settings};
use crate::domain::{ServerSecret, open_to_others};
use crate::login::{Policy, SignIn};
use crate::mail::{EmailTemplates, MailQueue, MailSettings, Mailer};
use crate::metrics::Metrics;
use crate::passkeys::Passkeys;
use crate::session::Sessions;
use crate::state::{AppState, CookieNames};
use crate::storage::Storage;

/// How long in-flight requests get to finish after a stop signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);
/// How much longer the mail worker gets, so the process is gone within 10 s.
const WORKER_GRACE: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct Application {
    port: u16,
    listener: tokio::net::TcpListener,
    endpoint: BoxEndpoint<'static>,
    /// `metrics.listen`'s socket, when set.
    metrics: Option<Listening>,
    state: Arc<AppState>,
}

/// A bound socket and its port.
struct Listening {
    port: u16,
    listener: tokio::net::TcpListener,
}

async fn bind(addr: std::net::SocketAddr, key: &str) -> anyhow::Result<Listening> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on {addr} ({key})"))?;
    let port = listener
        .local_addr()
        .context("the listener has no address")?
        .port();
    Ok(Listening { port, listener })
}

impl Application {
    /// Opens the database, prepares mail and CAPTCHA, and binds the listening socket.
    pub async fn build(config: Config, clock: Clock) -> anyhow::Result<Self> {
        let settings = Settings::parse(&config)?;
        let storage = Storage::open(&settings.database).await?;
        let secret = match &settings.secret {
            SecretSource::Key(key) => key.clone(),
            SecretSource::File(path) => {
                let secret = ServerSecret::load_or_create(path)?;
                if let Some(mode) = open_to_others(path) {
                    tracing::warn!(
                        "{} holds the server secret and others may read it (mode {mode:o}); run chmod 600 on it",
                        path.display()
                    );
                }
                secret
            }
        };
        let templates = EmailTemplates::load(Path::new("templates/email"))?;
        let mailer = Mailer::new(settings.smtp.as_ref()).context("email.smtp_url")?;
        if mailer.is_dev() {
            tracing::warn!(
                "email.smtp_url is empty: dev mode, emails are printed to this log instead of sent"
            );
        }
        let captcha = settings
            .captcha
            .as_ref()
            .map(|captcha| Captcha::new(captcha, storage.clone(), clock.clone(), &secret))
            .transpose()?;
        if let Some(captcha) = &settings.captcha {
            if captcha.provider() != CaptchaProvider::Turnstile
                && !config.turnstile.site_key.is_empty()
            {
                tracing::warn!(
                    "the turnstile keys are set but unused: captcha.provider is {}",
                    captcha.provider().name()
                );
            }
            if captcha.provider() == CaptchaProvider::Altcha
                && !config.server.base_url.is_secure_context()
            {
                tracing::warn!(
                    "captcha.provider is altcha but server.base_url is plain http on another machine: browsers give its widget no Web Crypto there, so nobody can sign in; serve doorcode over https"
                );
            }
        }
        if captcha.is_none() {
            tracing::warn!(
                "turnstile keys are empty: CAPTCHA is OFF; set turnstile.site_key and turnstile.secret_key, or captcha.provider = \"altcha\", before going live"
            );
        }
        let mail_settings = MailSettings {
            from: settings.from.clone(),
            app_name: config.server.app_name.clone(),
            base_url: config.server.base_url.origin().to_owned(),
            code_minutes: config.code.ttl_secs.get().div_ceil(60),
            default_language: config.server.default_language(),
        };
        let metrics = Arc::new(Metrics::new());
        let mail = MailQueue::new(
            storage.clone(),
            mailer,
            templates,
            secret.clone(),
            clock.clone(),
            mail_settings,
            metrics.clone(),
        );

        let Listening { port, listener } = bind(config.server.listen, "server.listen").await?;
        let metrics_listener = match settings.metrics_listen {
            Some(addr) => Some(bind(addr, "metrics.listen").await?),
            None => None,
        };

        let oidc = crate::oidc::Provider::start(
            storage.clone(),
            clock.clone(),
            secret.clone(),
            config.server.base_url.origin().to_owned(),
            settings.oidc.clone(),
        )
        .await
        .context("cannot prepare the OpenID Connect provider")?;
        let passkeys = Passkeys::new(&config, &settings, storage.clone(), clock.clone(), &secret)
            .context("cannot prepare passkeys for server.base_url")?;
        let signin = SignIn {
            storage: storage.clone(),
            captcha,
            mail,
            secret,
            clock: clock.clone(),
            metrics: metrics.clone(),
            policy: Policy {
                code: settings.code,
                limits: settings.limits,
                ask_name: settings.ask_name,
                sessions: settings.sessions,
                signup: Arc::new(settings.signup.clone()),
                mail_host: config.server.base_url.host().to_owned(),
                default_language: config.server.default_language(),
            },
        };
        let state = Arc::new(AppState {
            cookies: CookieNames::new(&config, settings.cookie_domain.clone()),
            sessions: Sessions::new(storage.clone(), clock.clone(), settings.sessions),
            signin,
            config,
            settings,
            storage,
            clock,
            metrics,
            oidc,
            passkeys,
        });
        let endpoint = crate::app::app(state.clone()).map_to_response().boxed();
        Ok(Self {
            port,
            listener,
            endpoint,
            metrics: metrics_listener,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` is served on, when `metrics.listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|m| m.port)
    }

    /// Serves until `stop` resolves. Then it stops accepting, lets in-flight requests
    /// finish (up to `SHUTDOWN_GRACE`) while the mail worker finishes the message in
    /// hand, and returns within `SHUTDOWN_GRACE + WORKER_GRACE`. Mail still queued is
    /// durable and goes out after the next start.
    pub async fn run_until_stopped(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let worker = tokio::spawn(self.state.signin.mail.clone().run(shutdown_rx.clone()));
        let pruner = tokio::spawn(prune_forever(self.state.clone(), shutdown_rx));
        tracing::info!(
            listen = %self.state.config.server.listen,
            port = self.port,
            base_url = %self.state.config.server.base_url.origin(),
            "doorcode is listening"
        );
        let max_connections = server::connection_limit();
        tracing::info!(
            max_connections,
            "connections beyond this many wait for room"
        );
        let metrics = self.metrics.map(|listening| {
            tracing::info!(
                port = listening.port,
                "metrics are served on their own listener"
            );
            let app = crate::app::metrics_app(self.state.clone())
                .map_to_response()
                .boxed();
            tokio::spawn(server::serve(
                listening.listener,
                app,
                16,
                shutdown_tx.subscribe(),
                SHUTDOWN_GRACE,
            ))
        });
        let served = server::serve(
            self.listener,
            self.endpoint,
            max_connections,
            shutdown_tx.subscribe(),
            SHUTDOWN_GRACE,
        );
        tokio::pin!(served);
        tokio::select! {
            () = &mut served => {}
            () = stop => {
                let _ = shutdown_tx.send(true);
                served.await;
            }
        }
        if tokio::time::timeout(WORKER_GRACE, worker).await.is_err() {
            tracing::warn!("the mail worker did not finish in time; its message stays queued");
        }
        pruner.abort();
        if let Some(metrics) = metrics
            && let Err(e) = metrics.await
        {
            tracing::error!(error = %e, "the metrics listener panicked");
        }
        tracing::info!("doorcode stopped");
        Ok(())
    }
}

/// Removes expired rows every minute, so the database stays small under floods.
async fn prune_forever(state: Arc<AppState>, mut shutdown: watch::Receiver<bool>) {
    let mut ticker = tokio::time::interval(PRUNE_EVERY);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = shutdown.changed() => return,
        }
        match state.storage.prune(state.clock.now()).await {
            Ok(pruned) => tracing::debug!(?pruned, "pruned expired rows"),
            Err(e) => tracing::error!(error = %e, "cannot prune expired rows"),
        }
    }
}
