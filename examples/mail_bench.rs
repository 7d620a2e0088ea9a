//! Mail-sending benchmark: queues intro-sized messages into a fresh database through the library,
//! then sends them all with the real outbox `Sender` over SMTP and reports messages/s.
//! `benches/mail.sh` runs it against Postfix's `smtp-sink` next to `smtp-source` for a raw rate.
//!
//!     cargo run --release --example mail_bench -- --smtp 'smtp://127.0.0.1:2526?tls=none' \
//!         [--count 10000] [--concurrency 16] [--database sqlite:///tmp/bench.db]

use std::{sync::Arc, time::Instant};

use anyhow::{Context, bail};
use coffee_rounds::{
    config::{MailSettings, Secret},
    mail::{
        Envelope, Transport,
        messages::{Confirm, Email},
        sender::{Sender, Tuning},
    },
    store::{Store, outbox::NewMessage},
};

const FROM: &str = "Coffee Rounds <coffee-rounds@hospital.test>";

struct Options {
    smtp: String,
    count: usize,
    concurrency: Option<usize>,
    database: Option<String>,
}

fn options() -> anyhow::Result<Options> {
    let mut options = Options { smtp: String::new(), count: 10_000, concurrency: None, database: None };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--smtp" => options.smtp = value()?,
            "--count" => options.count = value()?.parse().context("--count")?,
            "--concurrency" => options.concurrency = Some(value()?.parse().context("--concurrency")?),
            "--database" => options.database = Some(value()?),
            other => bail!("unknown option {other}"),
        }
    }
    if options.smtp.is_empty() {
        bail!("--smtp smtp://host:port?tls=none is required");
    }
    Ok(options)
}

/// An introduction of the size the monthly round sends: about 1.5 KB of text, 2.5 KB of HTML.
fn intro(n: usize) -> NewMessage {
    let (a, b) = (format!("Colleague {n}"), format!("Colleague {}", n + 1));
    let text = format!(
        "Hello {a} and {b},\n\n\
         You are this month's Coffee Rounds pair. Coffee Rounds introduces people who work in \
         different departments, professions and career stages for one 20-minute conversation, \
         in person or by video, at a time that suits you both.\n\n\
         {a} works in Cardiology as a Nurse (early career).\n\
         {b} works in Pharmacy as a Pharmacist (senior).\n\n\
         What to do next:\n\
         1. Reply to everyone on this email with two or three times that work for you this month.\n\
         2. Meet for 20 minutes: the cafeteria, a quiet corner, or a video call.\n\
         3. Talk about anything: how you came to your role, what a good day looks like, what \
            you wish other departments knew about yours.\n\n\
         There is nothing to prepare and nothing to report. If this month does not suit you, \
         pause from your profile page and you will not be paired until you come back.\n\n\
         Your profile: https://coffee.hospital.test/profile\n\
         Pause or opt out: https://coffee.hospital.test/profile/pause\n\n\
         Enjoy your coffee,\nThe Coffee Rounds team\n\n\
         You receive this because you joined Coffee Rounds with this address. This message was \
         sent automatically; replies reach your pair, not the organisers.\n"
    );
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your Coffee Rounds \
         introduction</title></head><body style=\"font-family: system-ui, sans-serif; line-height: 1.5; \
         color: #1f2933; max-width: 36rem; margin: 0 auto; padding: 1rem\">\
         <h1 style=\"font-size: 1.4rem\">Meet your Coffee Rounds pair</h1>\
         <p>Hello {a} and {b},</p>\
         <p>You are this month's Coffee Rounds pair. Coffee Rounds introduces people who work in \
         different departments, professions and career stages for one 20-minute conversation, in \
         person or by video, at a time that suits you both.</p>\
         <table role=\"presentation\" style=\"border-collapse: collapse; margin: 1rem 0\">\
         <tr><td style=\"padding: .25rem .75rem .25rem 0\"><strong>{a}</strong></td><td>Cardiology, Nurse, early career</td></tr>\
         <tr><td style=\"padding: .25rem .75rem .25rem 0\"><strong>{b}</strong></td><td>Pharmacy, Pharmacist, senior</td></tr>\
         </table>\
         <h2 style=\"font-size: 1.1rem\">What to do next</h2>\
         <ol><li>Reply to everyone on this email with two or three times that work for you this month.</li>\
         <li>Meet for 20 minutes: the cafeteria, a quiet corner, or a video call.</li>\
         <li>Talk about anything: how you came to your role, what a good day looks like, what you \
         wish other departments knew about yours.</li></ol>\
         <p>There is nothing to prepare and nothing to report. If this month does not suit you, \
         <a href=\"https://coffee.hospital.test/profile/pause\">pause from your profile page</a> \
         and you will not be paired until you come back.</p>\
         <p><a href=\"https://coffee.hospital.test/profile\" style=\"display: inline-block; padding: \
         .5rem 1rem; background: #0b6e4f; color: #fff; text-decoration: none; border-radius: .25rem\">\
         Your profile</a></p>\
         <p>Enjoy your coffee,<br>The Coffee Rounds team</p>\
         <hr style=\"border: 0; border-top: 1px solid #d9e2ec\">\
         <p style=\"font-size: .85rem; color: #52606d\">You receive this because you joined Coffee \
         Rounds with this address. This message was sent automatically; replies reach your pair, not \
         the organisers.</p></body></html>"
    );
    NewMessage {
        kind: "intro",
        recipient: format!("colleague.{n}@hospital.test"),
        subject: "Your Coffee Rounds introduction".to_owned(),
        body_text: text,
        body_html: Some(html),
        // Every other field as in any email (so fields the outbox gains later need no change here).
        ..Confirm { name: a.clone(), link: "https://coffee.hospital.test/".into(), hours: 48 }
            .to_message(
                None,
                &coffee_rounds::domain::Email::parse("colleague@hospital.test").expect("an address"),
            )
            .expect("render")
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let options = options()?;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir()?;
    let database =
        options.database.clone().unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.path().display()));
    let store = Store::connect(&database).await?;
    store.migrate().await?;

    let started = Instant::now();
    for chunk in (0..options.count).collect::<Vec<_>>().chunks(1000) {
        let mut tx = store.pool().begin().await?;
        for &n in chunk {
            coffee_rounds::mail::queue(&mut tx, &intro(n)).await?;
        }
        tx.commit().await?;
    }
    let queue_secs = started.elapsed().as_secs_f64();

    let mut tuning = Tuning::from_env()?;
    if let Some(concurrency) = options.concurrency {
        tuning.concurrency = concurrency.max(1);
    }
    let settings = MailSettings::Smtp(Secret::new(options.smtp.clone()));
    let transport = Transport::new(&settings, tuning.concurrency as u32, tuning.smtp_timeout()).await?;
    let limits = Default::default();
    let sender = Sender::new(store.clone(), transport, Envelope::new(FROM)?, tuning, limits, Arc::default());
    let sample =
        sqlx::query_as::<_, coffee_rounds::store::outbox::OutboxMessage>("SELECT * FROM outbox LIMIT 1")
            .fetch_one(store.pool())
            .await?;
    let size = sender.envelope.build(&sample).map_err(|e| anyhow::anyhow!("{e}"))?.formatted().len();

    let started = Instant::now();
    let done = sender.send_due().await?;
    let send_secs = started.elapsed().as_secs_f64();
    let counts = store.outbox_counts().await?;
    store.close().await;
    if counts.sent as usize != options.count {
        bail!("only {} of {} messages were sent ({done:?})", counts.sent, options.count);
    }
    let rate = options.count as f64 / send_secs;
    println!(
        "queued {} messages ({size} bytes each) in {queue_secs:.2} s ({:.0}/s)",
        options.count,
        options.count as f64 / queue_secs
    );
    println!(
        "sent {} messages in {send_secs:.2} s: {rate:.0} messages/s (concurrency {})",
        done.sent, tuning.concurrency
    );
    // For benches/mail.sh.
    println!("MESSAGE_BYTES={size}");
    println!("RATE={rate:.1}");
    Ok(())
}
