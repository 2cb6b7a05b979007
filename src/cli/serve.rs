//! `doorcode serve`: run the service until SIGINT or SIGTERM.

use super::CliError;
use crate::clock::Clock;
use crate::config::Config;
use crate::startup::Application;

pub(super) async fn serve(config: Config) -> Result<(), CliError> {
    let served = async {
        let app = Application::build(config, Clock::default()).await?;
        app.run_until_stopped(stop_signal()).await
    };
    served.await.map_err(|e| {
        tracing::error!("{e:#}");
        CliError::Failed(e)
    })
}

/// SIGINT (Ctrl-C) or SIGTERM.
async fn stop_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received; stopping"),
        () = terminate => tracing::info!("SIGTERM received; stopping"),
    }
}
