//! The outbox sender: claims due messages, sends a bounded number at once, and records each
//! outcome. Temporary failures are retried with exponential backoff for as long as it takes;
//! permanent refusals are kept with their reason.

use std::{sync::Arc, time::Duration};

use tokio::{
    sync::{Notify, Semaphore, watch},
    task::JoinSet,
};

use super::{Envelope, SendError, Transport};
use crate::store::{Store, now, outbox::OutboxMessage};

/// How failed sends are retried.
#[derive(Clone, Copy, Debug)]
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

/// What one pass over the outbox did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u64,
    pub retrying: u64,
    pub failed: u64,
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
    /// Woken when a message is queued, so it leaves at once.
    pub wake: Arc<Notify>,
}

impl Sender {
    /// Sends everything that is due now, then returns (for `mail send-pending` and tests).
    #[tracing::instrument(skip(self))]
    pub async fn send_due(&self) -> anyhow::Result<Delivered> {
        let mut total = Delivered::default();
        loop {
            let batch = self.store.claim_outbox(self.batch_size(), self.lease_secs).await?;
            if batch.is_empty() {
                return Ok(total);
            }
            let done = self.deliver(batch).await;
            total.sent += done.sent;
            total.retrying += done.retrying;
            total.failed += done.failed;
        }
    }

    /// Runs until `shutdown` turns true, sending messages as they fall due.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        while !*shutdown.borrow() {
            if let Err(err) = self.send_due().await {
                tracing::error!(error = format!("{err:#}"), "outbox pass failed");
            }
            let wait = match self.store.next_outbox_due().await {
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

    fn batch_size(&self) -> i64 {
        (self.concurrency * 4).max(1) as i64
    }

    async fn deliver(&self, batch: Vec<OutboxMessage>) -> Delivered {
        let permits = Arc::new(Semaphore::new(self.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for row in batch {
            let Ok(permit) = permits.clone().acquire_owned().await else { break };
            let sender = self.clone();
            tasks.spawn(async move {
                let outcome = sender.deliver_one(&row).await;
                drop(permit);
                outcome
            });
        }
        let mut done = Delivered::default();
        while let Some(outcome) = tasks.join_next().await {
            match outcome {
                Ok(Outcome::Sent) => done.sent += 1,
                Ok(Outcome::Retrying) => done.retrying += 1,
                Ok(Outcome::Failed) => done.failed += 1,
                Err(err) => tracing::error!(%err, "send task panicked"),
            }
        }
        done
    }

    async fn deliver_one(&self, row: &OutboxMessage) -> Outcome {
        let result = match self.envelope.build(row) {
            Ok(message) => self.transport.send(message).await,
            Err(err) => Err(err),
        };
        let (outcome, recorded) = match result {
            Ok(()) => (Outcome::Sent, self.store.mark_sent(row.id).await),
            Err(SendError::Permanent(reason)) => {
                tracing::warn!(id = row.id, kind = row.kind, %reason, "message refused for good");
                (Outcome::Failed, self.store.mark_failed(row.id, &reason).await)
            }
            Err(SendError::Temporary(reason)) => {
                let delay = self.retry.delay(row.attempts);
                tracing::info!(id = row.id, kind = row.kind, %reason, delay, "send failed, will retry");
                (Outcome::Retrying, self.store.mark_retry(row.id, &reason, now() + delay).await)
            }
        };
        if let Err(err) = recorded {
            // The claim's lease runs out and the message is tried again; only a sent one can repeat.
            tracing::error!(id = row.id, %err, "could not record a send outcome");
        }
        outcome
    }
}

enum Outcome {
    Sent,
    Retrying,
    Failed,
}

#[cfg(test)]
mod tests {
    use super::RetryPolicy;

    #[test]
    fn retries_back_off_exponentially_up_to_a_ceiling() {
        let policy = RetryPolicy { base_secs: 10, max_secs: 3600 };
        let delays: Vec<i64> = (1..=10).map(|n| policy.delay(n)).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]);
        assert_eq!(policy.delay(1000), 3600);
    }
}
