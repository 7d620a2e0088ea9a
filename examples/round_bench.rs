//! Times a full monthly round (load, match, write groups and one email per person) on a database
//! of N synthetic participants with six months of history made by real rounds.
//!
//!   cargo run --release --example round_bench -- 20000 sqlite:///tmp/round-bench.db
//!   (benches/round.sh runs it on SQLite and PostgreSQL; HISTORY=n sets the months of history, 6)

use std::time::Instant;

use coffee_rounds::{
    config::Config,
    domain::Calendar,
    matching::Month,
    rounds::{Outcome, Quiet},
    store::{BulkInsert, Store},
};

const DEPARTMENTS: &[(&str, u32)] = &[
    ("Nursing Administration", 18),
    ("Internal Medicine", 12),
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
    ("Neurology", 3),
    ("Research", 2),
    ("Quality & Patient Safety", 2),
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
const LEVELS: &[(i64, u32)] = &[(0, 8), (1, 24), (2, 24), (3, 22), (4, 15), (5, 7)];

/// SplitMix64: a fixed, portable sequence for the synthetic roster.
fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(state: &mut u64, weighted: &[(T, u32)]) -> T {
    let total: u32 = weighted.iter().map(|(_, w)| w).sum();
    let mut roll = (next(state) % u64::from(total)) as u32;
    for (value, weight) in weighted {
        if roll < *weight {
            return *value;
        }
        roll -= weight;
    }
    weighted[0].0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(20_000);
    let url = args.next().unwrap_or_else(|| "sqlite:///tmp/round-bench.db".into());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Store::connect(&url).await?;
    store.migrate().await?;
    let mut config = Config::from_lookup(|_| None)?;
    config.database_url = url.clone();

    let started = Instant::now();
    let mut state = 2026_u64;
    let people: Vec<(String, String, String, i64, String)> = (0..n)
        .map(|i| {
            let department = pick(&mut state, DEPARTMENTS).to_owned();
            (
                format!("person{i}@hospital.test"),
                format!("Person {i}"),
                pick(&mut state, ROLES).to_owned(),
                pick(&mut state, LEVELS),
                department,
            )
        })
        .collect();
    let insert = BulkInsert {
        head: "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, created_at, updated_at)",
        columns: 9,
        tail: "",
    };
    let mut conn = store.pool().acquire().await?;
    insert
        .execute(&mut conn, &people, |query, (email, name, role, level, department)| {
            query
                .bind(email)
                .bind(name)
                .bind("none")
                .bind(role)
                .bind(*level)
                .bind(department)
                .bind(1_i64)
                .bind(1_i64)
                .bind(1_i64)
        })
        .await?;
    println!("seeded {n} participants in {:.2} s", started.elapsed().as_secs_f64());

    let rounds = coffee_rounds::app::rounds(&config, store.clone(), Default::default()).await?;
    let target = Month::parse("2027-07").expect("valid month");
    let history: i32 = std::env::var("HISTORY").ok().and_then(|h| h.parse().ok()).unwrap_or(6);
    for back in (1..=history).rev() {
        let month = target.plus(-back);
        let t = Instant::now();
        rounds.run(month, false, &Quiet).await?;
        // History only: these rounds' emails are not part of the measurement. Everyone answers,
        // or three silent rounds would pause them all.
        sqlx::query("DELETE FROM outbox").execute(store.pool()).await?;
        sqlx::query("UPDATE group_members SET response = 'met' WHERE response IS NULL")
            .execute(store.pool())
            .await?;
        sqlx::query("UPDATE round_groups SET status = 'met', met_at = 1 WHERE status = 'open'")
            .execute(store.pool())
            .await?;
        println!("history round {month}: {:.2} s", t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let outcome = rounds.run(target, false, &Quiet).await?;
    let elapsed = t.elapsed().as_secs_f64();
    let Outcome::Created(summary) = outcome else { anyhow::bail!("the round did not run") };
    println!(
        "round {target} on {}: {n} participants, {} groups, {} sit-outs, {} emails queued in {elapsed:.2} s \
         (load {:.2} s, match {:.2} s, write {:.2} s)",
        url.split(':').next().unwrap_or("?"),
        summary.groups,
        summary.sit_outs,
        summary.emails,
        summary.seconds[0],
        summary.seconds[1],
        summary.seconds[2]
    );
    store.close().await;
    Ok(())
}
