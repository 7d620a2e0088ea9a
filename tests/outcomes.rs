//! "Did it lead to anything?" as participants and coordinators meet it: the ten-week follow-up's
//! one-click answers (a GET changes nothing, a POST records, an answer can change, a link for
//! another group, a forged one or an expired one records nothing), the same question on the
//! profile, shown to the member alone; the Outcomes page's figures against an independent count,
//! with every figure on fewer than five answers hidden; the pace; the export; and an account's
//! deletion taking its answers with it.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use coffee_rounds::{
    domain::{Calendar, GroupId, LedTo, Month, UserId},
    rounds::{
        Quiet,
        links::{Action, Link},
    },
    store::{coordinators::Actor, now, rounds::Response},
};
use common::{TestApp, unique_email};

const PASSWORD: &str = "correct horse battery staple";
const DAY: i64 = 86_400;

/// A table's expected figures: each row's label with its (answers, of them concrete).
type Expected<'a> = Vec<(&'a str, (i64, i64))>;

fn this_month() -> Month {
    Month::of(time::OffsetDateTime::now_utc().date())
}

/// A logged-in member of `app.client` who is a coordinator.
async fn coordinator(app: &TestApp) -> String {
    let email = unique_email("coordinator");
    app.member(&email, PASSWORD).await;
    app.store.set_coordinator(&email, true, &Actor::command_line()).await.unwrap();
    // Coordinators take part too; these tests count only the people they add.
    sqlx::query("UPDATE users SET opted_out_at = 1 WHERE email = $1")
        .bind(&email)
        .execute(app.store.pool())
        .await
        .unwrap();
    email
}

/// The group of `user` in the round of `month`.
async fn group_of(app: &TestApp, user: UserId, month: Month) -> GroupId {
    let (group,): (GroupId,) = sqlx::query_as(
        "SELECT m.group_id FROM group_members m JOIN round_groups g ON g.id = m.group_id \
         JOIN rounds r ON r.id = g.round_id WHERE m.user_id = $1 AND r.month = $2",
    )
    .bind(user)
    .bind(month)
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    group
}

/// Every answer stored, as (group, person, answer).
async fn answers(app: &TestApp) -> Vec<(GroupId, UserId, String)> {
    sqlx::query_as("SELECT group_id, user_id, led_to FROM outcome_answers ORDER BY group_id, user_id")
        .fetch_all(app.store.pool())
        .await
        .unwrap()
}

/// The text of each cell of the first table row from `marker` on.
fn row_cells(body: &str, marker: &str) -> Vec<String> {
    let start = body.find(marker).unwrap_or_else(|| panic!("no row {marker}"));
    let row = &body[start..];
    let row = &row[..row.find("</tr>").unwrap()];
    row.split("<td")
        .skip(1)
        .map(|cell| {
            let text = &cell[cell.find('>').unwrap() + 1..];
            text[..text.find("</td>").unwrap()].trim().to_owned()
        })
        .collect()
}

/// The cells of the row headed `label` in the table `id`.
fn table_row(body: &str, id: &str, label: &str) -> Vec<String> {
    let start = body.find(&format!("<table id=\"{id}\">")).unwrap_or_else(|| panic!("no table {id}"));
    let table = &body[start..start + body[start..].find("</table>").unwrap()];
    row_cells(table, &format!("<th scope=\"row\">{label}</th>"))
}

/// The cells a figure of `answers` answers, `count` of them saying so, shows when not hidden.
fn shown(answers: i64, count: i64) -> Vec<String> {
    let percent = (count * 100 + answers / 2) / answers;
    vec![answers.to_string(), count.to_string(), format!("{percent}%")]
}

fn hidden(answers: i64) -> Vec<String> {
    vec![answers.to_string(), "too few answers".to_owned()]
}

/// Posts to a refused link as a browser on another page would (with a valid CSRF token).
async fn post_refused(app: &TestApp, path: &str) -> reqwest::Response {
    let token = app.csrf(&app.client, "/login").await;
    app.client.post(app.url(path)).form(&[("csrf_token", token)]).send().await.unwrap()
}

both_backends! {
    async fn the_follow_up_asks_what_it_led_to_and_one_click_records_an_answer_that_can_change(backend) {
        let app = TestApp::spawn(backend).await;
        let (ana, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (_, ben_email) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let rounds = app.rounds().await;
        let january = Month::parse("2027-01").unwrap();
        rounds.run(january, false, &Quiet).await.unwrap();
        let group = group_of(&app, ana, january).await;
        app.store.record_response(group, ana, Response::Met).await.unwrap();
        sqlx::query("UPDATE round_groups SET met_at = $1").bind(now() - 71 * DAY).execute(app.store.pool()).await.unwrap();
        assert_eq!(rounds.send_nudges(now()).await.unwrap(), 2);

        let nudge = app.all_emails_to(&ana_email).await.into_iter().find(|m| m.subject.contains("lead to anything")).expect("the follow-up");
        assert!(nudge.text.contains("Did it lead to anything?") && nudge.html.contains("Did it lead to anything?"));
        for answer in LedTo::ALL {
            assert!(nudge.text.contains(&format!("  {}: {}/r/led-", answer.label(), app.base)), "{answer:?} in:\n{}", nudge.text);
            assert!(nudge.html.contains(answer.label()), "{answer:?} in the HTML part");
        }
        let advice = nudge.link(&format!("{}/r/led-advice.", app.base));
        let opportunity = nudge.link(&format!("{}/r/led-opportunity.", app.base));

        // A mail scanner (no cookies) follows the link: it sees the question, nothing is recorded.
        let scanned = reqwest::get(&advice).await.unwrap();
        assert_eq!(scanned.status(), 200);
        let page = scanned.text().await.unwrap();
        assert!(page.contains("Did it lead to anything?") && page.contains("Advice I used") && page.contains("Record my answer"), "{page}");
        assert!(answers(&app).await.is_empty(), "a GET records nothing");

        let path = advice.replacen(&app.base, "", 1);
        let done = app.submit_as(&app.new_browser(), &path, &path, &[]).await;
        assert_eq!(done.status(), 200);
        assert!(done.text().await.unwrap().contains("We have recorded your answer: “Advice I used”"));
        assert_eq!(answers(&app).await, vec![(group, ana, "advice".to_owned())]);

        // Another click on the same email changes the answer: still one per person per group.
        let path = opportunity.replacen(&app.base, "", 1);
        let changed = app.submit_as(&app.new_browser(), &path, &path, &[]).await;
        assert_eq!(changed.status(), 200);
        assert_eq!(answers(&app).await, vec![(group, ana, "opportunity".to_owned())]);

        // The other member is asked the same question, about the same group, with links of their own.
        let ben_nudge = app.all_emails_to(&ben_email).await.into_iter().find(|m| m.subject.contains("lead to anything")).unwrap();
        assert_ne!(ben_nudge.link(&format!("{}/r/led-advice.", app.base)), advice);
        app.stop().await;
    }

    async fn a_forged_an_expired_or_another_groups_follow_up_link_records_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        let mut people = Vec::new();
        for (name, level, department) in [("Ana Souza", 1, "Cardiology"), ("Ben Okafor", 3, "Surgery"), ("Chen Wei", 2, "Pharmacy"), ("Dana Levi", 4, "Oncology")] {
            people.push(app.add_participant(name, "Nurse", level, department).await.0);
        }
        let rounds = app.rounds().await;
        let january = Month::parse("2027-01").unwrap();
        rounds.run(january, false, &Quiet).await.unwrap();
        let ana = people[0];
        let mine = group_of(&app, ana, january).await;
        let (other, other_member): (GroupId, UserId) = sqlx::query_as("SELECT group_id, user_id FROM group_members WHERE group_id <> $1 ORDER BY user_id")
            .bind(mine).fetch_one(app.store.pool()).await.unwrap();
        app.store.record_response(mine, ana, Response::Met).await.unwrap();
        let token = |group: GroupId, user: UserId, made: i64| {
            format!("/r/{}", rounds.links.token(Link { action: Action::LedTo(LedTo::Project), group_id: group, user_id: user }, made))
        };

        // The group in a link is signed: changing it makes the link invalid.
        let real = token(mine, ana, now());
        let forged = real.replacen(&format!(".{mine}.{ana}."), &format!(".{other}.{ana}."), 1);
        assert_ne!(forged, real);
        assert_eq!(app.get(&forged).await.status(), 404);
        assert_eq!(post_refused(&app, &forged).await.status(), 404);

        // A member's link about a group that did not meet records nothing.
        let unmet = token(other, other_member, now());
        let page = app.submit_as(&app.new_browser(), &unmet, &unmet, &[]).await.text().await.unwrap();
        assert!(page.contains("Nothing to update"), "{page}");

        // A link signed for a group the person is not in (only a leaked key could make one)
        // records nothing, even once that group has met.
        app.store.record_response(other, other_member, Response::Met).await.unwrap();
        let not_mine = token(other, ana, now());
        let page = app.submit_as(&app.new_browser(), &not_mine, &not_mine, &[]).await.text().await.unwrap();
        assert!(page.contains("Nothing to update"), "{page}");

        // Half a year after its email, the link has expired; the day before, it still works.
        let expired = token(mine, ana, now() - 181 * DAY);
        let page = app.new_browser().get(app.url(&expired)).send().await.unwrap();
        assert_eq!(page.status(), 410);
        assert!(page.text().await.unwrap().contains("This link has expired"));
        assert_eq!(post_refused(&app, &expired).await.status(), 410);
        assert!(answers(&app).await.is_empty(), "nothing was recorded");

        let last_day = token(mine, ana, now() - 180 * DAY);
        let done = app.submit_as(&app.new_browser(), &last_day, &last_day, &[]).await;
        assert_eq!(done.status(), 200);
        assert_eq!(answers(&app).await, vec![(mine, ana, "project".to_owned())]);
        app.stop().await;
    }

    async fn the_profile_asks_what_a_met_round_led_to_and_shows_the_answer_to_the_member_alone(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("member");
        app.member(&email, PASSWORD).await;
        let me = app.user_by_email(&email).await.unwrap().unwrap().id;
        let (ben, _) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let january = Month::parse("2027-01").unwrap();
        app.rounds().await.run(january, false, &Quiet).await.unwrap();
        let group = group_of(&app, me, january).await;
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(!profile.contains("Did it lead to anything?"), "asked only once the group met");

        app.submit("/profile", &format!("/rounds/{group}/met"), &[]).await;
        let profile = app.get("/profile").await.text().await.unwrap();
        assert!(profile.contains("<legend>Did it lead to anything?</legend>"), "{profile}");
        assert!(profile.contains("Nothing reported yet"));
        assert!(profile.contains("My pace") && profile.contains("<strong>1</strong> conversation so far"), "{profile}");
        assert!(LedTo::ALL.iter().all(|a| !profile.contains(&format!("value=\"{}\" checked>", a.as_str()))), "no answer yet");

        let answered = app.submit("/profile", &format!("/rounds/{group}/outcome"), &[("led_to", "project")]).await;
        assert_eq!(answered.status(), 200);
        let profile = answered.text().await.unwrap();
        assert!(profile.contains("your answer is recorded as “A project or collaboration”"), "{profile}");
        assert!(profile.contains("value=\"project\" checked>"));
        assert!(profile.contains("<strong>A project or collaboration</strong> <span class=\"muted\">from January 2027, with Ben Okafor</span>"), "{profile}");

        // The other member's answer is theirs alone.
        app.store.record_led_to(group, ben, LedTo::Opportunity).await.unwrap();
        let changed = app.submit("/profile", &format!("/rounds/{group}/outcome"), &[("led_to", "not_yet")]).await.text().await.unwrap();
        assert!(changed.contains("value=\"not_yet\" checked>") && !changed.contains("value=\"opportunity\" checked>"));
        assert!(changed.contains("Nothing reported yet"), "“Not yet” is not something it led to");
        assert_eq!(answers(&app).await.len(), 2, "one answer each");

        // Nobody answers for a group that is not theirs, nor with an answer not offered.
        let other = app.submit("/profile", &format!("/rounds/{}/outcome", group.get() + 1000), &[("led_to", "advice")]).await;
        assert_eq!(other.status(), 404);
        let odd = app.submit("/profile", &format!("/rounds/{group}/outcome"), &[("led_to", "a promotion")]).await;
        assert_eq!(odd.status(), 400);
        app.stop().await;
    }

    async fn deleting_an_account_deletes_its_answers_and_keeps_the_others(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("member");
        app.member(&email, PASSWORD).await;
        let me = app.user_by_email(&email).await.unwrap().unwrap().id;
        let (ben, _) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let january = Month::parse("2027-01").unwrap();
        app.rounds().await.run(january, false, &Quiet).await.unwrap();
        let group = group_of(&app, me, january).await;
        app.store.record_response(group, me, Response::Met).await.unwrap();
        assert!(app.store.record_led_to(group, me, LedTo::Advice).await.unwrap());
        assert!(app.store.record_led_to(group, ben, LedTo::Introduction).await.unwrap());

        let deleted = app.submit("/account/delete", "/account/delete", &[("password", PASSWORD)]).await;
        assert_eq!(deleted.status(), 200);
        assert_eq!(answers(&app).await, vec![(group, ben, "introduction".to_owned())]);
        app.stop().await;
    }

    async fn the_outcomes_page_matches_an_independent_count_and_hides_every_figure_on_too_few_answers(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        let mut people = Vec::new();
        for (i, (department, level)) in [("Cardiology", 0), ("Surgery", 1), ("Pharmacy", 2), ("Oncology", 3), ("Research", 4), ("Cardiology", 5),
            ("Surgery", 0), ("Pharmacy", 1), ("Oncology", 2), ("Research", 3), ("Cardiology", 4), ("Surgery", 5)].iter().enumerate() {
            people.push(app.add_participant(&format!("Person {}", (b'A' + i as u8) as char), "Nurse", *level, department).await.0);
        }
        let rounds = app.rounds().await;
        let now_month = this_month();
        // (months back, answers given): two rounds before the last 12 months, three in them.
        let plan = [(14, 5), (13, 4), (2, 12), (1, 6), (0, 3)];
        let cycle = [LedTo::NotYet, LedTo::Advice, LedTo::NotYet, LedTo::Project, LedTo::Opportunity, LedTo::NotYet, LedTo::Introduction];
        let mut given = 0;
        for (back, count) in plan {
            let month = now_month.plus(-back);
            rounds.run(month, false, &Quiet).await.unwrap();
            sqlx::query("UPDATE round_groups SET status = 'met' WHERE round_id = (SELECT id FROM rounds WHERE month = $1)")
                .bind(month).execute(app.store.pool()).await.unwrap();
            let members: Vec<(GroupId, UserId)> = sqlx::query_as(
                "SELECT m.group_id, m.user_id FROM group_members m JOIN round_groups g ON g.id = m.group_id \
                 JOIN rounds r ON r.id = g.round_id WHERE r.month = $1 ORDER BY m.user_id")
                .bind(month).fetch_all(app.store.pool()).await.unwrap();
            for (group, user) in members.into_iter().take(count) {
                assert!(app.store.record_led_to(group, user, cycle[given % cycle.len()]).await.unwrap());
                given += 1;
            }
        }

        // The figures, counted here from the stored rows.
        let rows: Vec<(Month, GroupId, String)> = sqlx::query_as(
            "SELECT r.month, g.id, a.led_to FROM outcome_answers a JOIN round_groups g ON g.id = a.group_id JOIN rounds r ON r.id = g.round_id")
            .fetch_all(app.store.pool()).await.unwrap();
        let members: Vec<(GroupId, String, i64)> = sqlx::query_as(
            "SELECT m.group_id, u.department, u.level FROM group_members m JOIN users u ON u.id = m.user_id")
            .fetch_all(app.store.pool()).await.unwrap();
        let mut mix: BTreeMap<GroupId, (BTreeSet<String>, Vec<i64>)> = BTreeMap::new();
        for (group, department, level) in members {
            let entry = mix.entry(group).or_default();
            entry.0.insert(department.to_lowercase());
            entry.1.push(level);
        }
        let window: Vec<&(Month, GroupId, String)> = rows.iter().filter(|r| r.0 >= now_month.plus(-11)).collect();
        let tally = |keep: &dyn Fn(&&&(Month, GroupId, String)) -> bool| {
            let kept: Vec<_> = window.iter().filter(|r| keep(r)).collect();
            (kept.len() as i64, kept.iter().filter(|r| r.2 != "not_yet").count() as i64)
        };

        let body = app.get("/coordinator/outcomes").await.text().await.unwrap();
        let (answers, concrete) = tally(&|_| true);
        assert_eq!(answers, 21);
        assert_eq!(row_cells(&body, "<tr data-led-to=\"last-12-months\">")[1..], shown(answers, concrete)[..]);
        let percent = (concrete * 100 + answers / 2) / answers;
        assert!(body.contains(&format!("<strong>{percent}%</strong> of the {answers} answers about conversations of the last 12 months")), "{body}");

        // Per round: 12 answers shown; 3 hidden, and so the next smallest (6) with them, or 6
        // minus the others would give them away; before the 12 months, each round on its own.
        let round = |back: i32| row_cells(&body, &format!("<tr data-led-to=\"{}\">", now_month.plus(-back)))[1..].to_vec();
        let in_round = |back: i32| {
            let month = now_month.plus(-back);
            let kept: Vec<_> = rows.iter().filter(|r| r.0 == month).collect();
            (kept.len() as i64, kept.iter().filter(|r| r.2 != "not_yet").count() as i64)
        };
        let (a, c) = in_round(2);
        assert_eq!(round(2), shown(a, c));
        assert_eq!(round(1), hidden(6));
        assert_eq!(round(0), hidden(3));
        assert_eq!(round(13), hidden(4));
        let (a, c) = in_round(14);
        assert_eq!(round(14), shown(a, c), "five answers are enough");

        // By kind: of all the answers of the 12 months.
        for kind in LedTo::ALL.into_iter().filter(|k| k.is_concrete()) {
            let n = window.iter().filter(|r| r.2 == kind.as_str()).count() as i64;
            assert_eq!(table_row(&body, "led-to-kinds", kind.label()), shown(answers, n), "{kind:?}");
        }

        // By department mix and by stage gap: each figure matches the count or is hidden, and
        // the hidden ones of a table never give themselves away.
        let cross = |r: &&&(Month, GroupId, String)| mix[&r.1].0.len() > 1;
        let gap = |r: &&&(Month, GroupId, String)| {
            let levels = &mix[&r.1].1;
            levels.iter().max().unwrap() - levels.iter().min().unwrap()
        };
        let tables: [(&str, Expected); 2] = [
            ("led-to-departments", vec![("Different departments", tally(&|r| cross(r))), ("Same department", tally(&|r| !cross(r)))]),
            ("led-to-gaps", vec![
                ("Same career stage", tally(&|r| gap(r) == 0)),
                ("1 or 2 stages apart", tally(&|r| (1..=2).contains(&gap(r)))),
                ("3 or more stages apart", tally(&|r| gap(r) >= 3)),
            ]),
        ];
        for (table, expected) in tables {
            let mut hidden_answers = 0;
            for (label, (a, c)) in expected {
                let cells = table_row(&body, table, label);
                if a < 5 {
                    assert_eq!(cells, hidden(a), "{table} {label}");
                }
                if cells == hidden(a) {
                    hidden_answers += a;
                } else {
                    assert_eq!(cells, shown(a, c), "{table} {label}");
                }
            }
            assert!(hidden_answers == 0 || hidden_answers >= 5, "{table}: hidden figures resting on {hidden_answers} answers could be worked out");
        }
        for name in ["Person A", "Person B", &me] {
            assert!(!body.contains(name), "nobody is named: {name}");
        }

        // The export carries the same figures, hidden the same way, and is audited.
        let response = app.get("/coordinator/export/outcomes.csv").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("coffee-rounds-outcomes.csv"));
        let csv = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["section", "group", "met_groups", "answers", "led_to_something", "share_percent", "people"]);
        let records: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        let find = |section: &str, group: &str| records.iter().find(|r| &r[0] == section && &r[1] == group).unwrap_or_else(|| panic!("{section} {group} in:\n{csv}")).clone();
        let total = find("last 12 months", &format!("{} to {}", now_month.plus(-11), now_month));
        assert_eq!((&total[3], &total[4], &total[5]), (answers.to_string().as_str(), concrete.to_string().as_str(), percent.to_string().as_str()));
        let last = find("round", &now_month.to_string());
        assert_eq!((&last[3], &last[4], &last[5]), ("3", "too few answers", "too few answers"));
        assert_eq!(&find("round", &now_month.plus(-1).to_string())[4], "too few answers");
        assert_eq!(&find("round", &now_month.plus(-2).to_string())[4], in_round(2).1.to_string());
        let advice = find("kind of outcome, last 12 months", "Advice I used");
        assert_eq!(&advice[4], window.iter().filter(|r| r.2 == "advice").count().to_string());
        assert!(records.iter().all(|r| r.iter().all(|cell| !cell.starts_with(['=', '+', '-', '@']))), "no formula cells");
        assert!(!csv.contains("Person ") && !csv.contains("@hospital.test"), "nobody is named");
        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">export</th><td>coffee-rounds-outcomes.csv")), "{audit}");
        app.stop().await;
    }

    async fn the_pace_counts_each_persons_conversations_over_a_seeded_year(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        for i in 0..14 {
            let department = ["Cardiology", "Surgery", "Pharmacy", "Oncology"][i % 4];
            app.add_participant(&format!("Person {i}"), "Nurse", (i % 6) as i64, department).await;
        }
        let rounds = app.rounds().await;
        let now_month = this_month();
        // A year of rounds, and one before it that must not count; every other group meets.
        for back in (0..=12).rev() {
            let month = now_month.plus(-back);
            rounds.run(month, false, &Quiet).await.unwrap();
            sqlx::query("UPDATE round_groups SET status = 'met' WHERE position % 2 = 0 AND round_id = (SELECT id FROM rounds WHERE month = $1)")
                .bind(month).execute(app.store.pool()).await.unwrap();
        }
        let rows: Vec<(UserId, Month, String)> = sqlx::query_as(
            "SELECT m.user_id, r.month, g.status FROM group_members m JOIN round_groups g ON g.id = m.group_id JOIN rounds r ON r.id = g.round_id")
            .fetch_all(app.store.pool()).await.unwrap();
        let mut per_person: BTreeMap<UserId, i64> = BTreeMap::new();
        for (user, _, status) in rows.iter().filter(|r| r.1 >= now_month.plus(-11)) {
            *per_person.entry(*user).or_default() += i64::from(status == "met");
        }
        let body = app.get("/coordinator/outcomes").await.text().await.unwrap();
        let people = per_person.len() as i64;
        for conversations in 0..=12 {
            let n = per_person.values().filter(|c| **c == conversations).count() as i64;
            let share = (n * 100 + people / 2) / people;
            assert_eq!(table_row(&body, "pace", &conversations.to_string()), [n.to_string(), format!("{share}%")], "{conversations} conversations");
        }
        let on_pace = per_person.values().filter(|c| **c >= 10).count();
        assert!(body.contains(&format!("<strong>{on_pace}</strong> of {people} people")), "{body}");
        app.stop().await;
    }
}
