//! Who may sign in: `signup.mode`, invitations and groups, from the operator's
//! commands through the pages, forward auth and the JSON API.

use doorcode::config::AskName;
use doorcode::rules::SignupMode;
use reqwest::StatusCode;
use serde_json::json;

use super::{admin, admin_with};
use crate::helpers::{CodePage, TestApp, alerts, browser, has_input, spawn_app, spawn_app_with};
use crate::json_api::{json_of, post_json};

fn domains(mode: SignupMode, ask_name: AskName) -> impl FnOnce(&mut doorcode::config::Config) {
    move |c| {
        c.signup.mode = mode;
        c.signup.ask_name = ask_name;
        c.signup.allowed_domains = vec!["example.com".into()];
    }
}

/// What a new address gets when it tries to sign up: `Ok(())` when an account
/// was made, else the status and page where it was refused, having checked that
/// nothing was made.
async fn try_sign_up(app: &TestApp, email: &str) -> Result<(), (StatusCode, String)> {
    let users_before = app.count_rows("users");
    let person = browser();
    let start = app.post_login(&person, email).await;
    if start.status() != StatusCode::OK {
        let status = start.status();
        assert_eq!(app.count_rows("users"), users_before);
        return Err((status, start.text().await.unwrap()));
    }
    let page = CodePage::from_html(&start.text().await.unwrap());
    let code = app.code_for(email).await;
    let names = page.has_input("first_name").then_some(("New", "Person"));
    let mut response = app.verify(&person, &page, &code, names).await;
    if response.status() == StatusCode::OK {
        // The name page of `after_code`.
        let name_page = CodePage::from_html(&response.text().await.unwrap());
        response = app
            .post(
                &person,
                "/login/verify",
                &[
                    ("challenge", name_page.challenge.as_str()),
                    ("first_name", "New"),
                    ("last_name", ""),
                ],
            )
            .await;
    }
    match response.status() {
        StatusCode::SEE_OTHER => {
            assert_eq!(app.count_rows("users"), users_before + 1);
            Ok(())
        }
        status => {
            assert_eq!(app.count_rows("users"), users_before, "no account was made");
            Err((status, response.text().await.unwrap()))
        }
    }
}

#[tokio::test]
async fn domains_mode_admits_the_domain_and_its_subdomains_and_nothing_that_looks_like_them() {
    for ask_name in [AskName::WithCode, AskName::AfterCode] {
        let app = spawn_app_with(domains(SignupMode::Domains, ask_name)).await;
        for admitted in ["ada@example.com", "bob@team.example.com", "cy@EXAMPLE.com"] {
            assert_eq!(
                try_sign_up(&app, admitted).await,
                Ok(()),
                "{admitted} {ask_name:?}"
            );
        }
        for refused in [
            "eve@evil-example.com",
            "mal@example.com.evil.test",
            "x@example.org",
        ] {
            let outbox_before = app.count_rows("outbox");
            let (status, html) = try_sign_up(&app, refused).await.unwrap_err();
            assert_eq!(status, StatusCode::FORBIDDEN, "{refused} {ask_name:?}");
            assert!(
                alerts(&html).contains("Only addresses at example.com"),
                "{refused}: {}",
                alerts(&html)
            );
            let mailed = app.count_rows("outbox") - outbox_before;
            match ask_name {
                AskName::WithCode => assert_eq!(mailed, 0, "refused before any code"),
                AskName::AfterCode => assert_eq!(mailed, 1, "refused only after the code"),
            }
        }
    }
}

/// In `domains` mode an invitation can only be for an address under the domains
/// (for its groups): anyone else could never sign up with it.
#[tokio::test]
async fn domains_mode_invites_only_addresses_under_its_domains() {
    let app = spawn_app_with(domains(SignupMode::Domains, AskName::WithCode)).await;
    let env = [
        ("DOORCODE_SIGNUP_MODE", "domains"),
        ("DOORCODE_SIGNUP_ALLOWED_DOMAINS", "example.com"),
    ];
    let outside = admin_with(&app, &env, &["invite", "ana@contractor.test"]).await;
    assert_eq!(outside.code, Some(1));
    assert!(
        outside
            .failure_line()
            .contains("not under signup.allowed_domains")
    );
    let (status, _) = try_sign_up(&app, "ana@contractor.test").await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    admin(&app, &["groups", "create", "wiki"]).await;
    let inside = admin_with(
        &app,
        &env,
        &["invite", "bo@team.example.com", "--group", "wiki"],
    )
    .await;
    assert_eq!(inside.code, Some(0), "{}", inside.stderr);
    let _ = app.smtp.wait_for_mail_to("bo@team.example.com").await;
    assert_eq!(try_sign_up(&app, "bo@team.example.com").await, Ok(()));
    let shown = admin(&app, &["users", "show", "bo@team.example.com"]).await;
    assert!(shown.stdout.contains("wiki"), "{}", shown.stdout);
}

/// In `after_code` mode the first page says nothing about who may sign up: the
/// code page of a refused address is the code page of an admitted one.
#[tokio::test]
async fn after_code_mode_shows_a_refused_address_the_same_first_page() {
    let app = spawn_app_with(domains(SignupMode::Domains, AskName::AfterCode)).await;
    app.clock.stop();
    let (admitted, refused) = (browser(), browser());
    let admitted_page = app.start_sign_in(&admitted, "x@example.com").await;
    let refused_page = app.start_sign_in(&refused, "x@evil-example.com").await;
    assert_eq!(
        admitted_page
            .html
            .replace(&admitted_page.challenge, "ID")
            .replace("x@example.com", "X"),
        refused_page
            .html
            .replace(&refused_page.challenge, "ID")
            .replace("x@evil-example.com", "X"),
    );
    // The right code then ends the refused sign-in with a 403, and the code is spent.
    let code = app.code_for("x@evil-example.com").await;
    let response = app.verify(&refused, &refused_page, &code, None).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!has_input(&response.text().await.unwrap(), "first_name"));
    let again = app.verify(&refused, &refused_page, &code, None).await;
    assert_eq!(
        again.status(),
        StatusCode::BAD_REQUEST,
        "the sign-in is over"
    );
}

#[tokio::test]
async fn closed_mode_makes_no_accounts_but_existing_ones_sign_in() {
    let app = spawn_app().await;
    app.sign_up(&browser(), "old@example.com", "Old", "").await;
    let app = app
        .restart_with(|c| c.signup.mode = SignupMode::Closed)
        .await;
    let (status, html) = try_sign_up(&app, "new@example.com").await.unwrap_err();
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        alerts(&html).contains("New accounts cannot be made here"),
        "{}",
        alerts(&html)
    );
    // An invitation cannot open a closed service, so none is made.
    let env = [("DOORCODE_SIGNUP_MODE", "closed")];
    let invited = admin_with(&app, &env, &["invite", "new@example.com"]).await;
    assert_eq!(invited.code, Some(1));
    assert!(
        invited.failure_line().contains("closed"),
        "{}",
        invited.stderr
    );
    let list = admin(&app, &["invite", "--list", "--json"]).await;
    assert_eq!(list.json(), json!([]), "nothing stored");
    // The existing account signs in as ever.
    let person = browser();
    let page = app.start_sign_in(&person, "old@example.com").await;
    let code = app.code_for("old@example.com").await;
    let response = app.verify(&person, &page, &code, None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn invite_mode_admits_invited_addresses_once_until_the_invitation_ends() {
    for ask_name in [AskName::WithCode, AskName::AfterCode] {
        let app = spawn_app_with(|c| {
            c.signup.mode = SignupMode::Invite;
            c.signup.ask_name = ask_name;
        })
        .await;
        let (status, html) = try_sign_up(&app, "stranger@example.com").await.unwrap_err();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(
            alerts(&html).contains("You need an invitation"),
            "{}",
            alerts(&html)
        );

        // Invited: the email says so, and the sign-up works.
        let ran = admin(&app, &["groups", "create", "family"]).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        let ran = admin(&app, &["invite", "Ada@Example.com", "--group", "family"]).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        assert!(
            ran.stdout.contains("invited ada@example.com into family"),
            "{}",
            ran.stdout
        );
        let mail = app.smtp.wait_for_mail_to("ada@example.com").await;
        assert_eq!(mail.subject, "You are invited to doorcode");
        assert!(mail.text.contains("/login"), "{}", mail.text);
        assert_eq!(try_sign_up(&app, "ada@example.com").await, Ok(()));
        let shown = admin(&app, &["users", "show", "ada@example.com"]).await;
        assert!(
            shown.stdout.contains("family"),
            "the invitation's group: {}",
            shown.stdout
        );

        // Used: once the account is gone, the invitation does not work again.
        let ran = admin(&app, &["users", "delete", "ada@example.com"]).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        assert!(
            try_sign_up(&app, "ada@example.com").await.is_err(),
            "used twice"
        );

        // Revoked.
        admin(&app, &["invite", "bob@example.com"]).await;
        // Taken now, so that the code read later is not the invitation.
        let _ = app.smtp.wait_for_mail_to("bob@example.com").await;
        let ran = admin(&app, &["invite", "--revoke", "bob@example.com"]).await;
        assert_eq!(ran.code, Some(0), "{}", ran.stderr);
        assert!(
            try_sign_up(&app, "bob@example.com").await.is_err(),
            "revoked"
        );
        let again = admin(&app, &["invite", "--revoke", "bob@example.com"]).await;
        assert_eq!(again.code, Some(1));
        assert!(again.failure_line().contains("no pending invitation"));

        // Expired: a week and a second later.
        admin(&app, &["invite", "cy@example.com"]).await;
        let _ = app.smtp.wait_for_mail_to("cy@example.com").await;
        let list = admin(&app, &["invite", "--list", "--json"]).await;
        let states: Vec<(String, String)> = list
            .json()
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                (
                    i["email"].as_str().unwrap().to_owned(),
                    i["state"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        for expected in [
            ("ada@example.com", "used"),
            ("bob@example.com", "revoked"),
            ("cy@example.com", "pending"),
        ] {
            assert!(
                states.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} in {states:?}"
            );
        }
        app.clock.advance(7 * 24 * 3600 + 1);
        assert!(
            try_sign_up(&app, "cy@example.com").await.is_err(),
            "expired"
        );
    }
}

/// A sign-up that was admitted when its code was sent is refused if the
/// invitation is revoked before the code is typed.
#[tokio::test]
async fn revoking_an_invitation_mid_sign_up_refuses_the_right_code() {
    let app = spawn_app_with(|c| c.signup.mode = SignupMode::Invite).await;
    admin(&app, &["invite", "late@example.com"]).await;
    let _ = app.smtp.wait_for_mail_to("late@example.com").await;
    let person = browser();
    let page = app.start_sign_in(&person, "late@example.com").await;
    let code = app.code_for("late@example.com").await;
    admin(&app, &["invite", "--revoke", "late@example.com"]).await;
    let response = app.verify(&person, &page, &code, Some(("Late", ""))).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count_rows("users"), 0);
}

#[tokio::test]
async fn the_api_answers_signup_closed_where_the_pages_do() {
    for (ask_name, at_start) in [(AskName::WithCode, true), (AskName::AfterCode, false)] {
        let app = spawn_app_with(domains(SignupMode::Domains, ask_name)).await;
        let spa = reqwest::Client::new();
        let body =
            json!({"email": "eve@evil-example.com", "turnstile_token": "XXXX.DUMMY.TOKEN.XXXX"});
        let start = post_json(&app, &spa, "/api/v1/login", body).await;
        if at_start {
            let error = json_of(start, StatusCode::FORBIDDEN).await;
            assert_eq!(error["error"], "signup_closed");
            assert!(error["message"].as_str().unwrap().contains("example.com"));
            continue;
        }
        let challenge = json_of(start, StatusCode::OK).await;
        assert_eq!(challenge["new_user"], false, "after_code reveals nothing");
        let code = app.code_for("eve@evil-example.com").await;
        let verify = post_json(
            &app,
            &spa,
            "/api/v1/login/verify",
            json!({"challenge_id": challenge["challenge_id"], "code": code, "first_name": "Eve"}),
        )
        .await;
        let error = json_of(verify, StatusCode::FORBIDDEN).await;
        assert_eq!(error["error"], "signup_closed");
    }
}

#[tokio::test]
async fn groups_go_from_the_command_line_to_forward_auth_the_api_and_the_home_page() {
    let app = spawn_app().await;
    let person = browser();
    app.sign_up(&person, "ada@example.com", "Ada", "Lovelace")
        .await;
    let check = |query: &'static str| {
        let (app, person) = (&app, &person);
        async move {
            person
                .get(app.url(&format!("/auth/check{query}")))
                .send()
                .await
                .unwrap()
        }
    };
    let answer = check("").await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.headers()["x-doorcode-groups"], "");
    assert_eq!(check("?group=admins").await.status(), StatusCode::FORBIDDEN);

    for args in [
        &["groups", "create", "admins"][..],
        &["groups", "create", "family"],
        &["groups", "add", "family", "ada@example.com"],
        &["groups", "add", "admins", "1"],
        // Ordered byte by byte on every database: `-` before letters.
        &["groups", "create", "opsa"],
        &["groups", "create", "ops-team"],
        &["groups", "add", "opsa", "1"],
        &["groups", "add", "ops-team", "1"],
    ] {
        let ran = admin(&app, args).await;
        assert_eq!(ran.code, Some(0), "{args:?}: {}", ran.stderr);
    }
    let bad = admin(&app, &["groups", "create", "Admins"]).await;
    assert_eq!(bad.code, Some(2));
    assert!(bad.failure_line().contains("lower-case"), "{}", bad.stderr);
    let missing = admin(&app, &["groups", "add", "nobody", "1"]).await;
    assert_eq!(missing.code, Some(1));
    assert!(missing.failure_line().contains("no group named nobody"));

    let answer = check("").await;
    assert_eq!(
        answer.headers()["x-doorcode-groups"],
        "admins,family,ops-team,opsa",
        "sorted"
    );
    assert_eq!(check("?group=admins").await.status(), StatusCode::OK);
    assert_eq!(check("?group=opsa").await.status(), StatusCode::OK);
    assert_eq!(
        check("?group=ops&group=family").await.status(),
        StatusCode::OK,
        "any of them"
    );
    assert_eq!(check("?group=ops").await.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        check("?group=Admins").await.status(),
        StatusCode::FORBIDDEN,
        "not a group name"
    );
    let signed_out = browser()
        .get(app.url("/auth/check?group=admins"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        signed_out.status(),
        StatusCode::UNAUTHORIZED,
        "401 before 403"
    );

    let session = person.get(app.url("/api/v1/session")).send().await.unwrap();
    let session = json_of(session, StatusCode::OK).await;
    assert_eq!(
        session["user"]["groups"],
        json!(["admins", "family", "ops-team", "opsa"])
    );
    for args in [
        &["groups", "delete", "opsa"][..],
        &["groups", "delete", "ops-team"],
    ] {
        admin(&app, args).await;
    }
    let home = person
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("id=\"groups\""), "{home}");
    assert!(home.contains(">admins<") && home.contains(">family<"));

    let ran = admin(&app, &["groups", "remove", "admins", "ada@example.com"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(check("?group=admins").await.status(), StatusCode::FORBIDDEN);
    let list = admin(&app, &["groups", "list", "--json"]).await;
    assert_eq!(
        list.json(),
        json!([
            {"name": "admins", "created_at": list.json()[0]["created_at"], "members": 0},
            {"name": "family", "created_at": list.json()[1]["created_at"], "members": 1}
        ])
    );
    let ran = admin(&app, &["groups", "delete", "family"]).await;
    assert!(ran.stdout.contains("1 person"), "{}", ran.stdout);
    assert_eq!(check("").await.headers()["x-doorcode-groups"], "");
}

/// A refusal sends nothing, so it spends nothing of the address's allowance and
/// tells its owner nothing; the asking client's hourly count still applies.
#[tokio::test]
async fn refused_sign_ups_count_against_the_client_never_the_address() {
    let app = spawn_app_with(|c| {
        c.signup.mode = SignupMode::Invite;
        c.rate_limit.email_per_hour = std::num::NonZeroU32::new(1).unwrap();
        c.rate_limit.ip_per_hour = std::num::NonZeroU32::new(3).unwrap();
    })
    .await;
    for n in 0..3 {
        let refused = app.post_login(&browser(), "outsider@example.com").await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN, "request {n}");
    }
    assert_eq!(app.count_rows("outbox"), 0, "no code and no notice");
    let limited = app.post_login(&browser(), "outsider@example.com").await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the client's own limit"
    );
    assert_eq!(app.count_rows("outbox"), 0);
}

/// An invitation revoked before its email went out is never mailed.
#[tokio::test]
async fn a_revoked_invitation_is_not_mailed_afterwards() {
    let app = spawn_app_with(|c| c.signup.mode = SignupMode::Invite).await;
    app.smtp.stop().await;
    let ran = admin(&app, &["invite", "quick@example.com"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let ran = admin(&app, &["invite", "--revoke", "quick@example.com"]).await;
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    let dropped = app.database().query_i64(
        "SELECT count(*) FROM outbox WHERE failed_at IS NOT NULL \
         AND last_error = 'invitation revoked'",
    );
    assert_eq!(dropped, 1);
    app.smtp.restart().await;
    // A later invitation goes out; the revoked one does not.
    admin(&app, &["invite", "later@example.com"]).await;
    let _ = app.smtp.wait_for_mail_to("later@example.com").await;
    assert_eq!(app.smtp.count_to("quick@example.com"), 0);
}
