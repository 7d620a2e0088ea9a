//! Property test: arbitrary text in any field of any form never produces a server error.

mod common;

use common::{Backend, TestApp, unique_email};
use proptest::prelude::*;

/// (form page, action, fields) for every form a visitor or member can post.
const FORMS: &[(&str, &str, &[&str])] = &[
    ("/signup", "/signup", &["email", "name", "password", "role", "level", "department", "department_other"]),
    ("/login", "/login", &["email", "password", "next"]),
    ("/password/forgot", "/password/forgot", &["email"]),
    ("/confirm/resend", "/confirm/resend", &["email"]),
    ("/password/reset?token=x", "/password/reset", &["token", "password"]),
    ("/login", "/confirm", &["token", "password", "password_again"]),
    ("/profile", "/profile", &["name", "role", "level", "department", "department_other"]),
    ("/profile", "/profile/pause", &["months"]),
    ("/password/change", "/password/change", &["current_password", "new_password"]),
    ("/account/delete", "/account/delete", &["password"]),
];

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        Just(String::new()),
        Just("__other".to_owned()),
        Just("9223372036854775808".to_owned()),
        Just("a@b.c".to_owned()),
        "\\PC{200,300}",
    ]
}

#[test]
fn arbitrary_form_input_never_gets_a_server_error() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(async {
        let app = TestApp::spawn(Backend::Sqlite).await;
        app.member(&unique_email("fuzz"), "fuzzing all the forms").await;
        app
    });
    let config = ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() };
    proptest!(config, |(form in 0..FORMS.len(), values in proptest::collection::vec(any_text(), 7), drop_field in 0usize..8)| {
        let (page, action, fields) = FORMS[form];
        let status = runtime.block_on(async {
            let token = app.csrf(&app.client, page).await;
            let mut body: Vec<(&str, &str)> = fields
                .iter()
                .zip(values.iter())
                .enumerate()
                .filter(|(i, _)| *i != drop_field)
                .map(|(_, (k, v))| (*k, v.as_str()))
                .collect();
            body.push(("csrf_token", &token));
            // Keep the member logged in: never post the right password to delete.
            app.client.post(app.url(action)).form(&body).send().await.unwrap().status()
        });
        prop_assert!(!status.is_server_error(), "{action} answered {status}");
    });
    runtime.block_on(app.stop());
}
