//! `doorcode migrate-to-postgres`: moving from one SQLite file to PostgreSQL
//! without signing anyone out.

use std::path::PathBuf;

use anyhow::anyhow;

use super::CliError;
use crate::clock::Clock;
use crate::config::Config;
use crate::domain::ServerSecret;
use crate::storage::Storage;

pub(super) async fn run(
    config: &Config,
    from: Option<PathBuf>,
    to: Option<String>,
) -> Result<(), CliError> {
    let from = from.unwrap_or_else(|| config.database.path.clone());
    let to = match to {
        Some(url) => url,
        None if !config.database.url.is_empty() => config.database.url.expose().to_owned(),
        None => {
            return Err(CliError::Usage(
                "say where to copy to: --to postgres://user:pass@host/db (or set database.url)"
                    .into(),
            ));
        }
    };
    if !(to.starts_with("postgres://") || to.starts_with("postgresql://")) {
        return Err(CliError::Usage(format!(
            "--to must be a postgres:// URL, not {}",
            to.split(':').next().unwrap_or_default()
        )));
    }
    if !from.is_file() {
        return Err(CliError::Failed(anyhow!(
            "no SQLite database at {} (--from)",
            from.display()
        )));
    }
    let report = Storage::copy_sqlite_to_postgres(&from, &to, Clock::default().now()).await?;
    for (table, read, added) in &report.tables {
        println!(
            "{table}: {read} read, {added} copied, {} already there",
            *read as u64 - added
        );
    }
    secret_advice(config, &from);
    Ok(())
}

/// Codes in flight and queued mail were sealed with the SQLite instance's secret;
/// the PostgreSQL instances need the same one.
fn secret_advice(config: &Config, from: &std::path::Path) {
    let file = from.with_file_name("secret.key");
    let Ok(Some(old)) = file
        .exists()
        .then(|| ServerSecret::load_or_create(&file))
        .transpose()
    else {
        return;
    };
    let same = ServerSecret::decode(config.security.secret_key.expose())
        .is_ok_and(|configured| configured.bytes() == old.bytes());
    if !same {
        println!(
            "note: set security.secret_key on every PostgreSQL instance to the contents of {} \
             so that sign-ins in progress and queued mail keep working",
            file.display()
        );
    }
}
