//! The `doorcode` binary as a separate process, as operators run it.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary, without the settings of the environment the tests run in.
pub fn doorcode() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_doorcode"));
    command
        .env_remove("DOORCODE_CONFIG")
        .env_remove("DOORCODE_LOG")
        .env("NO_COLOR", "1");
    command
}

/// The binary running as a service, with its log read line by line.
pub struct Service {
    child: std::process::Child,
    pub port: u16,
    lines: mpsc::Receiver<String>,
    pub log: String,
}

impl Service {
    pub fn start(dir: &std::path::Path, env: &[(&str, String)]) -> Service {
        Self::start_with_args(dir, &[], env)
    }

    /// Started with `args` (`serve` when they name no command).
    pub fn start_with_args(
        dir: &std::path::Path,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Service {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = doorcode()
            .args(args)
            .current_dir(dir)
            .env("DOORCODE_SERVER_LISTEN", format!("127.0.0.1:{port}"))
            .env(
                "DOORCODE_SERVER_BASE_URL",
                format!("http://127.0.0.1:{port}"),
            )
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut service = Service {
            child,
            port,
            lines,
            log: String::new(),
        };
        service.read_until("doorcode is listening");
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn read_until(&mut self, needle: &str) {
        while !self.log.contains(needle) {
            self.next_line()
                .unwrap_or_else(|| panic!("no `{needle}` in the log:\n{}", self.log));
        }
    }

    /// The next line of the log (also added to `log`), or None after 20 s without one.
    pub fn next_line(&mut self) -> Option<String> {
        let line = self.lines.recv_timeout(Duration::from_secs(20)).ok()?;
        self.log.push_str(&line);
        self.log.push('\n');
        Some(line)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (at most `limit`) for the process to exit; its status code.
    pub fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("still running after {limit:?}:\n{}", self.log);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        // A test that failed half-way must not leave its server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
