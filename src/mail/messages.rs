//! The emails Coffee Rounds sends, each a subject plus a plain-text and an HTML template.

use askama::Template;

use crate::store::outbox::NewMessage;

/// An email ready to be queued.
pub trait Email {
    /// Outbox kind, for logs and counts.
    const KIND: &'static str;
    fn subject(&self) -> String;
    fn text(&self) -> askama::Result<String>;
    fn html(&self) -> askama::Result<String>;

    /// The outbox row for `recipient`.
    fn to_message(&self, user_id: Option<i64>, recipient: &str) -> askama::Result<NewMessage> {
        Ok(NewMessage {
            user_id,
            kind: Self::KIND,
            recipient: recipient.to_owned(),
            subject: self.subject(),
            body_text: self.text()?,
            body_html: Some(self.html()?),
        })
    }
}

/// Declares an email's data struct with its text and HTML templates.
macro_rules! email {
    ($name:ident, $kind:literal, $txt:literal, $html:literal, $subject:literal, { $($field:ident: $ty:ty),* $(,)? }) => {
        #[derive(Clone, Debug)]
        pub struct $name { $(pub $field: $ty),* }

        const _: () = {
            #[derive(Template)]
            #[template(path = $txt)]
            struct Text<'a> { $($field: &'a $ty),* }

            #[derive(Template)]
            #[template(path = $html)]
            struct Html<'a> { $($field: &'a $ty),* }

            impl Email for $name {
                const KIND: &'static str = $kind;
                fn subject(&self) -> String { $subject.to_owned() }
                fn text(&self) -> askama::Result<String> { Text { $($field: &self.$field),* }.render() }
                fn html(&self) -> askama::Result<String> { Html { $($field: &self.$field),* }.render() }
            }
        };
    };
}

email!(Confirm, "confirm", "email/confirm.txt", "email/confirm.html", "Confirm your Coffee Rounds account", {
    name: String,
    link: String,
    hours: u64,
});

email!(
    AlreadyRegistered,
    "already_registered",
    "email/already_registered.txt",
    "email/already_registered.html",
    "You already have a Coffee Rounds account",
    { name: String, login_link: String, reset_link: String }
);

email!(Reset, "reset", "email/reset.txt", "email/reset.html", "Reset your Coffee Rounds password", {
    name: String,
    link: String,
    minutes: u64,
});

email!(
    PasswordChanged,
    "password_changed",
    "email/password_changed.txt",
    "email/password_changed.html",
    "Your Coffee Rounds password was changed",
    { name: String, reset_link: String }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmation_email_escapes_the_name_in_html_only() {
        let email =
            Confirm { name: "<Sam & Co>".into(), link: "http://x/confirm?token=abc".into(), hours: 48 };
        assert!(email.text().unwrap().contains("Hello <Sam & Co>,"));
        let html = email.html().unwrap();
        assert!(
            html.contains("Hello &#60;Sam &#38; Co&#62;,") || html.contains("Hello &lt;Sam &amp; Co&gt;,"),
            "{html}"
        );
        assert!(html.contains("http://x/confirm?token=abc"));
    }
}
