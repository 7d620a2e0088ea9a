//! When the round job runs inside `serve`: the monthly round on the first Monday of the month (or
//! a fixed day) at a set time in `TIMEZONE`, its check-in on a later day of the month, the
//! mid-month round for those who chose twice a month (the third Monday by default) and its
//! check-in a week after, and the follow-up nudges a few times a day. The loop sleeps until the
//! next due time: no polling. A round that was due while the server was down runs as soon as it
//! is back; each runs once, whichever server gets there first.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;

use super::{Outcome, Quiet, RoundKey, Rounds};
use crate::domain::{RoundKind, schedule::Schedule};

/// What is due at `now` that has not happened: this month's monthly round and its check-in, its
/// mid-month round and that one's check-in, then nudges.
pub async fn catch_up(rounds: &Rounds, schedule: &Schedule, now: Timestamp) -> anyhow::Result<()> {
    let month = schedule.month_of(now);
    for kind in RoundKind::ALL {
        let round = RoundKey { month, kind };
        if now >= schedule.due(month, kind) {
            match rounds.run_round(round, false, None, &Quiet).await? {
                Outcome::Created(summary) => tracing::info!(?summary, "round done"),
                Outcome::Skipped(..) | Outcome::AlreadyRan(_) | Outcome::DryRun(_) => {}
            }
        }
        if now >= schedule.checkin_due_of(month, kind) {
            let sent = rounds.send_checkins(round).await?;
            if sent > 0 {
                tracing::info!(sent, %round, "check-ins queued");
            }
        }
    }
    rounds.send_nudges(now.as_second()).await?;
    Ok(())
}

/// Longest sleep between two reads of the schedule in force.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(15 * 60);

/// Runs the schedule in force until `stop` turns true. The schedule is read again at every wake,
/// so a change saved from the dashboard (by this instance or another) applies within
/// [`RECHECK_INTERVAL`].
pub async fn run(rounds: Rounds, mut stop: watch::Receiver<bool>) {
    // Nudges fall due at any hour; look for them a few times a day.
    const NUDGE_INTERVAL: Duration = Duration::from_secs(6 * 3600);
    while !*stop.borrow() {
        let now = Timestamp::now();
        let work = async {
            let schedule = rounds.settings().await?.schedule;
            catch_up(&rounds, &schedule, now).await?;
            anyhow::Ok(schedule)
        };
        let schedule = match work.await {
            Ok(schedule) => schedule,
            Err(err) => {
                tracing::error!(
                    error = format!("{err:#}"),
                    "scheduled round work failed; retrying in 10 minutes"
                );
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(600)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
        };
        let until = schedule.next_wake(now);
        let wait = Duration::from_secs(until.as_second().saturating_sub(now.as_second()).max(1) as u64);
        tracing::info!(next = %until, "round schedule sleeping");
        tokio::select! {
            _ = tokio::time::sleep(wait.min(NUDGE_INTERVAL).min(RECHECK_INTERVAL)) => {}
            _ = stop.changed() => {}
        }
    }
}
