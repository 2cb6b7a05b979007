//! Why the relay's certificate was refused, in one line that names the fix: read
//! the certificates the relay shows (over a connection that only looks), check
//! them as sending would, and say what the refusal means for this relay.

use std::sync::Arc;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{STEP_TIMEOUT, timed};
use crate::config::{Security, SmtpTls, Target};
use crate::mail::tls::{root_store, tls_to_inspect};

/// The line for a TLS step that failed with `error`: what is wrong with the
/// relay's certificate and what to do, or `error` itself when the certificate is
/// not the problem (or cannot be read).
pub(super) async fn explain(target: &Target, tls: &SmtpTls, error: String) -> String {
    match shown_chain(target).await {
        Ok(chain) => judge(&chain, &target.host, root_store(tls), UnixTime::now()).unwrap_or(error),
        Err(_) => error,
    }
}

/// The certificates the relay shows, leaf first.
async fn shown_chain(target: &Target) -> Result<Vec<Vec<u8>>, String> {
    let inspect = tls_to_inspect(&target.host)?;
    let server = (target.host.as_str(), target.port);
    let timeout = Some(STEP_TIMEOUT);
    let mut conn = match target.security {
        Security::Wrapper => timed(AsyncSmtpConnection::connect_tokio1(
            server,
            timeout,
            &target.hello,
            Some(inspect),
            None,
        ))
        .await
        .map_err(|e| e.to_string())?,
        Security::StartTls { .. } => {
            let mut conn = timed(AsyncSmtpConnection::connect_tokio1(
                server,
                timeout,
                &target.hello,
                None,
                None,
            ))
            .await
            .map_err(|e| e.to_string())?;
            timed(conn.starttls(inspect, &target.hello))
                .await
                .map_err(|e| e.to_string())?;
            conn
        }
        Security::Plain => return Err("no TLS".into()),
    };
    let chain = conn.certificate_chain().map_err(|e| e.to_string());
    let _ = timed(conn.quit()).await;
    chain
}

/// Checks `chain` for `host` against `roots` at `now`, as sending does; `None`
/// when it passes.
pub(super) fn judge(
    chain: &[Vec<u8>],
    host: &str,
    roots: RootCertStore,
    now: UnixTime,
) -> Option<String> {
    let (leaf, intermediates) = chain.split_first()?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .ok()?;
    let name = ServerName::try_from(host.to_owned()).ok()?;
    let intermediates: Vec<CertificateDer> = intermediates
        .iter()
        .map(|der| CertificateDer::from(der.as_slice()))
        .collect();
    let refused = verifier
        .verify_server_cert(
            &CertificateDer::from(leaf.as_slice()),
            &intermediates,
            &name,
            &[],
            now,
        )
        .err()?;
    let (_, cert) = X509Certificate::from_der(leaf).ok()?;
    Some(match refused {
        rustls::Error::InvalidCertificate(problem) => describe(&problem, &cert, host),
        other => format!("the relay's certificate is refused: {other}"),
    })
}

fn describe(problem: &CertificateError, cert: &X509Certificate, host: &str) -> String {
    let validity = cert.validity();
    let date = |at: &x509_parser::time::ASN1Time| {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        at.to_datetime()
            .format(format)
            .unwrap_or_else(|_| at.to_string())
    };
    match problem {
        CertificateError::UnknownIssuer => format!(
            "the relay's certificate is signed by `{}`, which is not trusted: add that CA's \
             certificate with email.tls_ca_file (or to the system's store)",
            cert.issuer()
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => format!(
            "the relay's certificate expired on {}: the relay needs a new one",
            date(&validity.not_after)
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => format!(
            "the relay's certificate is valid only from {}: check this machine's clock",
            date(&validity.not_before)
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            format!(
                "the relay's certificate is for {}, not {host}: use one of those names in \
                 email.smtp_url",
                names(cert)
            )
        }
        other => format!("the relay's certificate is refused: {other:?}"),
    }
}

/// The names a certificate is for: its DNS names and addresses, else its CN.
fn names(cert: &X509Certificate) -> String {
    let mut names: Vec<String> = Vec::new();
    if let Ok(Some(alternatives)) = cert.subject_alternative_name() {
        for name in &alternatives.value.general_names {
            match name {
                GeneralName::DNSName(dns) => names.push((*dns).to_owned()),
                GeneralName::IPAddress(bytes) => names.push(match bytes.len() {
                    4 => std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).unwrap_or_default())
                        .to_string(),
                    16 => {
                        std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).unwrap_or_default())
                            .to_string()
                    }
                    _ => continue,
                }),
                _ => {}
            }
        }
    }
    if names.is_empty() {
        names.extend(
            cert.subject()
                .iter_common_name()
                .filter_map(|cn| cn.as_str().ok().map(str::to_owned)),
        );
    }
    match names.is_empty() {
        true => "no name at all".into(),
        false => names.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd,
    };

    struct Ca {
        cert: rcgen::Certificate,
        issuer: Issuer<'static, KeyPair>,
    }

    fn ca(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Ca {
            cert,
            issuer: Issuer::new(params, key),
        }
    }

    fn leaf(ca: &Ca, names: &[&str], until: (i32, u8, u8)) -> Vec<u8> {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        let key = KeyPair::generate().unwrap();
        params.signed_by(&key, &ca.issuer).unwrap().der().to_vec()
    }

    fn roots(ca: &Ca) -> RootCertStore {
        let mut store = RootCertStore::empty();
        store.add(ca.cert.der().clone()).unwrap();
        store
    }

    const NOW: u64 = 1_800_000_000; // 2027-01-15

    fn now() -> UnixTime {
        UnixTime::since_unix_epoch(std::time::Duration::from_secs(NOW))
    }

    #[test]
    fn each_refusal_names_its_cause_and_its_fix() {
        let trusted = ca("Example Mail CA");
        let good = leaf(&trusted, &["mail.example.com"], (2030, 1, 1));
        assert_eq!(
            judge(
                std::slice::from_ref(&good),
                "mail.example.com",
                roots(&trusted),
                now()
            ),
            None
        );

        let stranger = ca("Private Relay CA");
        let line = judge(
            &[leaf(&stranger, &["mail.example.com"], (2030, 1, 1))],
            "mail.example.com",
            roots(&trusted),
            now(),
        )
        .unwrap();
        assert_eq!(
            line,
            "the relay's certificate is signed by `CN=Private Relay CA`, which is not trusted: \
             add that CA's certificate with email.tls_ca_file (or to the system's store)"
        );

        let expired = leaf(&trusted, &["mail.example.com"], (2026, 3, 1));
        let line = judge(&[expired], "mail.example.com", roots(&trusted), now()).unwrap();
        assert_eq!(
            line,
            "the relay's certificate expired on 2026-03-01 00:00 UTC: the relay needs a new one"
        );

        let line = judge(&[good], "localhost", roots(&trusted), now()).unwrap();
        assert_eq!(
            line,
            "the relay's certificate is for mail.example.com, not localhost: use one of those \
             names in email.smtp_url"
        );
    }
}
