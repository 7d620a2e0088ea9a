//! Sessions end when they should, even with a request in flight, and visitors who only read
//! pages leave nothing stored behind.

mod common;

use std::{sync::Arc, time::Duration};

use common::{TestApp, csrf_in, unique_email};
use reqwest::{Url, cookie::CookieStore, header};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const PASSWORD: &str = "morning rounds with coffee";
const NEW_PASSWORD: &str = "evening rounds with tea";

/// A browser whose cookies a test can copy, as a thief would.
struct Browser {
    client: reqwest::Client,
    jar: Arc<reqwest::cookie::Jar>,
}

impl Browser {
    fn new() -> Self {
        let jar = Arc::new(reqwest::cookie::Jar::default());
        let client = reqwest::Client::builder().cookie_provider(jar.clone()).build().unwrap();
        Self { client, jar }
    }

    /// The `Cookie` header this browser sends to `app`.
    fn cookies(&self, app: &TestApp) -> String {
        let url: Url = app.base.parse().unwrap();
        self.jar.cookies(&url).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }
}

/// A form post sent in two halves over a raw connection: the server has read the headers (and
/// loaded the session) but waits for the rest of the body.
struct SlowPost {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowPost {
    async fn start(app: &TestApp, path: &str, cookie: &str, body: &str) -> Self {
        let port = app.base.rsplit(':').next().unwrap();
        let mut stream = TcpStream::connect(format!("127.0.0.1:{port}")).await.unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let (first, rest) = body.as_bytes().split_at(body.len() / 2);
        stream.write_all(head.as_bytes()).await.unwrap();
        stream.write_all(first).await.unwrap();
        stream.flush().await.unwrap();
        // Long enough for the server to have read the session; the request's answer below
        // shows that it did.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Self { stream, rest: rest.to_vec() }
    }

    /// Sends the rest of the body; returns the answer's status.
    async fn finish(mut self) -> u16 {
        self.stream.write_all(&self.rest).await.unwrap();
        let mut answer = Vec::new();
        self.stream.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        answer
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no status in {answer}"))
    }
}

/// Starts the slow request a stolen session makes: it changes the session (a one-time message).
async fn slow_request_on(app: &TestApp, thief: &Browser) -> SlowPost {
    let page = thief.client.get(app.url("/profile")).send().await.unwrap().text().await.unwrap();
    let token = csrf_in(&page).expect("the thief is logged in");
    SlowPost::start(app, "/profile/nudges", &thief.cookies(app), &format!("enabled=1&csrf_token={token}"))
        .await
}

/// Whether `cookies` still open the profile.
async fn logged_in_with(app: &TestApp, cookies: &str) -> bool {
    let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = plain.get(app.url("/profile")).header(header::COOKIE, cookies).send().await.unwrap();
    response.status() == 200
}

both_backends! {
    async fn a_password_change_ends_a_stolen_session_even_with_its_request_in_flight(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("change");
        app.member(&email, PASSWORD).await;
        let thief = Browser::new();
        assert_eq!(app.log_in(&thief.client, &email, PASSWORD).await.url().path(), "/profile");
        let stolen = thief.cookies(&app);

        let in_flight = slow_request_on(&app, &thief).await;
        let changed = app
            .submit("/password/change", "/password/change", &[("current_password", PASSWORD), ("new_password", NEW_PASSWORD)])
            .await;
        assert!(changed.text().await.unwrap().contains("Your other sessions were logged out"));
        assert_eq!(in_flight.finish().await, 303, "the slow request had read its session before the change");

        assert!(!logged_in_with(&app, &stolen).await, "the stolen session survived the password change");
        assert_eq!(app.get("/profile").await.url().path(), "/profile", "the owner's own session goes on");
        app.stop().await;
    }

    async fn a_password_reset_ends_a_stolen_session_even_with_its_request_in_flight(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("reset");
        app.member(&email, PASSWORD).await;
        let thief = Browser::new();
        app.log_in(&thief.client, &email, PASSWORD).await;
        let stolen = thief.cookies(&app);

        let in_flight = slow_request_on(&app, &thief).await;
        let owner = app.new_browser();
        app.submit_as(&owner, "/password/forgot", "/password/forgot", &[("email", &email)]).await;
        let link = app.email_to(&email).await.link(&format!("{}/password/reset?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let path = link.replacen(&app.base, "", 1);
        let reset = app.submit_as(&owner, &path, "/password/reset", &[("token", &token), ("password", NEW_PASSWORD)]).await;
        assert_eq!(reset.url().path(), "/login");
        assert_eq!(in_flight.finish().await, 303, "the slow request had read its session before the reset");

        assert!(!logged_in_with(&app, &stolen).await, "the stolen session survived the password reset");
        app.stop().await;
    }

    async fn logging_out_ends_the_session_even_with_a_request_on_it_in_flight(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("logout");
        app.member(&email, PASSWORD).await;
        let owner = Browser::new();
        app.log_in(&owner.client, &email, PASSWORD).await;
        let copied = owner.cookies(&app);

        // Another tab of the same session (or a copy of its cookie) is mid-request.
        let in_flight = slow_request_on(&app, &owner).await;
        let token = csrf_in(&owner.client.get(app.url("/profile")).send().await.unwrap().text().await.unwrap()).unwrap();
        let out = owner.client.post(app.url("/logout")).form(&[("csrf_token", token)]).send().await.unwrap();
        assert_eq!(out.url().path(), "/");
        assert_eq!(in_flight.finish().await, 303, "the slow request had read its session before the logout");

        assert!(!logged_in_with(&app, &copied).await, "the session came back after logging out");
        app.stop().await;
    }

    async fn reading_the_forms_stores_no_session(backend) {
        let app = TestApp::spawn(backend).await;
        for _ in 0..20 {
            for path in ["/login", "/signup", "/password/forgot", "/confirm/resend", "/"] {
                assert_eq!(app.new_browser().get(app.url(path)).send().await.unwrap().status(), 200, "{path}");
            }
        }
        // A refused login is answered without storing anything either.
        let stranger = app.new_browser();
        assert_eq!(app.log_in(&stranger, &unique_email("nobody"), "a wrong password here").await.status(), 401);
        assert_eq!(app.count("sessions").await, 0);

        // The forms still work: their token travels in a cookie of its own.
        let email = unique_email("fresh");
        app.member(&email, PASSWORD).await;
        assert_eq!(app.count("sessions").await, 1, "one session, for the person who logged in");
        app.stop().await;
    }

    async fn a_form_token_from_one_visitor_does_not_work_for_another(backend) {
        let app = TestApp::spawn(backend).await;
        let first = app.new_browser();
        let token = app.csrf(&first, "/login").await;
        // A second visitor with the first one's token but a cookie of its own is refused.
        let second = app.new_browser();
        app.csrf(&second, "/login").await;
        let form = [("email", "someone@hospital.test"), ("password", "a wrong password here"), ("csrf_token", token.as_str())];
        assert_eq!(second.post(app.url("/login")).form(&form).send().await.unwrap().status(), 403);
        // And with no cookie at all.
        let bare = reqwest::Client::new();
        assert_eq!(bare.post(app.url("/login")).form(&form).send().await.unwrap().status(), 403);
        assert_eq!(first.post(app.url("/login")).form(&form).send().await.unwrap().status(), 401);
        app.stop().await;
    }
}
