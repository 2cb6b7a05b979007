//! `TestSmtp`: a real, plain-text SMTP server on 127.0.0.1 for integration tests. It speaks
//! enough ESMTP for lettre's pooled `AsyncSmtpTransport`, stores accepted messages parsed
//! with mail-parser, and can fail like a real relay (4xx, 5xx, dropped socket, port closed).

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use mail_parser::{MessageParser, MimeHeaders, PartType};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{Notify, mpsc, watch};

// No STARTTLS and no PIPELINING on purpose: lettre then waits for each reply in turn.
const EHLO: &str =
    "250-localhost\r\n250-8BITMIME\r\n250-SIZE 10485760\r\n250-AUTH PLAIN LOGIN\r\n250 SMTPUTF8";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SmtpMode {
    #[default]
    Accept,
    /// `451 4.3.0` to MAIL FROM (lettre: `is_transient()`).
    TempFail,
    /// `550 5.7.1` to RCPT TO (lettre: `is_permanent()`).
    PermFail,
    /// Send the `220` greeting, then close the socket.
    DropAfterGreeting,
}

#[derive(Clone, Debug, Default)]
pub struct ReceivedMail {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// Username given with AUTH PLAIN/LOGIN on the connection, if any.
    pub auth_user: Option<String>,
    /// The message as sent after DATA, dot-stuffing undone.
    pub raw: Vec<u8>,
    pub subject: String,
    /// First text/plain body, transfer-decoded ("" if none); `html` likewise for text/html.
    pub text: String,
    pub html: String,
    /// Top-level `type/subtype`, lower case, no parameters (e.g. `multipart/alternative`).
    pub content_type: String,
    /// Top-level headers in order: names as sent, values unfolded and trimmed (still
    /// RFC 2047-encoded where the sender encoded them; `subject` is decoded).
    pub headers: Vec<(String, String)>,
}

impl ReceivedMail {
    /// The first token of the subject made of exactly 6 ASCII digits (tokens are split on
    /// anything but ASCII letters and digits, so "Your code: 123456." works).
    pub fn code(&self) -> String {
        let mut tokens = self.subject.split(|c: char| !c.is_ascii_alphanumeric());
        match tokens.find(|t| t.len() == 6 && t.bytes().all(|b| b.is_ascii_digit())) {
            Some(code) => code.to_owned(),
            None => panic!(
                "no 6-digit code in subject {:?} (to {:?})",
                self.subject, self.rcpt_to
            ),
        }
    }

    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        let mut headers = self.headers.iter();
        headers
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

/// Cheap to clone; all clones share one server.
#[derive(Clone)]
pub struct TestSmtp {
    inner: Arc<Inner>,
}

struct Inner {
    port: u16,
    shared: Arc<Shared>,
    running: Mutex<Option<Running>>,
}

#[derive(Default)]
struct Shared {
    mode: Mutex<SmtpMode>,
    mail: Mutex<Vec<(ReceivedMail, bool)>>, // (message, already taken by wait_for_mail_to)
    stored: Notify,
    queued: AtomicUsize,
    connections: AtomicUsize,
}

/// One listening period. Dropping `shutdown` ends the accept task and all connection tasks;
/// each holds a clone of the `done` sender, so `done.recv()` yields `None` once the listener
/// and every client socket are closed.
struct Running {
    shutdown: watch::Sender<()>,
    done: mpsc::Receiver<()>,
}

impl TestSmtp {
    pub async fn start() -> TestSmtp {
        let (listener, port) = bind_reserved_port();
        let shared = Arc::new(Shared::default());
        let running = Mutex::new(Some(serve(listener, shared.clone())));
        let inner = Arc::new(Inner {
            port,
            shared,
            running,
        });
        TestSmtp { inner }
    }

    pub fn port(&self) -> u16 {
        self.inner.port
    }

    /// Plain SMTP: lettre's `from_url` uses no TLS for `smtp://` without `?tls=`.
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.inner.port)
    }

    /// Closes the listener and every open connection before returning.
    pub async fn stop(&self) {
        let running = self.inner.running.lock().unwrap().take();
        if let Some(Running { shutdown, mut done }) = running {
            drop(shutdown);
            while done.recv().await.is_some() {}
        }
    }

    /// Listens again on the same port (no-op if running); retries the bind for up to 5 s.
    pub async fn restart(&self) {
        if self.inner.running.lock().unwrap().is_some() {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let listener = loop {
            match bind(self.inner.port) {
                Ok(listener) => break listener,
                Err(_) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("TestSmtp: cannot rebind port {}: {e}", self.inner.port),
            }
        };
        let running = serve(listener, self.inner.shared.clone());
        *self.inner.running.lock().unwrap() = Some(running);
    }

    pub fn set_mode(&self, mode: SmtpMode) {
        *self.inner.shared.mode.lock().unwrap() = mode;
    }

    /// TCP connections accepted so far (to check connection reuse).
    pub fn connection_count(&self) -> usize {
        self.inner.shared.connections.load(SeqCst)
    }

    /// The next message not yet returned by this method whose RCPT TO includes `addr`
    /// (case-insensitive). Panics after 20 s, listing everything received.
    pub async fn wait_for_mail_to(&self, addr: &str) -> ReceivedMail {
        let wait = async {
            loop {
                // Register before looking: notify_waiters() only wakes existing waiters.
                let notified = self.inner.shared.stored.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let found = self
                    .mail()
                    .iter_mut()
                    .find(|(m, taken)| !taken && is_to(m, addr))
                    .map(|(m, taken)| {
                        *taken = true;
                        m.clone()
                    });
                if let Some(mail) = found {
                    return mail;
                }
                notified.await;
            }
        };
        match tokio::time::timeout(Duration::from_secs(20), wait).await {
            Ok(mail) => mail,
            Err(_) => {
                let mail = self.mail();
                let seen: Vec<_> = mail
                    .iter()
                    .map(|(m, t)| (&m.rcpt_to, &m.subject, t))
                    .collect();
                panic!(
                    "TestSmtp: no new mail to {addr} in 20 s; got (to, subject, taken): {seen:?}"
                )
            }
        }
    }

    pub fn all_mail(&self) -> Vec<ReceivedMail> {
        self.mail().iter().map(|(m, _)| m.clone()).collect()
    }

    pub fn count_to(&self, addr: &str) -> usize {
        self.mail().iter().filter(|(m, _)| is_to(m, addr)).count()
    }

    fn mail(&self) -> MutexGuard<'_, Vec<(ReceivedMail, bool)>> {
        self.inner.shared.mail.lock().unwrap()
    }
}

fn is_to(mail: &ReceivedMail, addr: &str) -> bool {
    mail.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(addr))
}

/// Ports handed to test SMTP servers in this process, never handed out twice.
static RESERVED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// Binds a port below Linux's ephemeral range (32768–60999). While a server is
/// stopped its port is free; were it in the ephemeral range, another test's
/// outgoing connection or port-0 listener could take it before `restart()`.
fn bind_reserved_port() -> (TcpListener, u16) {
    use rand::Rng;
    for _ in 0..1000 {
        let port = rand::rng().random_range(20_000..32_000);
        let mut reserved = RESERVED.lock().unwrap();
        if reserved.contains(&port) {
            continue;
        }
        if let Ok(listener) = bind(port) {
            reserved.push(port);
            return (listener, port);
        }
    }
    panic!("TestSmtp: no free port between 20000 and 32000");
}

fn bind(port: u16) -> io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?; // restart() may rebind while old sockets are in TIME_WAIT
    socket.bind(SocketAddr::from(([127, 0, 0, 1], port)))?;
    socket.listen(128)
}

fn serve(listener: TcpListener, shared: Arc<Shared>) -> Running {
    let (shutdown, shutdown_rx) = watch::channel(());
    let (done_tx, done) = mpsc::channel(1);
    tokio::spawn(async move {
        let (listener, done_tx, mut stop) = (listener, done_tx, shutdown_rx.clone());
        loop {
            let stream = tokio::select! {
                _ = stop.changed() => break, // Err as soon as the sender is dropped
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            shared.connections.fetch_add(1, SeqCst);
            let (shared, mut stop, done) = (shared.clone(), shutdown_rx.clone(), done_tx.clone());
            tokio::spawn(async move {
                let _done = done; // dropped after the session future and its socket
                tokio::select! {
                    _ = stop.changed() => {}
                    _ = session(stream, &shared) => {}
                }
            });
        }
    });
    Running { shutdown, done }
}

/// One line including its terminator; `None` at EOF.
async fn read_line(r: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    Ok((r.read_until(b'\n', &mut line).await? > 0).then_some(line))
}

/// Sends `334 {prompt}` and returns the client's answer, base64-decoded.
async fn challenge(
    r: &mut (impl AsyncBufRead + Unpin),
    w: &mut (impl AsyncWrite + Unpin),
    prompt: &str,
) -> io::Result<String> {
    w.write_all(format!("334 {prompt}\r\n").as_bytes()).await?;
    let line = read_line(r).await?.ok_or(io::ErrorKind::UnexpectedEof)?;
    Ok(b64(String::from_utf8_lossy(&line).trim()))
}

fn b64(s: &str) -> String {
    String::from_utf8_lossy(&B64.decode(s).unwrap_or_default()).into_owned()
}

/// `FROM:<a@b> SIZE=1` → `a@b` (brackets optional; `<>` gives "").
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg
        .get(keyword.len()..)
        .filter(|_| arg[..keyword.len()].eq_ignore_ascii_case(keyword))?;
    match rest.trim_start().strip_prefix('<') {
        Some(inner) => inner.split_once('>').map(|(addr, _)| addr.to_owned()),
        None => rest.split_whitespace().next().map(str::to_owned),
    }
}

async fn session(mut stream: TcpStream, shared: &Shared) -> io::Result<()> {
    let (r, mut w) = stream.split();
    let mut r = BufReader::new(r);
    w.write_all(b"220 localhost ESMTP doorcode TestSmtp\r\n")
        .await?;
    if *shared.mode.lock().unwrap() == SmtpMode::DropAfterGreeting {
        return Ok(());
    }
    let (mut from, mut to, mut auth_user) = (None::<String>, Vec::<String>::new(), None);
    while let Some(line) = read_line(&mut r).await? {
        let line = String::from_utf8_lossy(&line).trim_end().to_owned();
        let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
        let verb = verb.to_ascii_uppercase();
        let mode = *shared.mode.lock().unwrap();
        if matches!(verb.as_str(), "EHLO" | "HELO" | "RSET") {
            (from, to) = (None, Vec::new()); // each of these aborts a transaction
        }
        let reply = match verb.as_str() {
            "EHLO" => EHLO.to_owned(),
            "HELO" => "250 localhost".into(),
            "RSET" | "NOOP" => "250 2.0.0 Ok".into(),
            "QUIT" => {
                w.write_all(b"221 2.0.0 Bye\r\n").await?;
                return Ok(());
            }
            // Any credentials are accepted; only the username is kept. The first answer may
            // come with the command ("initial response") or after an empty 334 challenge.
            "AUTH" => {
                let (mech, initial) = arg.split_once(' ').unwrap_or((arg, ""));
                let mech = mech.to_ascii_uppercase();
                let first = match (initial, mech.as_str()) {
                    (_, m) if m != "PLAIN" && m != "LOGIN" => None,
                    ("", "PLAIN") => Some(challenge(&mut r, &mut w, "").await?),
                    ("", _) => Some(challenge(&mut r, &mut w, "VXNlcm5hbWU6").await?), // Username:
                    (initial, _) => Some(b64(initial)),
                };
                match first {
                    None => "504 5.5.4 Unrecognized authentication type".into(),
                    Some(plain) if mech == "PLAIN" => {
                        // PLAIN is "authzid\0authcid\0password".
                        auth_user = plain.split('\0').nth(1).map(str::to_owned);
                        "235 2.7.0 Authentication successful".into()
                    }
                    Some(user) => {
                        challenge(&mut r, &mut w, "UGFzc3dvcmQ6").await?; // Password:
                        auth_user = Some(user);
                        "235 2.7.0 Authentication successful".into()
                    }
                }
            }
            "MAIL" if mode == SmtpMode::TempFail => "451 4.3.0 Try again later (TempFail)".into(),
            "MAIL" => match path_arg(arg, "FROM:") {
                None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
                Some(addr) => {
                    (from, to) = (Some(addr), Vec::new());
                    "250 2.1.0 Ok".into()
                }
            },
            "RCPT" if from.is_none() => "503 5.5.1 Need MAIL first".into(),
            // As Postfix words it, naming the recipient.
            "RCPT" if mode == SmtpMode::PermFail => format!(
                "550 5.1.1 <{}>: Recipient address rejected (PermFail)",
                path_arg(arg, "TO:").unwrap_or_default()
            ),
            "RCPT" => match path_arg(arg, "TO:") {
                None => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
                Some(addr) => {
                    to.push(addr);
                    "250 2.1.5 Ok".into()
                }
            },
            "DATA" if to.is_empty() => "503 5.5.1 Need RCPT first".into(),
            "DATA" => {
                w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                    .await?;
                let mut raw = Vec::new();
                loop {
                    let line = read_line(&mut r)
                        .await?
                        .ok_or(io::ErrorKind::UnexpectedEof)?;
                    if line == b".\r\n" || line == b".\n" {
                        break;
                    }
                    // Undo dot-stuffing (RFC 5321 4.5.2): the client doubled a leading '.'.
                    raw.extend_from_slice(line.strip_prefix(b".").unwrap_or(&line));
                }
                let (from, to) = (from.take().unwrap_or_default(), std::mem::take(&mut to));
                // Only Accept stores, judged now (the mode may have changed since MAIL),
                // and 250 goes out only once the message is stored.
                match *shared.mode.lock().unwrap() {
                    SmtpMode::Accept => {
                        let mail = parse(from, to, auth_user.clone(), raw);
                        shared.mail.lock().unwrap().push((mail, false));
                        shared.stored.notify_waiters();
                        let id = shared.queued.fetch_add(1, SeqCst) + 1;
                        format!("250 2.0.0 Ok: queued as TEST{id:06}")
                    }
                    SmtpMode::PermFail => "554 5.7.1 Message rejected (PermFail)".into(),
                    _ => "451 4.3.0 Try again later".into(),
                }
            }
            _ => "502 5.5.2 Command not recognized".into(),
        };
        w.write_all(format!("{reply}\r\n").as_bytes()).await?;
    }
    Ok(())
}

fn parse(
    mail_from: String,
    rcpt_to: Vec<String>,
    auth_user: Option<String>,
    raw: Vec<u8>,
) -> ReceivedMail {
    let mut mail = ReceivedMail {
        mail_from,
        rcpt_to,
        auth_user,
        ..Default::default()
    };
    mail.content_type = "text/plain".into(); // RFC 2045 default when there is no header
    if let Some(msg) = MessageParser::default().parse(&raw) {
        mail.subject = msg.subject().unwrap_or_default().to_owned();
        // text_bodies()/html_bodies() can list a part of the other kind (body_text() would
        // convert it); take only genuine text/plain and text/html parts.
        let text = msg.text_bodies().find_map(|p| match &p.body {
            PartType::Text(t) => Some(t.to_string()),
            _ => None,
        });
        let html = msg.html_bodies().find_map(|p| match &p.body {
            PartType::Html(h) => Some(h.to_string()),
            _ => None,
        });
        (mail.text, mail.html) = (text.unwrap_or_default(), html.unwrap_or_default());
        if let Some(ct) = msg.content_type() {
            let sub = ct.subtype().map(|s| format!("/{s}")).unwrap_or_default();
            mail.content_type = format!("{}{sub}", ct.ctype()).to_ascii_lowercase();
        }
        let unfold = |v: &str| v.replace("\r\n", "").replace('\n', "").trim().to_owned();
        mail.headers = msg
            .headers_raw()
            .map(|(n, v)| (n.to_owned(), unfold(v)))
            .collect();
    }
    mail.raw = raw;
    mail
}

#[cfg(test)]
mod tests {
    use super::*;
    use lettre::message::{Message, MultiPart};
    use lettre::transport::smtp::authentication::{Credentials, Mechanism};
    use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

    type Transport = AsyncSmtpTransport<Tokio1Executor>;

    fn transport(smtp: &TestSmtp) -> Transport {
        Transport::builder_dangerous("127.0.0.1")
            .port(smtp.port())
            .build()
    }

    fn mail(to: &str, subject: &str) -> lettre::message::MessageBuilder {
        let from = "Doorcode <noreply@doorcode.test>".parse().unwrap();
        Message::builder()
            .from(from)
            .to(to.parse().unwrap())
            .subject(subject)
    }

    fn plain(to: &str, body: &str) -> Message {
        mail(to, "Plain").body(body.to_owned()).unwrap()
    }

    #[tokio::test]
    async fn multipart_messages_sent_over_one_pooled_transport_arrive_decoded() {
        let smtp = TestSmtp::start().await;
        let mailer = transport(&smtp);
        let (text, html) = ("Grüße! Your code is 123456.\nBye.", "<p>Grüße 123456</p>");
        let body = MultiPart::alternative_plain_html(text.to_owned(), html.to_owned());
        mailer
            .send(
                mail("Alice@Example.com", "Code 123456 für Sie")
                    .multipart(body)
                    .unwrap(),
            )
            .await
            .unwrap();
        let body =
            MultiPart::alternative_plain_html(String::from("hi bob"), String::from("<b>hi</b>"));
        mailer
            .send(
                mail("bob@example.com", "Your code: 654321.")
                    .multipart(body)
                    .unwrap(),
            )
            .await
            .unwrap();
        // lettre recycles a connection in a spawned task, so the 2nd send may open a new
        // one; by the 3rd the 1st has surely been parked (the 2nd send awaited real I/O).
        mailer
            .send(plain("carol@example.com", "third"))
            .await
            .unwrap();
        assert_eq!(
            smtp.connection_count(),
            2,
            "the pooled connection is reused"
        );

        let alice = smtp.wait_for_mail_to("alice@example.com").await;
        assert_eq!(
            (alice.subject.as_str(), alice.code()),
            ("Code 123456 für Sie", "123456".into())
        );
        assert_eq!(
            (
                alice.text.replace("\r\n", "\n").trim_end(),
                alice.html.trim_end()
            ),
            (text, html)
        );
        assert_eq!(alice.content_type, "multipart/alternative");
        assert_eq!(alice.header("mime-VERSION").as_deref(), Some("1.0"));
        assert!(
            alice
                .header("From")
                .unwrap()
                .contains("<noreply@doorcode.test>")
        );
        assert_eq!(
            (alice.mail_from.as_str(), alice.auth_user.as_deref()),
            ("noreply@doorcode.test", None)
        );
        assert!(alice.raw.starts_with(b"From: ") || alice.raw.windows(6).any(|w| w == b"\r\nFrom"));
        let bob = smtp.wait_for_mail_to("bob@example.com").await;
        assert_eq!(
            (bob.code(), bob.text.as_str(), bob.html.as_str()),
            ("654321".into(), "hi bob", "<b>hi</b>")
        );
        assert_eq!(bob.rcpt_to, ["bob@example.com"]);
        assert_eq!(
            (smtp.count_to("ALICE@example.com"), smtp.all_mail().len()),
            (1, 3)
        );
    }

    #[tokio::test]
    async fn sending_fails_while_stopped_and_succeeds_after_restart_on_the_same_port() {
        let smtp = TestSmtp::start().await;
        let mailer = Transport::from_url(&smtp.url()).unwrap().build();
        mailer.send(plain("a@example.com", "first")).await.unwrap();

        smtp.stop().await;
        let refused = TcpStream::connect(("127.0.0.1", smtp.port()))
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), io::ErrorKind::ConnectionRefused);
        let err = mailer
            .send(plain("a@example.com", "lost"))
            .await
            .unwrap_err();
        let mut source: Option<&dyn std::error::Error> = Some(&err);
        while let Some(e) = source.filter(|e| !e.is::<io::Error>()) {
            source = e.source();
        }
        let kind = source
            .and_then(|e| e.downcast_ref::<io::Error>())
            .map(io::Error::kind);
        assert_eq!(kind, Some(io::ErrorKind::ConnectionRefused), "{err:?}");

        smtp.restart().await;
        mailer.send(plain("a@example.com", "second")).await.unwrap();
        assert_eq!(
            smtp.wait_for_mail_to("a@example.com").await.text,
            "first\r\n"
        );
        assert_eq!(
            smtp.wait_for_mail_to("a@example.com").await.text,
            "second\r\n"
        );
    }

    #[tokio::test]
    async fn failure_modes_give_lettre_transient_permanent_and_connection_errors() {
        let smtp = TestSmtp::start().await;
        let mailer = transport(&smtp);
        smtp.set_mode(SmtpMode::TempFail);
        let err = mailer.send(plain("x@example.com", "t")).await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        smtp.set_mode(SmtpMode::PermFail);
        let err = mailer.send(plain("x@example.com", "p")).await.unwrap_err();
        assert!(err.is_permanent(), "{err:?}");
        smtp.set_mode(SmtpMode::DropAfterGreeting);
        let fresh = transport(&smtp); // a new connection gets only the greeting
        assert!(fresh.send(plain("x@example.com", "d")).await.is_err());
        smtp.set_mode(SmtpMode::Accept);
        mailer.send(plain("x@example.com", "ok")).await.unwrap();
        assert_eq!(smtp.wait_for_mail_to("x@example.com").await.text, "ok\r\n");
        assert_eq!(smtp.count_to("x@example.com"), 1);
    }

    #[tokio::test]
    async fn dot_stuffed_lines_round_trip_and_auth_usernames_are_recorded() {
        let smtp = TestSmtp::start().await;
        let body = ".leading dot\r\n..two dots\r\n.\r\nend";
        for (user, mechanism) in [("alice", Mechanism::Plain), ("bob", Mechanism::Login)] {
            let creds = Credentials::new(user.to_owned(), "secret".to_owned());
            let builder = Transport::builder_dangerous("127.0.0.1").port(smtp.port());
            let mailer = builder
                .credentials(creds)
                .authentication(vec![mechanism])
                .build();
            mailer.send(plain("dots@example.com", body)).await.unwrap();
            let mail = smtp.wait_for_mail_to("dots@example.com").await;
            let stuffed = b"\r\n.leading dot\r\n..two dots\r\n.\r\nend";
            assert!(
                mail.raw.windows(stuffed.len()).any(|w| w == stuffed),
                "sent as 7bit"
            );
            assert_eq!(
                (mail.text.trim_end(), mail.auth_user.as_deref()),
                (body, Some(user))
            );
        }
    }

    #[tokio::test]
    async fn a_raw_session_gets_sequence_errors_502_for_unknown_commands_and_221() {
        let smtp = TestSmtp::start().await;
        let mut stream = TcpStream::connect(("127.0.0.1", smtp.port()))
            .await
            .unwrap();
        let (r, mut w) = stream.split();
        let mut r = BufReader::new(r);
        let mut codes = Vec::new();
        let script = [
            "HELO me",
            "VRFY x",
            "RCPT TO:<a@b>",
            "MAIL FROM:<>",
            "RCPT TO:<R@x>",
            "DATA",
        ];
        let data = [
            "..dot\r\nx\r\n.",
            "MAIL FROM:<m@x>",
            "RCPT TO:<r@x>",
            "DATA",
            "y\r\n.",
            "QUIT",
        ];
        for cmd in [""].iter().chain(&script).chain(&data) {
            if !cmd.is_empty() {
                w.write_all(format!("{cmd}\r\n").as_bytes()).await.unwrap();
            }
            let line = read_line(&mut r).await.unwrap().unwrap();
            codes.push(String::from_utf8(line).unwrap()[..3].to_owned());
        }
        let expected = ["220", "250", "502", "503", "250", "250", "354", "250"];
        assert_eq!(
            codes,
            [&expected[..], &["250", "250", "354", "250", "221"]].concat()
        );
        assert!(
            read_line(&mut r).await.unwrap().is_none(),
            "closed after QUIT"
        );
        let raw: Vec<_> = smtp
            .all_mail()
            .into_iter()
            .map(|m| (m.mail_from, m.raw))
            .collect();
        assert_eq!(
            raw,
            [
                ("".into(), b".dot\r\nx\r\n".to_vec()),
                ("m@x".into(), b"y\r\n".to_vec())
            ]
        );
        assert_eq!(smtp.count_to("r@x"), 2);
    }
}
