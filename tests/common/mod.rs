//! Test harness: each test gets the real application on its own port with its own database
//! (a SQLite file in a temporary folder, or a fresh PostgreSQL database when
//! `TEST_DATABASE_URL` is set), and reads the email the application really sent.
//!
//! Mail leaves when a test says so, never behind its back: the app's background sender is off,
//! and `email_to` first has the app's sender send everything due (`Sender::send_due`, which
//! returns once each message is sent or its failure recorded), then reads what was sent, with no
//! waiting. It reads from the in-memory transport, or, when `TEST_SMTP_URL` and `TEST_MAILDIR`
//! are set (as `.ci/run` does), from the Maildir of that real SMTP server, which stores each
//! message before it answers 250.
#![allow(dead_code)]

use std::{collections::HashSet, path::PathBuf, sync::Mutex, time::Duration};

use coffee_rounds::{
    app::Application,
    config::{Config, MailSettings, Secret},
    mail::sender::{Delivered, Sender},
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

/// Where the harness reads the app's mail.
enum MailSource {
    /// The in-memory transport of the app's sender.
    Memory,
    /// A Maildir written by the SMTP test server (`TEST_MAILDIR`).
    Maildir(PathBuf),
    /// The file transport's folder.
    Files(PathBuf),
    /// An SMTP server of the test's own, which the test reads itself.
    Elsewhere,
}

/// A running application and a browser-like client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Store,
    pub backend: Backend,
    /// The configuration the app runs with (its `base_url` names the real port).
    pub config: Config,
    /// Wakes the app's mail sender (when a test runs it in the background).
    pub mail_wake: std::sync::Arc<tokio::sync::Notify>,
    /// The app's password hasher, whose checks a test can count.
    pub hasher: coffee_rounds::accounts::Hasher,
    /// The app's mail sender, shared with the app.
    sender: Sender,
    mail: MailSource,
    /// The messages `email_to` has returned.
    seen: Mutex<HashSet<String>>,
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

fn test_config() -> Config {
    let mut config = Config::from_lookup(|_| None).expect("default config");
    config.bind = "127.0.0.1:0".parse().expect("address");
    config.base_url = "http://127.0.0.1:0".into();
    config.rate_limits.per_ip_per_minute = 10_000;
    config.rate_limits.per_account_per_minute = 10_000;
    config.hash_concurrency = 2;
    // Tests run rounds themselves, at the months they choose, and send mail when they read it.
    config.run_schedule = false;
    config.run_mail_sender = false;
    config.mail = match test_smtp() {
        Some((url, _)) => MailSettings::Smtp(Secret::new(url)),
        None => MailSettings::Memory,
    };
    config
}

/// `TEST_SMTP_URL` and `TEST_MAILDIR`: the SMTP server all tests send to, and its Maildir.
fn test_smtp() -> Option<(String, PathBuf)> {
    match (std::env::var("TEST_SMTP_URL"), std::env::var("TEST_MAILDIR")) {
        (Ok(url), Ok(maildir)) => Some((url, maildir.into())),
        _ => None,
    }
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// Starts the app after `adjust` has changed its configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config();
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
        adjust(&mut config);
        let mail = match (&config.mail, test_smtp()) {
            (MailSettings::Memory, _) => MailSource::Memory,
            (MailSettings::Files(dir), _) => MailSource::Files(dir.clone()),
            (MailSettings::Smtp(url), Some((test_url, maildir))) if url.expose() == test_url => {
                MailSource::Maildir(maildir)
            }
            (MailSettings::Smtp(_), _) => MailSource::Elsewhere,
        };
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
        let sender = application.sender();
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
            sender,
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

    /// Has the app's sender send every message due now; returns when each is sent or its
    /// failure recorded (a pass of the app's background sender under way finishes first).
    pub async fn send_due_mail(&self) -> Delivered {
        self.sender.send_due().await.expect("sending the outbox")
    }

    /// Sends what is due, then returns the next email to `to` not returned before, in the order
    /// the app queued them.
    pub async fn email_to(&self, to: &str) -> Received {
        self.send_due_mail().await;
        self.next_email(to).await.unwrap_or_else(|| panic!("no email to {to} was sent"))
    }

    /// Sends what is due, then returns every email to `to` not returned before.
    pub async fn all_emails_to(&self, to: &str) -> Vec<Received> {
        self.send_due_mail().await;
        let mut all = Vec::new();
        while let Some(next) = self.next_email(to).await {
            all.push(next);
        }
        all
    }

    /// The folders the app's email arrives in, one message per file (they may not exist yet);
    /// none when it is kept in memory.
    pub fn mail_dirs(&self) -> Vec<PathBuf> {
        match &self.mail {
            MailSource::Maildir(dir) => vec![dir.join("new"), dir.join("cur")],
            MailSource::Files(dir) => vec![dir.clone()],
            MailSource::Memory | MailSource::Elsewhere => Vec::new(),
        }
    }

    /// Every message sent so far (to anyone), each with a key of its own, in the order received.
    fn sent_messages(&self) -> Vec<(String, Vec<u8>)> {
        if let MailSource::Memory = self.mail {
            let sent = self.sender.transport.sent_in_memory().expect("the in-memory transport");
            return sent.into_iter().enumerate().map(|(i, raw)| (format!("memory #{i}"), raw)).collect();
        }
        assert!(
            !matches!(self.mail, MailSource::Elsewhere),
            "this app sends to an SMTP server of the test's own: read its mail from there"
        );
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = self
            .mail_dirs()
            .iter()
            .filter_map(|d| std::fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok())
            .map(|e| (e.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH), e.path()))
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|(_, path)| Some((path.display().to_string(), std::fs::read(&path).ok()?)))
            .collect()
    }

    /// The first email to `to` not returned before, in the order the app queued them (messages
    /// sent in one pass may arrive in any order).
    async fn next_email(&self, to: &str) -> Option<Received> {
        let seen = self.seen.lock().expect("lock").clone();
        let mut candidates = Vec::new();
        for (arrival, (key, raw)) in self.sent_messages().into_iter().enumerate() {
            if seen.contains(&key) {
                continue;
            }
            let Some(message) = MessageParser::default().parse(&raw) else { continue };
            let recipient = message
                .to()
                .and_then(|a| a.first())
                .and_then(|a| a.address())
                .map(str::to_owned)
                .unwrap_or_default();
            if !recipient.eq_ignore_ascii_case(to) {
                continue;
            }
            let received = Received {
                to: recipient,
                subject: message.subject().unwrap_or_default().to_owned(),
                text: message.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                html: message.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                message_id: message.message_id().unwrap_or_default().to_owned(),
                raw: String::from_utf8_lossy(&raw).into_owned(),
            };
            candidates.push((arrival, key, received));
        }
        let mut first: Option<((bool, i64, usize), String, Received)> = None;
        for (arrival, key, received) in candidates {
            let queued: Option<(i64,)> = sqlx::query_as("SELECT id FROM outbox WHERE message_id = $1")
                .bind(&received.message_id)
                .fetch_optional(self.store.pool())
                .await
                .expect("outbox id");
            // Messages this app did not queue (none, as addresses are unique) come last.
            let order = (queued.is_none(), queued.map_or(0, |(id,)| id), arrival);
            if first.as_ref().is_none_or(|(best, _, _)| order < *best) {
                first = Some((order, key, received));
            }
        }
        let (_, key, received) = first?;
        self.seen.lock().expect("lock").insert(key);
        Some(received)
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
