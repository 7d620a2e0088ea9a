//! Outgoing email: rendering (askama templates under `templates/email/`), queueing into the
//! outbox, the sender that delivers the outbox through lettre, what a hard bounce does, and the
//! queue as the coordinator sees it.
//!
//! With `SMTP_URL` set, messages go through lettre's pooled async SMTP transport; otherwise each is
//! written as an `.eml` file, so a fresh checkout runs with no mail server. Tests keep them in
//! memory and read them from there.

pub mod bounce;
pub mod messages;
pub mod queue;
pub mod sender;
pub mod smtp;

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use anyhow::Context;
use lettre::{
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Mailbox, MultiPart, SinglePart,
        header::{ContentType, HeaderName, HeaderValue},
    },
};
use rand::Rng;
use sqlx::AnyConnection;

use crate::{
    config::MailSettings,
    store::outbox::{self, NewMessage, OutboxMessage},
};

/// The transport messages leave through.
#[derive(Clone)]
pub enum Transport {
    /// `smtp://`: connections of our own, with `TCP_NODELAY` and a deadline on every send.
    Pooled(Arc<smtp::Pool>),
    /// `smtps://`: lettre's pooled transport.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, PathBuf),
    /// Every message sent, as the bytes a server would have received, in the order sent (tests).
    Memory(Arc<Mutex<Vec<Vec<u8>>>>),
}

/// Why a send did not go through (`smtp::classify_reply` sorts the server's answers).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The server refused the recipient's address for good (5xx to RCPT TO): a hard bounce.
    #[error("address refused: {0}")]
    Bounced(String),
    /// The server refused the message for good (5xx): retrying will not help.
    #[error("rejected: {0}")]
    Permanent(String),
    /// The server asked us to slow down (421, 451, 452): every send waits, not only this one.
    #[error("slow down: {0}")]
    Throttled(String),
    /// A temporary refusal (4xx), a lost connection or a local I/O problem: try again later.
    #[error("temporary failure: {0}")]
    Temporary(String),
}

/// Makes `smtp://` mean STARTTLS unless `?tls=none` or `?tls=opportunistic` says otherwise.
fn lettre_url(url: &str) -> String {
    if url.contains("tls=none") {
        return url.replace("?tls=none&", "?").replace("?tls=none", "").replace("&tls=none", "");
    }
    if url.starts_with("smtp://") && !url.contains("tls=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        return format!("{url}{sep}tls=required");
    }
    url.to_owned()
}

impl Transport {
    /// Builds the transport; for files, creates the folder. `timeout` bounds each SMTP exchange.
    pub async fn new(
        settings: &MailSettings,
        pool_size: u32,
        timeout: std::time::Duration,
    ) -> anyhow::Result<Self> {
        match settings {
            MailSettings::Smtp(url) => {
                if let Some(pool) = smtp::Pool::new(url.expose(), pool_size as usize, timeout) {
                    return Ok(Self::Pooled(Arc::new(pool)));
                }
                let pool = lettre::transport::smtp::PoolConfig::new().max_size(pool_size.max(1));
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&lettre_url(url.expose()))
                    .context("SMTP_URL is not a valid smtp:// or smtps:// address")?
                    .pool_config(pool)
                    .timeout(Some(timeout))
                    .build();
                Ok(Self::Smtp(transport))
            }
            MailSettings::Files(dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .with_context(|| format!("creating {}", dir.display()))?;
                let dir = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
                Ok(Self::Files(AsyncFileTransport::new(&dir), dir))
            }
            MailSettings::Memory => Ok(Self::Memory(Arc::default())),
        }
    }

    /// Where mail goes, for the start-up message.
    pub fn describe(&self) -> String {
        match self {
            Self::Pooled(_) | Self::Smtp(_) => "through SMTP_URL".to_owned(),
            Self::Files(_, dir) => format!("as .eml files in {}", dir.display()),
            Self::Memory(_) => "kept in memory".to_owned(),
        }
    }

    /// With the in-memory transport, every message sent so far, oldest first, as raw bytes.
    pub fn sent_in_memory(&self) -> Option<Vec<Vec<u8>>> {
        match self {
            // A panic while the lock was held cannot leave a half-pushed message behind.
            Self::Memory(sent) => Some(sent.lock().unwrap_or_else(|e| e.into_inner()).clone()),
            _ => None,
        }
    }

    /// Sends one message.
    pub async fn send(&self, message: Message) -> Result<(), SendError> {
        match self {
            Self::Pooled(pool) => pool.send(&message).await,
            Self::Smtp(smtp) => smtp.send(message).await.map(|_| ()).map_err(smtp::classify),
            Self::Files(files, _) => {
                files.send(message).await.map(|_| ()).map_err(|e| SendError::Temporary(e.to_string()))
            }
            Self::Memory(sent) => {
                sent.lock().unwrap_or_else(|e| e.into_inner()).push(message.formatted());
                Ok(())
            }
        }
    }
}

/// Everything needed to turn outbox rows into messages.
#[derive(Clone, Debug)]
pub struct Envelope {
    pub from: Mailbox,
}

impl Envelope {
    pub fn new(mail_from: &str) -> anyhow::Result<Self> {
        Ok(Self { from: mail_from.parse().context("MAIL_FROM is not an address such as Name <a@b.org>")? })
    }

    /// The email for one outbox row, with its stable `Message-ID`.
    pub fn build(&self, row: &OutboxMessage) -> Result<Message, SendError> {
        let to: Mailbox =
            row.recipient.parse().map_err(|e| SendError::Permanent(format!("bad recipient address: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&row.subject)
            .message_id(Some(format!("<{}>", row.message_id)));
        if let Some(url) = &row.list_unsubscribe {
            // RFC 8058 one-click unsubscribe: mail clients POST to the address without a login.
            builder = builder
                .raw_header(raw_header("List-Unsubscribe", format!("<{url}>")))
                .raw_header(raw_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click".to_owned()));
        }
        let text = SinglePart::builder().header(ContentType::TEXT_PLAIN).body(row.body_text.clone());
        let message = match &row.body_html {
            Some(html) => builder.multipart(
                MultiPart::alternative()
                    .singlepart(text)
                    .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(html.clone())),
            ),
            None => builder.singlepart(text),
        };
        message.map_err(|e| SendError::Permanent(format!("building the message: {e}")))
    }
}

fn raw_header(name: &'static str, value: String) -> HeaderValue {
    HeaderValue::new(HeaderName::new_from_ascii_str(name), value)
}

/// A new, globally unique `Message-ID` (without the angle brackets).
pub fn new_message_id() -> String {
    let random: u128 = rand::rng().random();
    format!("{random:032x}@coffee-rounds")
}

/// Clears the bodies of email sent or refused more than `retention_days` ago (see
/// `Store::purge_mail_bodies`); returns how many it cleared.
pub async fn purge_old_bodies(store: &crate::store::Store, retention_days: u32) -> sqlx::Result<u64> {
    let before = crate::store::now() - i64::from(retention_days) * 86_400;
    let purged = store.purge_mail_bodies(before).await?;
    if purged > 0 {
        tracing::info!(purged, retention_days, "cleared the bodies of old email");
    }
    Ok(purged)
}

/// Queues a message in the caller's transaction; the sender delivers it after commit.
pub async fn queue(conn: &mut AnyConnection, message: &NewMessage) -> sqlx::Result<i64> {
    outbox::enqueue(conn, &new_message_id(), message).await
}

#[cfg(test)]
mod tests {
    use super::{Transport, lettre_url};
    use crate::config::MailSettings;

    #[tokio::test]
    async fn the_memory_transport_keeps_each_message_as_sent() {
        let transport =
            Transport::new(&MailSettings::Memory, 1, std::time::Duration::from_secs(1)).await.unwrap();
        assert_eq!(transport.sent_in_memory(), Some(vec![]));
        for to in ["ana@hospital.test", "ben@hospital.test"] {
            let message = lettre::Message::builder()
                .from("Coffee Rounds <coffee-rounds@localhost>".parse().unwrap())
                .to(to.parse().unwrap())
                .subject("Hello")
                .body("Hello".to_owned())
                .unwrap();
            transport.send(message).await.unwrap();
        }
        let sent = transport.sent_in_memory().unwrap();
        let recipients: Vec<bool> = sent
            .iter()
            .zip(["ana@hospital.test", "ben@hospital.test"])
            .map(|(raw, to)| String::from_utf8_lossy(raw).contains(&format!("To: {to}")))
            .collect();
        assert_eq!(recipients, [true, true], "in the order sent");
        assert_eq!(transport.clone().sent_in_memory().map(|s| s.len()), Some(2), "clones share the messages");
    }

    #[test]
    fn smtp_urls_default_to_starttls() {
        assert_eq!(
            lettre_url("smtp://u:p@mail.example.org:587"),
            "smtp://u:p@mail.example.org:587?tls=required"
        );
        assert_eq!(lettre_url("smtp://127.0.0.1:2525?tls=none"), "smtp://127.0.0.1:2525");
        assert_eq!(lettre_url("smtps://u:p@mail.example.org"), "smtps://u:p@mail.example.org");
        assert_eq!(lettre_url("smtp://h?tls=opportunistic"), "smtp://h?tls=opportunistic");
    }
}
