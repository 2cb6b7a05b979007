//! Passkey sign-ins to measure: for people `1..=count`, one passkey each (made by a
//! software authenticator and registered through webauthn-rs as doorcode does),
//! one sign-in ceremony each stored as doorcode stores it, and the authenticator's
//! signed answer to it, written to `out` one JSON request body a line. One
//! assertion per passkey, so answers arriving in any order never look like a
//! counter going backwards.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use r2d2_sqlite::rusqlite::{Connection, params};
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_rs::prelude::{Url, Uuid, WebauthnBuilder};
use webauthn_rs_proto::AllowCredentials;

pub fn seed(
    db: &Path,
    origin: &str,
    count: u64,
    now: i64,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let origin: Url = origin.parse()?;
    let rp_id = origin
        .host_str()
        .context("the origin has no host")?
        .to_owned();
    let webauthn = WebauthnBuilder::new(&rp_id, &origin)?.build()?;
    let mut conn = Connection::open(db)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    let tx = conn.transaction()?;
    {
        let mut passkey_row = tx.prepare(
            "INSERT INTO user_passkeys (user_id, credential_id, user_handle, credential, \
             sign_count, name, created_at) VALUES (?1, ?2, ?3, ?4, 0, 'bench', ?5)",
        )?;
        let mut ceremony_row = tx.prepare(
            "INSERT INTO passkey_ceremonies (id_hash, kind, state, expires_at) \
             VALUES (?1, 'sign_in', ?2, ?3)",
        )?;
        for user_id in 1..=i64::try_from(count)? {
            let handle = Uuid::new_v4();
            let mut key = SoftPasskey::new(true);
            let (options, state) =
                webauthn.start_passkey_registration(handle, "bench", "bench", None)?;
            let made = key
                .do_registration(origin.clone(), options)
                .map_err(|e| anyhow::anyhow!("the software authenticator: {e:?}"))?;
            let passkey = webauthn.finish_passkey_registration(&made, &state)?;
            passkey_row.execute(params![
                user_id,
                URL_SAFE_NO_PAD.encode(passkey.cred_id()),
                handle.to_string(),
                serde_json::to_string(&passkey)?,
                now
            ])?;

            let (mut options, state) = webauthn.start_discoverable_authentication()?;
            // A discoverable credential offers itself; the software one is asked by id.
            options.public_key.allow_credentials = vec![AllowCredentials {
                type_: "public-key".into(),
                id: passkey.cred_id().to_vec(),
                transports: None,
            }];
            let mut answer = key
                .do_authentication(origin.clone(), options)
                .map_err(|e| anyhow::anyhow!("the software authenticator: {e:?}"))?;
            answer.response.user_handle = Some(handle.as_bytes().to_vec());
            let ceremony = doorcode::domain::SessionToken::generate();
            ceremony_row.execute(params![
                ceremony.hash().as_str(),
                serde_json::to_string(&state)?,
                now + 3600
            ])?;
            let body = serde_json::json!({"ceremony_id": ceremony.expose(), "credential": answer});
            writeln!(out, "{body}")?;
        }
    }
    tx.commit()?;
    out.flush()?;
    Ok(())
}
