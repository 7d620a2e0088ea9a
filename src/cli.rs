//! What the command-line subcommands do, apart from argument parsing (in `main.rs`).

use anyhow::Context;

use crate::{app, config::Config, store::Store};

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}

/// `coffee-rounds serve`.
pub async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let database = crate::config::redact_url(&config.database_url);
    let base_url = config.base_url.clone();
    let application = app::Application::build(config).await?;
    eprintln!("Coffee Rounds is running at {base_url}");
    eprintln!("  database: {database}");
    eprintln!("  email:    {}", application.mail_description());
    eprintln!("Press Ctrl-C to stop.");
    application.run_until(app::shutdown_signal()).await
}

/// `coffee-rounds migrate`.
pub async fn migrate() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    store.close().await;
    eprintln!("Migrations applied to {}", crate::config::redact_url(&config.database_url));
    Ok(())
}

/// `coffee-rounds mail send-pending`: sends every message that is due, then exits.
pub async fn send_pending() -> anyhow::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::from_env()?;
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let sender = app::mail_sender(&config, store.clone(), Default::default()).await?;
    let done = sender.send_due().await.context("sending the outbox")?;
    let counts = store.outbox_counts().await?;
    store.close().await;
    eprintln!(
        "sent {}, will retry {}, failed {} (outbox now: {} pending, {} sent, {} failed)",
        done.sent, done.retrying, done.failed, counts.pending, counts.sent, counts.failed
    );
    Ok(())
}
