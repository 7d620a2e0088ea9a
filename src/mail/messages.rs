//! The emails Coffee Rounds sends, each a subject plus a plain-text and an HTML template.

use askama::Template;

use crate::{domain, store::outbox::NewMessage};

/// An email ready to be queued.
pub trait Email {
    /// Outbox kind, for logs and counts.
    const KIND: &'static str;
    fn subject(&self) -> String;
    fn text(&self) -> askama::Result<String>;
    fn html(&self) -> askama::Result<String>;

    /// The outbox row for `recipient`.
    fn to_message(
        &self,
        user_id: Option<domain::UserId>,
        recipient: &domain::Email,
    ) -> askama::Result<NewMessage> {
        Ok(NewMessage {
            user_id,
            kind: Self::KIND,
            recipient: recipient.to_string(),
            subject: self.subject(),
            body_text: self.text()?,
            body_html: Some(self.html()?),
            list_unsubscribe: None,
        })
    }
}

/// Declares an email's data struct with its text and HTML templates.
macro_rules! email {
    ($name:ident, $kind:literal, $txt:literal, $html:literal, $subject:expr, { $($field:ident: $ty:ty),* $(,)? }) => {
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
                fn subject(&self) -> String {
                    let subject: fn(&$name) -> String = $subject;
                    subject(self)
                }
                fn text(&self) -> askama::Result<String> { Text { $($field: &self.$field),* }.render() }
                fn html(&self) -> askama::Result<String> { Html { $($field: &self.$field),* }.render() }
            }
        };
    };
}

email!(Confirm, "confirm", "email/confirm.txt", "email/confirm.html", |_| "Confirm your Coffee Rounds account".to_owned(), {
    name: String,
    link: String,
    hours: u64,
});

email!(
    AlreadyRegistered,
    "already_registered",
    "email/already_registered.txt",
    "email/already_registered.html",
    |_| "You already have a Coffee Rounds account".to_owned(),
    { name: String, login_link: String, reset_link: String }
);

email!(Reset, "reset", "email/reset.txt", "email/reset.html", |_| "Reset your Coffee Rounds password".to_owned(), {
    name: String,
    link: String,
    minutes: u64,
});

email!(Invitation, "invitation", "email/invitation.txt", "email/invitation.html", |_| "You are invited to Coffee Rounds".to_owned(), {
    name: String,
    link: String,
    days: u64,
    role: String,
    stage: String,
    department: String,
});

email!(
    PasswordChanged,
    "password_changed",
    "email/password_changed.txt",
    "email/password_changed.html",
    |_| "Your Coffee Rounds password was changed".to_owned(),
    { name: String, reset_link: String }
);

/// A member of a group as shown to the others.
#[derive(Clone, Debug)]
pub struct MemberCard {
    pub name: String,
    pub role: String,
    pub stage: String,
    pub department: String,
}

email!(
    Intro,
    "intro",
    "email/intro.txt",
    "email/intro.html",
    |e| {
        let names: Vec<&str> = e.others.iter().map(|m| m.name.as_str()).collect();
        format!("Your Coffee Rounds match for {}: {}", e.month_name, names.join(" and "))
    },
    {
        name: String,
        month_name: String,
        others: Vec<MemberCard>,
        reason: String,
        how: String,
        times_line: Option<String>,
        video: bool,
        you_write_first: bool,
        first_writer: String,
        ask: String,
        questions: Vec<String>,
        met_link: String,
        not_yet_link: String,
        skip_link: String,
        unsubscribe_link: String,
        profile_link: String,
        frequency: String,
        frequency_links: Vec<(String, String)>,
    }
);

email!(
    SitOut,
    "sit_out",
    "email/sit_out.txt",
    "email/sit_out.html",
    |_| "No Coffee Rounds match this month: you have priority next month".to_owned(),
    { name: String, reason: String, hint: Option<String>, profile_link: String, unsubscribe_link: String }
);

email!(
    CheckIn,
    "checkin",
    "email/checkin.txt",
    "email/checkin.html",
    |_| "Did you meet? A quick Coffee Rounds check-in".to_owned(),
    {
        name: String,
        partners: String,
        met_link: String,
        not_yet_link: String,
        skip_link: String,
        unsubscribe_link: String,
    }
);

email!(
    AutoPaused,
    "auto_paused",
    "email/auto_paused.txt",
    "email/auto_paused.html",
    |_| "Your Coffee Rounds are paused: one click to come back".to_owned(),
    { name: String, resume_link: String }
);

email!(
    Nudge,
    "nudge",
    "email/nudge.txt",
    "email/nudge.html",
    |_| "Did your Coffee Rounds conversation lead to anything?".to_owned(),
    {
        name: String,
        partners: String,
        led_to_links: Vec<(String, String)>,
        profile_link: String,
    }
);

email!(
    BounceNote,
    "bounce_note",
    "email/bounce_note.txt",
    "email/bounce_note.html",
    |e| format!("Coffee Rounds: {}'s email address bounced", e.bounced_name),
    { name: String, month_name: String, bounced_name: String, bounced_role: String, bounced_department: String }
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
