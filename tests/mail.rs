//! Delivery through both transports, and what happens when the mail server is away.

mod common;

use std::time::{Duration, Instant};

use coffee_rounds::config::{MailSettings, Secret};
use common::{TestApp, unique_email};

const PASSWORD: &str = "morning rounds with coffee";

both_backends! {
    async fn the_file_transport_writes_one_eml_per_message(backend) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("outgoing");
        let app = TestApp::spawn_with(backend, |c| c.mail = MailSettings::Files(folder.clone())).await;
        let email = unique_email("files");
        app.sign_up(&email, PASSWORD).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        let file = loop {
            let found = std::fs::read_dir(&folder).unwrap().filter_map(|e| e.ok()).find(|e| e.path().extension().is_some_and(|x| x == "eml"));
            if let Some(found) = found {
                break found.path();
            }
            assert!(Instant::now() < deadline, "no .eml written");
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let raw = std::fs::read_to_string(file).unwrap();
        assert!(raw.contains(&format!("To: {email}")));
        assert!(raw.contains("Subject: Confirm your Coffee Rounds account"));
        assert!(raw.contains("Message-ID: <"));
        assert!(raw.contains("multipart/alternative"));
        app.stop().await;
    }

    async fn mail_queued_while_the_server_is_unreachable_is_kept_for_retry(backend) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let app = TestApp::spawn_with(backend, |c| {
            c.mail = MailSettings::Smtp(Secret::new(format!("smtp://127.0.0.1:{closed}?tls=none")));
        }).await;
        let email = unique_email("queued");
        let response = app.sign_up(&email, PASSWORD).await;
        assert_eq!(response.status(), 200, "the person is not kept waiting by a mail outage");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let row: Option<(String, i64, Option<String>)> =
                sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE recipient = $1")
                    .bind(&email).fetch_optional(app.store.pool()).await.unwrap();
            if let Some((status, attempts, error)) = &row && *attempts >= 1 && status == "pending" {
                assert!(error.is_some(), "the reason is kept");
                break;
            }
            assert!(Instant::now() < deadline, "no failed attempt recorded: {row:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        app.stop().await;
    }
}
