//! The coordinator dashboard as coordinators and everyone else meet it: only coordinators get in,
//! the figures match the database, every action is in the audit log, and the role is granted
//! from the command line or the dashboard, never to an unknown or unconfirmed account.

mod common;

use std::process::Command;

use coffee_rounds::{
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

async fn set(app: &TestApp, sql: &str, id: i64) {
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
        for (method, path) in COORDINATOR_ROUTES.iter().filter(|(m, _)| *m == "GET") {
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
        let this_month = coffee_rounds::months::Calendar::long_name(<Month as coffee_rounds::months::Calendar>::of(time::OffsetDateTime::now_utc().date()));
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
        let body = app.get("/coordinator/rounds").await.text().await.unwrap();
        let row_start = body.find("data-month=\"2027-01\"").expect("the round is listed");
        let row = &body[row_start..body[row_start..].find("</tr>").unwrap() + row_start];
        let cells: Vec<&str> = row.split("<td class=\"num\">").skip(1).map(|c| &c[..c.find('<').unwrap()]).collect();
        assert_eq!(cells[0], summary.participants.to_string());
        assert_eq!(cells[1], summary.groups.to_string());
        assert_eq!(cells[2], summary.sit_outs.to_string());
        let expected_met = format!("{}%", (100 + summary.groups / 2) / summary.groups);
        assert_eq!(cells[5], expected_met, "one group met");
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
}
