//! Signing in with the hospital's account, against a real OpenID provider: the npm package
//! `oidc-provider` run by `tests/oidc/provider.mjs` (its clients and people are described there),
//! started by `.ci/run`, which sets `TEST_OIDC_ISSUER`. Each test drives the whole authorization
//! code flow over HTTP as a browser would: the app's button, the provider's login and consent
//! pages (plain form posts), the way back, the profile questions. Without `TEST_OIDC_ISSUER` the
//! tests say so and pass, unless `OIDC_TESTS=required` (as `.ci/run` sets), where they fail.

mod common;

use std::{io::Write, sync::Arc, time::Duration};

use coffee_rounds::{
    config::{Config, OidcSettings, Secret},
    store::coordinators::Actor,
};
use common::{Backend, TestApp, unique_email};
use reqwest::{Client, cookie::Jar, header::LOCATION};

const SECRET: &str = "coffee-rounds-test-secret";
const PASSWORD: &str = "correct horse battery staple";

/// The test provider's issuer, or `None` with a notice when it is not running.
fn issuer() -> Option<String> {
    if let Ok(issuer) = std::env::var("TEST_OIDC_ISSUER")
        && !issuer.trim().is_empty()
    {
        return Some(issuer.trim().to_owned());
    }
    assert!(
        std::env::var("OIDC_TESTS").as_deref() != Ok("required"),
        "OIDC_TESTS=required but TEST_OIDC_ISSUER is not set: start tests/oidc/provider.mjs (README, Sign in with your identity provider)"
    );
    let _ = writeln!(
        std::io::stderr(),
        "OpenID Connect tests skipped: TEST_OIDC_ISSUER is not set (run .ci/run, or see \"Sign in with your identity provider\" in README.md)"
    );
    None
}

fn settings(issuer: String) -> OidcSettings {
    OidcSettings {
        issuer_url: issuer,
        client_id: "coffee-rounds".into(),
        client_secret: Secret::new(SECRET),
        button_label: "Sign in with St Mary's".into(),
        scopes: vec!["email".into(), "profile".into(), "groups".into()],
        coordinator_claim: Some(("groups".into(), "coffee-coordinators".into())),
        session_lifetime: Duration::from_secs(12 * 3600),
    }
}

/// The app with the test provider, sign-ups limited to `hospital.test`; `None` without a provider.
async fn spawn(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<TestApp> {
    let issuer = issuer()?;
    let app = TestApp::spawn_with(backend, |config| {
        config.allowed_email_domains = vec!["hospital.test".into()];
        config.oidc = Some(settings(issuer));
        adjust(config);
    })
    .await;
    Some(app)
}

/// A browser: cookies kept (for the app and the provider), redirects followed by the test.
fn browser() -> (Client, Arc<Jar>) {
    let jar = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    (client, jar)
}

/// A page as the browser ended on it.
#[derive(Debug)]
struct Page {
    status: u16,
    url: String,
    body: String,
}

/// Follows redirects from `response` until an answer that is not one, or until the next address
/// starts with `stop_at`, which is returned unvisited as `Err`.
async fn follow(
    client: &Client,
    mut response: reqwest::Response,
    stop_at: Option<&str>,
) -> Result<Page, String> {
    for _ in 0..20 {
        if !response.status().is_redirection() {
            let status = response.status().as_u16();
            let url = response.url().to_string();
            return Ok(Page { status, url, body: response.text().await.expect("body") });
        }
        let location = response.headers()[LOCATION].to_str().expect("location");
        let next = response.url().join(location).expect("address").to_string();
        if stop_at.is_some_and(|prefix| next.starts_with(prefix)) {
            return Err(next);
        }
        response = client.get(&next).send().await.expect("GET");
    }
    panic!("more than 20 redirects")
}

fn action_of(body: &str) -> String {
    let start = body.find("action=\"").expect("a form") + "action=\"".len();
    body[start..start + body[start..].find('"').expect("quote")].to_owned()
}

/// Presses the app's button: the answer is the redirect to the provider.
async fn press_button(app: &TestApp, client: &Client, next: &str) -> reqwest::Response {
    let token = app.csrf(client, "/login").await;
    let response = client
        .post(app.url("/login/oidc"))
        .form(&[("next", next), ("csrf_token", &token)])
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 303, "the button sends the browser to the provider");
    response
}

/// From the button to the provider's way back: logs in as `login` at the provider and consents
/// (when it asks); returns the callback address, unvisited.
async fn through_provider(app: &TestApp, client: &Client, login: &str, next: &str) -> String {
    let callback = app.url("/login/oidc/callback");
    let mut step = follow(client, press_button(app, client, next).await, Some(&callback)).await;
    loop {
        let page = match step {
            Err(callback) => return callback,
            Ok(page) => page,
        };
        let prompt = if page.body.contains("value=\"login\"") {
            vec![("prompt", "login"), ("login", login), ("password", "any password")]
        } else if page.body.contains("value=\"consent\"") {
            vec![("prompt", "consent")]
        } else {
            panic!("unexpected page at the provider ({} {}):\n{}", page.status, page.url, page.body)
        };
        let response = client.post(action_of(&page.body)).form(&prompt).send().await.expect("POST");
        step = follow(client, response, Some(&callback)).await;
    }
}

/// The whole sign-in as `login`: the page the browser ends on, back at the app.
async fn sign_in(app: &TestApp, client: &Client, login: &str) -> Page {
    let callback = through_provider(app, client, login, "").await;
    visit(client, &callback).await
}

async fn visit(client: &Client, url: &str) -> Page {
    let response = client.get(url).send().await.expect("GET");
    follow(client, response, None).await.expect("no stop")
}

/// Answers the profile questions of a first sign-in.
async fn answer_profile(app: &TestApp, client: &Client, department: &str) -> Page {
    let response = app
        .submit_as(
            client,
            "/signin/profile",
            "/signin/profile",
            &[
                ("name", "Noor Haddad"),
                ("role", "Pharmacist"),
                ("level", "2"),
                ("department", department),
                ("department_other", ""),
            ],
        )
        .await;
    follow(client, response, None).await.expect("no stop")
}

/// Adds a confirmed account with a password (and the coordinator role), as the command line would.
async fn account_with_password(
    app: &TestApp,
    email: &str,
    coordinator: bool,
) -> coffee_rounds::domain::UserId {
    let hash = app.hasher.hash(PASSWORD).await.expect("hash");
    let (id,): (coffee_rounds::domain::UserId,) = sqlx::query_as(
        "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, created_at, updated_at) \
         VALUES ($1, 'Alex Rivera', $2, 'Nurse', 1, 'Cardiology', 1, 1, 1) RETURNING id",
    )
    .bind(email)
    .bind(hash)
    .fetch_one(app.store.pool())
    .await
    .expect("insert");
    if coordinator {
        app.store.set_coordinator(email, true, &Actor::command_line()).await.expect("coordinator");
    }
    id
}

async fn users_with(app: &TestApp, email: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    n
}

/// Whether `client` is logged in (the profile opens rather than sending to the login page).
async fn logged_in(app: &TestApp, client: &Client) -> bool {
    let response = client.get(app.url("/profile")).send().await.expect("GET");
    response.status() == 200
}

both_backends! {
    async fn a_first_sign_in_asks_the_profile_questions_on_one_page_then_makes_a_confirmed_account(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("noor.haddad");
        let (client, _) = browser();
        let questions = sign_in(&app, &client, &email).await;
        assert_eq!(questions.status, 200, "{}", questions.body);
        assert!(questions.url.ends_with("/signin/profile"), "{}", questions.url);
        assert!(questions.body.contains("Welcome to Coffee Rounds") && questions.body.contains(&email));
        for field in ["Full name", "Profession", "Career stage", "Department"] {
            assert!(questions.body.contains(field), "the shared profile fields ask for {field}");
        }
        assert!(questions.body.contains("value=\"Noor Haddad "), "the provider's name is filled in");
        assert_eq!(users_with(&app, &email).await, 0, "no account before the answers");

        let refused = answer_profile(&app, &client, "").await;
        assert_eq!(refused.status, 422, "a missing department is refused like on the profile form");
        assert!(refused.body.contains("Please check the form"), "{}", refused.body);

        let profile = answer_profile(&app, &client, "Pharmacy").await;
        assert_eq!(profile.status, 200, "{}", profile.body);
        assert!(profile.body.contains("Your profile") && profile.body.contains("You are taking part"), "{}", profile.body);
        let user = app.user_by_email(&email).await.unwrap().expect("the account");
        assert!(user.confirmed_at.is_some(), "the provider verified the address");
        assert_eq!((user.role.as_str(), user.department.as_str(), user.level.0), ("Pharmacist", "Pharmacy", 2));
        assert!(!user.is_coordinator());
        assert_eq!(app.count("oidc_identities").await, 1);

        // The account has no password: no password logs in to it.
        let login = app.log_in(&app.new_browser(), &email, PASSWORD).await;
        assert_eq!(login.status(), 401);
        // Signing in again goes straight in.
        let (again, _) = browser();
        let page = sign_in(&app, &again, &email).await;
        assert!(page.url.ends_with("/profile") && page.status == 200, "{page:?}");
        assert_eq!(users_with(&app, &email).await, 1);
    }

    async fn an_existing_password_account_with_the_verified_address_is_linked_not_duplicated(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("ana.souza");
        app.member(&email, PASSWORD).await;
        let id = app.user_by_email(&email).await.unwrap().unwrap().id;
        for _ in 0..2 {
            let (client, _) = browser();
            let page = sign_in(&app, &client, &email).await;
            assert_eq!(page.status, 200);
            assert!(page.url.ends_with("/profile"), "no profile questions for a linked account: {}", page.url);
            assert!(page.body.contains("Alex Rivera"), "the account's own profile");
        }
        assert_eq!(users_with(&app, &email).await, 1);
        let (linked,): (coffee_rounds::domain::UserId,) =
            sqlx::query_as("SELECT user_id FROM oidc_identities").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(linked, id);
        assert_eq!(app.count("oidc_identities").await, 1);
        // With password login on, the account's password still works.
        assert_eq!(app.log_in(&app.new_browser(), &email, PASSWORD).await.url().path(), "/profile");
    }

    async fn an_unconfirmed_sign_up_with_the_address_is_completed_and_its_password_dropped(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("someone.else.signed.up");
        let stranger = "a password the owner never chose";
        assert_eq!(app.sign_up(&email, stranger).await.status(), 200);
        let (client, _) = browser();
        let questions = sign_in(&app, &client, &email).await;
        assert!(questions.url.ends_with("/signin/profile"), "the owner answers the questions: {}", questions.url);
        assert!(questions.body.contains("Alex Rivera"), "the sign-up's answers are shown to change");
        let profile = answer_profile(&app, &client, "Oncology").await;
        assert!(profile.body.contains("Your profile"), "{}", profile.body);
        assert_eq!(users_with(&app, &email).await, 1);
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert!(user.confirmed_at.is_some());
        assert_eq!((user.name.as_str(), user.department.as_str()), ("Noor Haddad", "Oncology"));
        assert_eq!(app.log_in(&app.new_browser(), &email, stranger).await.status(), 401, "the sign-up's password is gone");
    }

    async fn an_address_outside_the_allowed_domains_is_refused_and_no_account_is_made(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let (client, _) = browser();
        let page = sign_in(&app, &client, "olly").await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("not open to this address") && page.body.contains("hospital.test"), "{}", page.body);
        assert_eq!(app.count("users").await, 0);
        assert_eq!(app.count("oidc_identities").await, 0);
        assert!(!logged_in(&app, &client).await);
    }

    async fn an_address_the_provider_does_not_verify_is_refused(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let (client, _) = browser();
        let page = sign_in(&app, &client, "una").await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("Your email address is not verified"), "{}", page.body);
        assert_eq!(app.count("users").await, 0);
        assert!(!logged_in(&app, &client).await);
    }

    async fn the_coordinator_claim_grants_the_role_and_takes_back_only_what_it_granted(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let issuer = issuer().expect("provider");
        let login = unique_email("coordinator.cleo");
        let (client, _) = browser();
        sign_in(&app, &client, &login).await;
        let dashboard = answer_profile(&app, &client, "Surgery").await;
        assert!(dashboard.url.ends_with("/coordinator"), "a coordinator lands on the dashboard: {}", dashboard.url);
        assert_eq!(dashboard.status, 200);
        assert!(app.user_by_email(&login).await.unwrap().unwrap().is_coordinator());
        let audit = app.store.audit_log(10).await.unwrap();
        assert!(
            audit.iter().any(|e| e.action == "role granted" && e.detail == login
                && e.actor == "identity provider (groups claim coffee-coordinators)"),
            "{audit:?}"
        );

        // An administrator takes the person out of the group: the next sign-in takes the role back.
        let changed = reqwest::Client::new()
            .post(format!("{issuer}/_test/groups?login={}&groups=staff", login.replace('+', "%2B")))
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 204);
        let (client, _) = browser();
        let page = sign_in(&app, &client, &login).await;
        assert!(page.url.ends_with("/profile"), "{}", page.url);
        assert_eq!(client.get(app.url("/coordinator")).send().await.unwrap().status(), 403);
        let audit = app.store.audit_log(10).await.unwrap();
        assert!(audit.iter().any(|e| e.action == "role removed" && e.detail == login), "{audit:?}");

        // A role granted from the command line stays, whatever the claim says.
        let granted = unique_email("granted.by.hand");
        account_with_password(&app, &granted, true).await;
        let (client, _) = browser();
        let page = sign_in(&app, &client, &granted).await;
        assert!(page.url.ends_with("/coordinator"), "{}", page.url);
        assert!(app.user_by_email(&granted).await.unwrap().unwrap().is_coordinator());
    }

    async fn cancelling_at_the_provider_shows_a_clear_page_and_makes_no_account(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let (client, _) = browser();
        let login = follow(&client, press_button(&app, &client, "").await, None).await.unwrap();
        let start = login.body.find("href=\"").unwrap() + 6;
        let abort: String = login.body[start..].split('"').next().unwrap().to_owned();
        assert!(abort.ends_with("/abort"), "the provider's Cancel link: {abort}");
        let page = visit(&client, &abort).await;
        assert_eq!(page.status, 403, "{}", page.body);
        assert!(page.url.contains("/login/oidc/callback?error=access_denied"), "{}", page.url);
        assert!(page.body.contains("You were not signed in"), "{}", page.body);
        assert_eq!(app.count("users").await, 0);
        assert!(!logged_in(&app, &client).await);
    }

    async fn an_expired_code_shows_a_clear_page_and_signs_nobody_in(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("slow.sam");
        app.member(&email, PASSWORD).await;
        let (client, _) = browser();
        // The provider's codes for "slow." people expire after one second.
        let callback = through_provider(&app, &client, &email, "").await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let page = visit(&client, &callback).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(page.body.contains("took too long or was already used"), "{}", page.body);
        assert_eq!(app.count("oidc_identities").await, 0);
        assert!(!logged_in(&app, &client).await);
    }

    async fn a_token_issued_for_another_audience_is_refused(backend) {
        let Some(app) = spawn(backend, |config| {
            if let Some(oidc) = config.oidc.as_mut() {
                oidc.client_id = "coffee-rounds-wrong-audience".into();
            }
        })
        .await else { return };
        let email = unique_email("ana.souza");
        app.member(&email, PASSWORD).await;
        let (client, _) = browser();
        let page = sign_in(&app, &client, &email).await;
        assert_eq!(page.status, 502, "{}", page.body);
        assert!(page.body.contains("could not be trusted"), "{}", page.body);
        assert_eq!(app.count("oidc_identities").await, 0);
        assert!(!logged_in(&app, &client).await);
    }

    async fn a_replayed_or_foreign_state_is_refused(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("ana.souza");
        app.member(&email, PASSWORD).await;
        let (mine, _) = browser();
        let callback = through_provider(&app, &mine, &email, "").await;

        // Another browser sent to this way back (a forged sign-in) is refused, and nothing of it stays.
        let (theirs, _) = browser();
        let page = visit(&theirs, &callback).await;
        assert_eq!(page.status, 400);
        assert!(page.body.contains("expired or was already used"), "{}", page.body);
        assert!(!logged_in(&app, &theirs).await);

        let page = visit(&mine, &callback).await;
        assert!(page.url.ends_with("/profile") && page.status == 200, "the browser that started it signs in");

        // The same way back again: used once.
        let replayed = visit(&mine, &callback).await;
        assert_eq!(replayed.status, 400);
        assert!(replayed.body.contains("expired or was already used"), "{}", replayed.body);
        let forged = visit(&mine, &app.url("/login/oidc/callback?code=abc&state=made-up")).await;
        assert_eq!(forged.status, 400);
    }

    async fn the_session_is_new_at_sign_in_and_ends_at_its_lifetime_however_active(backend) {
        let Some(app) = spawn(backend, |config| {
            if let Some(oidc) = config.oidc.as_mut() {
                oidc.session_lifetime = Duration::from_secs(3);
            }
        })
        .await else { return };
        let email = unique_email("ana.souza");
        app.member(&email, PASSWORD).await;
        let (client, jar) = browser();
        let callback = through_provider(&app, &client, &email, "").await;
        let base: reqwest::Url = app.base.parse().unwrap();
        let before = reqwest::cookie::CookieStore::cookies(&*jar, &base).expect("a session for the sign-in under way");
        let page = visit(&client, &callback).await;
        assert!(page.url.ends_with("/profile"));
        let after = reqwest::cookie::CookieStore::cookies(&*jar, &base).unwrap();
        assert_ne!(before, after, "the session id changes at sign-in");
        let old = Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let with_old_cookie = old.get(app.url("/profile")).header("cookie", before).send().await.unwrap();
        assert_eq!(with_old_cookie.status(), 303, "the session from before the sign-in is not logged in");

        tokio::time::sleep(Duration::from_millis(1200)).await;
        assert!(logged_in(&app, &client).await, "visits in the meantime ...");
        tokio::time::sleep(Duration::from_millis(2300)).await;
        assert!(!logged_in(&app, &client).await, "... do not stretch the provider's session past its lifetime");
        // A password login still lasts as long as it is used.
        let browser = app.new_browser();
        app.log_in(&browser, &email, PASSWORD).await;
        let (expires_at,): (i64,) = sqlx::query_as("SELECT MAX(expires_at) FROM sessions WHERE user_id IS NOT NULL")
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert!(expires_at > coffee_rounds::store::now() + 13 * 86_400);
    }

    async fn with_password_login_off_only_the_provider_and_the_coordinators_break_glass_login_remain(backend) {
        let Some(app) = spawn(backend, |config| config.password_login = false).await else { return };
        let login_page = app.get("/login").await.text().await.unwrap();
        assert!(login_page.contains(">Sign in with St Mary&#39;s</button>"), "{login_page}");
        assert!(!login_page.contains("name=\"password\""), "no password form");
        let signup = app.get("/signup").await.text().await.unwrap();
        assert!(signup.contains("Join Coffee Rounds") && !signup.contains("name=\"password\""));
        assert_eq!(app.sign_up(&unique_email("new"), PASSWORD).await.status(), 403);

        let participant = unique_email("paula.participant");
        account_with_password(&app, &participant, false).await;
        let coordinator = unique_email("cody.coordinator");
        account_with_password(&app, &coordinator, true).await;
        for path in ["/login", "/login/coordinator"] {
            let refused = app
                .submit_as(&app.new_browser(), "/login/coordinator", path, &[("email", &participant), ("password", PASSWORD)])
                .await;
            assert_eq!(refused.status(), 401, "{path}");
            assert!(refused.text().await.unwrap().contains("The email or password is not right"), "as for a wrong password");
        }
        let break_glass = app.get("/login/coordinator").await.text().await.unwrap();
        assert!(break_glass.contains("Coordinator login") && break_glass.contains("name=\"password\""));
        let (client, _) = browser();
        let response = app
            .submit_as(&client, "/login/coordinator", "/login/coordinator", &[("email", &coordinator), ("password", PASSWORD)])
            .await;
        assert_eq!(response.headers()[LOCATION], "/coordinator");

        // The participant signs in through the provider (the account is linked).
        let (client, _) = browser();
        let page = sign_in(&app, &client, &participant).await;
        assert!(page.url.ends_with("/profile") && page.status == 200, "{page:?}");
    }

    async fn a_closed_account_cannot_sign_in_through_the_provider(backend) {
        let Some(app) = spawn(backend, |_| {}).await else { return };
        let email = unique_email("lee.leaver");
        app.member(&email, PASSWORD).await;
        let (client, _) = browser();
        sign_in(&app, &client, &email).await;
        assert!(logged_in(&app, &client).await);
        let email_typed = coffee_rounds::domain::Email::parse(&email).unwrap();
        app.store.deactivate(&[email_typed], &Actor::command_line()).await.unwrap();
        assert!(!logged_in(&app, &client).await, "closing the account ended its session");
        let (client, _) = browser();
        let page = sign_in(&app, &client, &email).await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("Your Coffee Rounds account is closed"), "{}", page.body);
        assert!(!logged_in(&app, &client).await);
    }
}
