//! Reading an SMTP URL the way lettre's `AsyncSmtpTransport::from_url` reads it,
//! the rule that a password never goes to a relay unencrypted, and the files the
//! relay's TLS is trusted by (`email.tls_ca_file`, `email.tls_client_cert`/`_key`).

use std::fmt;
use std::path::Path;

use lettre::transport::smtp::extension::ClientId;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// What the relay's TLS is trusted by besides the system's store and the
/// built-in roots, read and checked once at start-up.
#[derive(Clone, Default)]
pub struct SmtpTls {
    /// The certificates of `email.tls_ca_file`.
    pub extra_roots: Vec<CertificateDer<'static>>,
    pub client: Option<ClientIdentity>,
}

/// `email.tls_client_cert` and `email.tls_client_key`.
#[derive(Clone)]
pub struct ClientIdentity {
    /// The first certificate of the file (the client's own), DER.
    pub cert_der: Vec<u8>,
    pub key_pem: Vec<u8>,
}

impl fmt::Debug for SmtpTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpTls")
            .field("extra_roots", &self.extra_roots.len())
            .field("client", &self.client.is_some())
            .finish()
    }
}

impl SmtpTls {
    /// Reads the files; each problem is one line naming the key and the file.
    pub fn load(ca_file: &Path, client_cert: &Path, client_key: &Path) -> Result<Self, String> {
        let mut tls = SmtpTls::default();
        if !ca_file.as_os_str().is_empty() {
            let pem = read(ca_file, "email.tls_ca_file")?;
            tls.extra_roots = certificates(&pem, ca_file, "email.tls_ca_file")?;
            let mut store = RootCertStore::empty();
            for cert in &tls.extra_roots {
                store.add(cert.clone()).map_err(|e| {
                    format!(
                        "email.tls_ca_file: a certificate in {} cannot be trusted: {e}",
                        ca_file.display()
                    )
                })?;
            }
        }
        match (
            client_cert.as_os_str().is_empty(),
            client_key.as_os_str().is_empty(),
        ) {
            (true, true) => {}
            (false, false) => {
                let cert_pem = read(client_cert, "email.tls_client_cert")?;
                let chain = certificates(&cert_pem, client_cert, "email.tls_client_cert")?;
                let cert_der = chain[0].to_vec();
                let key_pem = read(client_key, "email.tls_client_key")?;
                PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
                    format!(
                        "email.tls_client_key: {} holds no PEM private key ({e})",
                        client_key.display()
                    )
                })?;
                tls.client = Some(ClientIdentity { cert_der, key_pem });
            }
            (true, false) => {
                return Err("email.tls_client_key is set without email.tls_client_cert".into());
            }
            (false, true) => {
                return Err("email.tls_client_cert is set without email.tls_client_key".into());
            }
        }
        Ok(tls)
    }
}

fn read(path: &Path, key: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{key}: cannot read {}: {e}", path.display()))
}

/// Every certificate of a PEM file; none at all is a mistake.
fn certificates(
    pem: &[u8],
    path: &Path,
    key: &str,
) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{key}: {} is not PEM ({e})", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{key}: {} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
            path.display()
        ));
    }
    Ok(certs)
}

/// What an SMTP URL asks for.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub hello: ClientId,
    pub credentials: Option<(String, String)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Security {
    Plain,
    StartTls {
        required: bool,
    },
    /// `smtps://`: TLS from the first byte.
    Wrapper,
}

impl Target {
    /// Whether a user name and password could travel in clear text: the URL
    /// carries them, the connection is not sure to be encrypted (`smtp://`
    /// without `tls=required`; with `tls=opportunistic` a STARTTLS-stripping
    /// attacker just hides the offer), and the relay is not on this machine.
    pub fn credentials_may_go_in_clear(&self) -> bool {
        let encrypted = matches!(
            self.security,
            Security::Wrapper | Security::StartTls { required: true }
        );
        let local = self.host.eq_ignore_ascii_case("localhost")
            || self
                .host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        self.credentials.is_some() && !encrypted && !local
    }

    /// `host:port`, without the user name and password.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    pub fn parse(url: &str) -> Result<Target, String> {
        let url = url::Url::parse(url).map_err(|e| format!("email.smtp_url is not a URL: {e}"))?;
        let host = url
            .host_str()
            .ok_or("email.smtp_url has no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(key, _)| key == "tls")
            .map(|(_, value)| value.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", _) => (Security::Wrapper, 465),
            (scheme, tls) => {
                return Err(format!(
                    "email.smtp_url: unknown scheme `{scheme}` or tls={}",
                    tls.unwrap_or_default()
                ));
            }
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let credentials = match url.password() {
            Some(password) => Some((percent_decode(url.username())?, percent_decode(password)?)),
            None => None,
        };
        Ok(Target {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            hello,
            credentials,
        })
    }
}

/// Decodes `%XX` escapes in a URL's user name or password, as lettre does; a `%`
/// not followed by two hex digits stays as it is.
fn percent_decode(raw: &str) -> Result<String, String> {
    let bytes = raw.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| raw.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                i += 3;
            }
            None => {
                decoded.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8(decoded)
        .map_err(|_| "email.smtp_url: the user name or password is not UTF-8 once decoded".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_goes_only_over_tls_or_to_this_machine() {
        let cases = [
            ("smtp://u:p@mail.example.com", true),
            ("smtp://u:p@mail.example.com?tls=opportunistic", true),
            ("smtp://u:p@mail.example.com?tls=required", false),
            ("smtps://u:p@mail.example.com", false),
            ("smtp://u:p@127.0.0.1:2525", false),
            ("smtp://u:p@[::1]:2525?tls=opportunistic", false),
            ("smtp://u:p@localhost:25", false),
            ("smtp://mail.example.com", false),
        ];
        for (url, clear) in cases {
            let target = Target::parse(url).ok().unwrap();
            assert_eq!(target.credentials_may_go_in_clear(), clear, "{url}");
        }
    }

    #[test]
    fn urls_are_read_as_lettre_reads_them() {
        let target = Target::parse("smtp://us%40er:p%3Ass%zz@mail.example.com?tls=required")
            .ok()
            .unwrap();
        assert_eq!(
            (target.host.as_str(), target.port),
            ("mail.example.com", 587)
        );
        assert!(target.security == Security::StartTls { required: true });
        assert_eq!(
            target.credentials,
            Some(("us@er".to_owned(), "p:ss%zz".to_owned()))
        );
        let target = Target::parse("smtps://mail.example.com/relay.example")
            .ok()
            .unwrap();
        assert_eq!(target.port, 465);
        assert!(target.security == Security::Wrapper);
        assert_eq!(target.hello, ClientId::Domain("relay.example".into()));
        assert_eq!(
            Target::parse("smtp://127.0.0.1:2525")
                .ok()
                .unwrap()
                .credentials,
            None
        );
    }
}
