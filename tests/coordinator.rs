//! The coordinator dashboard as coordinators and everyone else meet it: only coordinators get in,
//! the figures match the database, every action is in the audit log, and the role is granted
//! from the command line or the dashboard, never to an unknown or unconfirmed account.

mod common;

use std::process::Command;

use coffee_rounds::{
    domain::Calendar,
    matching::Month,
    rounds::{Outcome, Quiet},
    store::coordinators::Actor,
    web::pages::coordinator::COORDINATOR_ROUTES,
};
use common::{TestApp, no_redirects, unique_email};

const BIN: &str = env!("CARGO_BIN_EXE_coffee-rounds");
const PASSWORD: &str = "correct horse battery staple";

/// A logged-in member of `app.client` who is a coordinator; returns the email.
async fn coordinator(app: &TestApp) -> String {
    let email = unique_email("coordinator");
    app.member(&email, PASSWORD).await;
    app.store.set_coordinator(&email, true, &Actor::command_line()).await.unwrap();
    email
}

/// A route's path with its parameters filled in.
fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
}

/// The number in the table cell right after the row header `label`.
fn row_count(body: &str, label: &str) -> Option<i64> {
    let marker = format!("<th scope=\"row\">{label}</th><td class=\"num\">");
    let start = body.find(&marker)? + marker.len();
    let end = body[start..].find('<')?;
    body[start..start + end].trim().parse().ok()
}

/// The number in the cell marked `data-status="status"`.
fn status_count(body: &str, status: &str) -> i64 {
    let marker = format!("data-status=\"{status}\">");
    let start = body.find(&marker).unwrap_or_else(|| panic!("no {status} total")) + marker.len();
    let end = body[start..].find('<').unwrap();
    body[start..start + end].trim().parse().unwrap()
}

/// Five people who take part, and three who must not be matched.
async fn hospital(app: &TestApp) {
    for (name, role, level, department) in [
        ("Ana Souza", "Nurse", 1, "Cardiology"),
        ("Ben Okafor", "Physician", 3, "Surgery"),
        ("Chen Wei", "Pharmacist", 2, "Pharmacy"),
        ("Dana Levi", "Nurse", 4, "Oncology"),
        ("Eli Park", "Researcher", 0, "Research"),
    ] {
        app.add_participant(name, role, level, department).await;
    }
    let (unconfirmed, _) = app.add_participant("Una Confirmed", "Nurse", 1, "Surgery").await;
    let (opted_out, _) = app.add_participant("Otto Out", "Nurse", 1, "Surgery").await;
    let (paused, _) = app.add_participant("Paula Paused", "Nurse", 1, "Surgery").await;
    set(app, "UPDATE users SET confirmed_at = NULL WHERE id = $1", unconfirmed).await;
    set(app, "UPDATE users SET opted_out_at = 1 WHERE id = $1", opted_out).await;
    set(app, "UPDATE users SET paused_through = '2999-12' WHERE id = $1", paused).await;
}

async fn set(app: &TestApp, sql: &str, id: coffee_rounds::domain::UserId) {
    sqlx::query(sql).bind(id).execute(app.store.pool()).await.unwrap();
}

fn run_cli(app: &TestApp, args: &[&str]) -> std::process::Output {
    Command::new(BIN).args(args).env("DATABASE_URL", &app.config.database_url).output().unwrap()
}

both_backends! {
    async fn every_coordinator_route_refuses_participants_and_sends_visitors_to_log_in(backend) {
        let app = TestApp::spawn(backend).await;
        app.member(&unique_email("participant"), PASSWORD).await;
        let participant_token = app.csrf(&app.client, "/profile").await;
        let anonymous = no_redirects();
        let anonymous_token = app.csrf(&anonymous, "/login").await;
        assert!(!COORDINATOR_ROUTES.is_empty());
        for (method, path) in COORDINATOR_ROUTES {
            let path = concrete(path);
            let (as_participant, as_anonymous) = match *method {
                "GET" => (app.client.get(app.url(&path)).send().await.unwrap(), anonymous.get(app.url(&path)).send().await.unwrap()),
                "POST" => (
                    app.client.post(app.url(&path)).form(&[("csrf_token", participant_token.as_str())]).send().await.unwrap(),
                    anonymous.post(app.url(&path)).form(&[("csrf_token", anonymous_token.as_str())]).send().await.unwrap(),
                ),
                other => panic!("untested method {other}"),
            };
            assert_eq!(as_participant.status(), 403, "{method} {path} as a participant");
            let body = as_participant.text().await.unwrap();
            assert!(body.contains("for Coffee Rounds coordinators only"), "{method} {path}: friendly page:\n{body}");
            assert_eq!(as_anonymous.status(), 303, "{method} {path} anonymously");
            let location = as_anonymous.headers()["location"].to_str().unwrap().to_owned();
            assert!(location.starts_with("/login?next=%2Fcoordinator"), "{method} {path}: {location}");
        }
        app.stop().await;
    }

    async fn a_coordinator_reaches_every_page_and_the_navigation_links_the_dashboard(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        hospital(&app).await;
        // The first round of a fresh database has id 1, the id `concrete` fills in.
        app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap();
        let pages = COORDINATOR_ROUTES.iter().filter(|(m, p)| *m == "GET" && !p.ends_with(".csv"));
        for (method, path) in pages {
            let response = app.get(&concrete(path)).await;
            assert_eq!(response.status(), 200, "{method} {path}");
            let body = response.text().await.unwrap();
            assert!(body.contains("<a href=\"/coordinator\">Dashboard</a>"), "{path}");
            assert!(!body.contains("style="), "{path}: no inline styles (the CSP forbids them)");
        }
        let participant = app.new_browser();
        let email = unique_email("other");
        app.member(&email, PASSWORD).await;
        app.log_in(&participant, &email, PASSWORD).await;
        let profile = participant.get(app.url("/profile")).send().await.unwrap().text().await.unwrap();
        assert!(!profile.contains("href=\"/coordinator\""), "participants see no dashboard link");
        app.stop().await;
    }

    async fn the_dashboard_counts_match_the_database_and_follow_the_filters(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await; // Nurse, Trainee (level 1), Cardiology: the sign-up defaults.
        let mut ids = Vec::new();
        for (name, role, level, department) in [
            ("Ana", "Nurse", 1, "Cardiology"),
            ("Ben", "Physician", 3, "Surgery"),
            ("Chen", "Pharmacist", 2, "Pharmacy"),
            ("Dana", "Nurse", 4, "Surgery"),
            ("Eli", "Physician", 0, "Surgery"),
            ("Fay", "Nurse", 1, "Oncology"),
            ("Gus", "Physician", 5, "Cardiology"),
        ] {
            ids.push(app.add_participant(name, role, level, department).await.0);
        }
        set(&app, "UPDATE users SET confirmed_at = NULL WHERE id = $1", ids[1]).await;
        set(&app, "UPDATE users SET opted_out_at = 1 WHERE id = $1", ids[2]).await;
        set(&app, "UPDATE users SET paused_through = '2999-12' WHERE id = $1", ids[3]).await;
        set(&app, "UPDATE users SET paused_through = '2000-01' WHERE id = $1", ids[4]).await; // a pause long over
        set(&app, "UPDATE users SET auto_paused_at = 1 WHERE id = $1", ids[5]).await;

        let body = app.get("/coordinator").await.text().await.unwrap();
        // Active: the coordinator, Ana, Eli (pause over), Gus.
        assert_eq!(status_count(&body, "active"), 4);
        assert_eq!(status_count(&body, "paused"), 1);
        assert_eq!(status_count(&body, "opted_out"), 1);
        assert_eq!(status_count(&body, "awaiting"), 1);
        assert_eq!(status_count(&body, "auto_paused"), 1);
        let (total,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users").fetch_one(app.store.pool()).await.unwrap();
        assert!(body.contains(&format!("({total} in all)")));

        // Each breakdown row against the database, one query per label.
        for department in ["Cardiology", "Surgery", "Pharmacy", "Oncology"] {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE department = $1").bind(department).fetch_one(app.store.pool()).await.unwrap();
            assert_eq!(row_count(&body, department), Some(n), "{department}");
        }
        assert_eq!(row_count(&body, "Nurse"), Some(4));
        assert_eq!(row_count(&body, "Physician"), Some(3));
        assert_eq!(row_count(&body, "Trainee"), Some(3));
        assert_eq!(row_count(&body, "Leader"), Some(1));
        assert!(body.contains("role=\"img\""), "charts are images with titles");
        assert!(body.contains("<svg"));
        let this_month = coffee_rounds::domain::Calendar::long_name(<Month as coffee_rounds::domain::Calendar>::of(time::OffsetDateTime::now_utc().date()));
        // Only the coordinator signed up now; the seeded accounts date from 1970.
        assert_eq!(row_count(&body, &this_month), Some(1), "signups this month");

        let surgery = app.get("/coordinator?department=Surgery").await.text().await.unwrap();
        assert_eq!(status_count(&surgery, "active"), 1); // Eli
        assert_eq!(status_count(&surgery, "paused"), 1); // Dana
        assert_eq!(status_count(&surgery, "awaiting"), 1); // Ben
        assert_eq!(row_count(&surgery, "Cardiology"), None);
        let nurses_trainees = app.get("/coordinator?role=Nurse&stage=1").await.text().await.unwrap();
        assert_eq!(status_count(&nurses_trainees, "active"), 2); // the coordinator and Ana
        assert_eq!(status_count(&nurses_trainees, "auto_paused"), 1); // Fay
        app.stop().await;
    }

    async fn the_rounds_list_shows_each_round_with_its_figures(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        for (name, role, level, department) in [("Ana", "Nurse", 1, "Cardiology"), ("Ben", "Physician", 3, "Surgery"), ("Chen", "Pharmacist", 2, "Pharmacy")] {
            app.add_participant(name, role, level, department).await;
        }
        let Outcome::Created(summary) = app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap() else { panic!("not created") };
        let (group_id,): (i64,) = sqlx::query_as("SELECT MIN(id) FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
        sqlx::query("UPDATE round_groups SET status = 'met' WHERE id = $1").bind(group_id).execute(app.store.pool()).await.unwrap();
        // Send the introductions, then pretend one was refused.
        app.send_due_mail().await;
        let (sent,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'intro' AND status = 'sent'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(sent, summary.emails as i64, "introductions sent");
        sqlx::query("UPDATE outbox SET status = 'failed' WHERE id = (SELECT MIN(id) FROM outbox WHERE kind = 'intro')").execute(app.store.pool()).await.unwrap();
        let body = app.get("/coordinator/rounds").await.text().await.unwrap();
        let row_start = body.find("data-month=\"2027-01\"").expect("the round is listed");
        let row = &body[row_start..body[row_start..].find("</tr>").unwrap() + row_start];
        let cells: Vec<&str> = row.split("<td class=\"num\"").skip(1).map(|c| &c[c.find('>').unwrap() + 1..c.find('<').unwrap()]).collect();
        // The meet rate comes first, where a phone shows it without scrolling.
        let expected_met = format!("{}%", (100 + summary.groups / 2) / summary.groups);
        assert_eq!(cells[0], expected_met, "one group met");
        assert_eq!(cells[1], summary.participants.to_string());
        assert_eq!(cells[2], summary.groups.to_string());
        assert_eq!(cells[3], summary.sit_outs.to_string());
        // The coordinator's confirmation email is not the round's.
        assert_eq!(cells[4], (summary.emails - 1).to_string(), "emails sent");
        assert_eq!(cells[5], "1", "emails failed");
        app.stop().await;
    }

    async fn a_coordinator_grants_the_role_to_a_confirmed_account_only_and_it_is_audited(backend) {
        let app = TestApp::spawn(backend).await;
        let colleague = unique_email("colleague");
        let other = app.new_browser();
        // A confirmed account made through the forms; then the coordinator logs in on app.client.
        app.member(&colleague, PASSWORD).await;
        let me = coordinator(&app).await;
        let (unconfirmed_id, unconfirmed) = app.add_participant("Una", "Nurse", 1, "Surgery").await;
        set(&app, "UPDATE users SET confirmed_at = NULL WHERE id = $1", unconfirmed_id).await;

        let page = app.submit("/coordinator/coordinators", "/coordinator/coordinators", &[("email", &colleague)]).await;
        assert_eq!(page.status(), 200);
        let body = page.text().await.unwrap();
        assert!(body.contains(&format!("{colleague} is now a coordinator.")), "{body}");
        assert!(body.contains(&format!("<td>{colleague}</td>")));

        let refused = app.submit("/coordinator/coordinators", "/coordinator/coordinators", &[("email", &unconfirmed)]).await.text().await.unwrap();
        assert!(refused.contains("has not confirmed its email address"), "{refused}");
        let unknown = app.submit("/coordinator/coordinators", "/coordinator/coordinators", &[("email", "nobody@hospital.test")]).await.text().await.unwrap();
        assert!(unknown.contains("There is no account with the email nobody@hospital.test"));

        app.log_in(&other, &colleague, PASSWORD).await;
        assert_eq!(other.get(app.url("/coordinator")).send().await.unwrap().status(), 200, "the new coordinator gets in");

        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">role granted</th><td>{colleague}</td>")), "{audit}");
        assert!(audit.contains(&format!("<td>command line</td><th scope=\"row\">role granted</th><td>{me}</td>")));
        let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coordinator_audit").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(rows, 2, "refusals change nothing and log nothing");
        app.stop().await;
    }

    async fn the_command_line_adds_lists_and_removes_coordinators(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("cli");
        app.member(&email, PASSWORD).await;
        let (unconfirmed_id, unconfirmed) = app.add_participant("Una", "Nurse", 1, "Surgery").await;
        set(&app, "UPDATE users SET confirmed_at = NULL WHERE id = $1", unconfirmed_id).await;

        let added = run_cli(&app, &["coordinator", "add", &email]);
        assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
        assert!(String::from_utf8_lossy(&added.stdout).contains("is now a coordinator"));
        assert_eq!(app.get("/coordinator").await.status(), 200);

        let listed = run_cli(&app, &["coordinator", "list"]);
        assert!(String::from_utf8_lossy(&listed.stdout).contains(&email));

        for (who, says) in [(unconfirmed.as_str(), "has not confirmed its email address"), ("nobody@hospital.test", "There is no account")] {
            let refused = run_cli(&app, &["coordinator", "add", who]);
            assert!(!refused.status.success());
            assert!(String::from_utf8_lossy(&refused.stderr).contains(says), "{}", String::from_utf8_lossy(&refused.stderr));
        }

        let removed = run_cli(&app, &["coordinator", "remove", &email]);
        assert!(removed.status.success());
        assert_eq!(app.get("/coordinator").await.status(), 403);
        let (actions,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM coordinator_audit WHERE actor = 'command line'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(actions, 2, "granted and removed");
        app.stop().await;
    }

    async fn a_round_page_shows_its_groups_and_how_mixed_they_were(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        hospital(&app).await;
        let Outcome::Created(_) = app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap() else { panic!("not created") };
        let (round_id,): (i64,) = sqlx::query_as("SELECT id FROM rounds").fetch_one(app.store.pool()).await.unwrap();
        // Computed here from the members, independently of the page's SQL.
        let rows: Vec<(i64, String, String, i64)> = sqlx::query_as(
            "SELECT m.group_id, u.department, u.role, u.level FROM group_members m JOIN users u ON u.id = m.user_id",
        )
        .fetch_all(app.store.pool()).await.unwrap();
        let mut groups: std::collections::BTreeMap<i64, Vec<(String, String, i64)>> = Default::default();
        for (g, d, r, l) in rows { groups.entry(g).or_default().push((d, r, l)); }
        let cross = |f: &dyn Fn(&(String, String, i64)) -> String| groups.values().filter(|m| m.iter().map(f).collect::<std::collections::HashSet<_>>().len() > 1).count() as i64;
        let cross_department = cross(&|m| m.0.clone());
        let cross_role = cross(&|m| m.1.clone());
        let mut gaps = [0i64; 5];
        for members in groups.values() {
            let levels: Vec<i64> = members.iter().map(|m| m.2).collect();
            let gap = levels.iter().max().unwrap() - levels.iter().min().unwrap();
            gaps[gap.min(4) as usize] += 1;
        }

        let body = app.get(&format!("/coordinator/rounds/{round_id}")).await.text().await.unwrap();
        assert_eq!(row_count(&body, "Across departments"), Some(cross_department), "{body}");
        assert_eq!(row_count(&body, "Across professions"), Some(cross_role));
        for (label, n) in ["Same stage", "1 stage apart", "2 stages apart", "3 stages apart", "4 or more apart"].iter().zip(gaps) {
            assert_eq!(row_count(&body, label), Some(n), "{label}");
        }
        for name in ["Ana Souza", "Ben Okafor", "Chen Wei", "Dana Levi", "Eli Park"] {
            assert!(body.contains(name), "{name} listed");
        }
        assert_eq!(app.get("/coordinator/rounds/999999").await.status(), 404);
        app.stop().await;
    }

    async fn the_preview_shows_the_next_round_and_writes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        hospital(&app).await;
        let tables = ["rounds", "round_groups", "group_members", "round_sit_outs", "outbox", "questions_sent", "coordinator_audit"];
        let mut before = Vec::new();
        for t in tables { before.push(app.count(t).await); }
        let response = app.get("/coordinator/preview").await;
        assert_eq!(response.status(), 200);
        let body = response.text().await.unwrap();
        let mut after = Vec::new();
        for t in tables { after.push(app.count(t).await); }
        assert_eq!(before, after, "a preview writes nothing");
        assert!(body.contains("Nothing has been saved"));
        assert!(body.contains("Weights in force"));
        assert!(body.contains("<th scope=\"row\">Different departments</th><td class=\"num\">40</td>"), "default weights");
        // Six people taking part (the coordinator too): three pairs, each with its score terms.
        assert!(body.contains("3 groups"), "{body}");
        assert_eq!(body.matches("Score of each pair").count(), 3);
        for name in ["Ana Souza", "Ben Okafor", "Chen Wei", "Dana Levi", "Eli Park"] {
            assert!(body.contains(name), "{name}");
        }
        assert!(!body.contains("Otto Out") && !body.contains("Paula Paused"), "only people taking part");
        app.stop().await;
    }

    async fn run_now_asks_first_runs_once_and_is_audited(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        hospital(&app).await;
        let confirm = app.get("/coordinator/run?month=2027-02").await.text().await.unwrap();
        assert!(confirm.contains("Run the February 2027 round?"));
        assert_eq!(app.count("rounds").await, 0, "the confirmation step runs nothing");

        let first = app.submit("/coordinator/run?month=2027-02", "/coordinator/run", &[("month", "2027-02")]).await;
        assert_eq!(first.status(), 200);
        let first = first.text().await.unwrap();
        assert!(first.contains("The February 2027 round has run"), "{first}");
        assert!(first.contains("data-month=\"2027-02\""), "listed among the rounds");
        let second = app.submit("/coordinator/run?month=2027-02", "/coordinator/run", &[("month", "2027-02")]).await.text().await.unwrap();
        assert!(second.contains("has already run; nothing was changed"), "{second}");
        assert_eq!(app.count("rounds").await, 1);
        let (intros,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM outbox WHERE kind = 'intro'").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(intros, 6, "everyone taking part is introduced once");

        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert_eq!(audit.matches("round run").count(), 1, "{audit}");
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">round run</th><td>2027-02: 6 participants")));

        let bad = app.submit("/coordinator/preview", "/coordinator/run", &[("month", "next month")]).await;
        assert_eq!(bad.status(), 400);
        app.stop().await;
    }

    async fn exports_neutralise_formulas_and_are_audited(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        hospital(&app).await;
        app.add_participant("=HYPERLINK(\"http://evil.example\")", "Nurse", 2, "+Cardiology").await;
        app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap();

        let response = app.get("/coordinator/export/participants.csv").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
        assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
        let csv = response.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(csv.as_bytes());
        let header = reader.headers().unwrap().clone();
        let column = |name: &str| header.iter().position(|h| h == name).unwrap_or_else(|| panic!("no {name} column"));
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len() as i64, app.count("users").await, "one row per account");
        assert_eq!(&rows[0][column("format")], "either", "accounts from before the question meet either way");
        let evil = rows.iter().find(|r| r[0].contains("HYPERLINK")).expect("the row is exported");
        assert_eq!(&evil[0], "'=HYPERLINK(\"http://evil.example\")");
        assert_eq!(&evil[2], "'+Cardiology");
        assert!(rows.iter().all(|r| !r.iter().any(|cell| cell.starts_with(['=', '+', '-', '@']))));
        let otto = rows.iter().find(|r| &r[0] == "Otto Out").unwrap();
        assert_eq!(&otto[column("status")], "opted_out");

        let results = app.get("/coordinator/export/results.csv").await.text().await.unwrap();
        let mut reader = csv::Reader::from_reader(results.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
        assert_eq!(rows.len() as i64, app.count("group_members").await, "one row per group member");
        assert!(rows.iter().all(|r| &r[0] == "2027-01" && &r[1] == "main"));
        assert!(rows.iter().any(|r| r[4].starts_with("'=HYPERLINK")), "neutralised here too");

        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">export</th><td>coffee-rounds-participants.csv")), "{audit}");
        assert!(audit.contains("coffee-rounds-results.csv"));
        app.stop().await;
    }
}

/// The settings form's fields with their default values, changed by `changes`.
fn settings_fields(changes: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut fields = vec![
        ("allowed_email_domains", ""),
        ("timezone", "UTC"),
        ("round_day", "first-monday"),
        ("round_time", "09:00"),
        ("checkin_day", "15"),
        ("weight_department", "40"),
        ("weight_role", "20"),
        ("weight_gap_0", "0"),
        ("weight_gap_1", "30"),
        ("weight_gap_2", "30"),
        ("weight_gap_3", "10"),
        ("weight_gap_4", "0"),
        ("repeat_penalty", "20"),
        ("repeat_window", "6"),
        ("jitter", "10"),
        ("weight_shared_times", "20"),
    ];
    for (name, value) in changes {
        fields.iter_mut().find(|(n, _)| n == name).expect("a settings field").1 = value;
    }
    fields
}

/// Checks the page that refuses a value with NUL in the field `field`.
async fn refused(response: reqwest::Response, field: &str) {
    assert_eq!(response.status(), 400, "{}", response.url());
    let kind = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/html"), "{kind}");
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("The “{field}” field holds a NUL character")), "{page}");
}

/// Posts a roster to the import form as a file upload (or, with `mode` "valid", as the kept text).
async fn upload_roster(app: &TestApp, roster: &str, mode: &str) -> reqwest::Response {
    let token = app.csrf(&app.client, "/coordinator/import").await;
    let form = reqwest::multipart::Form::new().text("csrf_token", token).text("mode", mode.to_owned());
    let form = if mode == "valid" {
        form.text("roster_text", roster.to_owned())
    } else {
        let file = reqwest::multipart::Part::bytes(roster.as_bytes().to_vec())
            .file_name("roster.csv")
            .mime_str("text/csv")
            .unwrap();
        form.part("roster", file)
    };
    app.client.post(app.url("/coordinator/import")).multipart(form).send().await.unwrap()
}

async fn users_in(app: &TestApp, column: &str, value: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(&format!("SELECT COUNT(*) FROM users WHERE {column} = $1"))
        .bind(value)
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    n
}

both_backends! {
    async fn settings_are_checked_kept_on_error_audited_and_used_by_preview_signup_and_rounds(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        hospital(&app).await;
        let page = app.get("/coordinator/settings").await.text().await.unwrap();
        assert!(page.contains("id=\"weight_department\" name=\"weight_department\" type=\"number\" inputmode=\"numeric\" min=\"0\" max=\"200\" step=\"1\" value=\"40\""), "{page}");

        let bad = settings_fields(&[("weight_department", "-5"), ("timezone", "Mars/Olympus"), ("round_time", "25:00")]);
        let refused = app.submit("/coordinator/settings", "/coordinator/settings", &bad).await;
        assert_eq!(refused.status(), 422);
        let refused = refused.text().await.unwrap();
        assert!(refused.contains("Use a whole number from 0 to 200."));
        assert!(refused.contains("Use a time zone name such as Europe/London"));
        assert!(refused.contains("Write the time as HH:MM"));
        assert!(refused.contains("value=\"Mars/Olympus\""), "the input is kept");
        assert_eq!(app.count("settings").await, 0, "nothing saved from a refused form");

        // "Preview with these weights" shows their effect without saving them.
        let query: String = settings_fields(&[("weight_department", "7")]).iter().map(|(k, v)| format!("{k}={v}&")).collect();
        let proposed = app.get(&format!("/coordinator/preview?{query}")).await.text().await.unwrap();
        assert!(proposed.contains("not saved"), "{proposed}");
        assert!(proposed.contains("<th scope=\"row\">Different departments</th><td class=\"num\">7</td>"));
        assert_eq!(app.count("settings").await, 0);
        assert_eq!(app.count("rounds").await, 0);

        let good = settings_fields(&[("weight_department", "90"), ("weight_shared_times", "35"), ("allowed_email_domains", "Hospital.test, clinic.test"), ("round_day", "3"), ("checkin_day", "20")]);
        let saved = app.submit("/coordinator/settings", "/coordinator/settings", &good).await;
        assert_eq!(saved.status(), 200);
        let saved = saved.text().await.unwrap();
        assert!(saved.contains("Settings saved"), "{saved}");
        assert!(saved.contains("value=\"hospital.test, clinic.test\""), "stored tidied");
        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">settings changed</th>")), "{audit}");
        assert!(audit.contains("weight_department: &#34;40&#34; → &#34;90&#34;") || audit.contains("weight_department: &quot;40&quot; → &quot;90&quot;"), "{audit}");

        let preview = app.get("/coordinator/preview").await.text().await.unwrap();
        assert!(preview.contains("<th scope=\"row\">Different departments</th><td class=\"num\">90</td>"));
        assert!(!preview.contains("not saved"));
        assert!(preview.contains("<th scope=\"row\">Free times shared (taken off when none shared)</th><td class=\"num\">±35</td>"), "{preview}");
        assert!(preview.contains("<th scope=\"col\" class=\"num\">Times</th>"));

        let elsewhere = app.sign_up("someone@elsewhere.org", PASSWORD).await.text().await.unwrap();
        assert!(elsewhere.contains("ending in hospital.test or clinic.test"), "{elsewhere}");

        app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap();
        let (weights,): (String,) = sqlx::query_as("SELECT weights FROM rounds").fetch_one(app.store.pool()).await.unwrap();
        assert!(weights.contains("department: 90"), "the round used the saved weights: {weights}");
        assert!(weights.contains("shared_times: 35"), "{weights}");
        app.stop().await;
    }

    async fn lists_are_added_renamed_and_merged_and_profiles_follow(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        app.add_participant("Typed Cardio", "Nurse", 1, "Cardio").await;
        let cardiology_before = users_in(&app, "department", "Cardiology").await;

        let edit = |fields: Vec<(&'static str, &'static str)>| {
            let app = &app;
            async move {
                let mut fields = fields;
                fields.push(("kind", "departments"));
                app.submit("/coordinator/settings", "/coordinator/lists", &fields).await
            }
        };
        let settings = app.get("/coordinator/settings").await.text().await.unwrap();
        assert!(settings.contains("Typed Cardio") || settings.contains("Cardio <span class=\"tag\">typed under Other</span>"), "{settings}");

        let added = edit(vec![("action", "add"), ("name", "  Sleep   medicine ")]).await.text().await.unwrap();
        assert!(added.contains("Added the department Sleep medicine."), "{added}");
        let signup = app.new_browser().get(app.url("/signup")).send().await.unwrap().text().await.unwrap();
        assert!(signup.contains("<option>Sleep medicine</option>"), "offered at sign-up:\n{signup}");

        let taken = edit(vec![("action", "add"), ("name", "sleep MEDICINE")]).await;
        assert_eq!(taken.status(), 422);
        let taken = taken.text().await.unwrap();
        assert!(taken.contains("The list already has sleep MEDICINE."), "{taken}");
        assert!(taken.contains("value=\"sleep MEDICINE\""), "the input is kept");

        let renamed = edit(vec![("action", "rename"), ("from", "Cardiology"), ("name", "Heart Centre")]).await.text().await.unwrap();
        assert!(renamed.contains(&format!("{cardiology_before} profiles now show the new name")), "{renamed}");
        assert_eq!(users_in(&app, "department", "Cardiology").await, 0);
        assert_eq!(users_in(&app, "department", "Heart Centre").await, cardiology_before);

        let into_itself = edit(vec![("action", "merge"), ("from", "Heart Centre"), ("into", "heart centre")]).await;
        assert_eq!(into_itself.status(), 422);
        let merged = edit(vec![("action", "merge"), ("from", "Cardio"), ("into", "Heart Centre")]).await.text().await.unwrap();
        assert!(merged.contains("Merged Cardio into Heart Centre; 1 profiles moved."), "{merged}");
        assert_eq!(users_in(&app, "department", "Heart Centre").await, cardiology_before + 1);
        let departments = app.store.departments().await.unwrap();
        assert!(departments.contains(&"Heart Centre".to_owned()) && !departments.iter().any(|d| d == "Cardiology" || d == "Cardio"));

        let roles = app.submit("/coordinator/settings", "/coordinator/lists", &[("kind", "roles"), ("action", "merge"), ("from", "Nurse"), ("into", "Physician")]).await.text().await.unwrap();
        assert!(roles.contains("Merged Nurse into Physician"), "{roles}");
        assert_eq!(users_in(&app, "role", "Nurse").await, 0);

        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert_eq!(audit.matches(&format!("<td>{me}</td><th scope=\"row\">list changed</th>")).count(), 4, "{audit}");
        app.stop().await;
    }

    async fn a_roster_with_bad_rows_reports_each_line_and_column_and_imports_only_when_asked(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        let (_, existing) = app.add_participant("Already Here", "Physician", 3, "Surgery").await;
        let new_a = unique_email("invited.a");
        let new_b = unique_email("invited.b");
        let new_c = unique_email("invited.c");
        let roster = format!(
            "email,name,profession,career_stage,department\n\
             {new_a},Ines Invited,Nurse,Trainee,Cardiology\n\
             not-an-email,Bad Email,Nurse,1,Cardiology\n\
             {existing},Renamed By Roster,Nurse,0,Pharmacy\n\
             {new_c},Omar Invited,Astronaut,7,Oncology\n\
             {new_b},Omar Invited,Physician,Senior,Oncology\n"
        );
        let users = app.count("users").await;
        let outbox = app.count("outbox").await;
        let report = upload_roster(&app, &roster, "check").await;
        assert_eq!(report.status(), 422);
        let report = report.text().await.unwrap();
        assert!(report.contains("Nothing has been imported: 2 lines have errors"), "{report}");
        for (line, column) in [(3, 1), (5, 3), (5, 4)] {
            assert!(report.contains(&format!("data-line=\"{line}\" data-column=\"{column}\"")), "line {line} column {column}:\n{report}");
        }
        assert_eq!(report.matches("data-line=").count(), 3, "only the bad cells are reported");
        assert!(report.contains("Import the 3 valid rows"));
        assert_eq!((app.count("users").await, app.count("outbox").await), (users, outbox), "nothing imported");

        let done = upload_roster(&app, &roster, "valid").await;
        assert_eq!(done.status(), 200);
        let done = done.text().await.unwrap();
        assert!(done.contains("2 invitations sent"), "{done}");
        assert!(done.contains(&format!("line 4: {existing}")), "the existing account is named, left as it is");
        assert_eq!(app.count("users").await, users + 2);
        let (name, role): (String, String) = sqlx::query_as("SELECT name, role FROM users WHERE email = $1").bind(&existing).fetch_one(app.store.pool()).await.unwrap();
        assert_eq!((name.as_str(), role.as_str()), ("Already Here", "Physician"), "an existing account is untouched");
        assert!(app.all_emails_to(&existing).await.is_empty(), "and not emailed");

        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">import</th><td>roster: 2 invited, 1 already had accounts, 2 rows with errors left out")), "{audit}");

        // The invitation's link lets the person choose a password, which also confirms the address.
        let invitation = app.email_to(&new_a).await;
        assert!(invitation.subject.contains("invited"), "{}", invitation.subject);
        let link = invitation.link(&format!("{}/password/reset?token=", app.base));
        let token = link.split("token=").nth(1).unwrap().to_owned();
        let browser = app.new_browser();
        let chosen = app.submit_as(&browser, &link.replacen(&app.base, "", 1), "/password/reset", &[("token", &token), ("password", PASSWORD)]).await;
        assert_eq!(chosen.status(), 200);
        let login = app.log_in(&browser, &new_a, PASSWORD).await;
        assert!(login.url().path().starts_with("/profile"), "the invited person is in: {}", login.url());
        let profile = browser.get(app.url("/profile")).send().await.unwrap().text().await.unwrap();
        assert!(profile.contains("Ines Invited"));
        app.stop().await;
    }

    async fn an_unclosed_quote_in_a_roster_costs_its_own_line_and_the_people_after_it_are_invited(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        let [ana, ben, cy, dee, eve, fay] = ["ana", "ben", "cy", "dee", "eve", "fay"].map(unique_email);

        // A quote opened in the name column: the lines after it used to become one cell.
        let roster = format!(
            "email,name,profession,career_stage,department\n\
             {ana},\"Ana Diaz,Nurse,1,Cardiology\n\
             {ben},Ben Okafor,Physician,2,Surgery\n\
             {cy},Cy Wu,Nurse,1,Cardiology\n"
        );
        let report = upload_roster(&app, &roster, "check").await;
        assert_eq!(report.status(), 422);
        let report = report.text().await.unwrap();
        assert!(report.contains("Nothing has been imported: 1 line has errors"), "{report}");
        assert!(report.contains("data-line=\"2\" data-column=\"2\""), "{report}");
        assert!(report.contains("2 (name)") && report.contains("not closed on the same line"), "{report}");
        assert_eq!(report.matches("data-line=").count(), 1);
        assert!(report.contains("Import the 2 valid rows"), "{report}");
        let done = upload_roster(&app, &roster, "valid").await.text().await.unwrap();
        assert!(done.contains("2 invitations sent"), "{done}");
        assert_eq!(
            (users_in(&app, "email", &ana).await, users_in(&app, "email", &ben).await, users_in(&app, "email", &cy).await),
            (0, 1, 1)
        );

        // A quote opened in the last column, then a short row: the next person used to become
        // part of the department and was never invited.
        let roster = format!(
            "email,name,profession,career_stage,department\r\n\
             {dee},Dee Lee,Nurse,1,\"Oncology\r\n\
             {eve},Eve Stone\r\n\
             {fay},Fay Holt,Physician,3,Pharmacy\r\n"
        );
        let report = upload_roster(&app, &roster, "check").await;
        assert_eq!(report.status(), 422);
        let report = report.text().await.unwrap();
        assert!(report.contains("Nothing has been imported: 2 lines have errors"), "{report}");
        assert!(report.contains("data-line=\"2\" data-column=\"5\""), "{report}");
        assert!(report.contains("5 (department)"), "{report}");
        assert!(report.contains("data-line=\"3\" data-column=\"3\""), "the short row is its own line: {report}");
        assert!(report.contains("Import the 1 valid row"), "{report}");
        let done = upload_roster(&app, &roster, "valid").await.text().await.unwrap();
        assert!(done.contains("1 invitation sent"), "{done}");
        assert_eq!(
            (users_in(&app, "email", &dee).await, users_in(&app, "email", &eve).await, users_in(&app, "email", &fay).await),
            (0, 0, 1)
        );
        let (odd,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM users WHERE department LIKE '%@%'")
            .fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(odd, 0, "no one's department holds another person's line");
        app.stop().await;
    }

    async fn text_the_databases_cannot_store_is_refused_with_a_page_and_changes_nothing(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        hospital(&app).await;
        let audit = app.count("coordinator_audit").await;
        let departments = app.store.departments().await.unwrap();

        // Each of these answered 500 on PostgreSQL.
        refused(app.get("/coordinator?department=Card%00iology&stage=1").await, "department").await;
        let grant = app.submit("/coordinator/coordinators", "/coordinator/coordinators", &[("email", "ana\0@hospital.test")]).await;
        refused(grant, "email").await;
        let list = |fields: &'static [(&'static str, &'static str)]| app.submit("/coordinator/settings", "/coordinator/lists", fields);
        refused(list(&[("kind", "departments"), ("action", "rename"), ("from", "Cardio\0logy"), ("name", "Heart Centre")]).await, "from").await;
        refused(list(&[("kind", "departments"), ("action", "merge"), ("from", "Cardiology"), ("into", "Sur\0gery")]).await, "into").await;
        refused(list(&[("kind", "roles"), ("action", "add"), ("name", "Porter\0")]).await, "name").await;

        assert_eq!(app.count("coordinator_audit").await, audit, "nothing was changed");
        assert_eq!(app.store.departments().await.unwrap(), departments);
        // The filter without the bad character still works.
        assert_eq!(app.get("/coordinator?department=Cardiology").await.status(), 200);
        app.stop().await;
    }

    async fn a_malformed_upload_or_address_gets_the_apps_page(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        let not_a_round = app.get("/coordinator/rounds/abc").await;
        assert_eq!(not_a_round.status(), 404);
        assert!(not_a_round.text().await.unwrap().contains("Page not found"));

        let token = app.csrf(&app.client, "/coordinator/import").await;
        let users = app.count("users").await;
        let post = |content_type: &'static str, body: &'static str| {
            app.client
                .post(app.url("/coordinator/import"))
                .header("x-csrf-token", &token)
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(body)
                .send()
        };
        for (content_type, body, status, text) in [
            ("multipart/form-data", "no boundary given", 400, "The upload could not be read"),
            ("multipart/form-data; boundary=XYZ", "--XYZ\r\nContent-Disposition: form-data; name=\"roster_text\"\r\n\r\nemail,na", 400, "The upload could not be read"),
            ("multipart/form-data; boundary=XYZ", "--XYZ\r\nno headers end here", 400, "The upload could not be read"),
            ("multipart/form-data; boundary=XYZ", "--XYZ\r\nContent-Disposition: form-data; name=\"mode\"\r\n\r\nch\0eck\r\n--XYZ--\r\n", 400, "The “mode” field holds a NUL character"),
        ] {
            let response = post(content_type, body).await.unwrap();
            assert_eq!(response.status(), status, "{body:?}");
            let kind = response.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_owned();
            assert!(kind.starts_with("text/html"), "{body:?}: {kind}");
            let page = response.text().await.unwrap();
            assert!(page.contains(text), "{body:?}:\n{page}");
        }
        assert_eq!(app.count("users").await, users);
        app.stop().await;
    }

    async fn outcomes_match_an_independent_count_and_name_nobody(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        hospital(&app).await;
        let rounds = app.rounds().await;
        for m in ["2027-01", "2027-02"] {
            rounds.run(Month::parse(m).unwrap(), false, &Quiet).await.unwrap();
        }
        // The first group of each round met, and in January the second too.
        sqlx::query("UPDATE round_groups SET status = 'met' WHERE position = 0 OR (position = 1 AND round_id = (SELECT id FROM rounds WHERE month = '2027-01'))")
            .execute(app.store.pool()).await.unwrap();

        let rows: Vec<(i64, String, String, i64, String)> = sqlx::query_as(
            "SELECT g.id, r.month, g.status, m.user_id, u.department FROM group_members m \
             JOIN round_groups g ON g.id = m.group_id JOIN rounds r ON r.id = g.round_id JOIN users u ON u.id = m.user_id",
        ).fetch_all(app.store.pool()).await.unwrap();
        let body = app.get("/coordinator/outcomes").await.text().await.unwrap();
        for month in ["2027-01", "2027-02"] {
            let groups: std::collections::BTreeSet<i64> = rows.iter().filter(|r| r.1 == month).map(|r| r.0).collect();
            let met: std::collections::BTreeSet<i64> = rows.iter().filter(|r| r.1 == month && r.2 == "met").map(|r| r.0).collect();
            let rate = (met.len() * 100 + groups.len() / 2) / groups.len();
            let marker = format!("<tr data-month=\"{month}\">");
            let row = &body[body.find(&marker).expect("the round is listed")..];
            let row = &row[..row.find("</tr>").unwrap()];
            // Every met group answered; nobody answered "not yet".
            let (n, m) = (groups.len(), met.len());
            assert!(row.contains(&format!("<td class=\"num\">{n}</td><td class=\"num\">{m}</td><td class=\"num\">{m}</td><td class=\"num\">{rate}%</td>")), "{row}");
        }
        // People met and departments reached, per person, computed here from the raw rows.
        let mut met_by: std::collections::BTreeMap<i64, std::collections::BTreeSet<i64>> = Default::default();
        let department: std::collections::BTreeMap<i64, String> = rows.iter().map(|r| (r.3, r.4.clone())).collect();
        for a in rows.iter().filter(|r| r.2 == "met") {
            for b in rows.iter().filter(|b| b.0 == a.0 && b.3 != a.3) {
                met_by.entry(a.3).or_default().insert(b.3);
            }
        }
        let everyone: std::collections::BTreeSet<i64> = rows.iter().map(|r| r.3).collect();
        let nobody = everyone.len() - met_by.len();
        let with = |n: usize| met_by.values().filter(|s| s.len() == n).count() as i64;
        assert_eq!(row_count(&body, "Nobody yet"), Some(nobody as i64), "{body}");
        assert_eq!(row_count(&body, "1 person"), Some(with(1)));
        assert_eq!(row_count(&body, "2 people"), Some(with(2)));
        let reached = |n: usize| met_by.values().filter(|s| s.iter().map(|id| &department[id]).collect::<std::collections::BTreeSet<_>>().len() == n).count() as i64;
        assert_eq!(row_count(&body, "1 department"), Some(reached(1)));
        assert_eq!(row_count(&body, "2 departments"), Some(reached(2)));
        assert!(body.contains(&format!("<strong>{}</strong> of the {} people matched so far", met_by.len(), everyone.len())), "{body}");
        for name in ["Ana Souza", "Ben Okafor", "Chen Wei", "Dana Levi", "Eli Park"] {
            assert!(!body.contains(name), "nobody is named: {name}");
        }
        app.stop().await;
    }

    async fn a_coordinator_removes_another_coordinators_role_but_not_their_own(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        let (_, other) = app.add_participant("Second Coordinator", "Nurse", 2, "Surgery").await;
        app.store.set_coordinator(&other, true, &Actor::command_line()).await.unwrap();
        let page = app.get("/coordinator/coordinators").await.text().await.unwrap();
        assert_eq!(page.matches("action=\"/coordinator/coordinators/remove\"").count(), 1, "no Remove button on one's own row");

        let own = app.submit("/coordinator/coordinators", "/coordinator/coordinators/remove", &[("email", &me)]).await.text().await.unwrap();
        assert!(own.contains("You cannot remove your own coordinator role here"), "{own}");
        let removed = app.submit("/coordinator/coordinators", "/coordinator/coordinators/remove", &[("email", &other)]).await.text().await.unwrap();
        assert!(removed.contains(&format!("{other} is no longer a coordinator.")), "{removed}");
        let coordinators: Vec<String> = app.store.coordinators().await.unwrap().into_iter().map(|c| c.email.to_string()).collect();
        assert_eq!(coordinators, vec![me.clone()]);
        let audit = app.get("/coordinator/audit").await.text().await.unwrap();
        assert!(audit.contains(&format!("<td>{me}</td><th scope=\"row\">role removed</th><td>{other}</td>")), "{audit}");
        app.stop().await;
    }

    async fn after_the_next_round_runs_early_the_dashboard_looks_to_the_month_after(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        hospital(&app).await;
        let next = app.rounds().await.settings().await.unwrap().next_round();
        let before = app.get("/coordinator/preview").await.text().await.unwrap();
        assert!(before.contains(&format!("Preview: the {} round", next.long_name())), "{before}");
        app.rounds().await.run(next, false, &Quiet).await.unwrap();
        let after = app.get("/coordinator/preview").await.text().await.unwrap();
        assert!(after.contains(&format!("Preview: the {} round", next.next().long_name())), "{after}");
        let confirm = app.get("/coordinator/run").await.text().await.unwrap();
        assert!(confirm.contains(&format!("Run the {} round?", next.next().long_name())), "{confirm}");

        // A coordinator logging in without a page to return to lands on the dashboard.
        let browser = app.new_browser();
        let landed = app.log_in(&browser, &me, PASSWORD).await;
        assert_eq!(landed.url().path(), "/coordinator");
        app.stop().await;
    }
}
