//! The outbox's delivery guarantees, against a real SMTP server (`tools/smtp_sink.py`, started by
//! each test on a port of its own): an outage loses nothing, a sender killed mid-batch loses
//! nothing and repeats at most what it had in flight, a 5xx refusal is recorded without harming
//! the rest, and two senders never send the same message.
//!
//! The sink needs a Python with aiosmtpd: `TEST_SMTP_PYTHON` (set by `.ci/run`), else
//! `.ci/venv/bin/python`, else `python3`. Without one the tests pass with a note, except under CI.

mod common;

use std::{
    collections::{HashMap, HashSet},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{Arc, OnceLock},
    time::{Duration, Instant},
};

use coffee_rounds::mail::messages::{Confirm, Email};
use coffee_rounds::{
    config::{MailLimits, MailSettings, Secret},
    mail::{
        Envelope, Transport,
        sender::{Delivered, RetryPolicy, Sender, Tuning},
    },
    store::{Store, outbox::NewMessage},
};
use rand::Rng;
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_coffee-rounds");
/// Messages in flight per sender in these tests: the most a killed sender may repeat.
const CONCURRENCY: usize = 8;
/// Short claims, so a test waits seconds, not minutes, for a dead sender's claims to lapse.
const LEASE_SECS: i64 = 6;

// ---------------------------------------------------------------------------------------------
// The SMTP sink

/// The Python that runs the sink and the script's path, if a Python with aiosmtpd is found.
fn sink_command() -> Option<&'static (PathBuf, PathBuf)> {
    static FOUND: OnceLock<Option<(PathBuf, PathBuf)>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let script = std::env::var_os("TEST_SMTP_SINK")
                .map(PathBuf::from)
                .unwrap_or_else(|| root.join("tools/smtp_sink.py"));
            let mut candidates: Vec<PathBuf> =
                std::env::var_os("TEST_SMTP_PYTHON").map(PathBuf::from).into_iter().collect();
            candidates.push(root.join(".ci/venv/bin/python"));
            candidates.push("python3".into());
            let python = candidates.into_iter().find(|python| {
                Command::new(python)
                    .args(["-c", "import aiosmtpd"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            });
            python.map(|python| (python, script))
        })
        .as_ref()
}

/// Whether the sink can run; under CI (or with `TEST_SMTP_PYTHON` set) its absence is a failure.
fn sink_available() -> bool {
    if sink_command().is_some() {
        return true;
    }
    assert!(
        std::env::var("CI").is_err() && std::env::var("TEST_SMTP_PYTHON").is_err(),
        "CI must provide a Python with aiosmtpd (TEST_SMTP_PYTHON) so the delivery tests run"
    );
    eprintln!("no Python with aiosmtpd found (set TEST_SMTP_PYTHON or run .ci/run once): skipping");
    false
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("address").port()
}

/// A running `tools/smtp_sink.py`, stopped when dropped.
struct Sink {
    child: Child,
}

impl Sink {
    /// Starts a sink on `port` writing to `maildir`, and waits until it accepts connections.
    fn start(port: u16, maildir: &Path, tempfail_prefix: Option<&str>) -> Self {
        let (python, script) = sink_command().expect("sink available");
        let mut command = Command::new(python);
        command
            .arg(script)
            .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--maildir"])
            .arg(maildir)
            .stdout(Stdio::null());
        if let Some(prefix) = tempfail_prefix {
            command.args(["--tempfail-prefix", prefix]);
        }
        let mut child = command.spawn().expect("start the SMTP sink");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the SMTP sink exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "the SMTP sink did not start on port {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One message as the sink stored it.
#[derive(Clone, Debug)]
struct Arrived {
    message_id: String,
    to: String,
}

/// Every message in the Maildir, duplicates included.
fn arrived(maildir: &Path) -> Vec<Arrived> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .map(|raw| {
            let header = |name: &str| {
                raw.lines()
                    .take_while(|line| !line.is_empty())
                    .find_map(|line| {
                        let (key, value) = line.split_once(':')?;
                        key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
                    })
                    .unwrap_or_default()
            };
            Arrived { message_id: header("Message-ID").trim_matches(['<', '>']).to_owned(), to: header("To") }
        })
        .collect()
}

fn arrived_count(maildir: &Path) -> usize {
    std::fs::read_dir(maildir.join("new")).map(|d| d.count()).unwrap_or(0)
}

/// How many times each Message-ID arrived.
fn arrivals_by_id(maildir: &Path) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for message in arrived(maildir) {
        *counts.entry(message.message_id).or_insert(0) += 1;
    }
    counts
}

async fn wait_for_arrivals(maildir: &Path, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while arrived_count(maildir) < count {
        assert!(Instant::now() < deadline, "only {} of {count} messages arrived", arrived_count(maildir));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// A database of the test's own, and its outbox

struct Db {
    url: String,
    store: Store,
    dir: TempDir,
    postgres: Option<(String, String)>,
}

impl Db {
    async fn create(backend: common::Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let (url, postgres) = match backend {
            common::Backend::Sqlite => (format!("sqlite://{}/outbox.db", dir.path().display()), None),
            common::Backend::Postgres => {
                let admin = std::env::var("TEST_DATABASE_URL").expect("TEST_DATABASE_URL");
                let name = format!("coffee_test_{:016x}", rand::rng().random::<u64>());
                let mut conn = PgConnection::connect(&admin).await.expect("connect to TEST_DATABASE_URL");
                conn.execute(format!("CREATE DATABASE \"{name}\"").as_str()).await.expect("create database");
                conn.close().await.ok();
                (with_database(&admin, &name), Some((admin, name)))
            }
        };
        let store = Store::connect(&url).await.expect("connect");
        store.migrate().await.expect("migrate");
        Self { url, store, dir, postgres }
    }

    fn maildir(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Queues one message per recipient, in one transaction; returns their Message-IDs.
    async fn queue(&self, recipients: &[String]) -> Vec<String> {
        let mut tx = self.store.pool().begin().await.expect("begin");
        let mut ids = Vec::new();
        for recipient in recipients {
            let id = coffee_rounds::mail::queue(&mut tx, &intro(recipient)).await.expect("queue");
            ids.push(id);
        }
        tx.commit().await.expect("commit");
        let mut message_ids = Vec::new();
        for id in ids {
            let (message_id,): (String,) = sqlx::query_as("SELECT message_id FROM outbox WHERE id = $1")
                .bind(id)
                .fetch_one(self.store.pool())
                .await
                .expect("message id");
            message_ids.push(message_id);
        }
        message_ids
    }

    /// `(status, attempts, last_error)` of the message to `recipient`.
    async fn row(&self, recipient: &str) -> (String, i64, Option<String>) {
        sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE recipient = $1")
            .bind(recipient)
            .fetch_one(self.store.pool())
            .await
            .expect("outbox row")
    }

    async fn statuses(&self) -> HashMap<String, i64> {
        let rows: Vec<(String, i64)> = sqlx::query_as("SELECT status, COUNT(*) FROM outbox GROUP BY status")
            .fetch_all(self.store.pool())
            .await
            .expect("counts");
        rows.into_iter().collect()
    }

    /// A `Sender` in this process, like the one `serve` runs, with the given retry policy.
    async fn sender(&self, port: u16, retry: RetryPolicy) -> Sender {
        self.sender_with(port, CONCURRENCY, retry, MailLimits::default()).await
    }

    /// A `Sender` with its own connection pool to this database, as another process would have.
    async fn sender_with(
        &self,
        port: u16,
        concurrency: usize,
        retry: RetryPolicy,
        limits: MailLimits,
    ) -> Sender {
        let tuning = Tuning { concurrency, lease_secs: LEASE_SECS, retry };
        let smtp = MailSettings::Smtp(Secret::new(format!("smtp://127.0.0.1:{port}?tls=none")));
        let transport =
            Transport::new(&smtp, tuning.concurrency as u32, tuning.smtp_timeout()).await.expect("transport");
        let envelope = Envelope::new("Coffee Rounds <coffee-rounds@localhost>").expect("from");
        Sender::new(self.store.clone(), transport, envelope, tuning, limits, Arc::default())
    }

    /// `coffee-rounds mail send-pending` on this database, as a child process.
    fn send_pending(&self, port: u16, log: &str) -> Child {
        let log = std::fs::File::create(self.dir.path().join(log)).expect("log file");
        Command::new(BIN)
            .args(["mail", "send-pending"])
            .env("DATABASE_URL", &self.url)
            .env("SMTP_URL", format!("smtp://127.0.0.1:{port}?tls=none"))
            .env("MAIL_CONCURRENCY", CONCURRENCY.to_string())
            .env("MAIL_LEASE_SECS", LEASE_SECS.to_string())
            .env("MAIL_RETRY_BASE_SECS", "1")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start send-pending")
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default()
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.postgres.take() {
            let store = self.store.clone();
            // On its own runtime, so it runs even while the test's runtime unwinds.
            let _ = std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
                runtime.block_on(async {
                    store.close().await;
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

fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let base = base[scheme_end..].find('/').map_or(base, |slash| &base[..scheme_end + slash]);
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// An introduction email of a realistic size.
fn intro(recipient: &str) -> NewMessage {
    let paragraph = "You have been paired for this month's Coffee Rounds: a 20-minute conversation \
                     with a colleague from another department. Reply to everyone to find a time. ";
    NewMessage {
        kind: "intro",
        recipient: recipient.to_owned(),
        subject: "Your Coffee Rounds introduction".to_owned(),
        body_text: paragraph.repeat(8),
        body_html: Some(format!("<p>{}</p>", paragraph.repeat(8))),
        ..plain_row(recipient)
    }
}

/// A row with every other field at its usual value (so fields the outbox gains later need no
/// change here): a confirmation email's, whose kind, subject and bodies the caller replaces.
fn plain_row(recipient: &str) -> NewMessage {
    let confirm =
        Confirm { name: "Colleague".into(), link: "https://coffee.hospital.test/".into(), hours: 48 };
    confirm.to_message(None, recipient).expect("render")
}

fn recipients(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}.{i}@hospital.test")).collect()
}

/// Waits for a child, failing the test if it takes longer than `within` or fails.
fn wait_success(child: &mut Child, within: Duration, what: &str, log: impl Fn() -> String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{what} failed ({status}):\n{}", log());
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {within:?}:\n{}", log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `sent N` from `send-pending`'s closing line.
fn sent_in(log: &str) -> u64 {
    log.lines()
        .rev()
        .find_map(|line| line.strip_prefix("sent ")?.split(',').next()?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no closing line in:\n{log}"))
}

// ---------------------------------------------------------------------------------------------
// The guarantees

both_backends! {
    async fn every_message_queued_while_the_server_is_down_arrives_once_when_it_is_back(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let queued = db.queue(&recipients("outage", 30)).await;

        let sender = db.sender(port, RetryPolicy { base_secs: 1, max_secs: 2 }).await;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(sender.run(stopped));

        // While the server is down, every message is tried, kept, and tried again.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (tried_twice,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts >= 2 AND last_error IS NOT NULL",
            )
            .fetch_one(db.store.pool())
            .await
            .unwrap();
            if tried_twice == queued.len() as i64 {
                break;
            }
            assert!(Instant::now() < deadline, "only {tried_twice} messages were retried during the outage");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(arrived_count(&maildir), 0);

        let _sink = Sink::start(port, &maildir, None);
        wait_for_arrivals(&maildir, queued.len(), Duration::from_secs(20)).await;
        // Give a stray repeat the time to show up before counting.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = stop.send(true);
        running.await.unwrap();

        let arrivals = arrivals_by_id(&maildir);
        assert_eq!(arrivals.keys().cloned().collect::<HashSet<_>>(), queued.iter().cloned().collect());
        assert!(arrivals.values().all(|&n| n == 1), "a message arrived twice: {arrivals:?}");
        assert_eq!(db.statuses().await.get("sent"), Some(&(queued.len() as i64)));
    }

    async fn a_sender_killed_mid_batch_loses_nothing_and_repeats_at_most_what_it_had_in_flight(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let queued = db.queue(&recipients("killed", 300)).await;
        let _sink = Sink::start(port, &maildir, None);

        let mut first = db.send_pending(port, "first.log");
        let deadline = Instant::now() + Duration::from_secs(30);
        while arrived_count(&maildir) < 40 {
            assert!(first.try_wait().unwrap().is_none(), "the sender finished before it could be killed");
            assert!(Instant::now() < deadline, "the first sender delivered nothing:\n{}", db.log("first.log"));
            std::thread::sleep(Duration::from_millis(2));
        }
        first.kill().unwrap(); // SIGKILL: no chance to record anything
        first.wait().unwrap();
        let before_restart = arrived_count(&maildir);
        let statuses = db.statuses().await;
        assert!(before_restart < queued.len(), "killed mid-batch");
        assert!(statuses.get("pending").copied().unwrap_or(0) > 0, "work was left: {statuses:?}");

        // The killed sender's claims lapse, then the restarted sender finishes the job.
        tokio::time::sleep(Duration::from_millis(LEASE_SECS as u64 * 1000 + 1100)).await;
        let mut second = db.send_pending(port, "second.log");
        wait_success(&mut second, Duration::from_secs(40), "the restarted sender", || db.log("second.log"));
        tokio::time::sleep(Duration::from_millis(300)).await;

        let arrivals = arrivals_by_id(&maildir);
        let missing: Vec<_> = queued.iter().filter(|id| !arrivals.contains_key(*id)).collect();
        assert!(missing.is_empty(), "{} messages never arrived", missing.len());
        assert_eq!(arrivals.len(), queued.len(), "only queued messages arrive");
        let repeats: usize = arrivals.values().map(|n| n - 1).sum();
        eprintln!("{before_restart} arrived before the kill; {repeats} arrived twice (bound: {CONCURRENCY})");
        assert!(repeats <= CONCURRENCY, "{repeats} messages arrived twice, more than the {CONCURRENCY} in flight");
        assert!(arrivals.values().all(|&n| n <= 2), "a message arrived three times");
        assert_eq!(db.statuses().await.get("sent"), Some(&(queued.len() as i64)));
    }

    async fn a_recipient_refused_with_5xx_is_recorded_and_the_others_are_delivered(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let _sink = Sink::start(port, &maildir, Some("later"));
        let mut to = recipients("colleague", 4);
        to.insert(2, "reject.unknown@hospital.test".to_owned());
        to.push("later.busy@hospital.test".to_owned());
        db.queue(&to).await;

        let sender = db.sender(port, RetryPolicy { base_secs: 3600, max_secs: 3600 }).await;
        let done = sender.send_due().await.unwrap();
        assert_eq!(done, Delivered { sent: 4, retrying: 1, bounced: 1, ..Delivered::default() });

        let (status, attempts, error) = db.row("reject.unknown@hospital.test").await;
        assert_eq!((status.as_str(), attempts), ("failed", 1));
        let error = error.unwrap_or_default();
        assert!(error.contains("550") && error.contains("mailbox unavailable"), "the server's reason is kept: {error}");
        let (status, _, error) = db.row("later.busy@hospital.test").await;
        assert_eq!(status, "pending", "a 4xx is retried later");
        assert!(error.unwrap_or_default().contains("450"));

        let delivered: HashSet<String> = arrived(&maildir).into_iter().map(|m| m.to).collect();
        assert_eq!(delivered, recipients("colleague", 4).into_iter().collect());

        // Nothing is left to do for the refused message: it is not tried again.
        assert_eq!(sender.send_due().await.unwrap(), Delivered::default());
        assert_eq!(db.row("reject.unknown@hospital.test").await.1, 1);
    }

    async fn two_senders_at_once_never_send_the_same_message(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let queued = db.queue(&recipients("twice", 400)).await;
        let _sink = Sink::start(port, &maildir, None);

        let mut one = db.send_pending(port, "one.log");
        let mut two = db.send_pending(port, "two.log");
        wait_success(&mut one, Duration::from_secs(40), "the first sender", || db.log("one.log"));
        wait_success(&mut two, Duration::from_secs(40), "the second sender", || db.log("two.log"));
        let (sent_one, sent_two) = (sent_in(&db.log("one.log")), sent_in(&db.log("two.log")));
        assert!(sent_one > 0 && sent_two > 0, "both senders worked at once: {sent_one} and {sent_two}");
        assert_eq!(sent_one + sent_two, queued.len() as u64);

        let arrivals = arrivals_by_id(&maildir);
        assert_eq!(arrivals.keys().cloned().collect::<HashSet<_>>(), queued.iter().cloned().collect());
        let repeated: Vec<_> = arrivals.iter().filter(|(_, n)| **n > 1).collect();
        assert!(repeated.is_empty(), "sent twice: {repeated:?}");
    }
}
