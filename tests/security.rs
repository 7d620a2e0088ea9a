//! Each security promise of the foundation, with a test that fails without it.

mod common;

use std::time::{Duration, Instant};

use common::{TestApp, csrf_in, no_redirects, unique_email};
use reqwest::header;

const PASSWORD: &str = "morning rounds with coffee";

/// The `Set-Cookie` value of the cookie whose name and `=` start with `prefix`.
fn set_cookie(response: &reqwest::Response, prefix: &str) -> Option<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .map(str::to_owned)
}

fn session_cookie(response: &reqwest::Response) -> Option<String> {
    set_cookie(response, "coffee_rounds_session=")
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// A page without the parts that differ between two otherwise identical answers.
fn normalised(page: &str, email: &str) -> String {
    let mut page = page.replace(email, "EMAIL");
    while let Some(token) = csrf_in(&page) {
        page = page.replace(&token, "TOKEN");
        if csrf_in(&page).as_deref() == Some("TOKEN") {
            break;
        }
    }
    page
}

both_backends! {
    async fn a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("csrf");
        app.member(&email, PASSWORD).await;
        let fields = [("name", "Changed By Attacker"), ("role", "Nurse"), ("level", "1"), ("department", "Cardiology")];

        let missing = app.client.post(app.url("/profile")).form(&fields).send().await.unwrap();
        assert_eq!(missing.status(), 403);
        assert!(missing.text().await.unwrap().contains("did not come from Coffee Rounds"));
        let mut forged = fields.to_vec();
        forged.push(("csrf_token", "forged-token"));
        let wrong = app.client.post(app.url("/profile")).form(&forged).send().await.unwrap();
        assert_eq!(wrong.status(), 403);
        let opt_out = app.client.post(app.url("/profile/opt-out")).send().await.unwrap();
        assert_eq!(opt_out.status(), 403);

        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!(user.name, "Alex Rivera");
        assert!(user.opted_out_at.is_none());

        // A stranger's form post (no session at all) is refused too.
        let stranger = app.new_browser();
        let signup = stranger.post(app.url("/signup")).form(&[("email", unique_email("x").as_str()), ("csrf_token", "x")]).send().await.unwrap();
        assert_eq!(signup.status(), 403);
        app.stop().await;
    }

    async fn every_response_carries_the_security_headers(backend) {
        let app = TestApp::spawn(backend).await;
        for path in ["/", "/login", "/no-such-page", "/static/style.css", "/healthz"] {
            let response = app.get(path).await;
            let h = response.headers();
            let csp = h.get(header::CONTENT_SECURITY_POLICY).unwrap_or_else(|| panic!("no CSP on {path}")).to_str().unwrap();
            assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"), "{csp}");
            assert_eq!(h.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff", "{path}");
            assert!(h.get(header::REFERRER_POLICY).is_some(), "{path}");
        }
        // No page carries inline script.
        for path in ["/", "/login", "/signup"] {
            let page = app.get(path).await.text().await.unwrap();
            assert!(!page.contains("<script"), "{path} has a script");
        }
        app.stop().await;
    }

    async fn pages_are_not_kept_in_the_browser_cache_but_the_stylesheet_is(backend) {
        let app = TestApp::spawn(backend).await;
        app.member(&unique_email("cache"), "correct horse battery staple").await;
        for path in ["/", "/login", "/profile", "/password/change", "/no-such-page"] {
            let response = app.get(path).await;
            assert_eq!(response.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap()), Some("no-store"), "{path}");
        }
        let css = app.get("/static/style.css").await;
        assert_eq!(css.headers().get(header::CACHE_CONTROL).unwrap(), "public, max-age=3600");
        app.stop().await;
    }

    async fn the_cookies_are_http_only_same_site_lax_and_secure_under_https(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("cookies");
        app.member(&email, PASSWORD).await;
        let browser = no_redirects();
        let form_page = browser.get(app.url("/login")).send().await.unwrap();
        let csrf_cookie = set_cookie(&form_page, "coffee_rounds_csrf=").expect("a CSRF cookie for the login form");
        assert!(session_cookie(&form_page).is_none(), "showing a form starts no session");
        let login = app.log_in(&browser, &email, PASSWORD).await;
        let session = session_cookie(&login).expect("a session cookie at login");
        for cookie in [&csrf_cookie, &session] {
            assert!(cookie.contains("HttpOnly"), "{cookie}");
            assert!(cookie.contains("SameSite=Lax"), "{cookie}");
            assert!(!cookie.contains("Secure"), "plain-http deployments cannot use Secure: {cookie}");
        }
        app.stop().await;

        let https = TestApp::spawn_with(backend, |c| c.base_url = "https://coffee.hospital.test".into()).await;
        // A browser keeps Secure cookies off plain http, so this one is sent by hand.
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let form_page = plain.get(https.url("/login")).send().await.unwrap();
        let csrf_cookie = set_cookie(&form_page, "__Host-coffee_rounds_csrf=").expect("a __Host- CSRF cookie");
        assert!(csrf_cookie.contains("Secure") && csrf_cookie.contains("Path=/"), "{csrf_cookie}");
        assert!(form_page.headers().get(header::STRICT_TRANSPORT_SECURITY).is_some());
        let token = csrf_in(&form_page.text().await.unwrap()).unwrap();
        let email = unique_email("secure");
        let (id, _) = https.add_participant("Secure Person", "Nurse", 1, "Cardiology").await;
        let hash = https.hasher.hash(PASSWORD).await.unwrap();
        sqlx::query("UPDATE users SET email = $1, password_hash = $2 WHERE id = $3")
            .bind(&email).bind(&hash).bind(id).execute(https.store.pool()).await.unwrap();
        let login = plain
            .post(https.url("/login"))
            .header(header::COOKIE, cookie_value(&csrf_cookie))
            .form(&[("email", email.as_str()), ("password", PASSWORD), ("csrf_token", &token)])
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 303);
        let session = session_cookie(&login).unwrap();
        assert!(session.contains("Secure") && session.contains("HttpOnly"), "{session}");
        https.stop().await;
    }

    async fn logging_in_rotates_the_session_id_and_logging_out_destroys_it(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("rotate");
        app.member(&email, PASSWORD).await;

        // A session from before logging in: the one-time message after a password reset.
        let browser = no_redirects();
        app.submit_as(&browser, "/password/forgot", "/password/forgot", &[("email", &email)]).await;
        let link = app.email_to(&email).await.link(&format!("{}/password/reset?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let reset = app
            .submit_as(&browser, &link.replacen(&app.base, "", 1), "/password/reset", &[("token", &token), ("password", PASSWORD)])
            .await;
        let before = session_cookie(&reset).expect("a session for the message after the reset");
        let login = app.log_in(&browser, &email, PASSWORD).await;
        assert_eq!(login.status(), 303);
        let after = session_cookie(&login).expect("a new cookie at login");
        assert_ne!(cookie_value(&before), cookie_value(&after));

        // The pre-login session id gives no access.
        let plain = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        let with = |c: &str| plain.get(app.url("/profile")).header(header::COOKIE, cookie_value(c));
        assert_eq!(with(&before).send().await.unwrap().status(), 303);
        assert_eq!(with(&after).send().await.unwrap().status(), 200);

        // After logout, a copy of the cookie opens nothing.
        let token = app.csrf(&browser, "/profile").await;
        let out = browser.post(app.url("/logout")).form(&[("csrf_token", token)]).send().await.unwrap();
        assert_eq!(out.status(), 303);
        let profile = with(&after).send().await.unwrap();
        assert_eq!(profile.status(), 303);
        assert!(profile.headers()[header::LOCATION].to_str().unwrap().starts_with("/login"));
        app.stop().await;
    }

    async fn signing_up_with_a_registered_email_looks_the_same_and_tells_the_owner(backend) {
        let app = TestApp::spawn(backend).await;
        let taken = unique_email("taken");
        app.member(&taken, PASSWORD).await;
        let fresh = unique_email("fresh");

        let again = app.new_browser();
        let new = app.new_browser();
        let sign_up = |client: reqwest::Client, email: String| {
            let app = &app;
            async move {
                let form = [("email", email.as_str()), ("name", "Pat Doe"), ("password", "quiet ward at night"),
                    ("role", "Physician"), ("level", "3"), ("department", "Surgery")];
                let response = app.submit_as(&client, "/signup", "/signup", &form).await;
                (response.status(), response.url().path().to_owned(), normalised(&response.text().await.unwrap(), &email))
            }
        };
        let taken_answer = sign_up(again, taken.clone()).await;
        let fresh_answer = sign_up(new, fresh.clone()).await;
        assert_eq!(taken_answer, fresh_answer);

        let note = app.email_to(&taken).await;
        assert_eq!(note.subject, "You already have a Coffee Rounds account");
        assert!(note.text.contains("tried to sign up"));
        assert_eq!(app.email_to(&fresh).await.subject, "Confirm your Coffee Rounds account");
        // The existing account is untouched.
        assert_eq!(app.user_by_email(&taken).await.unwrap().unwrap().name, "Alex Rivera");
        app.stop().await;
    }

    async fn login_with_an_unknown_email_a_wrong_password_or_an_invited_account_answers_alike(backend) {
        let app = TestApp::spawn(backend).await;
        let known = unique_email("known");
        app.member(&known, PASSWORD).await;
        let unknown = unique_email("unknown");
        // Invited from a roster: an account whose password is still a placeholder.
        let (invited_id, invited) = app.add_participant("Invited Person", "Nurse", 1, "Cardiology").await;
        sqlx::query("UPDATE users SET password_hash = $1, confirmed_at = NULL WHERE id = $2")
            .bind(coffee_rounds::accounts::INVITED_HASH)
            .bind(invited_id)
            .execute(app.store.pool())
            .await
            .unwrap();

        let attempt = |email: String| {
            let app = &app;
            async move {
                let checks = app.hasher.verifications();
                let response = app.log_in(&app.new_browser(), &email, "a wrong password here").await;
                let page = (response.status(), normalised(&response.text().await.unwrap(), &email));
                // Each answer costs one full argon2 check, so a stopwatch tells nothing either.
                assert_eq!(app.hasher.verifications(), checks + 1, "one password check for {email}");
                page
            }
        };
        let (known_page, unknown_page, invited_page) =
            (attempt(known.clone()).await, attempt(unknown.clone()).await, attempt(invited.clone()).await);
        assert_eq!(known_page.0, 401);
        assert_eq!(known_page, unknown_page);
        assert_eq!(known_page, invited_page);
        app.stop().await;
    }

    async fn a_reset_request_answers_alike_for_known_and_unknown_emails(backend) {
        let app = TestApp::spawn(backend).await;
        let known = unique_email("known");
        app.member(&known, PASSWORD).await;
        let unknown = unique_email("nobody");
        let ask = |email: String| {
            let app = &app;
            async move {
                let r = app.submit_as(&app.new_browser(), "/password/forgot", "/password/forgot", &[("email", &email)]).await;
                (r.status(), r.url().path().to_owned(), normalised(&r.text().await.unwrap(), &email))
            }
        };
        assert_eq!(ask(known.clone()).await, ask(unknown.clone()).await);
        assert_eq!(app.email_to(&known).await.subject, "Reset your Coffee Rounds password");
        assert!(app.all_emails_to(&unknown).await.is_empty());
        app.stop().await;
    }

    async fn too_many_login_attempts_from_one_client_get_a_readable_429(backend) {
        let app = TestApp::spawn_with(backend, |c| c.rate_limits.per_ip_per_minute = 3).await;
        let browser = app.new_browser();
        for _ in 0..3 {
            assert_eq!(app.log_in(&browser, &unique_email("guess"), "a wrong password here").await.status(), 401);
        }
        let limited = app.log_in(&browser, &unique_email("guess"), "a wrong password here").await;
        assert_eq!(limited.status(), 429);
        assert!(limited.headers().get(header::RETRY_AFTER).is_some());
        assert!(limited.text().await.unwrap().contains("Too many attempts"));
        // Signup and reset share the per-client budget.
        assert_eq!(app.sign_up(&unique_email("late"), PASSWORD).await.status(), 429);
        // Reading pages is not limited.
        assert_eq!(app.get("/login").await.status(), 200);
        app.stop().await;
    }

    async fn too_many_attempts_on_one_account_are_limited_from_any_client(backend) {
        let app = TestApp::spawn_with(backend, |c| c.rate_limits.per_account_per_minute = 2).await;
        let target = unique_email("target");
        for _ in 0..2 {
            assert_eq!(app.log_in(&app.new_browser(), &target, "a wrong password here").await.status(), 401);
        }
        assert_eq!(app.log_in(&app.new_browser(), &target, "a wrong password here").await.status(), 429);
        let forgot = app.submit_as(&app.new_browser(), "/password/forgot", "/password/forgot", &[("email", &target.to_uppercase())]).await;
        assert_eq!(forgot.status(), 429, "the same account in other letter case counts too");
        assert_eq!(app.log_in(&app.new_browser(), &unique_email("other"), "a wrong password here").await.status(), 401);
        app.stop().await;
    }

    async fn behind_a_proxy_a_forged_forwarded_for_does_not_escape_the_rate_limit(backend) {
        let app = TestApp::spawn_with(backend, |c| {
            c.trusted_proxies = 1;
            c.rate_limits.per_ip_per_minute = 3;
        })
        .await;
        let browser = app.new_browser();
        let token = app.csrf(&browser, "/login").await;
        let attempt = |forwarded: String| {
            let (browser, token, url) = (&browser, &token, app.url("/login"));
            async move {
                let form = [("email", "guess@hospital.test"), ("password", "a wrong password here"), ("csrf_token", token)];
                browser.post(url).header("x-forwarded-for", forwarded).form(&form).send().await.unwrap().status()
            }
        };
        // The client writes whatever it likes on the left; our proxy appends the address it saw.
        let mut limited = 0;
        for i in 0..25 {
            if attempt(format!("10.0.{i}.1, 192.0.2.7")).await == 429 {
                limited += 1;
            }
        }
        assert_eq!(limited, 22, "all but the first three attempts from 192.0.2.7 are limited");
        assert_eq!(attempt("10.0.0.1, 192.0.2.8".into()).await, 401, "another client has its own budget");
        app.stop().await;
    }

    async fn repeated_sign_ups_with_a_registered_address_send_its_owner_one_note(backend) {
        let app = TestApp::spawn(backend).await;
        let taken = unique_email("owner");
        app.member(&taken, PASSWORD).await;
        for _ in 0..10 {
            let answer = app.sign_up(&taken, "someone else's password").await;
            assert_eq!(answer.url().path(), "/check-email");
        }
        let notes = app.all_emails_to(&taken).await;
        let subjects: Vec<&str> = notes.iter().map(|n| n.subject.as_str()).collect();
        assert_eq!(subjects, ["You already have a Coffee Rounds account"]);
        app.stop().await;
    }

    async fn an_answer_given_before_the_body_is_read_closes_the_connection(backend) {
        let app = TestApp::spawn(backend).await;
        // One pooled client, as a browser keeps its connection open; each refusal is followed
        // at once by another request, which must not land on a connection the server drops.
        let token = app.csrf(&app.client, "/signup").await;
        let huge = "x".repeat(3 * 1024 * 1024);
        let stranger = reqwest::Client::new();
        let form = "x".repeat(40 * 1024);
        for _ in 0..10 {
            let big = app.client.post(app.url("/signup")).form(&[("csrf_token", token.as_str()), ("name", &huge)]).send().await;
            if let Ok(big) = big {
                assert_eq!(big.status(), 413);
                assert_eq!(big.headers()[header::CONNECTION], "close");
            }
            assert_eq!(app.get("/login").await.status(), 200);

            let forged = stranger.post(app.url("/profile")).body(format!("name={form}")).send().await.unwrap();
            assert_eq!(forged.status(), 403);
            assert_eq!(forged.headers()[header::CONNECTION], "close");
            assert_eq!(stranger.get(app.url("/")).send().await.unwrap().status(), 200);
        }
        app.stop().await;
    }

    async fn after_login_only_local_next_paths_are_followed(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("next");
        app.member(&email, PASSWORD).await;
        let go = |next: &'static str| {
            let app = &app;
            let email = email.clone();
            async move {
                let browser = no_redirects();
                let r = app.submit_as(&browser, "/login", "/login", &[("email", &email), ("password", PASSWORD), ("next", next)]).await;
                r.headers()[header::LOCATION].to_str().unwrap().to_owned()
            }
        };
        assert_eq!(go("/password/change").await, "/password/change");
        assert_eq!(go("https://evil.example/phish").await, "/profile");
        assert_eq!(go("//evil.example").await, "/profile");
        assert_eq!(go("/\\evil.example").await, "/profile");

        // A protected page sends an anonymous visitor to log in and back.
        let r = no_redirects().get(app.url("/password/change")).send().await.unwrap();
        assert_eq!(r.headers()[header::LOCATION], "/login?next=%2Fpassword%2Fchange");
        app.stop().await;
    }

    async fn unknown_pages_and_oversized_bodies_get_friendly_answers(backend) {
        let app = TestApp::spawn(backend).await;
        let missing = app.get("/no/such/page").await;
        assert_eq!(missing.status(), 404);
        assert!(missing.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
        assert!(missing.text().await.unwrap().contains("Page not found"));

        let token = app.csrf(&app.client, "/signup").await;
        let huge = "x".repeat(300 * 1024);
        let big = app.client.post(app.url("/signup")).form(&[("csrf_token", token.as_str()), ("name", &huge)]).send().await.unwrap();
        assert_eq!(big.status(), 413);

        let bogus = app.get("/password/reset?token=not-a-real-token").await;
        assert_eq!(bogus.status(), 410);
        app.stop().await;
    }

    async fn errors_the_framework_answers_are_the_apps_pages(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("framework");
        app.member(&email, PASSWORD).await;

        // A method the address does not take: was an empty 405.
        let wrong_method = app.get("/logout").await;
        assert_eq!(wrong_method.headers()[header::ALLOW], "POST");
        assert_page(wrong_method, 405, "That action is not available here").await;
        // Values in the path or query that do not parse: were plain text.
        assert_page(app.get("/r/%FF%FE").await, 404, "Page not found").await;
        let token = app.csrf(&app.client, "/profile").await;
        let respond = app.client.post(app.url("/rounds/first/met")).form(&[("csrf_token", token.as_str())]).send().await.unwrap();
        assert_page(respond, 404, "Page not found").await;
        assert_page(app.get("/check-email?for=signup&for=reset").await, 400, "The address holds a value Coffee Rounds cannot read").await;
        // The static files' own answers.
        assert_page(app.get("/static/no-such-file.css").await, 404, "Page not found").await;

        // A body over the limit, refused from its Content-Length before it is read: was plain text.
        let (status, headers, body) = raw_exchange(&app, "POST /signup HTTP/1.1\r\nHost: localhost\r\n\
            Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 5000000\r\n\r\n").await;
        assert_eq!(status, 413, "{body}");
        assert!(headers.contains("content-type: text/html"), "{headers}");
        assert!(body.contains("That was too much to send"), "{body}");

        // The healthcheck stays plain for probes.
        let health = app.get("/healthz").await;
        assert!(health.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
        app.stop().await;
    }

    async fn a_request_that_takes_too_long_gets_the_apps_408_page(backend) {
        let app = TestApp::spawn_with(backend, |c| c.request_timeout = Duration::from_millis(500)).await;
        // A visitor with their CSRF cookie and token, so the request gets as far as reading its body.
        let login = no_redirects().get(app.url("/login")).send().await.unwrap();
        let cookie = cookie_value(&set_cookie(&login, "coffee_rounds_csrf=").unwrap());
        let token = csrf_in(&login.text().await.unwrap()).unwrap();
        let started = Instant::now();
        let (status, headers, body) = raw_exchange(&app, &format!("POST /login HTTP/1.1\r\nHost: localhost\r\n\
            Cookie: {cookie}\r\nX-CSRF-Token: {token}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
            Content-Length: 100\r\n\r\nemail=")).await;
        assert_eq!(status, 408, "{body}");
        assert!(started.elapsed() >= Duration::from_millis(500));
        assert!(headers.contains("content-type: text/html"), "{headers}");
        assert!(body.contains("That took too long"), "{body}");
        app.stop().await;
    }

    async fn text_the_databases_cannot_store_is_refused_on_the_sign_up_and_profile_forms(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("nul");
        let signup = app.submit_as(&app.new_browser(), "/signup", "/signup", &[("email", &email), ("name", "Ana\0Diaz"),
            ("password", PASSWORD), ("role", "Nurse"), ("level", "1"), ("department", "Cardiology")]).await;
        assert_nul_refused(signup, "name").await;
        assert!(app.user_by_email(&email).await.unwrap().is_none(), "no account created");

        let member = unique_email("member");
        app.member(&member, PASSWORD).await;
        let profile = app.submit("/profile", "/profile", &[("name", "Alex Rivera"), ("role", "Nurse"), ("level", "2"),
            ("department", "__other"), ("department_other", "Wound\0care")]).await;
        assert_nul_refused(profile, "department other").await;
        let user = app.user_by_email(&member).await.unwrap().unwrap();
        assert_eq!((user.level.0, user.department.as_str()), (1, "Cardiology"), "the profile is unchanged");
        app.stop().await;
    }

    async fn the_session_key_survives_a_restart(backend) {
        // The first app generates and stores the key; a second one on the same database reuses it.
        let app = TestApp::spawn(backend).await;
        let email = unique_email("restart");
        app.member(&email, PASSWORD).await;
        let (key,): (String,) = sqlx::query_as("SELECT value FROM secrets WHERE name = 'session_key'")
            .fetch_one(app.store.pool()).await.unwrap();
        assert!(key.len() >= 86, "64 random bytes, base64");
        let mut config = coffee_rounds::config::Config::from_lookup(|_| None).unwrap();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.database_url = database_url_of(&app).await;
        config.mail = coffee_rounds::config::MailSettings::Files(tempfile::tempdir().unwrap().keep());
        let second = coffee_rounds::app::Application::build(config).await.unwrap();
        let port = second.port();
        tokio::spawn(second.run_until(std::future::pending()));
        // The same browser, its cookie signed by the first process, is still logged in.
        let profile = app.client.get(format!("http://127.0.0.1:{port}/profile")).send().await.unwrap();
        assert_eq!(profile.url().path(), "/profile");
        app.stop().await;
    }
}

/// Checks that `response` is the app's HTML page with `status` and `text`.
async fn assert_page(response: reqwest::Response, status: u16, text: &str) {
    let url = response.url().clone();
    assert_eq!(response.status(), status, "{url}");
    let kind = response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
    assert!(kind.as_deref().is_some_and(|k| k.starts_with("text/html")), "{url}: {kind:?}");
    let page = response.text().await.unwrap();
    assert!(page.contains(text) && page.contains("Coffee Rounds"), "{url}:\n{page}");
}

async fn assert_nul_refused(response: reqwest::Response, field: &str) {
    assert_page(response, 400, &format!("The “{field}” field holds a NUL character")).await;
}

/// Sends `request` as written on a fresh connection and reads one answer: (status, lower-cased
/// header lines, body). For requests an HTTP client will not send, such as a body that stops.
async fn raw_exchange(app: &TestApp, request: &str) -> (u16, String, String) {
    use std::io::{Read, Write};
    let address = app.base.trim_start_matches("http://").to_owned();
    let request = request.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut received = Vec::new();
        let mut buffer = [0; 8192];
        loop {
            let n = stream.read(&mut buffer).unwrap();
            received.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&received).into_owned();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end].to_lowercase();
                let length = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                if n == 0 || received.len() >= end + 4 + length {
                    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                    return (status, head, text[end + 4..].to_owned());
                }
            }
            assert!(n > 0, "the connection closed before a whole answer: {text}");
        }
    })
    .await
    .unwrap()
}

/// The database URL the test app runs on, read back from its own connection.
async fn database_url_of(app: &TestApp) -> String {
    match app.backend {
        common::Backend::Sqlite => {
            let (file,): (String,) =
                sqlx::query_as("SELECT file FROM pragma_database_list WHERE name = 'main'")
                    .fetch_one(app.store.pool())
                    .await
                    .unwrap();
            format!("sqlite://{file}")
        }
        common::Backend::Postgres => {
            let (name,): (String,) =
                sqlx::query_as("SELECT current_database()::text").fetch_one(app.store.pool()).await.unwrap();
            let admin = std::env::var("TEST_DATABASE_URL").unwrap();
            let base = &admin[..admin.rfind('/').unwrap()];
            format!("{base}/{name}")
        }
    }
}

/// Hashing runs off the async threads: while a storm of logins hashes, a single-threaded server
/// still answers pages. Told by order, not by a stopwatch: the pages are all answered after the
/// first password check of the storm and before its last.
#[tokio::test(flavor = "current_thread")]
async fn password_hashing_does_not_block_the_async_thread() {
    let app = TestApp::spawn(common::Backend::Sqlite).await;
    let email = unique_email("storm");
    app.member(&email, PASSWORD).await;
    const STORM: u64 = 8;
    let before = app.hasher.verifications();

    let storm: Vec<_> = (0..STORM)
        .map(|_| {
            let client = app.new_browser();
            let url = app.url("/login");
            let email = email.clone();
            tokio::spawn(async move {
                let body = client.get(&url).send().await.unwrap().text().await.unwrap();
                let token = csrf_in(&body).unwrap();
                let form =
                    [("email", email.as_str()), ("password", "wrong wrong wrong"), ("csrf_token", &token)];
                client.post(&url).form(&form).send().await.unwrap().status()
            })
        })
        .collect();
    // The storm is hashing once its first check is done.
    while app.hasher.verifications() == before {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for _ in 0..5 {
        assert_eq!(app.get("/").await.status(), 200);
    }
    let checked = app.hasher.verifications() - before;
    assert!(checked < STORM, "the pages waited for all {STORM} password checks");
    for login in storm {
        assert_eq!(login.await.unwrap(), 401);
    }
    app.stop().await;
}

/// In a PostgreSQL database that is not UTF8, names such as "Zoë" fail to store: the app refuses
/// such a database at start instead of answering 500 later.
#[tokio::test]
async fn a_postgresql_database_that_is_not_utf8_is_refused_at_start() {
    use sqlx::{Connection, Executor};
    if !common::postgres_available() {
        return;
    }
    let admin = std::env::var("TEST_DATABASE_URL").unwrap();
    let name = format!("coffee_test_latin1_{:x}", std::process::id());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    conn.execute(
        format!(
            "CREATE DATABASE \"{name}\" ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
        )
        .as_str(),
    )
    .await
    .unwrap();
    let url = format!("{}/{name}", &admin[..admin.rfind('/').unwrap()]);
    let refused = coffee_rounds::store::Store::connect(&url).await.map(|_| ()).unwrap_err();
    conn.execute(format!("DROP DATABASE \"{name}\" WITH (FORCE)").as_str()).await.unwrap();
    let message = format!("{refused:#}");
    assert!(message.contains("LATIN1") && message.contains("needs UTF8"), "{message}");
}
