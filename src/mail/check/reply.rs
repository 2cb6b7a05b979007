//! The server's side of the conversation: its greeting, its replies, its extensions.

use std::time::Duration;

use lettre::transport::smtp::authentication::Mechanism;
use lettre::transport::smtp::extension::{Extension, ServerInfo};
use lettre::transport::smtp::response::Response;
use tokio::net::TcpStream;

use super::STEP_TIMEOUT;

/// The server's words, e.g. `the server answered 550 5.7.1 Relaying denied`; for
/// failures that are not a reply (a dropped connection, a bad certificate) the
/// innermost cause, without lettre's wrappers ("Connection error: …") around it.
pub fn describe_smtp_error(e: &lettre::transport::smtp::Error) -> String {
    let source = std::error::Error::source(e);
    if let Some(code) = e.status() {
        return match source {
            Some(words) => format!("the server answered {code} {words}"),
            None => format!("the server answered {code}"),
        };
    }
    if e.is_timeout() {
        return format!("no answer within {} s", STEP_TIMEOUT.as_secs());
    }
    let mut cause = source;
    while let Some(inner) = cause.and_then(std::error::Error::source) {
        cause = Some(inner);
    }
    // A server that closes the connection shows up as a reset or a broken pipe
    // when doorcode writes next, rather than as a short reply.
    let hung_up = cause
        .and_then(|c| c.downcast_ref::<std::io::Error>())
        .is_some_and(|io| {
            use std::io::ErrorKind::{
                BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof,
            };
            matches!(
                io.kind(),
                BrokenPipe | ConnectionAborted | ConnectionReset | UnexpectedEof
            )
        });
    let cause = cause.map_or_else(|| e.to_string(), ToString::to_string);
    if hung_up {
        return format!("the server hung up ({cause})");
    }
    if e.is_response() {
        // lettre's words for a reply cut short or malformed.
        return format!("no usable reply: the server hung up or answered garbage ({cause})");
    }
    cause
}

pub(super) fn reply(response: &Response) -> String {
    let words: Vec<&str> = response.message().collect();
    format!("{} {}", response.code(), words.join(" "))
        .trim_end()
        .to_owned()
}

pub(super) fn offers(info: &ServerInfo) -> String {
    format!("{} offers {}", info.name(), offered(info))
}

/// The extensions doorcode cares about, as the server listed them.
pub(super) fn offered(info: &ServerInfo) -> String {
    let mut offered: Vec<String> = [
        Extension::StartTls,
        Extension::EightBitMime,
        Extension::SmtpUtfEight,
    ]
    .into_iter()
    .filter(|ext| info.supports_feature(*ext))
    .map(|ext| ext.to_string())
    .collect();
    let mechanisms: Vec<String> = [Mechanism::Plain, Mechanism::Login, Mechanism::Xoauth2]
        .into_iter()
        .filter(|m| info.supports_auth_mechanism(*m))
        .map(|m| m.to_string())
        .collect();
    if !mechanisms.is_empty() {
        offered.push(format!("AUTH {}", mechanisms.join(" ")));
    }
    if offered.is_empty() {
        "none of STARTTLS, 8BITMIME, SMTPUTF8, AUTH".into()
    } else {
        offered.join(", ")
    }
}

/// Waits for the server's whole greeting without taking it off the socket, so that
/// lettre, which reads it itself, still finds it there.
pub(super) async fn read_greeting(stream: &TcpStream) -> Result<Response, String> {
    let mut buf = vec![0u8; 4096];
    loop {
        let n = stream
            .peek(&mut buf)
            .await
            .map_err(|e| format!("no greeting: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection without a greeting".into());
        }
        if let Some(end) = reply_end(&buf[..n]) {
            let text = String::from_utf8_lossy(&buf[..end]);
            return text
                .parse::<Response>()
                .map_err(|_| format!("unreadable greeting `{}`", text.trim()));
        }
        if n == buf.len() {
            return Err("the greeting is longer than 4096 bytes".into());
        }
        // The rest of a multi-line greeting is still on its way.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Where the reply at the start of `bytes` ends: after its first line whose code is
/// not followed by `-` (`220-…` lines continue a reply, `220 …` ends it).
fn reply_end(bytes: &[u8]) -> Option<usize> {
    let mut start = 0;
    while let Some(len) = bytes[start..].iter().position(|&b| b == b'\n') {
        let line = &bytes[start..=start + len];
        start += len + 1;
        if line.get(3) != Some(&b'-') {
            return Some(start);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_ends_at_its_last_line() {
        assert_eq!(reply_end(b"220 ready\r\n"), Some(11));
        assert_eq!(reply_end(b"220-hello\r\n220 ready\r\nEXTRA"), Some(22));
        assert_eq!(reply_end(b"220-hello\r\n220 rea"), None);
        assert_eq!(reply_end(b""), None);
    }
}
