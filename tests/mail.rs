//! Delivery through the file transport, and what happens when the mail server is away.

mod common;

use coffee_rounds::{
    config::{MailSettings, Secret},
    mail::sender::Delivered,
};
use common::{TestApp, unique_email};

const PASSWORD: &str = "morning rounds with coffee";

both_backends! {
    async fn the_file_transport_writes_one_eml_per_message(backend) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("outgoing");
        let app = TestApp::spawn_with(backend, |c| c.mail = MailSettings::Files(folder.clone())).await;
        let email = unique_email("files");
        app.sign_up(&email, PASSWORD).await;
        app.send_due_mail().await;
        let file = std::fs::read_dir(&folder).unwrap().filter_map(|e| e.ok()).map(|e| e.path())
            .find(|path| path.extension().is_some_and(|x| x == "eml"))
            .expect("an .eml written");
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
        assert_eq!(app.send_due_mail().await, Delivered { retrying: 1, ..Delivered::default() });
        let row: Option<(String, i64, Option<String>)> =
            sqlx::query_as("SELECT status, attempts, last_error FROM outbox WHERE recipient = $1")
                .bind(&email).fetch_optional(app.store.pool()).await.unwrap();
        let Some((status, attempts, error)) = &row else { panic!("no message queued") };
        assert!(*attempts >= 1 && status == "pending", "no failed attempt recorded: {row:?}");
        assert!(error.is_some(), "the reason is kept");
        app.stop().await;
    }
}
