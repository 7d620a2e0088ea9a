//! Seeds a database for the coordinator dashboard's scale benchmark: N participants with a
//! realistic mix of statuses, professions, departments and career stages, signed up over three
//! years, and MONTHS monthly rounds with their groups, answers, sit-outs and outgoing mail.
//!
//!   cargo run --release --example dashboard_seed -- sqlite:///tmp/dash.db 100000 24 PASSWORD
//!   (benches/dashboard.sh runs it on SQLite and PostgreSQL)
//!
//! Everything is written by `INSERT … SELECT` over a generated series of numbers, so the database
//! does the work: no row travels through this program and the matcher never runs. "Random" choices
//! are fixed hashes of ids, so the same arguments on the same day give the same database. Round
//! email carries its round (`outbox.round_id`) as the round job's does. One confirmed
//! coordinator, `coordinator@hospital.test`, logs in with PASSWORD; the others' password hash is
//! a valid argon2 hash of a password nobody knows.

use std::time::Instant;

use anyhow::Context;
use coffee_rounds::{
    accounts::Hasher,
    domain::Calendar,
    matching::Month,
    store::{Backend, Store},
};

/// Seeded department names (migrations 0001) with how common each is, in percent-ish weights.
const DEPARTMENTS: &[(&str, u32)] = &[
    ("Nursing Administration", 14),
    ("Internal Medicine", 11),
    ("Emergency Medicine", 9),
    ("Surgery", 9),
    ("Intensive Care", 8),
    ("Pediatrics", 7),
    ("Cardiology", 6),
    ("Oncology", 6),
    ("Radiology", 5),
    ("Pharmacy", 5),
    ("Anesthesiology", 4),
    ("Psychiatry", 4),
    ("Family Medicine", 3),
    ("Obstetrics & Gynecology", 3),
    ("Neurology", 2),
    ("Rehabilitation", 2),
    ("Research", 1),
    ("Quality & Patient Safety", 1),
];
const ROLES: &[(&str, u32)] = &[
    ("Nurse", 40),
    ("Physician", 22),
    ("Allied health", 10),
    ("Advanced practice provider", 8),
    ("Pharmacist", 6),
    ("Administrator", 6),
    ("Researcher", 5),
    ("Quality & informatics", 3),
];
const LEVELS: &[(i64, u32)] = &[(0, 8), (1, 22), (2, 22), (3, 20), (4, 15), (5, 9), (6, 4)];

const COORDINATOR: &str = "coordinator@hospital.test";
const DAY: i64 = 86_400;

/// `CASE WHEN x < 14 THEN 'a' WHEN x < 25 THEN 'b' … END` choosing by weight from `x` in
/// `0..total`, and `total`.
fn weighted_case<T: std::fmt::Display>(x: &str, choices: &[(T, u32)], quote: bool) -> (String, u32) {
    let mut sql = String::from("CASE");
    let mut bound = 0;
    for (value, weight) in choices {
        bound += weight;
        let value = if quote { format!("'{value}'") } else { value.to_string() };
        sql.push_str(&format!(" WHEN {x} < {bound} THEN {value}"));
    }
    sql.push_str(" END");
    (sql, bound)
}

/// A fixed pseudo-random number in 0..4294967291 from an integer expression (a multiplicative
/// hash modulo a prime).
fn hash(expr: &str, multiplier: u64) -> String {
    format!("((({expr}) * {multiplier}) % 4294967291)")
}

/// The first second of `month` plus `days` days and nine hours (a round runs in the morning of
/// its first days).
fn round_time(month: Month, days: i64) -> i64 {
    let m = time::Month::try_from(month.month()).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(month.year(), m, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp() + days * DAY + 9 * 3600)
        .unwrap_or(0)
}

struct RoundBinds {
    id: i64,
    at: i64,
    next_at: i64,
    pause_from: String,
    pause_to: String,
}

struct Seeder {
    store: Store,
    now: i64,
}

impl Seeder {
    async fn exec(&self, sql: &str, binds: &[i64]) -> anyhow::Result<u64> {
        let mut query = sqlx::query(sql);
        for b in binds {
            query = query.bind(*b);
        }
        let done = query.execute(self.store.pool()).await.with_context(|| format!("running {sql}"))?;
        Ok(done.rows_affected())
    }

    /// Runs a statement of one round with its parameters: `$1` round id, `$2` its time, `$3` the
    /// next round's time, `$4`..`$5` the months a pause must cover to keep someone out.
    async fn exec_round(&self, sql: &str, round: &RoundBinds) -> anyhow::Result<()> {
        sqlx::query(sql)
            .bind(round.id)
            .bind(round.at)
            .bind(round.next_at)
            .bind(round.pause_from.as_str())
            .bind(round.pause_to.as_str())
            .execute(self.store.pool())
            .await?;
        Ok(())
    }

    /// `FROM` source of the numbers 1..=n as column `i`.
    fn series(&self, n: i64) -> String {
        match self.store.backend() {
            Backend::Postgres => format!("generate_series(1, {n}::bigint) AS s (i)"),
            Backend::Sqlite => format!(
                "(WITH RECURSIVE c (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < {n}) SELECT i FROM c) AS s"
            ),
        }
    }

    async fn users(&self, n: i64, hashes: (&str, &str), paused: (&str, &str)) -> anyhow::Result<()> {
        let (department, departments) = weighted_case("dr", DEPARTMENTS, true);
        let (role, roles) = weighted_case("rr", ROLES, true);
        let (level, levels) = weighted_case("lr", LEVELS, false);
        let three_years = 3 * 365 * DAY;
        // b (0..100) picks the status: 0–2 awaiting confirmation, 3–7 opted out, 8–10 auto-paused,
        // 11–15 paused through a month to come, 16–18 paused through a month gone, the rest active.
        let sql = format!(
            "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, \
               opted_out_at, paused_through, auto_paused_at, created_at, updated_at) \
             SELECT 'person' || i || '@hospital.test', 'Person ' || i, $1, {role}, {level}, {department}, \
               CASE WHEN b < 3 THEN NULL ELSE c + 900 END, \
               CASE WHEN b >= 3 AND b < 8 THEN c + x % ({now} - c + 1) END, \
               CASE WHEN b >= 11 AND b < 16 THEN $2 WHEN b >= 16 AND b < 19 THEN $3 END, \
               CASE WHEN b >= 8 AND b < 11 THEN c + x % ({now} - c + 1) END, c, c \
             FROM (SELECT i, {h1} % 100 AS b, {now} - {h2} % {three_years} AS c, {h3} AS x, \
                     {h4} % {departments} AS dr, {h5} % {roles} AS rr, {h6} % {levels} AS lr FROM {series}) AS p",
            now = self.now,
            h1 = hash("i", 2_654_435_761),
            h2 = hash("i", 2_246_822_519),
            h3 = hash("i", 3_266_489_917),
            h4 = hash("i", 668_265_263),
            h5 = hash("i", 374_761_393),
            h6 = hash("i", 1_103_515_245),
            series = self.series(n),
        );
        sqlx::query(&sql)
            .bind(hashes.1)
            .bind(paused.0)
            .bind(paused.1)
            .execute(self.store.pool())
            .await
            .context("seeding users")?;
        sqlx::query(
            "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, \
               created_at, updated_at, is_coordinator) \
             VALUES ($1, 'Bench Coordinator', $2, 'Administrator', 3, 'Quality & Patient Safety', $3, $3, $3, 1)",
        )
        .bind(COORDINATOR)
        .bind(hashes.0)
        .bind(self.now - three_years)
        .execute(self.store.pool())
        .await
        .context("seeding the coordinator")?;
        // Everyone got a confirmation email when signing up.
        self.exec(
            "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, status, attempts, \
               next_attempt_at, created_at, sent_at) \
             SELECT 'confirm-' || id || '@seed.test', id, 'confirm', email, 'Confirm your email address', \
               'Please confirm your address for Coffee Rounds.', 'sent', 1, created_at, created_at, created_at + 5 \
             FROM users",
            &[],
        )
        .await?;
        Ok(())
    }

    /// One round: its sit-outs, groups (pairs, one trio in every twenty groups), answers, and the
    /// intro, sit-out, check-in and nudge emails it caused.
    async fn round(&self, k: i64, month: Month, at: i64, next_at: i64) -> anyhow::Result<i64> {
        let round_id: i64 = sqlx::query_scalar(
            "INSERT INTO rounds (month, seed, participants, group_count, sit_out_count, total_score, weights, created_at) \
             VALUES ($1, $2, 0, 0, 0, 0, 'Weights { seeded }', $3) RETURNING id",
        )
        .bind(month.to_string())
        .bind(k)
        .bind(at)
        .fetch_one(self.store.pool())
        .await?;
        let pause_from = month.to_string();
        let pause_to = month.plus(2).to_string();
        // Who could take part: confirmed before the round, not yet opted out or auto-paused, not
        // within a pause (pauses last up to three months).
        let eligible = "u.confirmed_at IS NOT NULL AND u.created_at < $2 AND u.is_coordinator = 0 \
             AND (u.opted_out_at IS NULL OR u.opted_out_at > $2) AND (u.auto_paused_at IS NULL OR u.auto_paused_at > $2) \
             AND NOT (u.paused_through IS NOT NULL AND u.paused_through >= $4 AND u.paused_through <= $5)";
        let sits_out = format!("{} % 53 = 0", hash(&format!("u.id + {k} * 7919"), 40_503));
        let numbered = format!(
            "SELECT id, (rn / 41) * 20 + CASE WHEN (rn % 41) / 2 > 19 THEN 19 ELSE (rn % 41) / 2 END AS pos \
             FROM (SELECT u.id, ROW_NUMBER() OVER (ORDER BY {perm}, u.id) - 1 AS rn FROM users u \
                   WHERE {eligible} AND NOT ({sits_out})) AS e",
            perm = hash(&format!("u.id + {k} * 104729"), 2_246_822_519),
        );
        let round = RoundBinds { id: round_id, at, next_at, pause_from, pause_to };
        let sql = format!(
            "INSERT INTO round_sit_outs (round_id, user_id, reason) \
             SELECT $1, u.id, 'asked to skip this month' FROM users u WHERE {eligible} AND {sits_out} AND $3 > 0"
        );
        self.exec_round(&sql, &round).await.context("sit-outs")?;
        // Group status from the position: 55 % met, 15 % did not meet, 5 % skipped, the rest
        // never answered. Met groups met within their first three weeks (and before now).
        let met_span = ((self.now - at) / 2).clamp(1, 21 * DAY);
        let gs = format!("{} % 100", hash(&format!("pos + {k} * 101"), 2_654_435_761));
        let sql = format!(
            "INSERT INTO round_groups (round_id, position, score, reason, status, met_at) \
             SELECT $1, pos, 20 + pos % 37, 'different departments and professions', \
               CASE WHEN gs < 55 THEN 'met' WHEN gs < 70 THEN 'not_met' WHEN gs < 75 THEN 'skipped' ELSE 'open' END, \
               CASE WHEN gs < 55 THEN $2 + {DAY} + (pos * 7919) % {met_span} END \
             FROM (SELECT pos, {gs} AS gs FROM (SELECT DISTINCT pos FROM ({numbered}) AS n) AS d) AS g \
             WHERE $3 > 0"
        );
        self.exec_round(&sql, &round).await.context("groups")?;
        let sql = format!(
            "INSERT INTO group_members (group_id, user_id, response, responded_at) \
             SELECT g.id, n.id, \
               CASE WHEN g.status = 'met' AND n.id % 10 < 7 THEN 'met' WHEN g.status = 'not_met' THEN 'not_yet' \
                    WHEN g.status = 'skipped' THEN 'skip' END, \
               CASE WHEN g.status = 'met' AND n.id % 10 < 7 THEN g.met_at \
                    WHEN g.status IN ('not_met', 'skipped') THEN $2 + 5 * {DAY} END \
             FROM ({numbered}) AS n JOIN round_groups g ON g.round_id = $1 AND g.position = n.pos \
             WHERE $3 > 0"
        );
        self.exec_round(&sql, &round).await.context("members")?;
        // A group of one (the last person of an odd count) sits out instead.
        let lonely = "SELECT m.group_id FROM group_members m JOIN round_groups g ON g.id = m.group_id \
                      WHERE g.round_id = $1 GROUP BY m.group_id HAVING COUNT(*) = 1";
        self.exec(
            &format!(
                "INSERT INTO round_sit_outs (round_id, user_id, reason) SELECT $1, user_id, \
                 'left over, and no pair can take them without repeating a recent meeting' \
                 FROM group_members WHERE group_id IN ({lonely})"
            ),
            &[round_id],
        )
        .await?;
        self.exec(&format!("DELETE FROM group_members WHERE group_id IN ({lonely})"), &[round_id]).await?;
        self.exec(
            "DELETE FROM round_groups WHERE round_id = $1 \
             AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = round_groups.id)",
            &[round_id],
        )
        .await?;

        let checkin_at = at + 14 * DAY;
        let checked_in = checkin_at < self.now;
        sqlx::query(
            "UPDATE rounds SET \
               group_count = (SELECT COUNT(*) FROM round_groups WHERE round_id = $1), \
               sit_out_count = (SELECT COUNT(*) FROM round_sit_outs WHERE round_id = $1), \
               total_score = (SELECT COALESCE(SUM(score), 0) FROM round_groups WHERE round_id = $1), \
               participants = (SELECT COUNT(*) FROM round_sit_outs WHERE round_id = $1) \
                 + (SELECT COUNT(*) FROM group_members m JOIN round_groups g ON g.id = m.group_id WHERE g.round_id = $1), \
               checkin_sent_at = $2 WHERE id = $1",
        )
        .bind(round_id)
        .bind(checked_in.then_some(checkin_at))
        .execute(self.store.pool())
        .await
        .context("round figures")?;

        // Mail: about one message in a hundred failed for good; the rest were sent a minute on.
        let outbox = |kind: &str, subject: &str, created: &str, from: &str| {
            format!(
                "INSERT INTO outbox (message_id, user_id, kind, recipient, subject, body_text, status, attempts, \
                   next_attempt_at, created_at, sent_at, last_error, round_id) \
                 SELECT '{kind}-' || $2 || '-' || u.id || '@seed.test', u.id, '{kind}', u.email, '{subject}', \
                   'Hello ' || u.name || ', this is the {kind} email of the round.', \
                   CASE WHEN f = 0 THEN 'failed' ELSE 'sent' END, CASE WHEN f = 0 THEN 8 ELSE 1 END, \
                   {at}, {at}, CASE WHEN f = 0 THEN NULL ELSE {at} + 60 END, \
                   CASE WHEN f = 0 THEN '550 mailbox unavailable' END, $1 \
                 FROM (SELECT u.id, u.email, u.name, {created} AS created, {f} % 97 AS f {from}) AS u",
                at = "u.created",
                f = hash("u.id + $2 * 31", 3_266_489_917),
            )
        };
        let members = "FROM group_members m JOIN round_groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id \
                       WHERE g.round_id = $1";
        self.exec(&outbox("intro", "Your coffee group", "$3", members), &[round_id, k, at + 60]).await?;
        self.exec(
            &outbox(
                "sit_out",
                "No coffee group this month",
                "$3",
                "FROM round_sit_outs s JOIN users u ON u.id = s.user_id WHERE s.round_id = $1",
            ),
            &[round_id, k, at + 60],
        )
        .await?;
        if checked_in {
            self.exec(
                &outbox(
                    "checkin",
                    "Did your coffee happen?",
                    "$3",
                    &format!("{members} AND g.status <> 'met' AND m.response IS NULL"),
                ),
                &[round_id, k, checkin_at],
            )
            .await?;
        }
        // The follow-up nudge, ten weeks after a group met.
        let nudge_before = self.now - 70 * DAY;
        self.exec(
            &outbox(
                "nudge",
                "Coffee again?",
                "g.met_at + 6048000 + $3",
                &format!("{members} AND g.status = 'met' AND g.met_at < $4 AND u.nudges_enabled = 1"),
            ),
            &[round_id, k, 0, nudge_before],
        )
        .await?;
        self.exec(
            "UPDATE round_groups SET nudge_sent_at = met_at + 6048000 \
             WHERE round_id = $1 AND status = 'met' AND met_at < $2",
            &[round_id, nudge_before],
        )
        .await?;
        Ok(round_id)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let url = args.next().context("usage: dashboard_seed URL [PARTICIPANTS] [MONTHS] [PASSWORD]")?;
    let n: i64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let months: i32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(24);
    let password = args.next().unwrap_or_else(|| "a long benchmark passphrase".into());

    let started = Instant::now();
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let hasher = Hasher::new(1).await?;
    let coordinator_hash = hasher.hash(&password).await?;
    let others_hash = hasher.hash("seeded accounts have no known password").await?;
    let now = coffee_rounds::store::now();
    let seeder = Seeder { store: store.clone(), now };

    // The latest round is this month's if it ran three days ago or more, else last month's.
    let today = time::OffsetDateTime::from_unix_timestamp(now - 3 * DAY)?.date();
    let latest = Month::of(today);
    let this_month = Month::of(time::OffsetDateTime::from_unix_timestamp(now)?.date());
    let paused = (this_month.plus(2).to_string(), this_month.plus(-4).to_string());

    let t = Instant::now();
    seeder.users(n, (&coordinator_hash, &others_hash), (&paused.0, &paused.1)).await?;
    println!("  {n} participants in {:.1} s", t.elapsed().as_secs_f64());

    let t = Instant::now();
    let mut latest_round = 0;
    for k in 0..i64::from(months) {
        let month = latest.plus(k as i32 - months + 1);
        let at = round_time(month, 2);
        let next_at = if k + 1 < i64::from(months) { round_time(month.plus(1), 2) } else { now };
        latest_round = seeder.round(k, month, at, next_at).await.with_context(|| format!("round {month}"))?;
    }
    println!("  {months} rounds in {:.1} s", t.elapsed().as_secs_f64());

    // PostgreSQL's autovacuum would have analysed tables this size long ago; do it now so the
    // measurement sees the plans a live database would use. (SQLite only plans with statistics
    // that the app itself never gathers, so none are made for it here.)
    if store.backend() == Backend::Postgres {
        let t = Instant::now();
        sqlx::query("VACUUM ANALYZE").execute(store.pool()).await?;
        println!("  VACUUM ANALYZE in {:.1} s", t.elapsed().as_secs_f64());
    }
    let counts: (i64, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM rounds), (SELECT COUNT(*) FROM round_groups), \
           (SELECT COUNT(*) FROM group_members), (SELECT COUNT(*) FROM outbox)",
    )
    .fetch_one(store.pool())
    .await?;
    println!(
        "seeded in {:.1} s: {} accounts, {} rounds, {} groups, {} group members, {} outbox rows",
        started.elapsed().as_secs_f64(),
        counts.0,
        counts.1,
        counts.2,
        counts.3,
        counts.4
    );
    println!("latest round id: {latest_round}");
    store.close().await;
    Ok(())
}
