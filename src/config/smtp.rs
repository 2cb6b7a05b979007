//! Reading an SMTP URL the way lettre's `AsyncSmtpTransport::from_url` reads it,
//! and the rule that a password never goes to a relay unencrypted.

use lettre::transport::smtp::extension::ClientId;

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
