//! Seeds a year of Coffee Rounds for the Outcomes page: PEOPLE participants (60 by default) in a
//! mix of departments, professions and career stages, and the twelve monthly rounds ending this
//! month, run by the real round job (matcher, groups, emails queued). About two groups in three
//! report meeting; members of met groups answer "Did it lead to anything?" through the store as
//! the follow-up's links do, more of them for older rounds (the question comes ten weeks after a
//! meeting), about one answer in six saying it led to something concrete. Then it prints the
//! Outcomes page's figures.
//!
//!   cargo run --example outcomes_seed -- sqlite:///tmp/outcomes.db 60 'a password to log in'
//!
//! `coordinator@hospital.test` (a coordinator who is not matched) and `ana.seed@hospital.test`
//! (a participant, to see "My coffee network") log in with the password; the others have a
//! password nobody knows. "Random" choices are fixed hashes of ids: the same arguments on the
//! same day give the same figures. The database must be new.

use anyhow::Context;
use coffee_rounds::{
    accounts::Hasher,
    config::Config,
    coordinator::Outcomes,
    domain::{Calendar, GroupId, LedTo, Month, UserId},
    rounds::Quiet,
    store::{Store, rounds::Response},
};

const DEPARTMENTS: &[&str] = &[
    "Internal Medicine",
    "Emergency Medicine",
    "Surgery",
    "Intensive Care",
    "Pediatrics",
    "Cardiology",
    "Oncology",
    "Pharmacy",
    "Radiology",
    "Nursing Administration",
];
const ROLES: &[&str] =
    &["Nurse", "Nurse", "Physician", "Physician", "Pharmacist", "Allied health", "Researcher"];
const FIRST: &[&str] =
    &["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jo", "Kofi", "Lena"];
const LAST: &[&str] =
    &["Souza", "Okafor", "Wei", "Levi", "Park", "Haddad", "Moreau", "Sato", "Petrov", "Nkemelu"];

/// A fixed number in 0..100 from two ids and a salt (splitmix64).
fn roll(a: i64, b: i64, salt: u64) -> u64 {
    let mut z = (a as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (b as u64).rotate_left(29) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

/// What a member says it led to, from a roll: about one in six something concrete.
fn answer(r: u64) -> LedTo {
    match r {
        0..=6 => LedTo::Advice,
        7..=10 => LedTo::Introduction,
        11..=13 => LedTo::Project,
        14..=15 => LedTo::Opportunity,
        _ => LedTo::NotYet,
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args.get(1).context("usage: outcomes_seed DATABASE_URL [PEOPLE] [PASSWORD]")?;
    let people: i64 = args.get(2).map_or(Ok(60), |n| n.parse()).context("PEOPLE must be a number")?;
    let password = args.get(3).cloned().unwrap_or_else(|| "seeded outcomes password".to_owned());

    let store = Store::connect(url).await?;
    store.migrate().await?;
    let hasher = Hasher::new(1).await?;
    let known = hasher.hash(&password).await?;
    let unknown = hasher.hash("seeded accounts have no known password").await?;
    let now = coffee_rounds::store::now();
    let year_ago = now - 400 * 86_400;
    sqlx::query(
        "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, created_at, \
           updated_at, is_coordinator, opted_out_at) \
         VALUES ('coordinator@hospital.test', 'Casey Coordinator', $1, 'Administrator', 4, 'Nursing Administration', \
           $2, $2, $2, 1, $2)",
    )
    .bind(&known)
    .bind(year_ago)
    .execute(store.pool())
    .await
    .context("seeding the coordinator (the database must be new)")?;
    for i in 0..people {
        let (first, last) = (FIRST[i as usize % FIRST.len()], LAST[(i as usize / FIRST.len()) % LAST.len()]);
        let email =
            if i == 0 { "ana.seed@hospital.test".to_owned() } else { format!("person.{i}@hospital.test") };
        sqlx::query(
            "INSERT INTO users (email, name, password_hash, role, level, department, confirmed_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $7)",
        )
        .bind(email)
        .bind(format!("{first} {last}"))
        .bind(if i == 0 { &known } else { &unknown })
        .bind(ROLES[(roll(i, 1, 11) as usize) % ROLES.len()])
        .bind((roll(i, 2, 13) % 6) as i64)
        .bind(DEPARTMENTS[(roll(i, 3, 17) as usize) % DEPARTMENTS.len()])
        .bind(year_ago)
        .execute(store.pool())
        .await?;
    }

    let mut config = Config::from_lookup(|_| None)?;
    config.database_url = url.clone();
    let rounds = coffee_rounds::app::rounds(&config, store.clone(), Default::default()).await?;
    let this_month = Month::of(time::OffsetDateTime::now_utc().date());
    for back in (0..12).rev() {
        let month = this_month.plus(-back);
        rounds.run(month, false, &Quiet).await?;
        let members: Vec<(GroupId, UserId)> = sqlx::query_as(
            "SELECT m.group_id, m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id \
             JOIN rounds r ON r.id = g.round_id WHERE r.month = $1 ORDER BY m.group_id, m.user_id",
        )
        .bind(month)
        .fetch_all(store.pool())
        .await?;
        // The follow-up comes ten weeks after a meeting: the latest rounds have few answers yet.
        let answering = match back {
            0 => 0,
            1 => 10,
            2 => 35,
            _ => 70,
        };
        let mut last_group = None;
        for (group, user) in members {
            let met = roll(group.get(), 0, 7) < 65;
            if !met {
                continue;
            }
            if last_group != Some(group) {
                store.record_response(group, user, Response::Met).await?;
                last_group = Some(group);
            }
            if roll(group.get(), user.get(), 19) < answering {
                store.record_led_to(group, user, answer(roll(group.get(), user.get(), 23))).await?;
            }
        }
    }

    let outcomes = Outcomes::load(&store, this_month).await?;
    let show = |share: &coffee_rounds::coordinator::Share| match (share.count, share.percent()) {
        (Some(n), Some(p)) => format!("{n} of {} answers, {p} %", share.answers),
        _ => format!("{} answers, too few answers", share.answers),
    };
    let led_to = &outcomes.led_to;
    println!("Seeded {people} participants and 12 rounds ({} to {}).", led_to.since, led_to.until);
    println!("Led to something concrete, last 12 months: {}", show(&led_to.total));
    for round in &led_to.rounds {
        println!("  {}: {} met groups, {}", round.month, round.met_groups, show(&round.share));
    }
    for share in led_to.kinds.iter().chain(&led_to.departments).chain(&led_to.gaps) {
        println!("  {}: {}", share.label, show(share));
    }
    let pace = &outcomes.pace;
    let distribution: Vec<String> =
        pace.counts.iter().filter(|(_, n)| *n > 0).map(|(k, n)| format!("{k}: {n}")).collect();
    println!(
        "Conversations per person ({} people): {}; median {}; {} at 10 or more",
        pace.people,
        distribution.join(", "),
        pace.median.unwrap_or(0),
        pace.on_pace
    );
    Ok(())
}
