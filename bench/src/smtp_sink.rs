//! A local SMTP sink: accepts every message over as many connections as it is
//! given, and for each appends `recipient code unix_millis` to a file. The code is
//! read from the subject, as a person reads it in a phone notification; the file's
//! lines are what the benchmark counts (mail delivery) and uses (verify).

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// A message larger than this is refused (doorcode's are a few KiB).
const MAX_MESSAGE: usize = 1 << 20;

pub fn serve(listen: SocketAddr, codes: &Path) -> anyhow::Result<()> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(codes)
        .with_context(|| format!("cannot open {}", codes.display()))?;
    let file = Arc::new(Mutex::new(file));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        loop {
            let (stream, _) = listener.accept().await?;
            let file = file.clone();
            tokio::spawn(async move {
                // A dropped connection is the client's business; the count says
                // what arrived.
                let _ = session(stream, &file).await;
            });
        }
    })
}

async fn session(stream: TcpStream, out: &Mutex<File>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 bench.local ESMTP sink\r\n").await?;
    let mut line = String::new();
    let mut recipient = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line
            .get(..4)
            .map(|v| v.to_ascii_uppercase())
            .unwrap_or_default();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-bench.local\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 1048576\r\n",
            "HELO" => b"250 bench.local\r\n",
            "MAIL" | "RSET" | "NOOP" => {
                if verb != "NOOP" {
                    recipient.clear();
                }
                b"250 OK\r\n"
            }
            "RCPT" => {
                recipient = address(&line);
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let message = read_data(&mut read).await?;
                let code = subject_code(&message).unwrap_or_else(|| "-".into());
                let millis = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis())
                    .unwrap_or_default();
                let record = format!("{recipient} {code} {millis}\n");
                if let Ok(mut file) = out.lock() {
                    file.write_all(record.as_bytes())?;
                }
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The message up to the lone `.` line, undotted.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> std::io::Result<String> {
    let mut message = String::new();
    let mut line = String::new();
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == ".\r\n" || line == ".\n" {
            return Ok(message);
        }
        if message.len() < MAX_MESSAGE {
            message.push_str(line.strip_prefix('.').unwrap_or(&line));
        }
    }
}

/// `<a@b.c>` from `RCPT TO:<a@b.c>`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(address, _)| address.to_ascii_lowercase())
        .unwrap_or_default()
}

/// The first run of exactly six digits in the Subject header.
fn subject_code(message: &str) -> Option<String> {
    let subject = message
        .lines()
        .take_while(|line| !line.is_empty())
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("subject").then_some(value)
        })?;
    subject
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_is_read_from_the_subject() {
        let message =
            "From: a@b.c\r\nSubject: 123456 is your doorcode code\r\nDate: 2026\r\n\r\nbody 654321";
        assert_eq!(subject_code(message).as_deref(), Some("123456"));
        assert_eq!(subject_code("Subject: no code\r\n\r\n123456"), None);
        assert_eq!(address("RCPT TO:<Ab@Example.com>\r\n"), "ab@example.com");
    }
}
