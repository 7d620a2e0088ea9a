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
use coffee_rounds::{
    rounds::{Outcome, Quiet},
    store::coordinators::Actor,
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
        Self::start_with_rules(port, maildir, tempfail_prefix, None)
    }

    /// Starts a sink that answers RCPT TO as the file `rules` says, read at every RCPT TO.
    fn start_with_rules(
        port: u16,
        maildir: &Path,
        tempfail_prefix: Option<&str>,
        rules: Option<&Path>,
    ) -> Self {
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
        if let Some(rules) = rules {
            command.arg("--rules").arg(rules);
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
    subject: String,
    /// The sink's count when it stored the message: 1 for the first to arrive.
    order: u64,
    raw: String,
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
            Arrived {
                message_id: header("Message-ID").trim_matches(['<', '>']).to_owned(),
                to: header("To"),
                subject: header("Subject"),
                order: header("X-Sink-Order").parse().unwrap_or(0),
                raw,
            }
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
    let recipient = coffee_rounds::domain::Email::parse(recipient).expect("a valid address");
    confirm.to_message(None, &recipient).expect("render")
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
        // A stopped sender has finished its sends, and the sink stores a message before it
        // answers: a stray repeat would be in the Maildir by now.
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

        // The killed sender's claims lapse (their lease moved into the past, as if it had run
        // out), then the restarted sender finishes the job. It exits once the sink has stored
        // everything it sent.
        db.exec("UPDATE outbox SET claimed_until = claimed_until - $1 WHERE status = 'sending'", LEASE_SECS + 1).await;
        let mut second = db.send_pending(port, "second.log");
        wait_success(&mut second, Duration::from_secs(40), "the restarted sender", || db.log("second.log"));

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

// ---------------------------------------------------------------------------------------------
// Relays as hospitals have them: order, limits, slow-down replies, bounces, retention

/// A message of `kind` (as the app queues it) to `recipient`.
fn of_kind(kind: &'static str, recipient: &str) -> NewMessage {
    NewMessage { kind, subject: format!("A {kind} email"), ..plain_row(recipient) }
}

impl Db {
    /// Queues `messages` in one transaction, in the order given.
    async fn queue_all(&self, messages: &[NewMessage]) {
        let mut tx = self.store.pool().begin().await.expect("begin");
        for message in messages {
            coffee_rounds::mail::queue(&mut tx, message).await.expect("queue");
        }
        tx.commit().await.expect("commit");
    }

    /// Runs `sql` with `n` bound as `$1`.
    async fn exec(&self, sql: &str, n: i64) {
        sqlx::query(sql).bind(n).execute(self.store.pool()).await.expect(sql);
    }

    async fn scalar(&self, sql: &str) -> i64 {
        let (n,): (i64,) = sqlx::query_as(sql).fetch_one(self.store.pool()).await.expect(sql);
        n
    }
}

/// A round's mail queued the wrong way round: the least important first.
fn mixed_queue() -> Vec<NewMessage> {
    let mut messages = Vec::new();
    for i in 0..3 {
        messages.push(of_kind("nudge", &format!("nudge.{i}@hospital.test")));
        messages.push(of_kind("checkin", &format!("checkin.{i}@hospital.test")));
        messages.push(of_kind("sit_out", &format!("sitout.{i}@hospital.test")));
    }
    for i in 0..6 {
        messages.push(of_kind("intro", &format!("intro.{i}@hospital.test")));
    }
    messages.push(of_kind("invitation", "invited@hospital.test"));
    messages.push(of_kind("confirm", "confirm@hospital.test"));
    messages.push(of_kind("reset", "reset@hospital.test"));
    messages
}

/// The kind of each arrived message, in the order the sink received them.
fn kinds_in_arrival_order(maildir: &Path) -> Vec<String> {
    let mut messages = arrived(maildir);
    messages.sort_by_key(|m| m.order);
    messages
        .into_iter()
        .map(|m| m.subject.trim_start_matches("A ").trim_end_matches(" email").to_owned())
        .collect()
}

fn rank(kind: &str) -> usize {
    ["confirm", "reset", "invitation", "intro", "sit_out", "checkin", "nudge"]
        .iter()
        .position(|k| *k == kind)
        .map(|p| if p == 1 { 0 } else { p })
        .unwrap_or_else(|| panic!("unexpected kind {kind}"))
}

/// `MAIL_MAX_PER_MINUTE`, and nothing else.
fn per_minute(n: u32) -> MailLimits {
    MailLimits { per_minute: Some(n), per_day: None }
}

both_backends! {
    async fn a_round_goes_out_most_important_first(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let _sink = Sink::start(port, &maildir, None);
        let queued = mixed_queue();
        db.queue_all(&queued).await;

        // One at a time, so the order of arrival is the order of sending.
        let sender = db.sender_with(port, 1, RetryPolicy::default(), MailLimits::default()).await;
        assert_eq!(sender.send_due().await.unwrap().sent, queued.len() as u64);
        let kinds = kinds_in_arrival_order(&maildir);
        assert_eq!(kinds.len(), queued.len());
        let ranks: Vec<usize> = kinds.iter().map(|k| rank(k)).collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "arrived out of order: {kinds:?}");
        assert_eq!(&kinds[..3], ["confirm", "reset", "invitation"], "the first to arrive: {kinds:?}");
        assert_eq!(kinds.last().map(String::as_str), Some("nudge"));
    }

    async fn under_a_per_minute_limit_the_most_important_go_first_and_the_rest_wait_their_turn(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let _sink = Sink::start(port, &maildir, None);
        let queued = mixed_queue();
        db.queue_all(&queued).await;

        let sender = db.sender_with(port, CONCURRENCY, RetryPolicy::default(), per_minute(7)).await;
        let done = sender.send_due().await.unwrap();
        assert_eq!(done, Delivered { sent: 7, ..Delivered::default() }, "only the minute's worth");
        let mut kinds = kinds_in_arrival_order(&maildir);
        kinds.sort_by_key(|k| (rank(k), k.clone()));
        assert_eq!(kinds, ["confirm", "reset", "invitation", "intro", "intro", "intro", "intro"]);
        // A second pass in the same minute sends nothing; the rest stay queued, due when the
        // minute's first claims leave the window.
        assert_eq!(sender.send_due().await.unwrap(), Delivered::default());
        assert_eq!(arrived_count(&maildir), 7);
        let statuses = db.statuses().await;
        assert_eq!(statuses.get("pending"), Some(&(queued.len() as i64 - 7)), "{statuses:?}");
        assert_eq!(db.scalar("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND attempts > 0").await, 0, "nothing was tried and refused");
        let wait = db.store.next_outbox_due(&per_minute(7)).await.unwrap().expect("mail is queued");
        assert!((50..=60).contains(&wait), "the rest is due within a minute, not now: {wait} s");

        // A minute later (the claims moved an hour back), the next seven go, in their turn.
        db.exec("UPDATE outbox SET claimed_at = claimed_at - $1 WHERE claimed_at IS NOT NULL", 3600).await;
        assert_eq!(sender.send_due().await.unwrap().sent, 7);
        let mut kinds = kinds_in_arrival_order(&maildir);
        kinds.drain(..7);
        kinds.sort_by_key(|k| (rank(k), k.clone()));
        assert_eq!(kinds, ["intro", "intro", "sit_out", "sit_out", "sit_out", "checkin", "checkin"]);
    }

    async fn the_relay_limits_hold_across_senders_sharing_the_database(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let _sink = Sink::start(port, &maildir, None);
        // Sent an hour ago: 95 of today's 100, none of this minute's.
        let an_hour_ago = coffee_rounds::store::now() - 3600;
        for i in 0..95 {
            sqlx::query(
                "INSERT INTO outbox (message_id, kind, recipient, subject, body_text, status, attempts, next_attempt_at, \
                 created_at, sent_at, claimed_at) VALUES ($1, 'intro', 'x@hospital.test', 's', 'b', 'sent', 1, $2, $2, $2, $2)",
            )
            .bind(format!("earlier-{i}"))
            .bind(an_hour_ago)
            .execute(db.store.pool())
            .await
            .unwrap();
        }
        // Two days ago: outside the day's window.
        db.exec("UPDATE outbox SET claimed_at = claimed_at - $1 WHERE message_id IN ('earlier-0', 'earlier-1')", 2 * 86_400).await;
        let queued = db.queue(&recipients("limited", 40)).await;

        // Two processes at once, each allowed 12 a minute and 100 a day by the relay.
        let limited = |log: &str| {
            let mut child = Command::new(BIN);
            child
                .args(["mail", "send-pending"])
                .env("DATABASE_URL", &db.url)
                .env("SMTP_URL", format!("smtp://127.0.0.1:{port}?tls=none"))
                .env("MAIL_CONCURRENCY", CONCURRENCY.to_string())
                .env("MAIL_MAX_PER_MINUTE", "12")
                .env("MAIL_MAX_PER_DAY", "100")
                .env("RUST_LOG", "warn")
                .stderr(std::fs::File::create(db.dir.path().join(log)).unwrap());
            child.spawn().unwrap()
        };
        let (mut one, mut two) = (limited("one.log"), limited("two.log"));
        wait_success(&mut one, Duration::from_secs(40), "the first sender", || db.log("one.log"));
        wait_success(&mut two, Duration::from_secs(40), "the second sender", || db.log("two.log"));
        // 93 of the day's claims still count, so 7 fit today, whatever the minute allows.
        assert_eq!(arrived_count(&maildir), 7, "{}\n{}", db.log("one.log"), db.log("two.log"));
        assert_eq!(sent_in(&db.log("one.log")) + sent_in(&db.log("two.log")), 7);
        let statuses = db.statuses().await;
        assert_eq!(statuses.get("pending"), Some(&(queued.len() as i64 - 7)), "the rest waits: {statuses:?}");

        // Without the day's limit, the minute's allows 12 in all (7 of them already used).
        let sender = db.sender_with(port, CONCURRENCY, RetryPolicy::default(), per_minute(12)).await;
        let other = db.sender_with(port, CONCURRENCY, RetryPolicy::default(), per_minute(12)).await;
        let (a, b) = tokio::join!(sender.send_due(), other.send_due());
        assert_eq!(a.unwrap().sent + b.unwrap().sent, 5);
        assert_eq!(arrived_count(&maildir), 12);
    }
}

impl Db {
    /// Moves the relay's pause and every due time `secs` into the past, as if that much time
    /// had passed.
    async fn let_time_pass(&self, secs: i64) {
        self.exec(
            "UPDATE mail_relay SET paused_until = paused_until - $1, throttled_at = throttled_at - $1",
            secs,
        )
        .await;
        self.exec("UPDATE outbox SET next_attempt_at = next_attempt_at - $1", secs).await;
    }
}

both_backends! {
    async fn a_relay_asking_to_slow_down_pauses_every_sender_and_nothing_fails(backend) {
        if !sink_available() {
            return;
        }
        for reply in [
            "421 4.7.0 Too many messages, slow down",
            "451 4.7.1 Rate limited, try again later",
            "452 4.5.3 Too many recipients this hour",
        ] {
            let code = &reply[..3];
            let db = Db::create(backend).await;
            let port = free_port();
            let maildir = db.maildir("maildir");
            let rules = db.dir.path().join("rules");
            std::fs::write(&rules, format!("* {reply}\n")).unwrap();
            let _sink = Sink::start_with_rules(port, &maildir, None, Some(&rules));
            let queued = db.queue(&recipients("busy", 20)).await;
            let retry = RetryPolicy { base_secs: 10, max_secs: 3600 };

            let sender = db.sender_with(port, 4, retry, MailLimits::default()).await;
            let done = sender.send_due().await.unwrap();
            assert!((1..=4).contains(&done.throttled), "{code}: only the sends under way met it: {done:?}");
            assert_eq!(done, Delivered { throttled: done.throttled, ..Delivered::default() }, "{code}: not a failure");
            let statuses = db.statuses().await;
            assert_eq!(statuses.get("pending"), Some(&20), "{code}: everything is still queued: {statuses:?}");
            assert!(
                db.scalar("SELECT COUNT(*) FROM outbox WHERE attempts = 0").await >= 16,
                "{code}: the sender stopped claiming at once"
            );
            let relay = db.store.relay_state().await.unwrap();
            assert_eq!(relay.throttles, 1, "{code}: one request, however many sends it answered");
            assert_eq!(relay.paused_until - relay.throttled_at.unwrap(), 10, "{code}: the first pause is the shortest");
            assert!(relay.last_reply.unwrap_or_default().contains(code));
            let tried_again_at = db
                .scalar("SELECT MIN(next_attempt_at) FROM outbox WHERE attempts > 0")
                .await;
            assert_eq!(tried_again_at, relay.paused_until, "{code}: a refused message waits for the pause");
            // Every sender on the database pauses, not only the one that was told.
            let other = db.sender_with(port, 4, retry, MailLimits::default()).await;
            assert_eq!(other.send_due().await.unwrap(), Delivered::default(), "{code}");
            assert_eq!(sender.send_due().await.unwrap(), Delivered::default(), "{code}");

            // Refused again right after the pause: a longer pause.
            db.let_time_pass(10).await;
            let done = sender.send_due().await.unwrap();
            assert!(done.throttled >= 1 && done.sent == 0, "{code}: {done:?}");
            let relay = db.store.relay_state().await.unwrap();
            assert_eq!(relay.throttles, 2, "{code}");
            assert_eq!(relay.paused_until - relay.throttled_at.unwrap(), 20, "{code}: the pause doubles");

            // The relay takes mail again: everything goes, once, and the series ends.
            std::fs::write(&rules, "").unwrap();
            db.let_time_pass(20).await;
            let done = sender.send_due().await.unwrap();
            assert_eq!(done, Delivered { sent: 20, ..Delivered::default() }, "{code}");
            let arrivals = arrivals_by_id(&maildir);
            assert_eq!(arrivals.keys().cloned().collect::<HashSet<_>>(), queued.iter().cloned().collect(), "{code}");
            assert!(arrivals.values().all(|&n| n == 1), "{code}");
            assert_eq!(db.store.relay_state().await.unwrap().throttles, 0, "{code}");
        }
    }
}

const PASSWORD: &str = "morning rounds with coffee";

/// Messages to `to` in the Maildir as (subject, text part), checking that at least `at_least`
/// arrived. Read after the app's sender has sent what was due: the sink stores each message
/// before it answers, so all of them are there.
fn messages_to(maildir: &Path, to: &str, at_least: usize) -> Vec<(String, String)> {
    let found: Vec<(String, String)> = arrived(maildir)
        .into_iter()
        .filter(|m| m.to.eq_ignore_ascii_case(to))
        .filter_map(|m| {
            let parsed = mail_parser::MessageParser::default().parse(m.raw.as_bytes())?;
            Some((
                parsed.subject().unwrap_or_default().to_owned(),
                parsed.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
            ))
        })
        .collect();
    assert!(found.len() >= at_least, "{} of {at_least} messages to {to} arrived", found.len());
    found
}

/// Signs `name` up in `client` and confirms through the emailed link: a logged-in member.
async fn member_via(
    app: &common::TestApp,
    client: &reqwest::Client,
    maildir: &Path,
    email: &str,
    name: &str,
) {
    let fields = [
        ("email", email),
        ("name", name),
        ("password", PASSWORD),
        ("role", "Nurse"),
        ("level", "1"),
        ("department", "Cardiology"),
        ("department_other", ""),
    ];
    let response = app.submit_as(client, "/signup", "/signup", &fields).await;
    assert_eq!(response.status(), 200);
    app.send_due_mail().await;
    let (_, text) = messages_to(maildir, email, 1).remove(0);
    let prefix = format!("{}/confirm?token=", app.base);
    let start = text.find(&prefix).unwrap_or_else(|| panic!("no confirmation link in:\n{text}"));
    let link: String = text[start..].chars().take_while(|c| !c.is_whitespace()).collect();
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let confirmed = app
        .submit_as(
            client,
            &link.replacen(&app.base, "", 1),
            "/confirm",
            &[("token", &token), ("password", PASSWORD)],
        )
        .await;
    assert!(confirmed.url().path().starts_with("/profile"), "confirmed");
}

/// Checks that nothing is left to send.
async fn assert_all_sent(store: &Store) {
    let counts = store.outbox_counts().await.unwrap();
    assert!(counts.pending == 0 && counts.sending == 0, "mail still queued: {counts:?}");
}

both_backends! {
    async fn a_hard_bounce_pauses_the_person_tells_their_group_and_lists_the_address(backend) {
        if !sink_available() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (port, maildir, rules) = (free_port(), dir.path().join("maildir"), dir.path().join("rules"));
        let _sink = Sink::start_with_rules(port, &maildir, None, Some(&rules));
        let app = common::TestApp::spawn_with(backend, |c| {
            c.mail = MailSettings::Smtp(Secret::new(format!("smtp://127.0.0.1:{port}?tls=none")));
        })
        .await;
        let coordinator = common::unique_email("cora.ordinator");
        member_via(&app, &app.client, &maildir, &coordinator, "Cora Ordinator").await;
        app.store.set_coordinator(&coordinator, true, &Actor::command_line()).await.unwrap();
        let ben_browser = app.new_browser();
        let ben = common::unique_email("ben.okafor");
        member_via(&app, &ben_browser, &maildir, &ben, "Ben Okafor").await;
        for (name, role, level, department) in [
            ("Ana Souza", "Nurse", 1, "Surgery"),
            ("Chen Wei", "Pharmacist", 2, "Pharmacy"),
            ("Dana Levi", "Physician", 4, "Oncology"),
        ] {
            app.add_participant(name, role, level, department).await;
        }
        // Ben's mailbox goes away after he signed up.
        std::fs::write(&rules, "ben.okafor 550 5.1.1 Recipient address rejected: User unknown\n").unwrap();

        let month = coffee_rounds::matching::Month::parse("2027-03").unwrap();
        app.rounds().await.run(month, false, &Quiet).await.unwrap();
        let ben_id = app.user_by_email(&ben).await.unwrap().unwrap().id;
        let mates: Vec<(String,)> = sqlx::query_as(
            "SELECT u.email FROM group_members m JOIN group_members o ON o.group_id = m.group_id AND o.user_id <> m.user_id \
             JOIN users u ON u.id = o.user_id WHERE m.user_id = $1",
        )
        .bind(ben_id)
        .fetch_all(app.store.pool())
        .await
        .unwrap();
        assert!(!mates.is_empty(), "Ben was in a group");

        // Each of Ben's group gets the note, after their introduction; nobody else does. The
        // introduction that bounces queues the notes, which the same pass sends.
        app.send_due_mail().await;
        for (mate,) in &mates {
            let mail = messages_to(&maildir, mate, 2);
            let (subject, text) = mail.iter().find(|(s, _)| s.contains("address bounced")).expect("a note");
            assert_eq!(subject, "Coffee Rounds: Ben Okafor's email address bounced");
            assert!(text.contains("Please reach Ben Okafor another way"), "{text}");
            assert!(text.contains("Cardiology") && text.contains("March 2027"), "{text}");
        }
        assert_all_sent(&app.store).await;
        let notes = arrived(&maildir).iter().filter(|m| m.subject.contains("address bounced")).count();
        assert_eq!(notes, mates.len(), "one note to each of Ben's group, none elsewhere");
        assert!(messages_to(&maildir, &ben, 1).iter().all(|(s, _)| !s.contains("match")), "Ben's intro bounced");

        // Ben sees why he is not matched, and the next round leaves him out.
        let profile = ben_browser.get(app.url("/profile")).send().await.unwrap().text().await.unwrap();
        assert!(profile.contains("is refused by the receiving mail server"), "{profile}");
        assert!(profile.contains("My address works again"));
        let Outcome::DryRun(next) = app.rounds().await.run(month.next(), true, &Quiet).await.unwrap() else { panic!("a dry run") };
        assert!(!next.includes(ben_id), "a bounced address is not matched");

        // The coordinator finds the address, the reason and the event.
        let page = app.get("/coordinator/undeliverable").await.text().await.unwrap();
        assert!(page.contains(&ben) && page.contains("Ben Okafor") && page.contains("550 5.1.1"), "{page}");
        let dashboard = app.get("/coordinator").await.text().await.unwrap();
        assert!(dashboard.contains("data-status=\"bounced\">1<"), "{dashboard}");
        assert!(dashboard.contains("data-mail=\"undeliverable\">1<"), "{dashboard}");
        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains("address bounced") && audit.contains(&ben), "{audit}");
        let (status, error): (String, Option<String>) =
            sqlx::query_as("SELECT status, last_error FROM outbox WHERE user_id = $1 AND kind = 'intro'")
                .bind(ben_id)
                .fetch_one(app.store.pool())
                .await
                .unwrap();
        assert_eq!(status, "failed");
        assert!(error.unwrap_or_default().contains("550"));

        // The mid-month check-in goes to the rest of the group, not to the dead address.
        let checkins = app.rounds().await.send_checkins(coffee_rounds::rounds::RoundKey::main(month)).await.unwrap();
        assert!(checkins >= mates.len(), "{checkins} check-ins");
        let (to_ben,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE user_id = $1 AND kind = 'checkin'")
            .bind(ben_id)
            .fetch_one(app.store.pool())
            .await
            .unwrap();
        assert_eq!(to_ben, 0, "no check-in to a bounced address");

        // Once the address works again, a coordinator puts Ben back; the log says who.
        let user_id = ben_id.to_string();
        let cleared = app.submit("/coordinator/undeliverable", "/coordinator/undeliverable", &[("user_id", &user_id)]).await;
        let page = cleared.text().await.unwrap();
        assert!(page.contains("is marked as working") && page.contains("No address has bounced"), "{page}");
        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains("address marked working"), "{audit}");
        let profile = ben_browser.get(app.url("/profile")).send().await.unwrap().text().await.unwrap();
        assert!(profile.contains("You are taking part"), "{profile}");
        let Outcome::DryRun(next) = app.rounds().await.run(month.next(), true, &Quiet).await.unwrap() else { panic!("a dry run") };
        assert!(next.includes(ben_id));
        app.stop().await;
    }

    async fn a_person_whose_address_works_again_says_so_from_the_profile(backend) {
        let app = common::TestApp::spawn(backend).await;
        let email = common::unique_email("returning");
        app.member(&email, PASSWORD).await;
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        sqlx::query("UPDATE users SET email_bounced_at = 1, email_bounce_reason = '550 5.2.1 mailbox disabled' WHERE id = $1")
            .bind(user.id)
            .execute(app.store.pool())
            .await
            .unwrap();
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(profile.contains("is refused by the receiving mail server"), "{profile}");
        let back = app.submit("/profile", "/profile/address-works", &[]).await.text().await.unwrap();
        assert!(back.contains("you are back in the rounds") && back.contains("You are taking part"), "{back}");
        app.stop().await;
    }
}

impl Db {
    /// Per message: (Message-ID, status, subject, whether any body or link is left).
    async fn bodies(&self) -> Vec<(String, String, String, bool)> {
        let rows: Vec<StoredBodies> = sqlx::query_as(
            "SELECT message_id, status, subject, body_text, body_html, list_unsubscribe, body_purged_at FROM outbox ORDER BY id",
        )
        .fetch_all(self.store.pool())
        .await
        .unwrap();
        rows.into_iter()
            .map(|row| {
                let kept =
                    !row.body_text.is_empty() || row.body_html.is_some() || row.list_unsubscribe.is_some();
                assert_eq!(
                    row.body_purged_at.is_some(),
                    !kept,
                    "{}: purged_at says whether the bodies went",
                    row.message_id
                );
                (row.message_id, row.status, row.subject, kept)
            })
            .collect()
    }

    async fn round_figures(&self) -> Vec<(i64, i64)> {
        self.store.round_rows().await.unwrap().iter().map(|r| (r.emails_sent, r.emails_failed)).collect()
    }
}

#[derive(sqlx::FromRow)]
struct StoredBodies {
    message_id: String,
    status: String,
    subject: String,
    body_text: String,
    body_html: Option<String>,
    list_unsubscribe: Option<String>,
    body_purged_at: Option<i64>,
}

both_backends! {
    async fn sent_mail_keeps_its_bodies_for_the_retention_time_then_only_what_the_figures_count(backend) {
        if !sink_available() {
            return;
        }
        let db = Db::create(backend).await;
        let port = free_port();
        let maildir = db.maildir("maildir");
        let _sink = Sink::start(port, &maildir, None);
        let mut to = recipients("kept", 4);
        to.push("reject.gone@hospital.test".to_owned());
        let ids = db.queue(&to).await;
        db.exec("UPDATE outbox SET list_unsubscribe = 'https://coffee.hospital.test/u/signed' WHERE id > $1", 0).await;
        let sender = db.sender(port, RetryPolicy::default()).await;
        assert_eq!(sender.send_due().await.unwrap(), Delivered { sent: 4, bounced: 1, ..Delivered::default() });
        // One still waiting, queued long ago: its bodies stay until it is sent.
        db.queue(&["waiting@hospital.test".to_owned()]).await;
        db.exec("UPDATE outbox SET next_attempt_at = next_attempt_at + 86400 WHERE recipient = 'waiting@hospital.test' AND id > $1", 0).await;
        let (round_id,): (i64,) = sqlx::query_as(
            "INSERT INTO rounds (month, seed, participants, group_count, sit_out_count, total_score, weights, created_at) \
             VALUES ('2026-08', 1, 5, 2, 1, 0, '', 1) RETURNING id",
        )
        .fetch_one(db.store.pool())
        .await
        .unwrap();
        db.exec("UPDATE outbox SET round_id = $1", round_id).await;
        // Two sent and the refused one left 91 days ago; two sent 40 days ago.
        let age = |days: i64, which: &[&String]| {
            let list: Vec<String> = which.iter().map(|id| format!("'{id}'")).collect();
            format!(
                "UPDATE outbox SET created_at = created_at - {s}, sent_at = sent_at - {s}, next_attempt_at = next_attempt_at - {s} \
                 WHERE message_id IN ({}) AND $1 = $1",
                list.join(", "),
                s = days * 86_400
            )
        };
        db.exec(&age(91, &[&ids[0], &ids[1], &ids[4]]), 0).await;
        db.exec(&age(40, &[&ids[2], &ids[3]]), 0).await;
        db.exec("UPDATE outbox SET created_at = created_at - $1 WHERE recipient = 'waiting@hospital.test'", 200 * 86_400).await;
        let figures = db.round_figures().await;
        assert_eq!(figures, [(4, 1)]);

        // `mail send-pending` clears what is older than 90 days (the default).
        let mut once = db.send_pending(port, "purge.log");
        wait_success(&mut once, Duration::from_secs(30), "send-pending", || db.log("purge.log"));
        let bodies = db.bodies().await;
        let kept: Vec<bool> = bodies.iter().map(|(_, _, _, kept)| *kept).collect();
        assert_eq!(kept, [false, false, true, true, false, true], "{bodies:?}");
        for (message_id, status, subject, kept) in &bodies {
            if !kept {
                assert_eq!(subject, "", "{message_id}: the subject names people too");
                assert!(status == "sent" || status == "failed");
            }
        }
        let (addresses,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE recipient = '' AND last_error IS NULL")
            .fetch_one(db.store.pool())
            .await
            .unwrap();
        assert_eq!(addresses, 3, "no address or server answer is left in a cleared row");
        assert_eq!(db.round_figures().await, figures, "the rounds list counts the same");

        // `serve` clears on its own schedule (and at start), with the retention it is given.
        let dir = tempfile::tempdir().unwrap();
        let url = db.url.clone();
        let config = coffee_rounds::config::Config::from_lookup(|name| match name {
            "DATABASE_URL" => Some(url.clone()),
            "BIND" => Some("127.0.0.1:0".to_owned()),
            "MAIL_DIR" => Some(dir.path().display().to_string()),
            "ROUND_SCHEDULE" => Some("off".to_owned()),
            "MAIL_BODY_RETENTION_DAYS" => Some("30".to_owned()),
            _ => None,
        })
        .unwrap();
        let app = coffee_rounds::app::Application::build(config).await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async {
            let _ = stopped.await;
        }));
        let deadline = Instant::now() + Duration::from_secs(15);
        while db.bodies().await.iter().filter(|(_, _, _, kept)| *kept).count() > 1 {
            assert!(Instant::now() < deadline, "serve did not clear the bodies of 40-day-old mail");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(());
        server.await.unwrap().unwrap();
        let kept: Vec<bool> = db.bodies().await.iter().map(|(_, _, _, kept)| *kept).collect();
        assert_eq!(kept, [false, false, false, false, false, true], "the unsent message keeps its bodies");
        assert_eq!(db.round_figures().await, figures);
    }
}

/// The number in `data-attribute="…"` on a page, as `key="value"`.
fn attribute(page: &str, marker: &str) -> i64 {
    let start = page.find(marker).unwrap_or_else(|| panic!("no {marker} in:\n{page}")) + marker.len();
    let end = start + page[start..].find(['"', '<']).unwrap();
    page[start..end].trim().parse().unwrap_or_else(|_| panic!("{marker}: {}", &page[start..end]))
}

both_backends! {
    async fn the_dashboard_says_how_much_mail_waits_and_when_the_queue_should_be_empty(backend) {
        let app = common::TestApp::spawn_with(backend, |c| c.mail_limits = per_minute(2)).await;
        let coordinator = common::unique_email("coordinator");
        app.member(&coordinator, PASSWORD).await;
        app.store.set_coordinator(&coordinator, true, &Actor::command_line()).await.unwrap();
        // This minute's two sends are used up (the confirmation was one of them).
        let now = coffee_rounds::store::now();
        sqlx::query(
            "INSERT INTO outbox (message_id, kind, recipient, subject, body_text, status, attempts, next_attempt_at, \
             created_at, sent_at, claimed_at) VALUES ('earlier', 'intro', 'x@hospital.test', 's', 'b', 'sent', 1, $1, $1, $1, $1)",
        )
        .bind(now)
        .execute(app.store.pool())
        .await
        .unwrap();
        let mut tx = app.store.pool().begin().await.unwrap();
        for i in 0..9 {
            coffee_rounds::mail::queue(&mut tx, &of_kind("intro", &format!("waiting.{i}@hospital.test"))).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert_eq!(app.send_due_mail().await, Delivered::default(), "the minute's sends are used up");

        let page = app.get("/coordinator").await.text().await.unwrap();
        assert_eq!(attribute(&page, "data-mail=\"queued\">"), 9, "nothing more goes this minute");
        assert!(page.contains("data-mail=\"limits\">2 a minute<"), "{page}");
        // Two a minute: the ninth leaves five minutes from now.
        let empty_by = attribute(&page, "data-mail=\"empty-by\" data-at=\"");
        assert!((now + 295..=now + 310).contains(&empty_by), "{} s from now", empty_by - now);

        // A relay that asked us to pause for ten minutes delays all of it.
        sqlx::query("UPDATE mail_relay SET paused_until = $1, throttles = 1, throttled_at = $2, last_reply = '421 4.7.0 slow down' WHERE id = 1")
            .bind(now + 600)
            .bind(now)
            .execute(app.store.pool())
            .await
            .unwrap();
        let page = app.get("/coordinator").await.text().await.unwrap();
        assert!(page.contains("asked us to slow down") && page.contains("421 4.7.0 slow down"), "{page}");
        let empty_by = attribute(&page, "data-mail=\"empty-by\" data-at=\"");
        assert!((now + 600 + 240..=now + 600 + 250).contains(&empty_by), "{} s from now", empty_by - now);
        app.stop().await;
    }
}
