//! The monthly round as participants and coordinators live it: everyone taking part is paired
//! and emailed once, a second run changes nothing, links in the email work without a login, and
//! check-ins, automatic pauses and follow-up nudges go to the right people once.

mod common;

use coffee_rounds::{
    domain::{GroupId, UserId},
    matching::Month,
    rounds::{Outcome, Quiet, schedule},
};
use common::{TestApp, no_redirects};
use reqwest::header;

fn month(m: &str) -> Month {
    Month::parse(m).unwrap()
}

/// Five people who take part, and three who must not be matched.
async fn hospital(app: &TestApp) -> Vec<(UserId, String)> {
    let people = vec![
        app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await,
        app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await,
        app.add_participant("Chen Wei", "Pharmacist", 2, "Pharmacy").await,
        app.add_participant("Dana Levi", "Nurse", 4, "Oncology").await,
        app.add_participant("Eli Park", "Researcher", 0, "Research").await,
    ];
    let (unconfirmed, _) = app.add_participant("Una Confirmed", "Nurse", 1, "Surgery").await;
    let (opted_out, _) = app.add_participant("Otto Out", "Nurse", 1, "Surgery").await;
    let (paused, _) = app.add_participant("Paula Paused", "Nurse", 1, "Surgery").await;
    for (sql, id) in [
        ("UPDATE users SET confirmed_at = NULL WHERE id = $1", unconfirmed),
        ("UPDATE users SET opted_out_at = 1 WHERE id = $1", opted_out),
        ("UPDATE users SET paused_through = '2027-01' WHERE id = $1", paused),
    ] {
        sqlx::query(sql).bind(id).execute(app.store.pool()).await.unwrap();
    }
    people
}

both_backends! {
    async fn a_round_pairs_everyone_taking_part_and_emails_each_once(backend) {
        let app = TestApp::spawn(backend).await;
        let people = hospital(&app).await;
        let rounds = app.rounds().await;

        let Outcome::Created(summary) = rounds.run(month("2027-01"), false, &Quiet).await.unwrap() else { panic!("not created") };
        assert_eq!((summary.participants, summary.groups, summary.sit_outs, summary.emails), (5, 2, 0, 5));
        let members: Vec<(GroupId, UserId)> = sqlx::query_as("SELECT group_id, user_id FROM group_members ORDER BY user_id")
            .fetch_all(app.store.pool()).await.unwrap();
        let mut ids: Vec<UserId> = members.iter().map(|(_, u)| *u).collect();
        ids.sort();
        assert_eq!(ids, people.iter().map(|(id, _)| *id).collect::<Vec<_>>(), "each participant in exactly one group");

        for (id, email) in &people {
            let intro = app.email_to(email).await;
            assert!(intro.subject.starts_with("Your Coffee Rounds match for January 2027"), "{}", intro.subject);
            assert!(intro.text.contains("one 20-minute conversation"));
            assert!(intro.text.contains("Why you were matched:"));
            assert!(intro.text.contains("Three questions to bring"));
            assert!(intro.text.contains("thank-you the same day"));
            assert!(intro.html.contains("We met") && intro.html.contains("Skip next month"));
            assert!(intro.raw.contains("List-Unsubscribe: <"), "one-click unsubscribe header");
            assert!(intro.raw.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
            assert!(!intro.html.contains("<img"), "no images");
            // Each sees the others of their group, never themselves.
            let my_group = members.iter().find(|(_, u)| u == id).unwrap().0;
            for (other, _) in members.iter().filter(|(g, u)| *g == my_group && u != id).map(|(_, u)| (u, ())) {
                let (name,): (String,) = sqlx::query_as("SELECT name FROM users WHERE id = $1").bind(other).fetch_one(app.store.pool()).await.unwrap();
                assert!(intro.text.contains(&name), "{name} missing from the intro to {email}");
            }
            let questions = intro.text.lines().filter(|l| l.trim_start().starts_with("- ")).count();
            assert_eq!(questions, 3);
            assert!(app.all_emails_to(email).await.is_empty(), "one email per person");
        }
        let (outbox,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'intro'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(outbox, 5, "nobody outside the round is emailed");
        app.stop().await;
    }

    async fn running_a_month_twice_changes_nothing_and_says_so(backend) {
        let app = TestApp::spawn(backend).await;
        hospital(&app).await;
        let rounds = app.rounds().await;
        assert!(matches!(rounds.run(month("2027-01"), false, &Quiet).await.unwrap(), Outcome::Created(_)));
        let before = (app.count("round_groups").await, app.count("group_members").await, app.count("outbox").await);
        assert!(matches!(rounds.run(month("2027-01"), false, &Quiet).await.unwrap(), Outcome::AlreadyRan(_)));
        let after = (app.count("round_groups").await, app.count("group_members").await, app.count("outbox").await);
        assert_eq!(before, after);
        app.stop().await;
    }

    async fn two_runs_racing_for_the_same_month_make_one_round(backend) {
        let app = TestApp::spawn(backend).await;
        hospital(&app).await;
        // Two independent services with their own connections, like two servers.
        let first = app.rounds().await;
        let mut second = app.rounds().await;
        second.store = coffee_rounds::store::Store::connect(&app.config.database_url).await.unwrap();
        let (a, b) = tokio::join!(
            first.run(month("2027-01"), false, &Quiet),
            second.run(month("2027-01"), false, &Quiet)
        );
        let created = [a.unwrap(), b.unwrap()].iter().filter(|o| matches!(o, Outcome::Created(_))).count();
        assert_eq!(created, 1);
        assert_eq!(app.count("rounds").await, 1);
        assert_eq!(app.count("group_members").await, 5);
        let (intros,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'intro'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(intros, 5);
        app.stop().await;
    }

    async fn a_dry_run_shows_the_groups_and_writes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        hospital(&app).await;
        let tables = ["rounds", "round_groups", "group_members", "round_sit_outs", "outbox", "questions_sent"];
        let mut before = Vec::new();
        for t in tables { before.push(app.count(t).await); }
        let Outcome::DryRun(preview) = app.rounds().await.run(month("2027-01"), true, &Quiet).await.unwrap() else { panic!() };
        assert_eq!(preview.plan.groups.len(), 2);
        assert!(preview.plan.groups.iter().all(|g| g.members.iter().all(|m| preview.person(m).is_some())));
        let mut after = Vec::new();
        for t in tables { after.push(app.count(t).await); }
        assert_eq!(before, after);
        app.stop().await;
    }

    async fn next_month_nobody_meets_the_same_person_again(backend) {
        let app = TestApp::spawn(backend).await;
        for (name, level) in [("A One", 1), ("B Two", 2), ("C Three", 3), ("D Four", 4)] {
            app.add_participant(name, "Nurse", level, "Cardiology").await;
        }
        let rounds = app.rounds().await;
        rounds.run(month("2027-01"), false, &Quiet).await.unwrap();
        rounds.run(month("2027-02"), false, &Quiet).await.unwrap();
        let repeats: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT a.user_id, b.user_id FROM group_members a JOIN group_members b ON a.group_id = b.group_id AND a.user_id < b.user_id \
             GROUP BY a.user_id, b.user_id HAVING COUNT(*) > 1").fetch_all(app.store.pool()).await.unwrap();
        assert!(repeats.is_empty(), "pairs met twice: {repeats:?}");
        app.stop().await;
    }

    async fn someone_no_pair_can_take_sits_out_is_told_and_gets_priority(backend) {
        let app = TestApp::spawn(backend).await;
        let (a, a_email) = app.add_participant("Solo Ann", "Nurse", 1, "Cardiology").await;
        let (b, b_email) = app.add_participant("Solo Bob", "Physician", 3, "Surgery").await;
        let rounds = app.rounds().await;
        rounds.run(month("2027-01"), false, &Quiet).await.unwrap();
        app.email_to(&a_email).await;
        app.email_to(&b_email).await;
        // They met in January: in February they may not meet again, so both sit out.
        let Outcome::Created(feb) = rounds.run(month("2027-02"), false, &Quiet).await.unwrap() else { panic!() };
        assert_eq!((feb.groups, feb.sit_outs), (0, 2));
        let reasons: Vec<(UserId, String)> = sqlx::query_as("SELECT user_id, reason FROM round_sit_outs ORDER BY user_id").fetch_all(app.store.pool()).await.unwrap();
        assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), vec![a, b]);
        assert!(!reasons[0].1.is_empty());
        let note = app.email_to(&a_email).await;
        assert!(note.subject.contains("you have priority next month"), "{}", note.subject);
        // In March a newcomer arrives; the sit-outs are paired first.
        app.add_participant("New Nia", "Pharmacist", 2, "Pharmacy").await;
        let Outcome::Created(mar) = rounds.run(month("2027-03"), false, &Quiet).await.unwrap() else { panic!() };
        // Ann and Bob may not meet again, so one of them pairs with the newcomer and the other
        // cannot join as a third: one group, one sit-out.
        assert_eq!((mar.groups, mar.sit_outs), (1, 1));
        app.stop().await;
    }

    async fn links_in_the_email_work_without_login_and_a_get_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let (ana, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (_, ben_email) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        app.rounds().await.run(month("2027-01"), false, &Quiet).await.unwrap();
        let intro = app.email_to(&ana_email).await;
        let met = intro.link(&format!("{}/r/met.", app.base));
        let group_status = || async {
            let (s,): (String,) = sqlx::query_as("SELECT status FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
            s
        };

        // A scanner (no cookies) follows the link: nothing happens.
        let scanned = reqwest::get(&met).await.unwrap();
        assert_eq!(scanned.status(), 200);
        assert!(scanned.text().await.unwrap().contains("Yes, we met"));
        assert_eq!(group_status().await, "open");

        let path = met.replacen(&app.base, "", 1);
        let done = app.submit(&path, &path, &[]).await;
        assert!(done.text().await.unwrap().contains("recorded that you met"));
        assert_eq!(group_status().await, "met");

        // A forged link is refused.
        let forged = path.replacen(&format!(".{ana}."), &format!(".{}.", ana.get() + 1), 1);
        assert_eq!(app.get(&forged).await.status(), 404);

        // "Skip next month" pauses Ben for the next round.
        let ben_intro = app.email_to(&ben_email).await;
        let skip = ben_intro.link(&format!("{}/r/skip.", app.base)).replacen(&app.base, "", 1);
        let skipped = app.submit_as(&app.new_browser(), &skip, &skip, &[]).await;
        assert_eq!(skipped.status(), 200);
        let ben = app.user_by_email(&ben_email).await.unwrap().unwrap();
        assert!(ben.paused_through.is_some());

        // One-click unsubscribe: a mail client's POST, no session, no CSRF token.
        let unsubscribe = intro.raw.lines().find(|l| l.starts_with("List-Unsubscribe: <")).unwrap();
        let url = unsubscribe.trim_start_matches("List-Unsubscribe: <").trim_end().trim_end_matches('>');
        let one_click = no_redirects().post(url).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body("List-Unsubscribe=One-Click").send().await.unwrap();
        assert_eq!(one_click.status(), 200);
        assert!(app.user_by_email(&ana_email).await.unwrap().unwrap().opted_out_at.is_some());

        // The CSRF-free address takes nothing but unsubscribe links.
        let not_yet = ben_intro.link(&format!("{}/r/notyet.", app.base)).replacen("/r/", "/u/", 1);
        let refused = no_redirects().post(&not_yet).send().await.unwrap();
        assert_eq!(refused.status(), 404);
        app.stop().await;
    }

    async fn a_skip_link_applies_only_to_the_round_after_its_email(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (_, ben_email) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let (_, cy_email) = app.add_participant("Cy Adams", "Pharmacist", 2, "Pharmacy").await;
        let (_, di_email) = app.add_participant("Di Brown", "Nurse", 4, "Oncology").await;
        let rounds = app.rounds().await;
        rounds.run(month("2027-01"), false, &Quiet).await.unwrap();
        let january = app.email_to(&ben_email).await;
        rounds.run(month("2027-02"), false, &Quiet).await.unwrap();
        for email in [&ana_email, &cy_email, &di_email] {
            app.email_to(email).await;
        }

        // February has gone out: January's "Skip next month" no longer pauses anything.
        let skip = january.link(&format!("{}/r/skip.", app.base)).replacen(&app.base, "", 1);
        let page = app.new_browser().get(app.url(&skip)).send().await.unwrap();
        assert_eq!(page.status(), 410);
        assert!(page.text().await.unwrap().contains("This link has expired"));
        let token = app.csrf(&app.client, "/login").await;
        let posted = app.client.post(app.url(&skip)).form(&[("csrf_token", token)]).send().await.unwrap();
        assert_eq!(posted.status(), 410);
        let ben = app.user_by_email(&ben_email).await.unwrap().unwrap();
        assert_eq!(ben.paused_through, None);

        // February's own skip link pauses March, and says so.
        let february = app.email_to(&ben_email).await;
        let skip = february.link(&format!("{}/r/skip.", app.base)).replacen(&app.base, "", 1);
        let shown = app.get(&skip).await.text().await.unwrap();
        assert!(shown.contains("Skip the March 2027 round?"), "{shown}");
        let done = app.submit_as(&app.new_browser(), &skip, &skip, &[]).await;
        assert!(done.text().await.unwrap().contains("You will not be matched in the March 2027 round."));
        let ben = app.user_by_email(&ben_email).await.unwrap().unwrap();
        assert_eq!(ben.paused_through, Some(month("2027-03")));
        app.stop().await;
    }

    async fn the_profile_lists_my_rounds_and_takes_an_answer(backend) {
        let app = TestApp::spawn(backend).await;
        let email = common::unique_email("member");
        app.member(&email, "morning rounds with coffee").await;
        app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        app.rounds().await.run(month("2027-01"), false, &Quiet).await.unwrap();
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(profile.contains("My rounds") && profile.contains("January 2027") && profile.contains("Ben Okafor"));
        assert!(profile.contains("Waiting to hear how it went"));
        let (group,): (GroupId,) = sqlx::query_as("SELECT id FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(!profile.contains("My coffee network"), "nothing to show before a meeting");
        let answered = app.submit("/profile", &format!("/rounds/{group}/met"), &[]).await.text().await.unwrap();
        assert!(answered.contains("You met"));
        assert!(answered.contains("My coffee network"));
        assert!(answered.contains("<strong>1</strong> person met"));
        assert!(answered.contains("Departments: Surgery. Professions: Physician."));
        // In February the two may not meet again: the member sits out, and the profile says so.
        app.rounds().await.run(month("2027-02"), false, &Quiet).await.unwrap();
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(profile.contains("February 2027") && profile.contains("No match this month"));
        // Nobody can answer for a group that is not theirs.
        let other = app.submit("/profile", &format!("/rounds/{}/met", group.get() + 1000), &[]).await;
        assert_eq!(other.status(), 404);
        app.stop().await;
    }

    async fn the_check_in_goes_once_to_groups_not_reported_as_met(backend) {
        let app = TestApp::spawn(backend).await;
        let people = hospital(&app).await;
        let rounds = app.rounds().await;
        rounds.run(month("2027-01"), false, &Quiet).await.unwrap();
        // One group reports a meeting.
        let (met_group,): (GroupId,) = sqlx::query_as("SELECT group_id FROM group_members WHERE user_id = $1").bind(people[0].0).fetch_one(app.store.pool()).await.unwrap();
        let rounds_store = &app.store;
        rounds_store.record_response(met_group, people[0].0, coffee_rounds::store::rounds::Response::Met).await.unwrap();
        let members: Vec<(i64,)> = sqlx::query_as("SELECT user_id FROM group_members WHERE group_id <> $1").bind(met_group).fetch_all(app.store.pool()).await.unwrap();
        let sent = rounds.send_checkins(month("2027-01")).await.unwrap();
        assert_eq!(sent, members.len());
        assert_eq!(rounds.send_checkins(month("2027-01")).await.unwrap(), 0, "once per round");
        let (checkins,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'checkin'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(checkins as usize, members.len());
        app.stop().await;
    }

    async fn three_silent_rounds_pause_a_participant_who_can_come_back_in_one_click(backend) {
        let app = TestApp::spawn(backend).await;
        let (_, quiet_email) = app.add_participant("Quinn Quiet", "Nurse", 1, "Cardiology").await;
        let mut others = Vec::new();
        for (name, level) in [("Ray Reply", 3), ("Sam Reply", 2), ("Tia Reply", 4)] {
            others.push(app.add_participant(name, "Physician", level, "Surgery").await);
        }
        let rounds = app.rounds().await;
        for m in ["2027-01", "2027-02", "2027-03"] {
            rounds.run(month(m), false, &Quiet).await.unwrap();
            // Everyone else answers "not yet", so only Quinn stays silent.
            let groups: Vec<(GroupId, UserId)> = sqlx::query_as(
                "SELECT m.group_id, m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id JOIN rounds r ON r.id = g.round_id WHERE r.month = $1")
                .bind(m).fetch_all(app.store.pool()).await.unwrap();
            for (group, user) in groups {
                if others.iter().any(|(id, _)| *id == user) {
                    app.store.record_response(group, user, coffee_rounds::store::rounds::Response::NotYet).await.unwrap();
                }
            }
        }
        assert!(app.user_by_email(&quiet_email).await.unwrap().unwrap().auto_paused_at.is_none());
        let Outcome::Created(april) = rounds.run(month("2027-04"), false, &Quiet).await.unwrap() else { panic!() };
        assert_eq!(april.auto_paused, 1);
        assert_eq!(april.participants, 3, "the paused participant is not matched");
        let mut mails = Vec::new();
        loop {
            let mail = app.email_to(&quiet_email).await;
            if mail.subject.contains("paused") { mails.push(mail); break; }
        }
        let resume = mails[0].link(&format!("{}/r/resume.", app.base)).replacen(&app.base, "", 1);
        app.submit_as(&app.new_browser(), &resume, &resume, &[]).await;
        assert!(app.user_by_email(&quiet_email).await.unwrap().unwrap().auto_paused_at.is_none());
        app.stop().await;
    }

    async fn a_follow_up_nudge_goes_once_ten_weeks_after_a_meeting(backend) {
        let app = TestApp::spawn(backend).await;
        let (a, _) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (b, _) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let rounds = app.rounds().await;
        rounds.run(month("2027-01"), false, &Quiet).await.unwrap();
        let (group,): (GroupId,) = sqlx::query_as("SELECT id FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
        app.store.record_response(group, a, coffee_rounds::store::rounds::Response::Met).await.unwrap();
        app.store.set_nudges(b, false).await.unwrap();
        let now = coffee_rounds::store::now();
        assert_eq!(rounds.send_nudges(now).await.unwrap(), 0, "not before ten weeks");
        sqlx::query("UPDATE round_groups SET met_at = $1").bind(now - 71 * 24 * 3600).execute(app.store.pool()).await.unwrap();
        assert_eq!(rounds.send_nudges(now).await.unwrap(), 1, "only the member who wants nudges");
        assert_eq!(rounds.send_nudges(now).await.unwrap(), 0, "once");
        app.stop().await;
    }

    async fn the_schedule_runs_a_missed_round_when_the_server_is_back_and_only_once(backend) {
        let app = TestApp::spawn(backend).await;
        hospital(&app).await;
        let rounds = app.rounds().await;
        let timetable = coffee_rounds::domain::schedule::Schedule::parse("Europe/London", "first-monday", "09:00", "15").unwrap();
        let before: jiff::Timestamp = "2027-02-01T08:59:00Z".parse().unwrap();
        schedule::catch_up(&rounds, &timetable, before).await.unwrap();
        assert_eq!(app.count("rounds").await, 0, "not before 09:00 on the first Monday");
        // The server was down on the day; it comes back a week later.
        let back: jiff::Timestamp = "2027-02-08T14:00:00Z".parse().unwrap();
        schedule::catch_up(&rounds, &timetable, back).await.unwrap();
        schedule::catch_up(&rounds, &timetable, back).await.unwrap();
        let months: Vec<(String,)> = sqlx::query_as("SELECT month FROM rounds").fetch_all(app.store.pool()).await.unwrap();
        assert_eq!(months, vec![("2027-02".to_owned(),)]);
        app.stop().await;
    }
}
