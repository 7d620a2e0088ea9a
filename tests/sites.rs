//! Where and when people can meet (matching specification v2.0), as participants and
//! coordinators live it: the profile's site, format and free-time questions, the roster's
//! columns, the introduction's how and when, and the dashboard's counts.

mod common;

use coffee_rounds::{
    domain::{FreeTimes, MeetFormat, Slot, UserId},
    matching::Month,
    rounds::{Outcome, Quiet},
    store::coordinators::Actor,
};
use common::{TestApp, unique_email};

const PASSWORD: &str = "correct horse battery staple";

/// Lists two campuses on the program's sites list through Settings, as a coordinator (in a
/// browser of their own) would.
async fn two_sites(app: &TestApp) {
    let browser = app.new_browser();
    let email = unique_email("settings");
    let hash = app.hasher.hash(PASSWORD).await.unwrap();
    let (id, _) = app.add_participant("Sam Settings", "Nurse", 3, "Cardiology").await;
    // A coordinator who does not take part, so the rounds below are only the test's people.
    sqlx::query(
        "UPDATE users SET email = $1, password_hash = $2, is_coordinator = 1, opted_out_at = 1 WHERE id = $3",
    )
    .bind(&email)
    .bind(&hash)
    .bind(id)
    .execute(app.store.pool())
    .await
    .unwrap();
    app.log_in(&browser, &email, PASSWORD).await;
    for site in ["North Campus", "South Campus"] {
        let added = app
            .submit_as(
                &browser,
                "/coordinator/settings",
                "/coordinator/lists",
                &[("kind", "sites"), ("action", "add"), ("name", site)],
            )
            .await;
        assert!(added.text().await.unwrap().contains(&format!("Added the site {site}.")));
    }
}

/// A logged-in coordinator on `app.client`.
async fn coordinator(app: &TestApp) -> String {
    let email = unique_email("coordinator");
    app.member(&email, PASSWORD).await;
    app.store.set_coordinator(&email, true, &Actor::command_line()).await.unwrap();
    email
}

/// Gives a participant a site, a format and free times, as their profile would.
async fn place(app: &TestApp, id: UserId, site: Option<&str>, format: MeetFormat, times: &[Slot]) {
    sqlx::query("UPDATE users SET site = $1, meet_format = $2, free_times = $3 WHERE id = $4")
        .bind(site)
        .bind(format)
        .bind(FreeTimes::from_slots(times.iter().copied()))
        .bind(id)
        .execute(app.store.pool())
        .await
        .unwrap();
}

fn signup_form<'a>(email: &'a str, site: &'a str, format: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("email", email),
        ("name", "Noor Haddad"),
        ("password", PASSWORD),
        ("role", "Nurse"),
        ("level", "1"),
        ("department", "Cardiology"),
        ("site", site),
        ("format", format),
        ("time_midday", "on"),
        ("time_night", "on"),
    ]
}

both_backends! {
    async fn with_two_sites_sign_up_asks_for_the_site_and_keeps_the_input_when_refused(backend) {
        let app = TestApp::spawn(backend).await;
        // One site or none: no question.
        let page = app.get("/signup").await.text().await.unwrap();
        assert!(!page.contains("id=\"site\""), "no site question for a single-site program");
        assert!(page.contains("How would you like to meet?") && page.contains("When can you usually take 20 minutes?"));
        assert!(page.contains("Midday, 11:00 to 14:00"));

        two_sites(&app).await;
        let page = app.get("/signup").await.text().await.unwrap();
        assert!(page.contains("<option>North Campus</option>"));
        let email = unique_email("noor");
        let refused = app.submit("/signup", "/signup", &signup_form(&email, "", "video")).await;
        assert_eq!(refused.status(), 422);
        let page = refused.text().await.unwrap();
        assert!(page.contains("Choose your site."), "{page}");
        assert!(page.contains("value=\"video\" checked"), "the chosen format is kept");
        assert!(page.contains("name=\"time_midday\" value=\"on\" checked") && page.contains("name=\"time_night\" value=\"on\" checked"));
        assert!(!page.contains("name=\"time_early\" value=\"on\" checked"));

        let bad_format = app.submit("/signup", "/signup", &signup_form(&email, "North Campus", "by pigeon")).await;
        assert_eq!(bad_format.status(), 422);
        assert!(bad_format.text().await.unwrap().contains("Choose in person, video or either."));

        let accepted = app.submit("/signup", "/signup", &signup_form(&email, "north campus", "in person")).await;
        assert_eq!(accepted.url().path(), "/check-email");
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!(user.site.as_deref(), Some("North Campus"), "the list's spelling");
        assert_eq!(user.meet_format, MeetFormat::InPerson);
        assert_eq!(user.free_times, FreeTimes::from_slots([Slot::Midday, Slot::Night]));
        app.stop().await;
    }

    async fn an_existing_account_is_invited_to_answer_and_can_from_the_profile(backend) {
        let app = TestApp::spawn(backend).await;
        let email = unique_email("older");
        app.member(&email, PASSWORD).await;
        two_sites(&app).await;
        let page = app.get("/profile").await.text().await.unwrap();
        assert!(page.contains("New on the profile: your site and the times you can usually take 20 minutes"), "{page}");
        assert!(page.contains("value=\"either\" checked"), "older accounts meet either way");

        let fields = [("name", "Alex Rivera"), ("role", "Nurse"), ("level", "1"), ("department", "Cardiology"),
            ("site", "South Campus"), ("format", "either"), ("time_early", "on")];
        let saved = app.submit("/profile", "/profile", &fields).await;
        let page = saved.text().await.unwrap();
        assert!(page.contains("Your details are saved"), "{page}");
        assert!(!page.contains("New on the profile"));
        let user = app.user_by_email(&email).await.unwrap().unwrap();
        assert_eq!((user.site.as_deref(), user.free_times.to_list().as_str()), (Some("South Campus"), "early"));
        app.stop().await;
    }

    async fn the_introduction_says_how_and_when_the_group_meets(backend) {
        let app = TestApp::spawn(backend).await;
        two_sites(&app).await;
        let (ana, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (ben, ben_email) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        place(&app, ana, Some("North Campus"), MeetFormat::Either, &[Slot::Midday, Slot::Early]).await;
        place(&app, ben, Some("South Campus"), MeetFormat::Either, &[Slot::Midday]).await;
        app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap();
        app.email_to(&ben_email).await;
        let intro = app.email_to(&ana_email).await;
        assert!(intro.text.contains("You meet by video: use the hospital's usual video tool."), "{}", intro.text);
        assert!(intro.text.contains("You both said midday (11:00 to 14:00) works."));
        assert!(intro.text.contains("Starting the call:"));
        assert!(intro.text.contains("midday (11:00 to 14:00) works for both of us"), "the ask names the shared time");
        assert!(!intro.text.contains("Tuesday or Thursday"));
        assert!(intro.html.contains("You meet by video"));
        let (mode,): (String,) = sqlx::query_as("SELECT mode FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(mode, "video");

        // The next month they are on one campus and say nothing about times.
        place(&app, ben, Some("North Campus"), MeetFormat::InPerson, &[]).await;
        let (cy, _) = app.add_participant("Cy Adams", "Pharmacist", 2, "Pharmacy").await;
        let (di, _) = app.add_participant("Di Brown", "Nurse", 4, "Oncology").await;
        place(&app, cy, Some("North Campus"), MeetFormat::Either, &[]).await;
        place(&app, di, Some("North Campus"), MeetFormat::InPerson, &[]).await;
        app.rounds().await.run(Month::parse("2027-02").unwrap(), false, &Quiet).await.unwrap();
        let intro = app.email_to(&ben_email).await;
        assert!(intro.subject.contains("February 2027"));
        assert!(intro.text.contains("You meet in person at North Campus."), "{}", intro.text);
        assert!(!intro.text.contains("Starting the call:"));
        assert!(intro.text.contains("suggest two or three times"), "nobody shares a time: {}", intro.text);
        app.stop().await;
    }

    async fn someone_no_one_can_meet_sits_out_and_is_told_what_would_help(backend) {
        let app = TestApp::spawn(backend).await;
        let me = coordinator(&app).await;
        sqlx::query("UPDATE users SET opted_out_at = 1 WHERE email = $1").bind(&me).execute(app.store.pool()).await.unwrap();
        two_sites(&app).await;
        let (ana, ana_email) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (ben, _) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let (cy, _) = app.add_participant("Cy Adams", "Pharmacist", 2, "Pharmacy").await;
        place(&app, ana, Some("North Campus"), MeetFormat::InPerson, &[]).await;
        place(&app, ben, Some("South Campus"), MeetFormat::Either, &[]).await;
        place(&app, cy, Some("South Campus"), MeetFormat::Either, &[]).await;
        let hint = "Nobody else at North Campus meets in person this month; choosing Either (in person or by video) on the profile would help.";
        let preview = app.get("/coordinator/preview?month=2027-01").await.text().await.unwrap();
        assert!(preview.contains("Ana Souza: no allowed partner"), "{preview}");
        assert!(preview.contains(hint), "{preview}");
        assert!(preview.contains("meets in person"), "Ben and Cy share South Campus: {preview}");

        app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap();
        let note = app.email_to(&ana_email).await;
        assert!(note.text.contains(hint), "{}", note.text);
        let (mode,): (String,) = sqlx::query_as("SELECT mode FROM round_groups").fetch_one(app.store.pool()).await.unwrap();
        assert_eq!(mode, "in person");
        app.stop().await;
    }

    async fn the_roster_takes_site_format_and_times_and_names_bad_cells(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        two_sites(&app).await;
        let a = unique_email("roster.a");
        let b = unique_email("roster.b");
        let text = format!("email,name,profession,career_stage,department,site,format,times\n\
                            {a},Ana Diaz,Nurse,1,Cardiology,North Campus,video,early; weekend\n\
                            {b},Ben Ode,Nurse,2,Cardiology,West Campus,sometimes,lunch\n");
        let upload = |mode: &'static str| {
            let (app, text) = (&app, text.clone());
            async move {
                let token = app.csrf(&app.client, "/coordinator/import").await;
                let form = reqwest::multipart::Form::new().text("csrf_token", token).text("mode", mode);
                let form = if mode == "valid" {
                    form.text("roster_text", text)
                } else {
                    form.part("roster", reqwest::multipart::Part::bytes(text.into_bytes()).file_name("roster.csv"))
                };
                app.client.post(app.url("/coordinator/import")).multipart(form).send().await.unwrap()
            }
        };
        let report = upload("check").await;
        assert_eq!(report.status(), 422);
        let page = report.text().await.unwrap();
        for (column, header) in [(6, "site"), (7, "format"), (8, "times")] {
            let cell = format!("data-line=\"3\" data-column=\"{column}\"><td class=\"num\">3</td><td>{column} ({header})</td>");
            assert!(page.contains(&cell), "{cell} missing from:\n{page}");
        }
        let done = upload("valid").await;
        assert_eq!(done.status(), 200);
        let ana = app.user_by_email(&a).await.unwrap().unwrap();
        assert_eq!((ana.site.as_deref(), ana.meet_format, ana.free_times.to_list().as_str()),
                   (Some("North Campus"), MeetFormat::Video, "early; weekend"));
        assert!(app.user_by_email(&b).await.unwrap().is_none());

        let export = app.get("/coordinator/export/participants.csv").await.text().await.unwrap();
        assert!(export.lines().next().unwrap().contains("site,format,times"));
        assert!(export.contains("North Campus,video,early; weekend"), "{export}");
        app.stop().await;
    }

    async fn the_dashboard_counts_by_site_format_and_free_time_and_filters_by_them(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        two_sites(&app).await;
        let (a, _) = app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await;
        let (b, _) = app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await;
        let (c, _) = app.add_participant("Cy Adams", "Pharmacist", 2, "Pharmacy").await;
        place(&app, a, Some("North Campus"), MeetFormat::Video, &[Slot::Night]).await;
        place(&app, b, Some("North Campus"), MeetFormat::Either, &[Slot::Night, Slot::Midday]).await;
        place(&app, c, Some("South Campus"), MeetFormat::InPerson, &[]).await;
        let page = app.get("/coordinator").await.text().await.unwrap();
        let row = |label: &str| {
            let marker = format!("<th scope=\"row\">{label}</th><td class=\"num\">");
            let start = page.find(&marker).unwrap_or_else(|| panic!("no row {label}")) + marker.len();
            page[start..start + page[start..].find('<').unwrap()].trim().parse::<i64>().unwrap()
        };
        assert_eq!(row("North Campus"), 2);
        assert_eq!(row("South Campus"), 1);
        assert_eq!(row("No site given"), 2, "the two coordinators signed up before the sites");
        assert_eq!(row("Video"), 1);
        assert_eq!(row("In person"), 1);
        assert_eq!(row("Either"), 3);
        assert_eq!(row("During night shifts"), 2);
        assert_eq!(row("Midday, 11:00 to 14:00"), 1);
        assert_eq!(row("None given (any time)"), 3);

        let filtered = app.get("/coordinator?site=North+Campus&time=night").await.text().await.unwrap();
        assert!(filtered.contains("Accounts by participation status (2 in all)"), "{filtered}");
        let video = app.get("/coordinator?format=video").await.text().await.unwrap();
        assert!(video.contains("(1 in all)"));
        app.stop().await;
    }

    async fn the_outcomes_show_the_meet_rate_of_video_and_in_person_groups(backend) {
        let app = TestApp::spawn(backend).await;
        coordinator(&app).await;
        two_sites(&app).await;
        let people = [
            app.add_participant("Ana Souza", "Nurse", 1, "Cardiology").await.0,
            app.add_participant("Ben Okafor", "Physician", 3, "Surgery").await.0,
        ];
        place(&app, people[0], Some("North Campus"), MeetFormat::Video, &[]).await;
        let Outcome::Created(_) = app.rounds().await.run(Month::parse("2027-01").unwrap(), false, &Quiet).await.unwrap() else { panic!() };
        sqlx::query("UPDATE round_groups SET status = 'met'").execute(app.store.pool()).await.unwrap();
        let page = app.get("/coordinator/outcomes").await.text().await.unwrap();
        assert!(page.contains("data-mode=\"video\">100% <span class=\"muted\">of 1</span>"), "{page}");
        assert!(page.contains("data-mode=\"in person\">– <span class=\"muted\">of 0</span>"), "{page}");
        app.stop().await;
    }
}
