//! Test harness: each test gets the real application on its own port with its own database
//! (a SQLite file in a temporary folder, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set), and reads the email the application really sent: from a real SMTP
//! server's Maildir when `TEST_SMTP_URL` and `TEST_MAILDIR` are set (as `.ci/run` does), else from
//! the `.eml` files of the file transport.
#![allow(dead_code)]

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    sync::Mutex,
    time::{Duration, Instant},
};

use coffee_rounds::{
    app::Application,
    config::{Config, MailSettings, Secret},
    store::Store,
};
use mail_parser::MessageParser;
use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;
use tokio::sync::oneshot;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each test body once per backend: `mod name { fn sqlite(); fn postgres(); }`.
/// The PostgreSQL variant needs `TEST_DATABASE_URL`; without it, it passes with a note, except
/// under CI, where a missing database fails the run.
#[macro_export]
macro_rules! both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $backend = common::Backend::Sqlite;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if !common::postgres_available() {
                    return;
                }
                let $backend = common::Backend::Postgres;
                $body
            }
        }
    )*};
}

/// Whether PostgreSQL tests can run; under CI its absence is a failure.
pub fn postgres_available() -> bool {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "CI must set TEST_DATABASE_URL so the PostgreSQL suite runs");
    eprintln!("TEST_DATABASE_URL is not set: skipping the PostgreSQL variant");
    false
}

/// An email as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub message_id: String,
    pub raw: String,
}

impl Received {
    /// The first link in the text part that starts with `prefix` (e.g. the app's base URL + path).
    pub fn link(&self, path: &str) -> String {
        let start = self.text.find(path).unwrap_or_else(|| panic!("no link to {path} in:\n{}", self.text));
        let rest = &self.text[start..];
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        rest[..end].to_owned()
    }
}

enum MailSource {
    /// A Maildir written by the SMTP test server.
    Maildir(PathBuf),
    /// The file transport's folder.
    Files(PathBuf),
}

/// A running application and a browser-like client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub backend: Backend,
    /// The configuration the app runs with (its `base_url` names the real port).
    pub config: Config,
    /// Wakes the app's mail sender.
    pub mail_wake: std::sync::Arc<tokio::sync::Notify>,
    /// The app's password hasher, whose checks a test can count.
    pub hasher: coffee_rounds::accounts::Hasher,
    mail: MailSource,
    seen: Mutex<HashSet<PathBuf>>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    postgres: Option<(String, String)>,
    _dir: TempDir,
}

/// A unique email address for one test, at `hospital.test`.
pub fn unique_email(label: &str) -> String {
    let n: u64 = rand::rng().random();
    format!("{label}.{n:x}@hospital.test")
}

fn test_config(dir: &Path) -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default config");
    config.bind = "127.0.0.1:0".parse().expect("address");
    config.base_url = "http://127.0.0.1:0".into();
    config.rate_limits.per_ip_per_minute = 10_000;
    config.rate_limits.per_account_per_minute = 10_000;
    config.hash_concurrency = 2;
    // Tests run rounds themselves, at the months they choose.
    config.run_schedule = false;
    config.mail = match (std::env::var("TEST_SMTP_URL"), std::env::var("TEST_MAILDIR")) {
        (Ok(url), Ok(_)) => MailSettings::Smtp(Secret::new(url)),
        _ => MailSettings::Files(dir.join("mail")),
    };
    config
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `adjust` has changed its configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(dir.path());
        let postgres = match backend {
            Backend::Sqlite => {
                config.database_url = format!("sqlite://{}/test.db", dir.path().display());
                None
            }
            Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let name = format!("coffee_test_{:016x}", rand::rng().random::<u64>());
                let mut conn = PgConnection::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.expect("create database");
                conn.close().await.ok();
                config.database_url = replace_database(&admin, &name);
                Some((admin, name))
            }
        };
        let mail = match &config.mail {
            MailSettings::Smtp(_) => {
                MailSource::Maildir(std::env::var("TEST_MAILDIR").expect("TEST_MAILDIR").into())
            }
            MailSettings::Files(dir) => MailSource::Files(dir.clone()),
        };
        adjust(&mut config);
        let application = Application::build(config.clone()).await.expect("application starts");
        let base = format!("http://127.0.0.1:{}", application.port());
        if config.base_url == "http://127.0.0.1:0" {
            config.base_url = base.clone();
        }
        let store = Store::connect(&match &postgres {
            Some((admin, name)) => replace_database(admin, name),
            None => format!("sqlite://{}/test.db", dir.path().display()),
        })
        .await
        .expect("test store");
        let mail_wake = application.mail_wake();
        let hasher = application.hasher();
        let (tx, rx) = oneshot::channel();
        let server = tokio::spawn(application.run_until(async {
            let _ = rx.await;
        }));
        Self {
            base,
            client: client(),
            store,
            backend,
            config,
            mail_wake,
            hasher,
            mail,
            seen: Mutex::new(HashSet::new()),
            shutdown: Some(tx),
            server: Some(server),
            postgres,
            _dir: dir,
        }
    }

    /// The round service over the app's database, with the app's keys (its links work in the app).
    pub async fn rounds(&self) -> coffee_rounds::rounds::Rounds {
        coffee_rounds::app::rounds(&self.config, self.store.clone(), self.mail_wake.clone())
            .await
            .expect("rounds")
    }

    /// Adds a confirmed participant directly in the database; returns (id, email).
    pub async fn add_participant(
        &self,
        name: &str,
        role: &str,
        level: i64,
        department: &str,
    ) -> (coffee_rounds::domain::UserId, String) {
        let label: String =
            name.to_lowercase().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '.' }).collect();
        let email = unique_email(label.trim_matches('.'));
        let (id,): (coffee_rounds::domain::UserId,) = sqlx::query_as(
            "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, created_at, updated_at) \
             VALUES ($1, $2, 'no-login', $3, $4, $5, 1, 1, 1) RETURNING id",
        )
        .bind(&email)
        .bind(name)
        .bind(role)
        .bind(level)
        .bind(department)
        .fetch_one(self.store.pool())
        .await
        .expect("insert participant");
        (id, email)
    }

    /// The account of `email` (any spelling a person might type).
    pub async fn user_by_email(
        &self,
        email: &str,
    ) -> sqlx::Result<Option<coffee_rounds::store::users::User>> {
        let email = coffee_rounds::domain::Email::parse(email).expect("a valid address");
        self.store.user_by_email(&email).await
    }

    /// Rows in `table`.
    pub async fn count(&self, table: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.store.pool())
            .await
            .expect("count");
        n
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A second, independent browser (its own cookies).
    pub fn new_browser(&self) -> reqwest::Client {
        client()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.expect("GET")
    }

    /// Loads `page` and returns its CSRF token.
    pub async fn csrf(&self, client: &reqwest::Client, page: &str) -> String {
        let body = client.get(self.url(page)).send().await.expect("GET").text().await.expect("body");
        csrf_in(&body).unwrap_or_else(|| panic!("no CSRF token on {page}:\n{body}"))
    }

    /// Fills in the form on `page` and posts it to `action`, as a browser would.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.submit_as(&self.client, page, action, fields).await
    }

    pub async fn submit_as(
        &self,
        client: &reqwest::Client,
        page: &str,
        action: &str,
        fields: &[(&str, &str)],
    ) -> reqwest::Response {
        let token = self.csrf(client, page).await;
        let mut form: Vec<(&str, &str)> = fields.to_vec();
        form.push(("csrf_token", &token));
        client.post(self.url(action)).form(&form).send().await.expect("POST")
    }

    /// Signs up through the form with sensible defaults for the fields not given.
    pub async fn sign_up(&self, email: &str, password: &str) -> reqwest::Response {
        self.submit(
            "/signup",
            "/signup",
            &[
                ("email", email),
                ("name", "Alex Rivera"),
                ("password", password),
                ("role", "Nurse"),
                ("level", "1"),
                ("department", "Cardiology"),
                ("department_other", ""),
            ],
        )
        .await
    }

    /// Signs up, follows the link in the confirmation email and confirms: a logged-in member.
    pub async fn member(&self, email: &str, password: &str) {
        let response = self.sign_up(email, password).await;
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap_or_default());
        let mail = self.email_to(email).await;
        let link = mail.link(&format!("{}/confirm?token=", self.base));
        let token = link.split("token=").nth(1).expect("token").to_owned();
        let confirmed = self
            .submit(
                &link.replacen(&self.base, "", 1),
                "/confirm",
                &[("token", &token), ("password", password)],
            )
            .await;
        assert_eq!(confirmed.status(), 200);
        assert!(confirmed.url().path().starts_with("/profile"), "confirmation lands on the profile");
    }

    pub async fn log_in(&self, client: &reqwest::Client, email: &str, password: &str) -> reqwest::Response {
        self.submit_as(client, "/login", "/login", &[("email", email), ("password", password)]).await
    }

    /// Waits (up to 15 s) for the next email to `to` not returned before.
    pub async fn email_to(&self, to: &str) -> Received {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(found) = self.next_email(to) {
                return found;
            }
            assert!(Instant::now() < deadline, "no email to {to} arrived");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Every email to `to` not returned before, after waiting `settle` for stragglers.
    pub async fn all_emails_to(&self, to: &str, settle: Duration) -> Vec<Received> {
        tokio::time::sleep(settle).await;
        std::iter::from_fn(|| self.next_email(to)).collect()
    }

    /// The folders the app's email arrives in, one message per file (they may not exist yet).
    pub fn mail_dirs(&self) -> Vec<PathBuf> {
        match &self.mail {
            MailSource::Maildir(dir) => vec![dir.join("new"), dir.join("cur")],
            MailSource::Files(dir) => vec![dir.clone()],
        }
    }

    fn next_email(&self, to: &str) -> Option<Received> {
        let dirs = self.mail_dirs();
        let mut seen = self.seen.lock().expect("lock");
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = dirs
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .filter(|(_, p)| !seen.contains(p))
            .collect();
        files.sort();
        for (_, path) in files {
            let Ok(raw) = std::fs::read_to_string(&path) else { continue };
            let Some(message) = MessageParser::default().parse(raw.as_bytes()) else { continue };
            let recipient = message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_owned)
                .unwrap_or_default();
            if !recipient.eq_ignore_ascii_case(to) {
                continue;
            }
            seen.insert(path);
            return Some(Received {
                to: recipient,
                subject: message.subject().unwrap_or_default().to_owned(),
                text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                html: message.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                message_id: message.message_id().unwrap_or_default().to_owned(),
                raw,
            });
        }
        None
    }

    /// Stops the server, drains it, and drops the PostgreSQL database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some((admin, name)) = self.postgres.take() {
            // On its own thread and runtime, so it runs even while the test's runtime unwinds.
            let _ = std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    if let Ok(mut conn) = PgConnection::connect(&admin).await {
                        let _ = conn
                            .execute(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)").as_str())
                            .await;
                    }
                });
            })
            .join();
        }
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

/// A client that does not follow redirects, to look at them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// `postgres://host/db` with another database name.
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// The CSRF token in a page's first form.
pub fn csrf_in(body: &str) -> Option<String> {
    let marker = "name=\"csrf_token\" value=\"";
    let start = body.find(marker)? + marker.len();
    let end = body[start..].find('"')?;
    Some(body[start..end + start].to_owned())
}
