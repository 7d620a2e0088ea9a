//! How often people meet: once a month, every other month or twice a month. Who takes part in
//! which round, the mid-month round's rules, the one-click change from an introduction, and the
//! scheduler running both kinds of round once each, even with two servers.

mod common;

use std::collections::BTreeSet;

use coffee_rounds::{
    domain::{FreeTimes, Frequency, MeetFormat, RoundKind, UserId},
    matching::Month,
    rounds::{Outcome, Quiet, RoundKey, Rounds, schedule},
};
use common::TestApp;

fn month(m: &str) -> Month {
    Month::parse(m).unwrap()
}

fn mid(m: &str) -> RoundKey {
    RoundKey { month: month(m), kind: RoundKind::MidMonth }
}

async fn set_frequency(app: &TestApp, id: UserId, frequency: Frequency) {
    sqlx::query("UPDATE users SET frequency = $1 WHERE id = $2")
        .bind(frequency)
        .bind(id)
        .execute(app.store.pool())
        .await
        .unwrap();
}

/// Where and how a participant meets, as their profile would say.
async fn reach(app: &TestApp, id: UserId, site: Option<&str>, format: MeetFormat) {
    sqlx::query("UPDATE users SET site = $1, meet_format = $2, free_times = $3 WHERE id = $4")
        .bind(site)
        .bind(format)
        .bind(FreeTimes::none())
        .bind(id)
        .execute(app.store.pool())
        .await
        .unwrap();
}

/// Runs `round`; everyone then says they met (so nobody is paused for silence).
async fn run(rounds: &Rounds, round: RoundKey) -> Outcome {
    let outcome = rounds.run_round(round, false, None, &Quiet).await.unwrap();
    sqlx::query("UPDATE round_groups SET status = 'met'").execute(rounds.store.pool()).await.unwrap();
    outcome
}

fn participants(outcome: &Outcome) -> usize {
    match outcome {
        Outcome::Created(summary) => summary.participants,
        other => panic!("not created: {other:?}"),
    }
}

/// The pairs (smaller id first) of the groups of `round`.
async fn pairs_of(app: &TestApp, round: RoundKey) -> BTreeSet<(UserId, UserId)> {
    let rows: Vec<(i64, UserId)> = sqlx::query_as(
        "SELECT m.group_id, m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id \
         JOIN rounds r ON r.id = g.round_id WHERE r.month = $1 AND r.kind = $2 ORDER BY m.group_id, m.user_id",
    )
    .bind(round.month.to_string())
    .bind(round.kind.as_str())
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    let mut pairs = BTreeSet::new();
    for (i, (group, a)) in rows.iter().enumerate() {
        for (other, b) in &rows[i + 1..] {
            if other == group {
                pairs.insert((*a, *b));
            }
        }
    }
    pairs
}

/// Who is in a group of `round`.
async fn grouped(app: &TestApp, round: RoundKey) -> BTreeSet<UserId> {
    pairs_of(app, round).await.into_iter().flat_map(|(a, b)| [a, b]).collect()
}

async fn sat_out(app: &TestApp, round: RoundKey) -> BTreeSet<UserId> {
    let rows: Vec<(UserId,)> = sqlx::query_as(
        "SELECT s.user_id FROM round_sit_outs s JOIN rounds r ON r.id = s.round_id WHERE r.month = $1 AND r.kind = $2",
    )
    .bind(round.month.to_string())
    .bind(round.kind.as_str())
    .fetch_all(app.store.pool())
    .await
    .unwrap();
    rows.into_iter().map(|(id,)| id).collect()
}

both_backends! {
    async fn every_other_month_rests_the_month_after_a_group_but_not_after_sitting_out(backend) {
        let app = TestApp::spawn(backend).await;
        let (rest, _) = app.add_participant("Ria Rest", "Physician", 4, "Surgery").await;
        set_frequency(&app, rest, Frequency::EveryOtherMonth).await;
        for (name, level, department) in [("Ana Souza", 1, "Cardiology"), ("Ben Okafor", 2, "Oncology"),
            ("Chen Wei", 3, "Pharmacy"), ("Dana Levi", 1, "Radiology"), ("Eli Park", 2, "Research"),
            ("Fay Moss", 3, "Finance"), ("Gus Hall", 1, "Emergency")] {
            app.add_participant(name, "Nurse", level, department).await;
        }
        let rounds = app.rounds().await;
        // January: video only, among people who meet in person only: Ria sits out.
        reach(&app, rest, None, MeetFormat::Video).await;
        sqlx::query("UPDATE users SET meet_format = 'in person' WHERE id <> $1").bind(rest).execute(app.store.pool()).await.unwrap();
        assert_eq!(participants(&run(&rounds, RoundKey::main(month("2027-01"))).await), 8);
        assert!(sat_out(&app, RoundKey::main(month("2027-01"))).await.contains(&rest));
        // February: a sit-out counts as no group, so Ria takes part, and is grouped first.
        sqlx::query("UPDATE users SET meet_format = 'either'").execute(app.store.pool()).await.unwrap();
        assert_eq!(participants(&run(&rounds, RoundKey::main(month("2027-02"))).await), 8);
        assert!(grouped(&app, RoundKey::main(month("2027-02"))).await.contains(&rest));
        // March: she had a group in February, so she rests; April she is back.
        assert_eq!(participants(&run(&rounds, RoundKey::main(month("2027-03"))).await), 7);
        assert!(!grouped(&app, RoundKey::main(month("2027-03"))).await.contains(&rest));
        assert_eq!(participants(&run(&rounds, RoundKey::main(month("2027-04"))).await), 8);
        app.stop().await;
    }

    async fn twice_a_month_meets_someone_new_mid_month_and_never_the_same_pair_within_the_window(backend) {
        let app = TestApp::spawn(backend).await;
        let mut twice = Vec::new();
        for (name, level, department) in [("Ana Souza", 1, "Cardiology"), ("Ben Okafor", 3, "Surgery"),
            ("Chen Wei", 2, "Pharmacy"), ("Dana Levi", 4, "Oncology")] {
            let (id, _) = app.add_participant(name, "Nurse", level, department).await;
            set_frequency(&app, id, Frequency::TwiceMonthly).await;
            twice.push(id);
        }
        let (once, once_email) = app.add_participant("Otto Once", "Physician", 2, "Radiology").await;
        let (other, _) = app.add_participant("Uma Other", "Pharmacist", 3, "Research").await;
        let rounds = app.rounds().await;

        assert_eq!(participants(&run(&rounds, RoundKey::main(month("2027-01"))).await), 6);
        let main_pairs = pairs_of(&app, RoundKey::main(month("2027-01"))).await;
        assert_eq!(participants(&run(&rounds, mid("2027-01")).await), 4, "only those who chose twice a month");
        let mid_pairs = pairs_of(&app, mid("2027-01")).await;
        let in_mid: BTreeSet<UserId> = mid_pairs.iter().flat_map(|&(a, b)| [a, b]).collect();
        assert_eq!(in_mid, twice.iter().copied().collect(), "{mid_pairs:?}");
        assert!(!in_mid.contains(&once) && !in_mid.contains(&other));
        assert!(mid_pairs.is_disjoint(&main_pairs), "nobody meets the month's main-round partner again: {main_pairs:?} {mid_pairs:?}");

        // The mid-month introduction names its round, and Otto gets none.
        let intros: Vec<(String,)> = sqlx::query_as("SELECT subject FROM outbox WHERE kind = 'intro' ORDER BY id")
            .fetch_all(app.store.pool()).await.unwrap();
        assert_eq!(intros.len(), 6 + 4);
        assert!(intros[6..].iter().all(|(s,)| s.contains("mid-January 2027")), "{intros:?}");
        assert_eq!(app.all_emails_to(&once_email).await.len(), 1);

        // The repeat window covers both kinds: February avoids the pairs of both January rounds.
        run(&rounds, RoundKey::main(month("2027-02"))).await;
        let feb = pairs_of(&app, RoundKey::main(month("2027-02"))).await;
        assert!(feb.is_disjoint(&main_pairs) && feb.is_disjoint(&mid_pairs), "{feb:?}");
        app.stop().await;
    }

    async fn a_sit_out_of_the_mid_month_round_has_priority_in_the_next_monthly_round(backend) {
        let app = TestApp::spawn(backend).await;
        let (quinn, _) = app.add_participant("Quinn Adler", "Nurse", 2, "Cardiology").await;
        let (rosa, _) = app.add_participant("Rosa Blum", "Nurse", 2, "Cardiology").await;
        let (xavi, _) = app.add_participant("Xavi Cole", "Physician", 3, "Surgery").await;
        let (yara, _) = app.add_participant("Yara Dunn", "Pharmacist", 4, "Pharmacy").await;
        for id in [quinn, rosa] {
            set_frequency(&app, id, Frequency::TwiceMonthly).await;
        }
        // In January Quinn meets only in person and Rosa only by video: each meets Xavi or Yara
        // in the monthly round, and they cannot meet each other mid-month.
        reach(&app, quinn, None, MeetFormat::InPerson).await;
        reach(&app, rosa, None, MeetFormat::Video).await;
        let rounds = app.rounds().await;
        run(&rounds, RoundKey::main(month("2027-01"))).await;
        assert!(sat_out(&app, RoundKey::main(month("2027-01"))).await.is_empty());
        run(&rounds, mid("2027-01")).await;
        assert_eq!(sat_out(&app, mid("2027-01")).await, BTreeSet::from([quinn, rosa]));

        // February: Xavi and Yara pause; Pia joins, in person only at North, like Quinn now;
        // Rosa is at South. Pia with Quinn scores far more than Quinn with Rosa (same
        // department, profession and stage), but Rosa sat out mid-month: she is grouped first.
        for id in [xavi, yara] {
            sqlx::query("UPDATE users SET paused_through = '2027-02' WHERE id = $1").bind(id).execute(app.store.pool()).await.unwrap();
        }
        let (pia, _) = app.add_participant("Pia Marsh", "Physician", 3, "Oncology").await;
        reach(&app, pia, Some("North Campus"), MeetFormat::InPerson).await;
        reach(&app, quinn, Some("North Campus"), MeetFormat::Either).await;
        reach(&app, rosa, Some("South Campus"), MeetFormat::Either).await;
        let Outcome::DryRun(preview) = rounds.run(month("2027-02"), true, &Quiet).await.unwrap() else { panic!() };
        assert_eq!(preview.plan.stats.priority_participants, 2, "both sat out of the mid-January round");
        run(&rounds, RoundKey::main(month("2027-02"))).await;
        assert_eq!(pairs_of(&app, RoundKey::main(month("2027-02"))).await, BTreeSet::from([(quinn.min(rosa), quinn.max(rosa))]));
        assert_eq!(sat_out(&app, RoundKey::main(month("2027-02"))).await, BTreeSet::from([pia]));
        app.stop().await;
    }

    async fn a_mid_month_round_with_fewer_than_two_people_is_skipped_and_recorded(backend) {
        let app = TestApp::spawn(backend).await;
        let (ana, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        set_frequency(&app, ana, Frequency::TwiceMonthly).await;
        let rounds = app.rounds().await;
        run(&rounds, RoundKey::main(month("2027-01"))).await;
        let skipped = run(&rounds, mid("2027-01")).await;
        assert!(matches!(skipped, Outcome::Skipped(round, 1) if round == mid("2027-01")), "{skipped:?}");
        let (reason,): (Option<String>,) = sqlx::query_as("SELECT skipped_reason FROM rounds WHERE kind = 'mid-month'")
            .fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(reason.as_deref(), Some("only one person chose twice a month"));
        assert_eq!(app.all_emails_to(&ana_email).await.len(), 1, "only the monthly introduction");
        assert!(matches!(run(&rounds, mid("2027-01")).await, Outcome::AlreadyRan(_)), "recorded: it does not run again");
        app.stop().await;
    }

    async fn the_introduction_changes_how_often_in_one_click_and_a_get_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        app.rounds().await.run(month("2027-01"), false, &Quiet).await.unwrap();
        let intro = app.email_to(&ana_email).await;
        assert!(intro.text.contains("How often: once a month."), "{}", intro.text);
        assert!(!intro.text.contains("/r/often-monthly."), "no link to what is already chosen");
        let link = intro.link(&format!("{}/r/often-twice.", app.base));
        assert!(intro.html.contains(&link));
        let frequency = || async { app.user_by_email(&ana_email).await.unwrap().unwrap().frequency };

        let scanned = reqwest::get(&link).await.unwrap();
        assert_eq!(scanned.status(), 200);
        assert!(scanned.text().await.unwrap().contains("Twice a month"));
        assert_eq!(frequency().await, Frequency::Monthly, "a link scanner changes nothing");

        let path = link.replacen(&app.base, "", 1);
        let done = app.submit_as(&app.new_browser(), &path, &path, &[]).await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("From now on: twice a month."));
        assert_eq!(frequency().await, Frequency::TwiceMonthly);

        let forged = path.replacen("often-twice", "often-every-other", 1);
        assert_eq!(app.get(&forged).await.status(), 404);
        assert_eq!(frequency().await, Frequency::TwiceMonthly);
        app.stop().await;
    }

    async fn the_scheduler_runs_both_kinds_each_once_even_with_two_servers(backend) {
        let app = TestApp::spawn(backend).await;
        for (name, level, department) in [("Ana Souza", 1, "Cardiology"), ("Ben Okafor", 3, "Surgery"),
            ("Chen Wei", 2, "Pharmacy"), ("Dana Levi", 4, "Oncology"), ("Eli Park", 0, "Research")] {
            let (id, _) = app.add_participant(name, "Nurse", level, department).await;
            if level < 3 {
                set_frequency(&app, id, Frequency::TwiceMonthly).await;
            }
        }
        let first = app.rounds().await;
        let mut second = app.rounds().await;
        second.store = coffee_rounds::store::Store::connect(&app.config.database_url).await.unwrap();
        let timetable = coffee_rounds::domain::schedule::Schedule::parse("Europe/London", "first-monday", "09:00", "15").unwrap();
        let kinds = || async {
            let rows: Vec<(String, String)> = sqlx::query_as("SELECT month, kind FROM rounds ORDER BY kind")
                .fetch_all(app.store.pool()).await.unwrap();
            rows
        };
        // 1 February 2027 is the first Monday; the third is the 15th.
        let main_day: jiff::Timestamp = "2027-02-01T09:30:00Z".parse().unwrap();
        let (a, b) = tokio::join!(schedule::catch_up(&first, &timetable, main_day), schedule::catch_up(&second, &timetable, main_day));
        a.unwrap();
        b.unwrap();
        assert_eq!(kinds().await, vec![("2027-02".to_owned(), "main".to_owned())]);

        // Both servers were down on the 15th and come back on the 17th.
        let back: jiff::Timestamp = "2027-02-17T10:00:00Z".parse().unwrap();
        let (a, b) = tokio::join!(schedule::catch_up(&first, &timetable, back), schedule::catch_up(&second, &timetable, back));
        a.unwrap();
        b.unwrap();
        schedule::catch_up(&first, &timetable, back).await.unwrap();
        assert_eq!(kinds().await, vec![("2027-02".to_owned(), "main".to_owned()), ("2027-02".to_owned(), "mid-month".to_owned())]);
        let (intros,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'intro'").fetch_one(app.store.pool()).await.unwrap();
        let mid_feb = RoundKey { month: month("2027-02"), kind: RoundKind::MidMonth };
        let in_mid = grouped(&app, mid_feb).await.len();
        assert_eq!(in_mid + sat_out(&app, mid_feb).await.len(), 3, "the three who chose twice a month");
        assert_eq!(intros as usize, 5 + in_mid, "five in the monthly round, then the mid-month groups, each once");

        // The mid-month check-in goes a week after its round, once.
        let (before,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'checkin'").fetch_one(app.store.pool()).await.unwrap();
        let week_on: jiff::Timestamp = "2027-02-22T10:00:00Z".parse().unwrap();
        let (a, b) = tokio::join!(schedule::catch_up(&first, &timetable, week_on), schedule::catch_up(&second, &timetable, week_on));
        a.unwrap();
        b.unwrap();
        let (after,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'checkin'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(after - before, in_mid as i64, "one check-in to each member of a mid-month group");
        app.stop().await;
    }
}
