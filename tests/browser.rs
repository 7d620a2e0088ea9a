//! The whole journey in a real browser: a new visitor signs up (after three mistakes), confirms by
//! the emailed link, edits, pauses and rejoins; a coordinator watches the figures change, previews
//! and runs the round; the participant answers the intro email's "We met" link; coordinator pages
//! refuse the participant; a colleague answers the ten-week follow-up's "Did it lead to
//! anything?" and the Outcomes page counts it; the back button after logout shows nothing
//! private. Every page is
//! also checked with axe-core, for labels, for sideways scrolling on a phone, and by the Nu HTML
//! Checker, and screenshotted at phone and desktop size.
//!
//! The browser side is `tests/browser/journey.mjs` (Playwright driving Debian's Chromium); this
//! test starts the real app on a free port with a fresh database, its background sender on and
//! mail going to the real SMTP sink when `.ci/run` provides one, else to `.eml` files (the script
//! reads either, as a person's mail client would, waiting as a person would), seeds what a
//! browser cannot do (a coordinator, colleagues to be paired with), and runs the script. Without Chromium, Node, Java or `tests/browser/node_modules`
//! it prints why and skips, unless `BROWSER_TESTS=required` (as `.ci/run` sets), where it fails.
//! With `TEST_OIDC_ISSUER` (the test OpenID provider, as `.ci/run` starts it) the journey also
//! signs a new person in with the hospital's account and answers the profile questions, and
//! cancels a sign-in at the provider.

mod common;

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use coffee_rounds::{
    config::MailSettings,
    domain::{Calendar, Month},
    rounds::Quiet,
    store::{coordinators::Actor, now, rounds::Response},
    web::pages::coordinator::COORDINATOR_ROUTES,
};
use common::{Backend, TestApp, unique_email};

const PASSWORD: &str = "correct horse battery staple";
const DOMAIN: &str = "hospital.test";
const OIDC_BUTTON: &str = "Sign in with St Mary's";

fn package_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

fn runs(program: &str) -> bool {
    Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Why the browser suite cannot run here, if it cannot.
fn missing() -> Option<String> {
    let modules = package_dir().join("node_modules");
    if !chromium().exists() {
        Some(format!("chromium not found at {}", chromium().display()))
    } else if !runs("node") {
        Some("node not found".into())
    } else if !runs("java") {
        Some("java not found (the Nu HTML Checker needs it)".into())
    } else if ["playwright-core", "axe-core/axe.min.js", "vnu-jar/build/dist/vnu.jar"]
        .iter()
        .any(|p| !modules.join(p).exists())
    {
        Some(format!("{} is missing or incomplete (npm ci --prefix tests/browser)", modules.display()))
    } else {
        None
    }
}

/// Where screenshots, the served HTML and a summary go: `target/browser-artifacts/`.
fn artifacts() -> PathBuf {
    std::env::var_os("BROWSER_ARTIFACTS").map_or_else(
        || Path::new(env!("CARGO_TARGET_TMPDIR")).with_file_name("browser-artifacts"),
        PathBuf::from,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_journey_works_in_a_real_browser_and_every_page_is_accessible_and_valid() {
    if let Some(why) = missing() {
        assert!(
            std::env::var("BROWSER_TESTS").as_deref() != Ok("required"),
            "BROWSER_TESTS=required but the browser tests cannot run: {why}"
        );
        // Straight to stderr: libtest would hide an eprintln! of a passing test.
        let _ = writeln!(
            std::io::stderr(),
            "browser tests skipped: {why} (run .ci/run, or see \"Browser tests\" in README.md)"
        );
        return;
    }
    // The browser clicks and the mail must go as it would in production: by the app's own
    // sender, into a mail folder the script can read.
    let mail_dir = tempfile::tempdir().expect("mail folder");
    // The "Sign in with" path needs the test OpenID provider (tests/oidc/provider.mjs), as
    // tests/oidc.rs does.
    let issuer = std::env::var("TEST_OIDC_ISSUER").ok().filter(|i| !i.trim().is_empty());
    assert!(
        issuer.is_some() || std::env::var("OIDC_TESTS").as_deref() != Ok("required"),
        "OIDC_TESTS=required but TEST_OIDC_ISSUER is not set"
    );
    if issuer.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "browser journey: the \"Sign in with\" path is skipped (TEST_OIDC_ISSUER is not set)"
        );
    }
    let app = TestApp::spawn_with(Backend::Sqlite, |config| {
        config.allowed_email_domains = vec![DOMAIN.into()];
        config.oidc = issuer.clone().map(|issuer_url| coffee_rounds::config::OidcSettings {
            issuer_url,
            client_id: "coffee-rounds".into(),
            client_secret: coffee_rounds::config::Secret::new("coffee-rounds-test-secret"),
            button_label: OIDC_BUTTON.into(),
            scopes: vec!["email".into(), "profile".into(), "groups".into()],
            coordinator_claim: Some(("groups".into(), "coffee-coordinators".into())),
            session_lifetime: std::time::Duration::from_secs(12 * 3600),
        });
        config.run_mail_sender = true;
        if let MailSettings::Memory = config.mail {
            config.mail = MailSettings::Files(mail_dir.path().join("mail"));
        }
    })
    .await;

    // A browser cannot make the first coordinator (that is the command line's job) ...
    let coordinator = unique_email("coordinator");
    app.member(&coordinator, PASSWORD).await;
    app.store.set_coordinator(&coordinator, true, &Actor::command_line()).await.expect("coordinator");
    // ... nor colleagues who signed up earlier, for the new member to be paired with ...
    let mut colleagues = Vec::new();
    for (name, role, level, department) in [
        ("Ana Souza", "Physician", 3, "Surgery"),
        ("Ben Okafor", "Pharmacist", 2, "Pharmacy"),
        ("Chen Wei", "Nurse", 4, "Oncology"),
        ("Dana Levi", "Physician", 5, "Anesthesiology"),
        ("Eli Park", "Nurse", 0, "Family Medicine"),
    ] {
        colleagues.push(app.add_participant(name, role, level, department).await);
    }
    // ... nor a conversation ten weeks old: a round three months back in which one colleague's
    // group met, and the follow-up it sends.
    let rounds = app.rounds().await;
    let past = Month::of(time::OffsetDateTime::now_utc().date()).plus(-3);
    rounds.run(past, false, &Quiet).await.expect("a past round");
    let (follow_up, _) = colleagues[0].clone();
    let (group,): (coffee_rounds::domain::GroupId,) =
        sqlx::query_as("SELECT group_id FROM group_members WHERE user_id = $1")
            .bind(follow_up)
            .fetch_one(app.store.pool())
            .await
            .expect("the colleague's group");
    app.store.record_response(group, follow_up, Response::Met).await.expect("met");
    sqlx::query("UPDATE round_groups SET met_at = $1 WHERE id = $2")
        .bind(now() - 71 * 86_400)
        .bind(group)
        .execute(app.store.pool())
        .await
        .expect("ten weeks ago");
    assert!(rounds.send_nudges(now()).await.expect("follow-up") > 0);

    let coordinator_pages: Vec<&str> = COORDINATOR_ROUTES
        .iter()
        .filter(|(method, path)| *method == "GET" && !path.ends_with(".csv"))
        .map(|(_, path)| *path)
        .collect();
    let mail_dirs = std::env::join_paths(app.mail_dirs()).expect("mail folders");
    let artifacts = artifacts();
    let mut node = Command::new("node");
    node.arg(package_dir().join("journey.mjs"))
        .current_dir(package_dir())
        .env("BASE_URL", &app.base)
        .env("MAIL_DIRS", mail_dirs)
        .env("SIGNUP_DOMAIN", DOMAIN)
        .env("COORDINATOR_EMAIL", &coordinator)
        .env("COORDINATOR_PASSWORD", PASSWORD)
        .env("COORDINATOR_PAGES", coordinator_pages.join("\n"))
        .env("FOLLOW_UP_EMAIL", &colleagues[0].1)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", chromium());
    if issuer.is_some() {
        node.env("OIDC_BUTTON", OIDC_BUTTON).env("OIDC_LOGIN", unique_email("rosa.sso"));
    }
    let started = Instant::now();
    // The app serves the browser from this runtime's other threads while the script runs.
    let status = tokio::task::spawn_blocking(move || node.status()).await.expect("join").expect("start node");
    let _ = writeln!(std::io::stderr(), "browser journey took {:.0?}", started.elapsed());
    assert!(
        status.success(),
        "the browser journey failed ({status}); see its output above and {}",
        artifacts.display()
    );
    app.stop().await;
}
