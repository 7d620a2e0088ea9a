//! Start-up: connect and migrate the database, load the secret key, build the mail sender and
//! the router, bind the listener. `Application::build` binds before serving, so tests pass port 0
//! and read the port back.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use anyhow::Context;
use axum::serve::ListenerExt;
use base64::{Engine, engine::general_purpose::STANDARD};
use rand::Rng;
use sha2::{Digest, Sha256};
use tokio::{
    net::TcpListener,
    sync::{Notify, watch},
};

use crate::{
    accounts::{Accounts, Hasher},
    config::Config,
    mail::{
        Envelope, Transport,
        sender::{Sender, Tuning},
    },
    rounds::{Rounds, links::LinkSigner, schedule},
    settings::SettingsSource,
    store::{Store, sessions::DbSessionStore},
    web::{self, AppState, security::Limiters},
};

/// A built application: the listener is bound, nothing is served yet.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    sender: Sender,
    /// Whether `run_until` runs the sender's background loop (`Config::run_mail_sender`).
    run_mail_sender: bool,
    store: Store,
    limiters: Limiters,
    hasher: Hasher,
    /// The round job and its timetable, when `serve` runs the schedule.
    schedule: Option<Rounds>,
    /// `MAIL_BODY_RETENTION_DAYS`, for housekeeping.
    mail_body_retention_days: u32,
    port: u16,
}

/// The mail transport and sender settings for `config`.
pub async fn mail_sender(config: &Config, store: Store, wake: Arc<Notify>) -> anyhow::Result<Sender> {
    let tuning = Tuning::from_env()?;
    let transport = Transport::new(&config.mail, tuning.concurrency as u32, tuning.smtp_timeout()).await?;
    Ok(Sender::new(store, transport, Envelope::new(&config.mail_from)?, tuning, config.mail_limits, wake))
}

/// The application's keys: `SECRET_KEY` if given, else the one generated on first start and
/// kept in the database. Returns the session-signing key and the key of emailed links.
async fn keys(config: &Config, store: &Store) -> anyhow::Result<(tower_sessions::cookie::Key, Vec<u8>)> {
    let encoded = match &config.secret_key {
        Some(secret) => secret.expose().to_owned(),
        None => {
            store
                .secret_or_insert("session_key", || {
                    let bytes: [u8; 64] = rand::rng().random();
                    STANDARD.encode(bytes)
                })
                .await?
        }
    };
    let bytes = STANDARD.decode(encoded.trim()).context("SECRET_KEY must be base64")?;
    let session = tower_sessions::cookie::Key::try_from(bytes.as_slice())
        .context("SECRET_KEY must hold at least 64 bytes")?;
    // A separate key for links, derived so that one secret serves both purposes.
    let links = Sha256::digest([b"coffee-rounds links:".as_slice(), &bytes].concat()).to_vec();
    Ok((session, links))
}

/// The round service for `config` (refused when its emailed links would lead nowhere).
pub async fn rounds(config: &Config, store: Store, wake: Arc<Notify>) -> anyhow::Result<Rounds> {
    config.require_link_address()?;
    let (_, link_key) = keys(config, &store).await?;
    Ok(Rounds {
        store,
        links: LinkSigner::new(&link_key),
        base_url: config.base_url.clone(),
        settings: SettingsSource::new(config),
        mail_wake: wake,
    })
}

impl Application {
    /// Connects, migrates and binds `config.bind`.
    pub async fn build(mut config: Config) -> anyhow::Result<Self> {
        config.require_link_address()?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let listener =
            TcpListener::bind(config.bind).await.with_context(|| format!("binding {}", config.bind))?;
        let local = listener.local_addr()?;
        // With port 0 (tests), links in emails must name the port actually bound.
        if config.bind.port() == 0 && config.base_url == format!("http://{}", config.bind) {
            config.base_url = format!("http://{local}");
        }
        let config = Arc::new(config);
        let store = Store::connect(&config.database_url).await?;
        store.migrate().await?;
        let (key, link_key) = keys(&config, &store).await?;
        let wake = Arc::new(Notify::new());
        let settings = SettingsSource::new(&config);
        let rounds = Rounds {
            store: store.clone(),
            links: LinkSigner::new(&link_key),
            base_url: config.base_url.clone(),
            settings: settings.clone(),
            mail_wake: wake.clone(),
        };
        let sender = mail_sender(&config, store.clone(), wake.clone()).await?;
        let hasher = Hasher::new(config.hash_concurrency).await?;
        // Built from the final BASE_URL: the redirect URI is fixed by it.
        let provider = match &config.oidc {
            Some(settings) => {
                let provider = crate::accounts::oidc::Provider::new(settings, &config.base_url)?;
                tracing::info!(issuer = %settings.issuer_url, redirect_uri = provider.redirect_uri(), "sign-in through the identity provider is on");
                Some(Arc::new(provider))
            }
            None => None,
        };
        let accounts = Accounts {
            store: store.clone(),
            settings,
            hasher: hasher.clone(),
            config: config.clone(),
            mail_wake: wake,
            provider,
        };
        let limiters = Limiters::new(&config.rate_limits, config.trusted_proxies);
        let state = AppState {
            store: store.clone(),
            accounts,
            rounds: rounds.clone(),
            config: config.clone(),
            limiters: limiters.clone(),
            cookie_key: key,
        };
        let router = web::router(state);
        let port = local.port();
        tracing::info!(address = %local, mail = sender.transport.describe(), "Coffee Rounds is ready");
        let schedule = config.run_schedule.then(|| rounds.clone());
        let mail_body_retention_days = config.mail_body_retention_days;
        Ok(Self {
            listener,
            router,
            sender,
            run_mail_sender: config.run_mail_sender,
            store,
            limiters,
            hasher,
            schedule,
            mail_body_retention_days,
            port,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The application's database handle (tests use it to simulate an outage).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The app's password hasher (tests count its checks).
    pub fn hasher(&self) -> Hasher {
        self.hasher.clone()
    }

    /// Wakes the app's mail sender (for work queued outside the web app, e.g. by a round run).
    pub fn mail_wake(&self) -> Arc<Notify> {
        self.sender.wake.clone()
    }

    /// The app's mail sender (tests call its `send_due` and read its in-memory transport).
    pub fn sender(&self) -> Sender {
        self.sender.clone()
    }

    pub fn mail_description(&self) -> String {
        self.sender.transport.describe()
    }

    /// Serves until `shutdown` resolves, then lets in-flight requests finish, stops the mail
    /// sender after its current sends, and closes the database.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        // Without the loop, wake-ups only leave a permit on the `Notify`: nothing waits on it.
        let sender = self.run_mail_sender.then(|| tokio::spawn(self.sender.run(stop_rx.clone())));
        let retention = self.mail_body_retention_days;
        let housekeeping =
            tokio::spawn(housekeeping(self.store.clone(), self.limiters, retention, stop_rx.clone()));
        let scheduler = self.schedule.map(|rounds| tokio::spawn(schedule::run(rounds, stop_rx)));
        // Without TCP_NODELAY a response written in two parts waits on delayed ACKs (~40 ms).
        let listener = self.listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await
            .context("serving HTTP")?;
        let _ = stop_tx.send(true);
        if let Some(sender) = sender {
            let _ = sender.await;
        }
        let _ = housekeeping.await;
        if let Some(scheduler) = scheduler {
            let _ = scheduler.await;
        }
        self.store.close().await;
        Ok(())
    }
}

/// Removes expired sessions, old rate-limit counters and the bodies of old email now and then.
async fn housekeeping(
    store: Store,
    limiters: Limiters,
    retention_days: u32,
    mut stop: watch::Receiver<bool>,
) {
    let sessions = DbSessionStore::new(store.clone());
    loop {
        if let Err(err) = sessions.delete_expired().await {
            tracing::warn!(%err, "could not delete expired sessions");
        }
        if let Err(err) = crate::mail::purge_old_bodies(&store, retention_days).await {
            tracing::warn!(%err, "could not clear the bodies of old email");
        }
        limiters.prune();
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutting down: finishing requests in flight");
}
