//! A real Postfix from Debian, started by a test on two loopback ports — one
//! offering STARTTLS, one speaking TLS from the first byte (`smtpd_tls_wrappermode`)
//! — with a certificate from a private CA the test makes, delivering every
//! message to a Maildir the test reads. Its configuration, queue and mail live in
//! a temporary folder, and it is stopped when dropped. It needs root (Postfix's
//! master runs as root) and the `postfix` package.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

pub const NEEDS_POSTFIX: &str = "needs Postfix (apt-get install postfix) and root";

/// A certificate authority of the test's own, like a company's private CA.
pub struct TestCa {
    pub pem: String,
    issuer: Issuer<'static, KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let key = KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Self {
            pem,
            issuer: Issuer::new(params, key),
        }
    }

    /// A server certificate for `names`, valid until `until` (year, month, day):
    /// its PEM and its key's PEM.
    pub fn server(&self, names: &[&str], until: (i32, u8, u8)) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(until.0, until.1, until.2);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// A client certificate for `name`: its PEM and its key's PEM.
    pub fn client(&self, name: &str) -> (String, String) {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (cert.pem(), key.serialize_pem())
    }

    /// Writes the CA's certificate to `dir/name`, as an operator would.
    pub fn write(&self, dir: &Path, name: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

pub struct Postfix {
    dir: tempfile::TempDir,
    /// Plain SMTP offering STARTTLS.
    pub starttls_port: u16,
    /// TLS from the first byte.
    pub tls_port: u16,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn postfix(conf: &Path, action: &str) -> std::process::Output {
    Command::new("postfix")
        .arg("-c")
        .arg(conf)
        .arg(action)
        .output()
        .unwrap_or_else(|e| panic!("run `postfix {action}` ({NEEDS_POSTFIX}): {e}"))
}

impl Postfix {
    /// Starts Postfix with `cert` and `key` (PEM); returns once both ports listen.
    pub fn start(cert: &str, key: &str) -> Postfix {
        Self::start_with(cert, key, None)
    }

    /// The same, and the implicit-TLS port lets in only clients whose certificate
    /// `client_ca` (PEM) signed.
    pub fn start_with(cert: &str, key: &str, client_ca: Option<&str>) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for sub in ["conf", "queue", "mail", "tls"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        // `virtual` delivers as nobody, and Postfix reads its queue's parent as root.
        let chown = Command::new("chown")
            .arg("nobody:nogroup")
            .arg(d.join("mail"))
            .status()
            .unwrap();
        assert!(chown.success());
        std::fs::write(d.join("tls/server.pem"), cert).unwrap();
        std::fs::write(d.join("tls/server.key"), key).unwrap();
        std::fs::write(d.join("tls/clients.pem"), client_ca.unwrap_or_default()).unwrap();
        let (clients, client_ca_file) = match client_ca {
            Some(_) => (
                "  -o smtpd_tls_ask_ccert=yes\n  -o smtpd_tls_req_ccert=yes\n",
                format!("smtpd_tls_CAfile = {}/tls/clients.pem\n", d.display()),
            ),
            None => ("", String::new()),
        };
        let (starttls_port, tls_port) = (free_port(), free_port());
        let d = d.display();
        std::fs::write(
            dir.path().join("conf/main.cf"),
            format!(
                "compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
myhostname = mail.test.invalid
mydomain = test.invalid
myorigin = $myhostname
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
biff = no
virtual_mailbox_domains = static:all
virtual_mailbox_base = {d}/mail
virtual_mailbox_maps = static:Maildir/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
smtpd_tls_cert_file = {d}/tls/server.pem
smtpd_tls_key_file = {d}/tls/server.key
smtpd_tls_security_level = may
{client_ca_file}"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("conf/master.cf"),
            format!(
                "127.0.0.1:{starttls_port} inet n - n - - smtpd
127.0.0.1:{tls_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
{clients}pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"
            ),
        )
        .unwrap();
        let started = postfix(&dir.path().join("conf"), "start");
        if !started.status.success() {
            let log = std::fs::read_to_string(dir.path().join("maillog")).unwrap_or_default();
            panic!(
                "Postfix did not start: {}{}\n{log}",
                String::from_utf8_lossy(&started.stdout),
                String::from_utf8_lossy(&started.stderr)
            );
        }
        Postfix {
            dir,
            starttls_port,
            tls_port,
        }
    }

    /// The first message delivered to `to`, raw, once it is in the mailbox.
    pub async fn wait_for_mail_to(&self, to: &str) -> Vec<u8> {
        let new = self.dir.path().join("mail/Maildir/new");
        let header = format!("X-Original-To: {to}");
        for _ in 0..200 {
            for entry in std::fs::read_dir(&new).into_iter().flatten().flatten() {
                let raw = std::fs::read(entry.path()).unwrap_or_default();
                if String::from_utf8_lossy(&raw)
                    .lines()
                    .any(|line| line.eq_ignore_ascii_case(&header))
                {
                    return raw;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default();
        panic!("no mail to {to} reached the mailbox in 20 s; Postfix's log:\n{log}");
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        postfix(&self.dir.path().join("conf"), "stop");
    }
}
