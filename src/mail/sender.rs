//! The outbox sender: claims due messages, most important first and within the relay's limits,
//! sends a bounded number at once, and records each outcome. Temporary failures are retried with
//! exponential backoff for as long as it takes; a relay asking us to slow down pauses every
//! sender; permanent refusals are kept with their reason, and a refused address is a bounce
//! (`mail::bounce`).
//!
//! A message is claimed only when a send slot is free for it, so it starts at once and its whole
//! send fits in the claim's lease (the SMTP deadlines are derived from the lease). Messages the
//! server accepted are marked sent together, in one statement, before any slot is used again: a
//! slot stays taken from the claim until the "sent" mark is written. A message can therefore
//! reach the server twice only if a sender stops between the server's acceptance and that write,
//! and at most `concurrency` messages per sender are ever in flight or in that window together.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use tokio::{
    sync::{Mutex, Notify, watch},
    task::JoinSet,
};

use super::{Envelope, SendError, Transport};
use crate::{
    config::MailLimits,
    store::{Store, now, outbox::OutboxMessage},
};

/// How failed sends are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure; doubled after each further one.
    pub base_secs: i64,
    /// Longest wait between two tries.
    pub max_secs: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base_secs: 10, max_secs: 3600 }
    }
}

impl RetryPolicy {
    /// Seconds to wait after the `attempts`-th failed try.
    pub fn delay(&self, attempts: i64) -> i64 {
        let doublings = (attempts - 1).clamp(0, 30) as u32;
        self.base_secs.saturating_mul(1_i64 << doublings).min(self.max_secs)
    }
}

/// The sender's settings, from `MAIL_CONCURRENCY`, `MAIL_LEASE_SECS`, `MAIL_RETRY_BASE_SECS` and
/// `MAIL_RETRY_MAX_SECS`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tuning {
    /// Messages in flight at once, and SMTP connections kept open.
    pub concurrency: usize,
    /// How long a claim lasts: after a crash, the messages it held wait this long.
    pub lease_secs: i64,
    pub retry: RetryPolicy,
}

impl Default for Tuning {
    fn default() -> Self {
        Self { concurrency: 8, lease_secs: 600, retry: RetryPolicy::default() }
    }
}

impl Tuning {
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let number = |name: &str, default: i64, min: i64, max: i64| -> anyhow::Result<i64> {
            match lookup(name) {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse::<i64>()
                    .ok()
                    .filter(|n| (min..=max).contains(n))
                    .with_context(|| format!("{name} must be a whole number from {min} to {max}")),
            }
        };
        let defaults = Self::default();
        let base_secs = number("MAIL_RETRY_BASE_SECS", defaults.retry.base_secs, 1, 86_400)?;
        Ok(Self {
            concurrency: number("MAIL_CONCURRENCY", defaults.concurrency as i64, 1, 256)? as usize,
            lease_secs: number("MAIL_LEASE_SECS", defaults.lease_secs, 4, 86_400)?,
            retry: RetryPolicy {
                base_secs,
                max_secs: number(
                    "MAIL_RETRY_MAX_SECS",
                    defaults.retry.max_secs.max(base_secs),
                    base_secs,
                    7 * 86_400,
                )?,
            },
        })
    }

    /// The deadline for connecting (with STARTTLS and AUTH) and, separately, for sending one
    /// message: with a pooled connection checked by NOOP first, a send then ends within three of
    /// them, before its claim lapses. 60 s at most, 1 s at least.
    pub fn smtp_timeout(&self) -> Duration {
        Duration::from_millis((self.lease_secs as u64).saturating_mul(1000) / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(60))
    }
}

/// What one pass over the outbox did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u64,
    /// Temporary failures, tried again later.
    pub retrying: u64,
    /// Sends the relay answered with a request to slow down: tried again after the pause.
    pub throttled: u64,
    /// Addresses refused for good (their owners are paused; see `mail::bounce`).
    pub bounced: u64,
    /// Messages refused for good for another reason.
    pub failed: u64,
}

impl Delivered {
    fn count(&mut self, outcome: Result<Outcome, tokio::task::JoinError>, accepted: &mut Vec<Accepted>) {
        match outcome {
            Ok(Outcome::Sent(accepted_message)) => {
                self.sent += 1;
                accepted.push(accepted_message);
            }
            Ok(Outcome::Retrying) => self.retrying += 1,
            Ok(Outcome::Throttled) => self.throttled += 1,
            Ok(Outcome::Bounced) => self.bounced += 1,
            Ok(Outcome::Failed) => self.failed += 1,
            Err(err) => tracing::error!(%err, "send task panicked"),
        }
    }
}

/// A message the server accepted, not yet marked sent.
struct Accepted {
    id: i64,
    /// When its claim lapses: past it, another sender may send it again.
    lease_end: Instant,
}

/// Delivers the outbox. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    pub store: Store,
    pub transport: Transport,
    pub envelope: Envelope,
    /// Messages in flight at once.
    pub concurrency: usize,
    /// How long a claim lasts before another sender may take the message over.
    pub lease_secs: i64,
    pub retry: RetryPolicy,
    /// The relay's limits per minute and per day.
    pub limits: MailLimits,
    /// Woken when a message is queued, so it leaves at once.
    pub wake: Arc<Notify>,
    /// Set when the relay asked us to slow down: the next message that goes through ends the
    /// series, so the next pause is short again.
    throttled: Arc<AtomicBool>,
    /// Held for a whole pass over the outbox, so this sender's passes (its background loop's and
    /// any explicit `send_due`, shared by every clone) run one after another.
    pass: Arc<Mutex<()>>,
}

impl Sender {
    pub fn new(
        store: Store,
        transport: Transport,
        envelope: Envelope,
        tuning: Tuning,
        limits: MailLimits,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            transport,
            envelope,
            concurrency: tuning.concurrency.max(1),
            lease_secs: tuning.lease_secs,
            retry: tuning.retry,
            limits,
            wake,
            throttled: Arc::default(),
            pass: Arc::default(),
        }
    }

    /// Sends everything that is due now, then returns (for `mail send-pending` and tests).
    /// Messages the limits hold back, or a pause the relay asked for, stay queued.
    ///
    /// A pass this sender's background loop (`run`) has under way finishes first, so when this
    /// returns, every message that was due when it was called has been sent, or its failure
    /// recorded, unless another process holds it. Tests rely on that instead of waiting.
    ///
    /// Claims only as many messages as there are free send slots, refilling slots as soon as
    /// sends finish and their "sent" marks are written, so no claimed message waits for a slot
    /// while its lease runs down.
    #[tracing::instrument(skip(self))]
    pub async fn send_due(&self) -> anyhow::Result<Delivered> {
        let _pass = self.pass.lock().await;
        let slots = self.concurrency.max(1);
        let mut tasks = JoinSet::new();
        let mut done = Delivered::default();
        let mut accepted: Vec<Accepted> = Vec::with_capacity(slots);
        let mut released = None;
        loop {
            if released.is_none_or(|at: Instant| at.elapsed() > RELEASE_EVERY) {
                if let Err(err) = self.store.release_lapsed_claims().await {
                    tracing::warn!(%err, "could not release lapsed claims");
                }
                released = Some(Instant::now());
            }
            // `accepted` holds messages of finished sends, so their slots are among the free
            // ones; they are recorded before any new claim, so what is in flight plus what is
            // accepted but not yet recorded never exceeds `slots`.
            let free = slots - tasks.len();
            if free > 0 {
                let recorded = std::mem::take(&mut accepted);
                let ids: Vec<i64> = recorded.iter().map(|a| a.id).collect();
                match self.store.mark_sent_and_claim(&ids, free as i64, self.lease_secs, &self.limits).await {
                    Ok(batch) => {
                        if !recorded.is_empty() {
                            self.end_throttle_series().await;
                        }
                        for row in batch {
                            let sender = self.clone();
                            let claimed_at = Instant::now();
                            tasks.spawn(async move { sender.deliver_one(&row, claimed_at).await });
                        }
                    }
                    Err(err) => {
                        // The marks may not be written: write them (again) before anything else.
                        self.record_sent(recorded).await;
                        // The sends under way still record their outcomes before this returns.
                        while let Some(outcome) = tasks.join_next().await {
                            done.count(outcome, &mut accepted);
                        }
                        self.record_sent(accepted).await;
                        return Err(err).context("claiming outbox messages");
                    }
                }
            }
            let Some(outcome) = tasks.join_next().await else {
                return Ok(done);
            };
            done.count(outcome, &mut accepted);
            while let Some(outcome) = tasks.try_join_next() {
                done.count(outcome, &mut accepted);
            }
        }
    }

    /// Runs until `shutdown` turns true, sending messages as they fall due.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(err) = self.send_due().await {
                tracing::error!(error = format!("{err:#}"), "outbox pass failed");
            }
            let wait = match self.store.next_outbox_due(&self.limits).await {
                Ok(Some(secs)) => secs.clamp(1, 10),
                // Other processes (a round run from the CLI) queue mail too: look again soon.
                Ok(None) => 10,
                Err(_) => 5,
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(wait as u64)) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Marks accepted messages sent in one statement, when that could not be done with the
    /// next claim. A database hiccup must not turn a delivered message into a resend: keep
    /// trying while the claims hold. Past the first lease's end, another sender may take that
    /// message over.
    async fn record_sent(&self, accepted: Vec<Accepted>) {
        let ids: Vec<i64> = accepted.iter().map(|a| a.id).collect();
        let Some(lease_end) = accepted.iter().map(|a| a.lease_end).min() else { return };
        let mut pause = Duration::from_millis(50);
        loop {
            match self.store.mark_sent(&ids).await {
                Ok(()) => break,
                Err(err) if Instant::now() + pause < lease_end => {
                    tracing::warn!(count = ids.len(), %err, "could not mark messages sent yet, trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(err) => {
                    tracing::error!(?ids, %err, "could not mark messages sent; their claims will lapse");
                    return;
                }
            }
        }
        self.end_throttle_series().await;
    }

    /// A message went through: if the relay had asked us to slow down, the next pause is the
    /// shortest again.
    async fn end_throttle_series(&self) {
        if self.throttled.swap(false, Ordering::Relaxed)
            && let Err(err) = self.store.clear_throttles().await
        {
            tracing::warn!(%err, "could not reset the relay's pause series");
        }
    }

    async fn deliver_one(&self, row: &OutboxMessage, claimed_at: Instant) -> Outcome {
        let lease_end = claimed_at + Duration::from_secs(self.lease_secs.max(1) as u64);
        let result = match self.envelope.build(row) {
            Ok(message) => self.transport.send(message).await,
            Err(err) => Err(err),
        };
        let err = match result {
            Ok(()) => return Outcome::Sent(Accepted { id: row.id, lease_end }),
            Err(err) => err,
        };
        let outcome = match &err {
            SendError::Bounced(reason) => {
                tracing::warn!(id = row.id, kind = row.kind, %reason, "address refused for good");
                Outcome::Bounced
            }
            SendError::Permanent(reason) => {
                tracing::warn!(id = row.id, kind = row.kind, %reason, "message refused for good");
                Outcome::Failed
            }
            SendError::Throttled(reason) => {
                tracing::warn!(id = row.id, kind = row.kind, %reason, "the relay asked us to slow down");
                self.throttled.store(true, Ordering::Relaxed);
                Outcome::Throttled
            }
            SendError::Temporary(reason) => {
                tracing::info!(id = row.id, kind = row.kind, %reason, "send failed, will retry");
                Outcome::Retrying
            }
        };
        // As for "sent" marks: keep trying to record the outcome while the claim holds.
        let mut pause = Duration::from_millis(50);
        loop {
            let recorded = match &err {
                SendError::Bounced(reason) => {
                    super::bounce::record(&self.store, row, reason).await.map(|_| ())
                }
                SendError::Permanent(reason) => {
                    self.store.mark_failed(row.id, row.attempts, reason).await.map_err(Into::into)
                }
                SendError::Throttled(reason) => self.record_throttle(row, reason).await,
                SendError::Temporary(reason) => {
                    let retry_at = now() + self.retry.delay(row.attempts);
                    self.store.mark_retry(row.id, row.attempts, reason, retry_at).await.map_err(Into::into)
                }
            };
            match recorded {
                Ok(()) => break,
                Err(err) if Instant::now() + pause < lease_end => {
                    tracing::warn!(
                        id = row.id,
                        error = format!("{err:#}"),
                        "could not record a send outcome yet, trying again"
                    );
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(5));
                }
                Err(err) => {
                    tracing::error!(
                        id = row.id,
                        error = format!("{err:#}"),
                        "could not record a send outcome; the claim will lapse"
                    );
                    break;
                }
            }
        }
        outcome
    }

    /// Pauses every sender on this database, longer after each request in a row (the retry
    /// policy's delays), and puts the message back for when the pause ends. The message's own
    /// backoff is untouched: the relay's pace, not the message, was the problem.
    async fn record_throttle(&self, row: &OutboxMessage, reason: &str) -> anyhow::Result<()> {
        let retry = self.retry;
        let resume_at = self.store.record_throttle(reason, |throttles| retry.delay(throttles)).await?;
        self.store.mark_retry(row.id, row.attempts, reason, resume_at).await?;
        Ok(())
    }
}

/// How often a long pass puts back messages whose claim lapsed.
const RELEASE_EVERY: Duration = Duration::from_secs(5);

enum Outcome {
    Sent(Accepted),
    Retrying,
    Throttled,
    Bounced,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::{RetryPolicy, Tuning};

    #[test]
    fn retries_back_off_exponentially_up_to_a_ceiling() {
        let policy = RetryPolicy { base_secs: 10, max_secs: 3600 };
        let delays: Vec<i64> = (1..=10).map(|n| policy.delay(n)).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(policy.delay(1000), 3600);
    }

    #[test]
    fn settings_default_without_environment_and_refuse_nonsense() {
        assert_eq!(Tuning::from_lookup(|_| None).unwrap(), Tuning::default());
        let tuned = Tuning::from_lookup(|name| match name {
            "MAIL_CONCURRENCY" => Some("16".into()),
            "MAIL_LEASE_SECS" => Some("6".into()),
            "MAIL_RETRY_BASE_SECS" => Some("1".into()),
            "MAIL_RETRY_MAX_SECS" => Some("2".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(tuned.concurrency, 16);
        assert_eq!(tuned.retry, RetryPolicy { base_secs: 1, max_secs: 2 });
        assert_eq!(tuned.smtp_timeout(), std::time::Duration::from_millis(1500));
        assert!(Tuning::from_lookup(|n| (n == "MAIL_CONCURRENCY").then(|| "0".into())).is_err());
        assert!(Tuning::from_lookup(|n| (n == "MAIL_RETRY_BASE_SECS").then(|| "0".into())).is_err());
        assert!(Tuning::from_lookup(|n| (n == "MAIL_LEASE_SECS").then(|| "soon".into())).is_err());
    }

    #[test]
    fn a_whole_send_fits_in_the_lease() {
        for lease_secs in [4, 6, 60, 600, 86_400] {
            let tuning = Tuning { lease_secs, ..Tuning::default() };
            assert!(tuning.smtp_timeout() * 3 < std::time::Duration::from_secs(lease_secs as u64));
        }
        assert_eq!(Tuning::default().smtp_timeout(), std::time::Duration::from_secs(60));
    }
}
