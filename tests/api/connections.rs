//! Slow and idle connections, HTTP/2 without TLS, and more half-sent requests
//! than the process has file descriptors: each as an attacker would send it, on
//! real sockets. The waits are the timeouts under test, not guesses at a race.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::spawn_app;

/// Reads until the peer closes or `limit` passes; what was read and whether it
/// closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut got = Vec::new();
    let deadline = Instant::now() + limit;
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&got).into(), true),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&got).into(), false),
        }
    }
}

fn address(app: &crate::helpers::TestApp) -> String {
    app.address.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_head_sent_a_line_at_a_time_is_cut_off_after_ten_seconds() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // One header every 3 s, as the probe sent one every 9.5 s.
    let mut closed_at = None;
    for n in 0..8 {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let header = format!("X-Slow-{n}: yes\r\n");
        if stream.write_all(header.as_bytes()).await.is_err() {
            closed_at = Some(started.elapsed());
            break;
        }
        let (_, closed) = read_until_closed(&mut stream, Duration::from_millis(10)).await;
        if closed {
            closed_at = Some(started.elapsed());
            break;
        }
    }
    let closed_at = closed_at.expect("the connection was still open after 24 s");
    assert!(
        closed_at >= Duration::from_secs(9) && closed_at <= Duration::from_secs(14),
        "closed after {closed_at:?}"
    );
}

#[tokio::test]
async fn a_body_sent_a_byte_at_a_time_gets_408_after_ten_seconds() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(
            b"POST /login HTTP/1.1\r\nHost: localhost\r\n\
              Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 200\r\n\r\ne",
        )
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_secs(9) && elapsed <= Duration::from_secs(13),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn http2_without_tls_is_not_spoken() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let (answer, closed) = read_until_closed(&mut stream, Duration::from_secs(5)).await;
    assert!(closed, "the connection stays open: {answer:?}");
    // An HTTP/2 server would answer with a SETTINGS frame (type 4) first.
    let bytes = answer.as_bytes();
    assert!(
        bytes.is_empty() || bytes.starts_with(b"HTTP/1.1 4"),
        "answered {answer:?}"
    );
    // HTTP/1.1's upgrade to h2c is not taken up either.
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    stream
        .write_all(
            b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n\
              Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
        )
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let n = stream.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

/// Idle keep-alive connections live a minute, and no longer.
#[tokio::test]
#[ignore = "slow: waits out the 60 s idle timeout"]
async fn an_idle_keep_alive_connection_is_closed_after_a_minute() {
    let app = spawn_app().await;
    let mut stream = TcpStream::connect(address(&app)).await.unwrap();
    let request = b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let mut buf = [0u8; 1024];
    stream.write_all(request).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    // Idle well past the head timeout, the connection still serves.
    tokio::time::sleep(Duration::from_secs(30)).await;
    stream.write_all(request).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(
        buf[..n].starts_with(b"HTTP/1.1 200"),
        "reused after 30 s idle"
    );
    let idle_since = Instant::now();
    let (_, closed) = read_until_closed(&mut stream, Duration::from_secs(75)).await;
    assert!(closed, "still open after 75 s idle");
    let idle = idle_since.elapsed();
    assert!(
        idle >= Duration::from_secs(58) && idle <= Duration::from_secs(65),
        "closed after {idle:?} idle"
    );
}

/// The binary under an open-file limit of 1,024 (what a service manager commonly
/// gives), listening; its port.
fn serve_under_file_limit(dir: &std::path::Path) -> (Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("prlimit")
        .args(["--nofile=1024:1024", "--"])
        .arg(env!("CARGO_BIN_EXE_doorcode"))
        .arg("serve")
        .current_dir(dir)
        .env_remove("DOORCODE_CONFIG")
        .env("NO_COLOR", "1")
        .env("DOORCODE_SERVER_LISTEN", format!("127.0.0.1:{port}"))
        .env(
            "DOORCODE_DATABASE_PATH",
            dir.join("doorcode.db").display().to_string(),
        )
        .stderr(Stdio::piped())
        .spawn()
        .expect("prlimit (util-linux) runs doorcode");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let listening = loop {
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) if line.contains("doorcode is listening") => break true,
            Ok(_) => {}
            Err(_) => break false,
        }
    };
    if !listening {
        let _ = child.kill();
        let _ = child.wait();
        panic!("doorcode did not start under prlimit");
    }
    // Keep draining the log so the process never blocks on stderr.
    std::thread::spawn(move || while rx.recv().is_ok() {});
    (child, port)
}

#[tokio::test]
async fn eleven_hundred_half_sent_requests_do_not_keep_healthz_out() {
    // This test holds more than a thousand sockets itself.
    let _ = Command::new("prlimit")
        .args(["--pid", &std::process::id().to_string(), "--nofile=8192:"])
        .status();
    let dir = tempfile::tempdir().unwrap();
    let (mut child, port) = serve_under_file_limit(dir.path());
    let mut held = Vec::new();
    for _ in 0..1100 {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(mut stream) => {
                let _ = stream.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await;
                held.push(stream);
            }
            Err(e) => panic!("connect failed after {} connections: {e}", held.len()),
        }
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let health = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .await
        .expect("/healthz answers beside 1,100 half-sent requests");
    assert_eq!(health.status(), reqwest::StatusCode::OK);
    drop(held);
    child.kill().unwrap();
    child.wait().unwrap();
}
