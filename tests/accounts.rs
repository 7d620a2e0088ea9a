//! A participant's story, end to end through the real app and real email: sign up, confirm,
//! log in, edit the profile, pause, opt out, rejoin, change and reset the password, delete.

mod common;

use std::time::Duration;

use common::{TestApp, unique_email};

const PASSWORD: &str = "morning rounds with coffee";

both_backends! {
    async fn a_new_member_signs_up_confirms_and_manages_participation(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("story");

        let home = app.get("/").await.text().await.unwrap();
        assert!(home.contains("Sign up with your work email"));

        let signed_up = app.sign_up(&email, PASSWORD).await;
        assert_eq!(signed_up.status(), 200);
        assert!(signed_up.url().path().ends_with("/check-email"));
        assert!(signed_up.text().await.unwrap().contains("Check your email"));

        // Not active before the link is followed.
        let early = app.log_in(&app.new_browser(), &email, PASSWORD).await;
        assert_eq!(early.status(), 401);
        assert!(early.text().await.unwrap().contains("not active yet"));

        let confirmation = app.email_to(&email).await;
        assert_eq!(confirmation.subject, "Confirm your Coffee Rounds account");
        assert!(confirmation.text.contains("Hello Alex Rivera"));
        assert!(confirmation.html.contains("Confirm my account"));
        // The login attempt above sent a second, fresh link: use the first one.
        let _ = app.email_to(&email).await;
        let link = confirmation.link(&format!("{}/confirm?token=", app.base));
        let path = link.replacen(&app.base, "", 1);
        let token = link.split("token=").nth(1).unwrap();

        // Opening the link shows a button and changes nothing by itself.
        let landing = app.get(&path).await;
        assert_eq!(landing.status(), 200);
        assert!(landing.text().await.unwrap().contains("Confirm my account"));
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert!(user.confirmed_at.is_none());

        let confirmed = app.submit(&path, "/confirm", &[("token", token), ("password", PASSWORD)]).await;
        assert_eq!(confirmed.url().path(), "/profile");
        let profile = confirmed.text().await.unwrap();
        assert!(profile.contains("Your account is active"));
        assert!(profile.contains("You are taking part"));

        // The link works once.
        let again = app.get(&path).await;
        assert_eq!(again.status(), 410);

        // Edit the profile.
        let saved = app
            .submit("/profile", "/profile", &[
                ("name", "Alex  Rivera-Okafor"),
                ("role", "Pharmacist"),
                ("level", "2"),
                ("department", "__other"),
                ("department_other", "Wound care"),
            ])
            .await;
        assert!(saved.text().await.unwrap().contains("Your details are saved"));
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!((user.name.as_str(), user.role.as_str(), user.level.0, user.department.as_str()),
                   ("Alex Rivera-Okafor", "Pharmacist", 2, "Wound care"));

        // Pause for two months, then cancel.
        let paused = app.submit("/profile", "/profile/pause", &[("months", "2")]).await.text().await.unwrap();
        assert!(paused.contains("Paused through"), "{paused}");
        assert!(paused.contains("End the pause now"));
        assert!(app.user_by_email(&email).await.unwrap().unwrap().paused_through.is_some());
        let resumed = app.submit("/profile", "/profile/pause/cancel", &[]).await.text().await.unwrap();
        assert!(resumed.contains("You are taking part"));

        // Opt out, then rejoin.
        let out = app.submit("/profile", "/profile/opt-out", &[]).await.text().await.unwrap();
        assert!(out.contains("You have opted out"));
        assert!(app.user_by_email(&email).await.unwrap().unwrap().opted_out_at.is_some());
        let back = app.submit("/profile", "/profile/rejoin", &[]).await.text().await.unwrap();
        assert!(back.contains("You are taking part"));

        // Log out, log back in.
        let out = app.submit("/profile", "/logout", &[]).await;
        assert_eq!(out.url().path(), "/");
        assert_eq!(app.get("/profile").await.url().path(), "/login");
        let back_in = app.log_in(&app.client, &email, PASSWORD).await;
        assert_eq!(back_in.url().path(), "/profile");

        // Delete: the wrong password keeps everything, the right one removes it all.
        let refused = app.submit("/account/delete", "/account/delete", &[("password", "not my password at all")]).await;
        assert_eq!(refused.status(), 422);
        assert!(app.user_by_email(&email).await.unwrap().is_some());
        let deleted = app.submit("/account/delete", "/account/delete", &[("password", PASSWORD)]).await;
        assert!(deleted.text().await.unwrap().contains("Your account has been deleted"));
        assert!(app.user_by_email(&email).await.unwrap().is_none());
        for table in ["email_tokens", "sessions", "outbox"] {
            let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table} WHERE user_id = $1"))
                .bind(user.id).fetch_one(app.store.pool()).await.unwrap();
            assert_eq!(n, 0, "{table} still holds rows of the deleted account");
        }
        let login = app.log_in(&app.new_browser(), &email, PASSWORD).await;
        assert_eq!(login.status(), 401);
        app.stop().await;
    }

    async fn a_forgotten_password_is_reset_from_the_emailed_link(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("reset");
        app.member(&email, PASSWORD).await;
        let other_device = app.new_browser();
        assert_eq!(app.log_in(&other_device, &email, PASSWORD).await.url().path(), "/profile");

        let stranger = app.new_browser();
        let asked = app.submit_as(&stranger, "/password/forgot", "/password/forgot", &[("email", &email)]).await;
        assert!(asked.text().await.unwrap().contains("If an account exists for that address"));
        let mail = app.email_to(&email).await;
        assert_eq!(mail.subject, "Reset your Coffee Rounds password");
        let link = mail.link(&format!("{}/password/reset?token=", app.base));
        let path = link.replacen(&app.base, "", 1);
        let token = link.split("token=").nth(1).unwrap();

        // A weak password is refused and the link still works.
        let weak = app.submit_as(&stranger, &path, "/password/reset", &[("token", token), ("password", "short")]).await;
        assert_eq!(weak.status(), 422);
        assert!(weak.text().await.unwrap().contains("at least 12 characters"));

        let new_password = "a brand new passphrase";
        let done = app.submit_as(&stranger, &path, "/password/reset", &[("token", token), ("password", new_password)]).await;
        assert_eq!(done.url().path(), "/login");
        assert!(done.text().await.unwrap().contains("Your password has been changed"));
        assert_eq!(app.email_to(&email).await.subject, "Your Coffee Rounds password was changed");

        // Every existing session has ended; the old password no longer works; the new one does.
        assert_eq!(app.client.get(app.url("/profile")).send().await.unwrap().url().path(), "/login");
        assert_eq!(other_device.get(app.url("/profile")).send().await.unwrap().url().path(), "/login");
        assert_eq!(app.log_in(&app.new_browser(), &email, PASSWORD).await.status(), 401);
        assert_eq!(app.log_in(&app.new_browser(), &email, new_password).await.url().path(), "/profile");

        // The link was single-use.
        assert_eq!(app.get(&path).await.status(), 410);
        app.stop().await;
    }

    async fn changing_the_password_ends_the_other_sessions_only(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("change");
        app.member(&email, PASSWORD).await;
        let phone = app.new_browser();
        app.log_in(&phone, &email, PASSWORD).await;

        let wrong = app.submit("/password/change", "/password/change", &[
            ("current_password", "not the current one"), ("new_password", "another good passphrase"),
        ]).await;
        assert_eq!(wrong.status(), 422);
        assert!(wrong.text().await.unwrap().contains("not your current password"));

        let changed = app.submit("/password/change", "/password/change", &[
            ("current_password", PASSWORD), ("new_password", "another good passphrase"),
        ]).await;
        assert!(changed.text().await.unwrap().contains("Your password has been changed"));
        assert_eq!(app.get("/profile").await.url().path(), "/profile", "this session stays");
        assert_eq!(phone.get(app.url("/profile")).send().await.unwrap().url().path(), "/login", "the other one ends");
        assert_eq!(app.email_to(&email).await.subject, "Your Coffee Rounds password was changed");
        app.stop().await;
    }

    async fn a_bad_signup_form_comes_back_with_the_input_and_a_message_per_field(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.submit("/signup", "/signup", &[
            ("email", "not-an-email"),
            ("name", "Sam <b>Lee</b>"),
            ("password", "short"),
            ("role", "Astronaut"),
            ("level", "9"),
            ("department", "__other"),
            ("department_other", ""),
        ]).await;
        assert_eq!(response.status(), 422);
        let page = response.text().await.unwrap();
        assert!(page.contains("Enter an email address like name@hospital.org."));
        assert!(page.contains("Use at least 12 characters"));
        assert!(page.contains("Choose your profession."));
        assert!(page.contains("Choose your career stage."));
        assert!(page.contains("Type the name of your department."));
        // Input kept (escaped), password never echoed, errors tied to their fields.
        assert!(page.contains("value=\"not-an-email\""));
        assert!(page.contains("Sam &#60;b&#62;Lee&#60;/b&#62;") || page.contains("Sam &lt;b&gt;Lee&lt;/b&gt;"));
        assert!(!page.contains("value=\"short\""));
        assert!(page.contains("aria-describedby=\"email-error\""));
        assert!(page.contains("id=\"email-error\""));
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(n, 0);
        app.stop().await;
    }

    async fn signup_with_an_unlisted_domain_is_rejected(backend) {
        let app = TestApp::spawn_with(backend, |c| c.allowed_email_domains = vec!["hospital.test".into()]).await;
        let refused = app.sign_up("someone@gmail.example", PASSWORD).await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("ending in hospital.test"));
        let accepted = app.sign_up(&unique_email("listed"), PASSWORD).await;
        assert_eq!(accepted.status(), 200);
        app.stop().await;
    }

    async fn a_common_password_is_refused(backend) {
        let app = TestApp::spawn(backend).await;
        let refused = app.sign_up(&unique_email("common"), "Password1234").await;
        assert_eq!(refused.status(), 422);
        assert!(refused.text().await.unwrap().contains("most common"));
        app.stop().await;
    }

    async fn an_expired_confirmation_link_is_refused_and_a_new_one_can_be_sent(backend) {
        let app = TestApp::spawn_with(backend, |c| c.confirm_ttl = Duration::ZERO).await;
        let email = unique_email("expired");
        app.sign_up(&email, PASSWORD).await;
        let first = app.email_to(&email).await;
        let link = first.link(&format!("{}/confirm?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let landing = app.get(&link.replacen(&app.base, "", 1)).await;
        assert_eq!(landing.status(), 410);
        assert!(landing.text().await.unwrap().contains("expired"));
        let csrf = app.csrf(&app.client, "/confirm/resend").await;
        let posted = app.client.post(app.url("/confirm")).form(&[("token", token.as_str()), ("password", PASSWORD), ("csrf_token", &csrf)]).send().await.unwrap();
        assert_eq!(posted.status(), 410);

        let resent = app.submit("/confirm/resend", "/confirm/resend", &[("email", &email)]).await;
        assert!(resent.text().await.unwrap().contains("we have sent it a new confirmation link"));
        let second = app.email_to(&email).await;
        assert_ne!(second.link("/confirm?token="), first.link("/confirm?token="));
        app.stop().await;
    }

    async fn someone_signing_up_with_your_address_before_you_confirm_cannot_take_the_account(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("owner");
        const INTRUDER_PASSWORD: &str = "an intruder's own password";
        // The owner signs up; before they confirm, someone else signs up with their address.
        app.sign_up(&email, PASSWORD).await;
        let intruder = app.new_browser();
        app.submit_as(&intruder, "/signup", "/signup", &[
            ("email", &email), ("name", "Not The Owner"), ("password", INTRUDER_PASSWORD),
            ("role", "Physician"), ("level", "3"), ("department", "Surgery"),
        ]).await;
        let _first = app.email_to(&email).await;
        let newest = app.email_to(&email).await;

        // The owner opens the newest email and enters their own password.
        let link = newest.link(&format!("{}/confirm?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let path = link.replacen(&app.base, "", 1);
        let asked = app.submit(&path, "/confirm", &[("token", &token), ("password", PASSWORD)]).await;
        assert_eq!(asked.status(), 422);
        let page = asked.text().await.unwrap();
        assert!(page.contains("type it again"), "{page}");
        assert!(app.user_by_email(&email).await.unwrap().unwrap().confirmed_at.is_none());
        let differ = app.submit(&path, "/confirm", &[("token", &token), ("password", PASSWORD), ("password_again", "something else entirely")]).await;
        assert_eq!(differ.status(), 422);
        assert!(differ.text().await.unwrap().contains("not the same"));
        let confirmed = app.submit(&path, "/confirm", &[("token", &token), ("password", PASSWORD), ("password_again", PASSWORD)]).await;
        assert_eq!(confirmed.url().path(), "/profile");

        // Only the owner's password opens the account.
        let tried = app.log_in(&intruder, &email, INTRUDER_PASSWORD).await;
        assert_eq!(tried.status(), 401);
        assert_eq!(app.log_in(&app.new_browser(), &email, PASSWORD).await.url().path(), "/profile");
        app.stop().await;
    }

    async fn a_confirmation_link_alone_does_not_activate_the_account(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("alone");
        app.sign_up(&email, PASSWORD).await;
        let link = app.email_to(&email).await.link(&format!("{}/confirm?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let path = link.replacen(&app.base, "", 1);
        let bare = app.submit(&path, "/confirm", &[("token", &token)]).await;
        assert_eq!(bare.status(), 422);
        assert!(app.user_by_email(&email).await.unwrap().unwrap().confirmed_at.is_none());
        // The link is still good for the real attempt.
        let confirmed = app.submit(&path, "/confirm", &[("token", &token), ("password", PASSWORD)]).await;
        assert_eq!(confirmed.url().path(), "/profile");
        app.stop().await;
    }

    async fn healthz_answers_when_the_database_does(backend) {
        let app = TestApp::spawn(backend).await;
        let response = app.get("/healthz").await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.text().await.unwrap(), "ok");
        app.stop().await;
    }
}

#[tokio::test]
async fn healthz_is_503_when_the_database_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = coffee_rounds::config::Config::from_lookup(|_| None).unwrap();
    config.bind = "127.0.0.1:0".parse().unwrap();
    config.database_url = format!("sqlite://{}/health.db", dir.path().display());
    config.mail = coffee_rounds::config::MailSettings::Files(dir.path().join("mail"));
    let app = coffee_rounds::app::Application::build(config).await.unwrap();
    let (port, store) = (app.port(), app.store().clone());
    tokio::spawn(app.run_until(std::future::pending()));
    let url = format!("http://127.0.0.1:{port}/healthz");
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);
    store.close().await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 503);
}
