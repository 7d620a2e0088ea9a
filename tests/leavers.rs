//! Leavers: `coffee-rounds leavers deactivate FILE` closes the accounts of a list from HR, as a
//! coordinator runs it, on the app's own database; the people on it lose their sessions, their
//! unsent email and their login, and the audit log names each.

mod common;

use std::process::Command;

use common::{TestApp, unique_email};

const BIN: &str = env!("CARGO_BIN_EXE_coffee-rounds");
const PASSWORD: &str = "correct horse battery staple";

/// Runs the command line on the app's database; returns (success, stdout, stderr).
async fn run(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env_clear().env("DATABASE_URL", &app.config.database_url);
    let output =
        tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run the binary");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn logged_in(app: &TestApp, client: &reqwest::Client) -> bool {
    let response = client.get(app.url("/profile")).send().await.unwrap();
    response.url().path() == "/profile"
}

both_backends! {
    async fn a_list_of_leavers_closes_their_accounts_ends_their_sessions_and_stops_their_email(backend) {
        let app = TestApp::spawn(backend).await;
        let (ana, ben, cy) = (unique_email("ana"), unique_email("ben"), unique_email("cy"));
        for email in [&ana, &ben, &cy] {
            app.member(email, PASSWORD).await;
        }
        app.store.set_coordinator(&ben, true, &coffee_rounds::store::coordinators::Actor::command_line()).await.unwrap();
        let ana_browser = app.new_browser();
        app.log_in(&ana_browser, &ana, PASSWORD).await;
        assert!(logged_in(&app, &ana_browser).await);
        // Ben asked for a reset that is not sent yet.
        app.submit("/password/forgot", "/password/forgot", &[("email", &ben)]).await;

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("leavers.csv");
        let text = format!(
            "Employee,Work email,Last day\n1,{},2027-01-31\n2,not an address,2027-01-31\n3,{ben},2027-02-28\n4,gone@hospital.test,2027-01-01\n",
            ana.to_uppercase()
        );
        std::fs::write(&file, text).unwrap();
        let path = file.to_str().unwrap();

        let (ok, _, stderr) = run(&app, &["leavers", "deactivate", path]).await;
        assert!(!ok, "a file with a bad row is refused");
        assert!(stderr.contains("line 3, column 2 (Work email)") && stderr.contains("nothing was changed"), "{stderr}");
        assert!(logged_in(&app, &ana_browser).await, "nothing changed");

        let (ok, stdout, stderr) = run(&app, &["leavers", "deactivate", path, "--valid-rows", "--dry-run"]).await;
        assert!(ok, "{stderr}");
        assert!(stdout.contains("Would close 2 accounts") && stdout.contains("no account\tgone@hospital.test"), "{stdout}");
        assert!(logged_in(&app, &ana_browser).await, "a dry run changes nothing");

        let (ok, stdout, stderr) = run(&app, &["leavers", "deactivate", path, "--valid-rows"]).await;
        assert!(ok, "{stderr}");
        assert!(stdout.contains("2 accounts closed, 0 were closed already, 1 addresses have no account, 1 bad rows left out"), "{stdout}");
        assert!(!logged_in(&app, &ana_browser).await, "the leaver's session ended");
        let refused = app.log_in(&app.new_browser(), &ana, PASSWORD).await;
        assert_eq!(refused.status(), 401, "refused as a wrong password is");
        assert!(app.all_emails_to(&ben).await.is_empty(), "the unsent reset was dropped");
        app.submit("/password/forgot", "/password/forgot", &[("email", &ana)]).await;
        assert!(app.all_emails_to(&ana).await.is_empty(), "nothing more is sent to a closed account");
        let ben_now = app.user_by_email(&ben).await.unwrap().unwrap();
        assert!(ben_now.opted_out_at.is_some() && !ben_now.is_coordinator(), "opted out, no longer a coordinator");
        assert!(app.user_by_email(&cy).await.unwrap().unwrap().opted_out_at.is_none(), "others are untouched");
        let audit = app.store.audit_log(20).await.unwrap();
        for email in [&ana, &ben] {
            assert!(audit.iter().any(|e| e.action == "account deactivated" && &e.detail == email && e.actor == "command line"));
        }
        assert!(audit.iter().any(|e| e.action == "leavers" && e.detail.contains("2 closed")), "{audit:?}");

        let (ok, stdout, _) = run(&app, &["leavers", "deactivate", path, "--valid-rows"]).await;
        assert!(ok && stdout.contains("0 accounts closed, 2 were closed already"), "running it again changes nothing: {stdout}");

        let (ok, _, stderr) = run(&app, &["leavers", "reactivate", &ana]).await;
        assert!(ok, "{stderr}");
        assert_eq!(app.log_in(&app.new_browser(), &ana, PASSWORD).await.url().path(), "/profile");
        assert!(app.user_by_email(&ana).await.unwrap().unwrap().opted_out_at.is_some(), "still opted out until they rejoin");
    }
}
