//! How doorcode talks TLS to the SMTP relay: which certificates it trusts (the
//! built-in Mozilla roots, the operating system's store, and `email.tls_ca_file`),
//! the client certificate it shows when one is configured, and the transport
//! built from `email.smtp_url` with them. Verification is never switched off.

use std::sync::OnceLock;

use lettre::Tokio1Executor;
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, Identity, Tls, TlsParameters,
};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;

use crate::config::{Security, SmtpTarget, SmtpTls, Target};

/// The operating system's trusted certificates (`/etc/ssl/certs` on Debian, or
/// `SSL_CERT_FILE` / `SSL_CERT_DIR`), read once; those rustls cannot use as a
/// root are left out rather than failing every connection.
fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        let found = rustls_native_certs::load_native_certs();
        for error in &found.errors {
            tracing::debug!(%error, "a system certificate store could not be read");
        }
        found
            .certs
            .into_iter()
            .filter(|cert| RootCertStore::empty().add(cert.clone()).is_ok())
            .collect()
    })
}

/// Every root doorcode trusts for the relay, as rustls holds them.
pub fn root_store(tls: &SmtpTls) -> RootCertStore {
    let mut store = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let (_added, _unusable) =
        store.add_parsable_certificates(system_roots().iter().chain(&tls.extra_roots).cloned());
    store
}

/// TLS to `host`: its certificate must chain to a root of [`root_store`] and
/// name `host`.
pub fn tls_parameters(host: &str, tls: &SmtpTls) -> Result<TlsParameters, String> {
    let mut builder =
        TlsParameters::builder(host.to_owned()).certificate_store(CertificateStore::WebpkiRoots);
    for cert in system_roots().iter().chain(&tls.extra_roots) {
        let cert = Certificate::from_der(cert.to_vec())
            .map_err(|e| format!("cannot use a trusted certificate: {e}"))?;
        builder = builder.add_root_certificate(cert);
    }
    if let Some(client) = &tls.client {
        // With rustls, lettre 0.11 takes this first argument as the certificate's
        // DER as it is (it does not decode PEM there), so it gets the DER.
        let identity = Identity::from_pem(&client.cert_der, &client.key_pem)
            .map_err(|e| format!("email.tls_client_cert / tls_client_key cannot be used: {e}"))?;
        builder = builder.identify_with(identity);
    }
    builder
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS for {host}: {e}"))
}

/// TLS to `host` that accepts any certificate, only to read the one the relay
/// shows when the real check refused it (`doorcode check` explains why). Nothing
/// is ever sent over it.
pub(super) fn tls_to_inspect(host: &str) -> Result<TlsParameters, String> {
    TlsParameters::builder(host.to_owned())
        .dangerous_accept_invalid_certs(true)
        .dangerous_accept_invalid_hostnames(true)
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS for {host}: {e}"))
}

/// The pooled transport `email.smtp_url` describes, with doorcode's TLS trust.
pub fn transport(
    smtp: &SmtpTarget,
) -> anyhow::Result<lettre::transport::smtp::AsyncSmtpTransportBuilder> {
    let target = Target::parse(smtp.url()).map_err(anyhow::Error::msg)?;
    let parameters = || tls_parameters(&target.host, &smtp.tls).map_err(anyhow::Error::msg);
    let security = match target.security {
        Security::Plain => Tls::None,
        Security::StartTls { required: true } => Tls::Required(parameters()?),
        Security::StartTls { required: false } => Tls::Opportunistic(parameters()?),
        Security::Wrapper => Tls::Wrapper(parameters()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&target.host)
        .port(target.port)
        .hello_name(target.hello.clone())
        .tls(security);
    if let Some((user, password)) = target.credentials {
        builder = builder.credentials(Credentials::new(user, password));
    }
    Ok(builder)
}
