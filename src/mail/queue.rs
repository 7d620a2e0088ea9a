//! The outbox as the coordinator dashboard shows it: how many emails wait, and when the queue
//! should be empty given the relay's limits, any pause it asked for, and when each message falls
//! due. The forecast is a pure function of a snapshot of the outbox.

use crate::{
    config::MailLimits,
    store::{Store, outbox::QueueSnapshot},
};

/// When the last pending message of `snapshot` should leave (Unix seconds), if any is queued.
///
/// Each message, in the order they fall due, leaves at the earliest moment that is no earlier
/// than its due time and the end of the relay's pause, and at which each rolling window (60
/// seconds, 24 hours) holds fewer claims than its limit, counting the claims already made. The
/// relay's own speed is not known: without limits, the forecast is when the last message is due.
pub fn empty_by(snapshot: &QueueSnapshot, limits: &MailLimits) -> Option<i64> {
    if snapshot.pending.is_empty() {
        return (snapshot.sending > 0).then_some(snapshot.now);
    }
    let windows: Vec<(usize, i64)> = [(limits.per_minute, 60), (limits.per_day, 86_400)]
        .into_iter()
        .filter_map(|(limit, window)| Some((limit? as usize, window)))
        .collect();
    let mut sends = snapshot.recent_claims.clone();
    let mut at = snapshot.now.max(snapshot.relay.paused_until);
    for &(due, count) in &snapshot.pending {
        for _ in 0..count {
            at = at.max(due);
            for &(limit, window) in &windows {
                // The claim that must leave the window before one more fits in it.
                if limit > 0 && sends.len() >= limit {
                    at = at.max(sends[sends.len() - limit] + window);
                }
            }
            if !windows.is_empty() {
                sends.push(at);
            }
        }
    }
    Some(at)
}

/// The dashboard's email section.
#[derive(Clone, Debug)]
pub struct QueueReport {
    /// Emails waiting or being sent.
    pub queued: i64,
    /// Of those, emails tried before that wait to be tried again.
    pub retrying: i64,
    /// When the queue should be empty, as the dashboard writes times.
    pub empty_by: Option<i64>,
    /// The limits in force, in words.
    pub limits: String,
    /// Until when the relay asked us to pause, if it still does, and its words.
    pub paused: Option<(i64, String)>,
    /// Accounts whose address bounced.
    pub undeliverable: i64,
}

impl QueueReport {
    pub async fn load(store: &Store, limits: &MailLimits) -> sqlx::Result<Self> {
        let snapshot = store.queue_snapshot(limits).await?;
        let queued = snapshot.pending.iter().map(|(_, n)| n).sum::<i64>() + snapshot.sending;
        let paused = (snapshot.relay.paused_until > snapshot.now)
            .then(|| (snapshot.relay.paused_until, snapshot.relay.last_reply.clone().unwrap_or_default()));
        Ok(Self {
            queued,
            retrying: snapshot.retrying,
            empty_by: empty_by(&snapshot, limits),
            limits: describe(limits),
            paused,
            undeliverable: store.bounced_count().await?,
        })
    }
}

/// "30 a minute and 10,000 a day", or "none".
pub fn describe(limits: &MailLimits) -> String {
    let parts: Vec<String> = [(limits.per_minute, "a minute"), (limits.per_day, "a day")]
        .into_iter()
        .filter_map(|(limit, per)| Some(format!("{} {per}", thousands(limit?))))
        .collect();
    if parts.is_empty() {
        "none (MAIL_MAX_PER_MINUTE and MAIL_MAX_PER_DAY are unset)".to_owned()
    } else {
        parts.join(" and ")
    }
}

fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::outbox::RelayState;

    fn snapshot(now: i64, pending: &[(i64, i64)], recent_claims: &[i64]) -> QueueSnapshot {
        QueueSnapshot {
            now,
            pending: pending.to_vec(),
            recent_claims: recent_claims.to_vec(),
            ..QueueSnapshot::default()
        }
    }

    #[test]
    fn without_limits_the_queue_empties_when_its_last_message_is_due() {
        let unlimited = MailLimits::default();
        assert_eq!(empty_by(&snapshot(1000, &[], &[]), &unlimited), None);
        assert_eq!(empty_by(&snapshot(1000, &[(900, 5000)], &[]), &unlimited), Some(1000));
        assert_eq!(empty_by(&snapshot(1000, &[(900, 10), (1300, 1)], &[]), &unlimited), Some(1300));
    }

    #[test]
    fn a_per_minute_limit_spreads_the_queue_over_minutes() {
        let limits = MailLimits { per_minute: Some(30), per_day: None };
        // 30 go now, 30 a minute later, … the 100th in the fourth minute.
        assert_eq!(empty_by(&snapshot(0, &[(0, 100)], &[]), &limits), Some(180));
        // 20 sent in the last minute leave room for 10 at once.
        let recent: Vec<i64> = vec![-10; 20];
        assert_eq!(empty_by(&snapshot(0, &[(0, 10)], &recent), &limits), Some(0));
        assert_eq!(empty_by(&snapshot(0, &[(0, 11)], &recent), &limits), Some(50));
    }

    #[test]
    fn a_daily_limit_carries_the_rest_to_the_next_day_and_a_pause_delays_the_start() {
        let limits = MailLimits { per_minute: Some(30), per_day: Some(100) };
        let recent: Vec<i64> = (0..90).map(|i| -3600 + i).collect();
        // 10 fit today; the 11th waits until the oldest of the day's claims is a day old.
        assert_eq!(empty_by(&snapshot(0, &[(0, 10)], &recent), &limits), Some(0));
        assert_eq!(empty_by(&snapshot(0, &[(0, 11)], &recent), &limits), Some(-3600 + 86_400));
        let mut paused = snapshot(0, &[(0, 1)], &[]);
        paused.relay = RelayState { paused_until: 300, ..RelayState::default() };
        assert_eq!(empty_by(&paused, &limits), Some(300));
    }

    #[test]
    fn limits_are_described_in_words() {
        assert_eq!(
            describe(&MailLimits { per_minute: Some(30), per_day: Some(10_000) }),
            "30 a minute and 10,000 a day"
        );
        assert!(describe(&MailLimits::default()).starts_with("none"));
    }
}
