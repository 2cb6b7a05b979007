//! The nginx forward-auth snippet from `deploy/nginx.conf`, run for real in front
//! of doorcode and a tiny app. Needs Debian's nginx; `.ci/run` installs it and runs
//! this with `cargo test --test api -- --ignored`.

use std::process::{Child, Command};

use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Request, Server, handler};
use reqwest::StatusCode;

use crate::helpers::{CodePage, browser, spawn_app};

/// The app behind nginx: it shows who nginx says is signed in.
#[handler]
fn whoami(req: &Request) -> String {
    let header = |name: &str| req.header(name).unwrap_or("-").to_owned();
    format!(
        "path={} user={} email={} name={} groups={}",
        req.uri().path(),
        header("x-doorcode-user-id"),
        header("x-doorcode-email"),
        header("x-doorcode-name"),
        header("x-doorcode-groups")
    )
}

async fn start_app() -> u16 {
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .unwrap();
    let port = acceptor.local_addr()[0].as_socket_addr().unwrap().port();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(whoami));
    port
}

struct Nginx(Child);

impl Drop for Nginx {
    /// SIGTERM, so the master stops its workers too (SIGKILL would orphan them).
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let _ = self.0.wait();
    }
}

/// Starts nginx with the documented server block, its ports pointed at this test.
fn start_nginx(dir: &std::path::Path, port: u16, doorcode: u16, app: u16) -> Nginx {
    let snippet =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/nginx.conf")).unwrap();
    let server_block = snippet
        .replace("listen 80;", &format!("listen 127.0.0.1:{port};"))
        .replace("127.0.0.1:8080", &format!("127.0.0.1:{doorcode}"))
        .replace("127.0.0.1:3000", &format!("127.0.0.1:{app}"));
    let d = dir.display();
    let config = format!(
        "daemon off; worker_processes 1; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
         {server_block}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, config).unwrap();
    let child = Command::new("nginx")
        .args(["-p", &d.to_string(), "-c", path.to_str().unwrap()])
        .spawn()
        .expect("nginx is installed (apt-get install nginx)");
    Nginx(child)
}

#[tokio::test]
#[ignore = "needs nginx; run by .ci/run"]
async fn nginx_lets_in_only_signed_in_people_and_tells_the_app_who_they_are() {
    let doorcode = spawn_app().await;
    let doorcode_port: u16 = doorcode
        .address
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let app_port = start_app().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let _nginx = start_nginx(dir.path(), port, doorcode_port, app_port);
    let site = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let person = browser();

    // nginx may need a moment to listen; retry the first request briefly.
    let mut first = None;
    for _ in 0..100 {
        if let Ok(response) = person.get(site("/reports?year=2026&q=a")).send().await {
            first = Some(response);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let first = first.expect("nginx did not start");
    assert_eq!(
        first.status(),
        StatusCode::FOUND,
        "signed out: sent to sign in"
    );
    let location = first.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        location.ends_with("/login?next=/reports?year=2026&q=a"),
        "{location}"
    );
    let login = person
        .get(&location)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let next = crate::helpers::input_value(&login, "next").expect("next carried");
    assert!(
        next.ends_with("/reports?year=2026&q=a"),
        "the whole address survives: {next}"
    );

    let login = person
        .get(site("/login?next=/reports"))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let form = [
        ("email", "nginx@example.com"),
        ("cf-turnstile-response", "XXXX.DUMMY.TOKEN.XXXX"),
        ("next", "/reports"),
    ];
    let response = person
        .post(site("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let page = CodePage::from_html(&response.text().await.unwrap());
    let code = doorcode.code_for("nginx@example.com").await;
    let verify = [
        ("challenge", page.challenge.as_str()),
        ("code", &code),
        ("first_name", "Nia"),
        ("last_name", "Ginx"),
        ("next", "/reports"),
    ];
    let signed_in = person
        .post(site("/login/verify"))
        .form(&verify)
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);

    let inside = person
        .get(site("/reports"))
        .header("x-doorcode-user-id", "999")
        .send()
        .await
        .unwrap();
    assert_eq!(inside.status(), StatusCode::OK);
    assert_eq!(
        inside.text().await.unwrap(),
        "path=/reports user=1 email=nginx@example.com name=Nia Ginx groups=-"
    );

    // /admin/ is for the admins group only: signed in is not enough.
    let admin_page = person.get(site("/admin/users")).send().await.unwrap();
    assert_eq!(admin_page.status(), StatusCode::FORBIDDEN);
    for args in [
        &["groups", "create", "admins"][..],
        &["groups", "add", "admins", "nginx@example.com"],
    ] {
        let ran = crate::operator::admin(&doorcode, args).await;
        assert_eq!(ran.code, Some(0), "{args:?}: {}", ran.stderr);
    }
    let admin_page = person
        .get(site("/admin/users"))
        .header("x-doorcode-groups", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(admin_page.status(), StatusCode::OK);
    assert_eq!(
        admin_page.text().await.unwrap(),
        "path=/admin/users user=1 email=nginx@example.com name=Nia Ginx groups=admins"
    );
    let stranger = browser().get(site("/admin/users")).send().await.unwrap();
    assert_eq!(
        stranger.status(),
        StatusCode::FOUND,
        "signed out: sent to sign in"
    );

    let out = person.post(site("/logout")).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    let after = person.get(site("/reports")).send().await.unwrap();
    assert_eq!(after.status(), StatusCode::FOUND, "signed out again");
}
