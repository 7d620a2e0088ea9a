//! Settings, read once from environment variables, each with a default that works with no setup.
//!
//! The table in README.md lists every variable; keep the two in step.

use std::{fmt, net::SocketAddr, path::PathBuf, time::Duration};

use anyhow::{Context, bail};

/// Everything the application can be configured with.
#[derive(Clone)]
pub struct Config {
    /// Address the HTTP server listens on (`BIND`, default `127.0.0.1:3000`).
    pub bind: SocketAddr,
    /// Public address used in emailed links (`BASE_URL`, default `http://` + `BIND`).
    pub base_url: String,
    /// Whether `BASE_URL` was given rather than derived from `BIND`.
    pub base_url_set: bool,
    /// Database (`DATABASE_URL`, default a SQLite file `coffee-rounds.db` in the working directory).
    pub database_url: String,
    /// How outgoing email leaves (`SMTP_URL` set: SMTP; otherwise `.eml` files in `MAIL_DIR`).
    pub mail: MailSettings,
    /// Sender of every email (`MAIL_FROM`).
    pub mail_from: String,
    /// What the mail relay accepts (`MAIL_MAX_PER_MINUTE`, `MAIL_MAX_PER_DAY`; unset: no limit).
    pub mail_limits: MailLimits,
    /// Days a sent or failed email keeps its subject, bodies and links (`MAIL_BODY_RETENTION_DAYS`,
    /// default 90); after that only what the figures count is kept.
    pub mail_body_retention_days: u32,
    /// Lower-case email domains allowed to sign up (`ALLOWED_EMAIL_DOMAINS`, empty: any).
    pub allowed_email_domains: Vec<String>,
    /// IANA-style time zone name the monthly schedule uses (`TIMEZONE`, default `UTC`).
    pub timezone: String,
    /// When rounds and check-ins go out (`TIMEZONE`, `ROUND_DAY`, `ROUND_TIME`, `CHECKIN_DAY`).
    pub schedule: crate::domain::schedule::Schedule,
    /// Whether `serve` runs the schedule itself (`ROUND_SCHEDULE=off` leaves rounds to the CLI).
    pub run_schedule: bool,
    /// Whether `serve` runs the outbox sender, which sends mail as it falls due (always, unless
    /// code turns it off: the test harness does, and sends with `Sender::send_due` when a test
    /// wants mail to go, so nothing is sent behind the test's back).
    pub run_mail_sender: bool,
    /// Secret key given by the environment (`SECRET_KEY`, base64 of at least 64 bytes); when unset
    /// a key is generated on first start and kept in the database.
    pub secret_key: Option<Secret>,
    /// Limits on the login, signup and reset forms.
    pub rate_limits: RateLimits,
    /// How many argon2 hashes may run at once (`HASH_CONCURRENCY`, default: half the cores, at least 1).
    /// Keeping this below the core count keeps pages fast during a login storm.
    pub hash_concurrency: usize,
    /// How many reverse proxies of our own stand in front of the app (`TRUST_PROXY`: `1` or a
    /// number of hops; unset or `0`: none). The client address is then the `X-Forwarded-For`
    /// entry that many places from the right: the one our nearest proxy wrote, never one the
    /// client wrote itself.
    pub trusted_proxies: usize,
    /// How long emailed confirmation links stay valid.
    pub confirm_ttl: Duration,
    /// How long emailed password-reset links stay valid.
    pub reset_ttl: Duration,
    /// How long a request may take before it is answered 408 (30 s; tests shorten it).
    pub request_timeout: Duration,
    /// Sign-in through the hospital's identity provider (`OIDC_*`), when `OIDC_ISSUER_URL` is set.
    pub oidc: Option<OidcSettings>,
    /// Whether people may log in with a password (`PASSWORD_LOGIN`, default on). Off, only
    /// coordinators can, at `/login/coordinator` (the break-glass login).
    pub password_login: bool,
}

/// The identity provider the app signs people in through (OpenID Connect, authorization code
/// flow with PKCE). See "Sign in with your identity provider" in README.md.
#[derive(Clone)]
pub struct OidcSettings {
    /// The provider's issuer (`OIDC_ISSUER_URL`), without a trailing slash unless the provider's
    /// own issuer has one; its discovery document is at `/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// The app's client id at the provider (`OIDC_CLIENT_ID`).
    pub client_id: String,
    /// The app's client secret at the provider (`OIDC_CLIENT_SECRET`).
    pub client_secret: Secret,
    /// The sign-in button's words (`OIDC_BUTTON_LABEL`), e.g. "Sign in with St Mary's".
    pub button_label: String,
    /// Scopes asked for besides `openid` (`OIDC_SCOPES`, default `email profile`).
    pub scopes: Vec<String>,
    /// A claim and a value that make a person a coordinator (`OIDC_COORDINATOR_CLAIM`, e.g.
    /// `groups=coffee-coordinators` or `roles=Coordinator`).
    pub coordinator_claim: Option<(String, String)>,
    /// How long a session started through the provider lasts, counted from the sign-in and never
    /// extended (`OIDC_SESSION_HOURS`, default 12); then the person signs in again.
    pub session_lifetime: Duration,
}

impl fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("button_label", &self.button_label)
            .field("scopes", &self.scopes)
            .field("coordinator_claim", &self.coordinator_claim)
            .field("session_lifetime", &self.session_lifetime)
            .finish()
    }
}

/// Transport for outgoing email.
#[derive(Clone)]
pub enum MailSettings {
    /// Send through an SMTP server (`smtp://user:pass@host:587` uses STARTTLS, `smtps://` TLS,
    /// `smtp://host:port?tls=none` plain, for a local relay or test sink).
    Smtp(Secret),
    /// Write each message as an `.eml` file into this folder.
    Files(PathBuf),
    /// Keep each message in memory, where the process reads it back (`Transport::sent_in_memory`):
    /// for tests, which read what was sent without a mail server or a folder. No variable selects it.
    Memory,
}

/// The mail relay's limits, counted over rolling windows by every sender sharing the database.
/// Hosted relays typically accept about 30 messages a minute and 10,000 a day from one mailbox.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MailLimits {
    /// Messages handed to the relay in any 60 seconds (`MAIL_MAX_PER_MINUTE`).
    pub per_minute: Option<u32>,
    /// Messages handed to the relay in any 24 hours (`MAIL_MAX_PER_DAY`).
    pub per_day: Option<u32>,
}

impl MailLimits {
    pub fn is_unlimited(&self) -> bool {
        self.per_minute.is_none() && self.per_day.is_none()
    }
}

/// Request limits per client address and per account, as requests per minute with a burst.
#[derive(Clone, Debug)]
pub struct RateLimits {
    /// Login, signup and reset POSTs from one client address per minute (`RATE_LIMIT_PER_IP`, default 20).
    pub per_ip_per_minute: u32,
    /// Login and reset attempts for one account per minute (`RATE_LIMIT_PER_ACCOUNT`, default 5).
    pub per_account_per_minute: u32,
}

/// A string that never shows in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("base_url", &self.base_url)
            .field("database", &redact_url(&self.database_url))
            .field("mail", &self.mail)
            .field("mail_from", &self.mail_from)
            .field("mail_limits", &self.mail_limits)
            .field("mail_body_retention_days", &self.mail_body_retention_days)
            .field("allowed_email_domains", &self.allowed_email_domains)
            .field("timezone", &self.timezone)
            .field("rate_limits", &self.rate_limits)
            .field("hash_concurrency", &self.hash_concurrency)
            .field("oidc", &self.oidc)
            .field("password_login", &self.password_login)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MailSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Smtp(url) => write!(f, "Smtp({})", redact_url(url.expose())),
            Self::Files(dir) => write!(f, "Files({})", dir.display()),
            Self::Memory => write!(f, "Memory"),
        }
    }
}

/// `scheme://user:password@host/…` without the user and password.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}://…@{}", &url[..scheme_end], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://coffee-rounds.db?mode=rwc";
pub const DEFAULT_MAIL_DIR: &str = "mail-out";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> anyhow::Result<Self> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads settings through `lookup`, so tests can configure an app without touching the
    /// process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Self> {
        let bind: SocketAddr = lookup("BIND")
            .unwrap_or_else(|| "127.0.0.1:3000".into())
            .parse()
            .context("BIND must be an address such as 127.0.0.1:3000")?;
        let base_url_set = lookup("BASE_URL").is_some();
        let base_url =
            lookup("BASE_URL").unwrap_or_else(|| format!("http://{bind}")).trim_end_matches('/').to_owned();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            bail!("BASE_URL must start with http:// or https://");
        }
        let mail = match lookup("SMTP_URL") {
            Some(url) => MailSettings::Smtp(Secret(url)),
            None => MailSettings::Files(lookup("MAIL_DIR").unwrap_or_else(|| DEFAULT_MAIL_DIR.into()).into()),
        };
        let secret_key = lookup("SECRET_KEY").map(Secret);
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let oidc = parse_oidc(&lookup)?;
        let password_login = parse_switch(&lookup, "PASSWORD_LOGIN", true)?;
        if !password_login && oidc.is_none() {
            bail!(
                "PASSWORD_LOGIN=off needs an identity provider (OIDC_ISSUER_URL): otherwise nobody but \
                 coordinators could log in"
            );
        }
        Ok(Self {
            bind,
            base_url,
            base_url_set,
            database_url: lookup("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            mail,
            mail_from: lookup("MAIL_FROM")
                .unwrap_or_else(|| "Coffee Rounds <coffee-rounds@localhost>".into()),
            mail_limits: MailLimits {
                per_minute: parse_optional_number(&lookup, "MAIL_MAX_PER_MINUTE")?,
                per_day: parse_optional_number(&lookup, "MAIL_MAX_PER_DAY")?,
            },
            mail_body_retention_days: parse_number(&lookup, "MAIL_BODY_RETENTION_DAYS", 90)?,
            allowed_email_domains: lookup("ALLOWED_EMAIL_DOMAINS")
                .map(|v| parse_domains(&v))
                .unwrap_or_default(),
            schedule: crate::domain::schedule::Schedule::parse(
                &lookup("TIMEZONE").unwrap_or_else(|| "UTC".into()),
                &lookup("ROUND_DAY").unwrap_or_else(|| "first-monday".into()),
                &lookup("ROUND_TIME").unwrap_or_else(|| "09:00".into()),
                &lookup("CHECKIN_DAY").unwrap_or_else(|| "15".into()),
            )?
            .with_mid_day(&lookup("MID_ROUND_DAY").unwrap_or_else(|| "third-monday".into()))?,
            run_schedule: !lookup("ROUND_SCHEDULE")
                .is_some_and(|v| matches!(v.trim(), "off" | "0" | "false")),
            run_mail_sender: true,
            timezone: lookup("TIMEZONE").unwrap_or_else(|| "UTC".into()),
            secret_key,
            rate_limits: RateLimits {
                per_ip_per_minute: parse_number(&lookup, "RATE_LIMIT_PER_IP", 20)?,
                per_account_per_minute: parse_number(&lookup, "RATE_LIMIT_PER_ACCOUNT", 5)?,
            },
            hash_concurrency: parse_number(&lookup, "HASH_CONCURRENCY", (cores / 2).max(1) as u32)? as usize,
            trusted_proxies: parse_trusted_proxies(lookup("TRUST_PROXY"))?,
            confirm_ttl: Duration::from_secs(48 * 3600),
            reset_ttl: Duration::from_secs(3600),
            request_timeout: Duration::from_secs(30),
            oidc,
            password_login,
        })
    }

    /// Refuses settings whose emailed links would lead nowhere: with `BIND` on every interface
    /// (`0.0.0.0` or `::`, as in the container image) and no `BASE_URL`, every link would start
    /// `http://0.0.0.0:3000`. The commands that put links in email (`serve`, `round run`,
    /// `round check-in`) call this before they start; the others do not need `BASE_URL`.
    pub fn require_link_address(&self) -> anyhow::Result<()> {
        if !self.base_url_set && self.bind.ip().is_unspecified() {
            bail!(
                "BASE_URL must be set when BIND listens on every interface ({}): emailed links would \
                 otherwise point at {}, which no reader can open. Set BASE_URL to the address people \
                 use, e.g. BASE_URL=https://coffee.hospital.example",
                self.bind,
                self.base_url
            );
        }
        Ok(())
    }

    /// Whether cookies must carry the `Secure` flag.
    pub fn is_https(&self) -> bool {
        self.base_url.starts_with("https://")
    }
}

/// The `OIDC_*` settings, when `OIDC_ISSUER_URL` is set; the client id and secret are then required.
fn parse_oidc(lookup: &impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<OidcSettings>> {
    let Some(issuer_url) = lookup("OIDC_ISSUER_URL").map(|v| v.trim().to_owned()) else {
        for name in ["OIDC_CLIENT_ID", "OIDC_CLIENT_SECRET", "OIDC_COORDINATOR_CLAIM"] {
            if lookup(name).is_some() {
                bail!("{name} is set but OIDC_ISSUER_URL is not: set the provider's issuer URL too");
            }
        }
        return Ok(None);
    };
    let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"].iter().any(|prefix| {
        issuer_url.strip_prefix(prefix).is_some_and(|rest| rest.is_empty() || rest.starts_with([':', '/']))
    });
    if !issuer_url.starts_with("https://") && !loopback {
        bail!(
            "OIDC_ISSUER_URL must start with https:// (plain http only on this machine's loopback), not {issuer_url:?}"
        );
    }
    let required = |name: &str| {
        lookup(name).map(|v| v.trim().to_owned()).ok_or_else(|| {
            anyhow::anyhow!("{name} is required when OIDC_ISSUER_URL is set (see README, Sign in with your identity provider)")
        })
    };
    let client_id = required("OIDC_CLIENT_ID")?;
    let client_secret = Secret(required("OIDC_CLIENT_SECRET")?);
    let coordinator_claim = match lookup("OIDC_COORDINATOR_CLAIM") {
        None => None,
        Some(value) => match value.trim().split_once('=') {
            Some((claim, wanted)) if !claim.trim().is_empty() && !wanted.trim().is_empty() => {
                Some((claim.trim().to_owned(), wanted.trim().to_owned()))
            }
            _ => bail!(
                "OIDC_COORDINATOR_CLAIM must be CLAIM=VALUE, e.g. groups=coffee-coordinators, not {value:?}"
            ),
        },
    };
    let scopes = lookup("OIDC_SCOPES")
        .unwrap_or_else(|| "email profile".into())
        .split([' ', ','])
        .filter(|s| !s.is_empty() && *s != "openid")
        .map(str::to_owned)
        .collect();
    let hours = parse_number(lookup, "OIDC_SESSION_HOURS", 12)?;
    if hours > 24 * 14 {
        bail!("OIDC_SESSION_HOURS must be at most 336 (14 days, the longest any session lasts), not {hours}");
    }
    Ok(Some(OidcSettings {
        issuer_url,
        client_id,
        client_secret,
        button_label: lookup("OIDC_BUTTON_LABEL")
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "Sign in with your hospital account".into()),
        scopes,
        coordinator_claim,
        session_lifetime: Duration::from_secs(u64::from(hours) * 3600),
    }))
}

/// An on/off variable: `on`, `1`, `true`, `yes` or `off`, `0`, `false`, `no`.
fn parse_switch(lookup: &impl Fn(&str) -> Option<String>, name: &str, default: bool) -> anyhow::Result<bool> {
    match lookup(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if matches!(v.as_str(), "on" | "1" | "true" | "yes") => Ok(true),
        Some(v) if matches!(v.as_str(), "off" | "0" | "false" | "no") => Ok(false),
        Some(v) => bail!("{name} must be on or off, not {v:?}"),
    }
}

/// `"Example.org, hospital.test"` → `["example.org", "hospital.test"]`.
pub fn parse_domains(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|d| d.trim().trim_start_matches('@').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

/// `TRUST_PROXY`: off, on (one proxy) or a number of proxy hops.
fn parse_trusted_proxies(value: Option<String>) -> anyhow::Result<usize> {
    let Some(value) = value else { return Ok(0) };
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "0" | "off" | "false" | "no" => Ok(0),
        "true" | "yes" | "on" => Ok(1),
        hops => match hops.parse::<usize>() {
            Ok(n @ 1..=16) => Ok(n),
            _ => bail!(
                "TRUST_PROXY must be off, on, or the number of proxies in front of the app (1 to 16), not {value:?}"
            ),
        },
    }
}

fn parse_number(lookup: &impl Fn(&str) -> Option<String>, name: &str, default: u32) -> anyhow::Result<u32> {
    match lookup(name) {
        None => Ok(default),
        Some(v) => match v.trim().parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => bail!("{name} must be a positive whole number, not {v:?}"),
        },
    }
}

fn parse_optional_number(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
) -> anyhow::Result<Option<u32>> {
    lookup(name).map(|_| parse_number(lookup, name, 1)).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_need_no_environment() {
        let config = Config::from_lookup(|_| None).unwrap();
        assert_eq!(config.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(config.base_url, "http://127.0.0.1:3000");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert!(matches!(config.mail, MailSettings::Files(_)));
        assert!(!config.is_https());
        assert!(config.mail_limits.is_unlimited());
        assert_eq!(config.mail_body_retention_days, 90);
    }

    #[test]
    fn mail_limits_are_positive_numbers_when_set() {
        let config = Config::from_lookup(|name| match name {
            "MAIL_MAX_PER_MINUTE" => Some("30".into()),
            "MAIL_MAX_PER_DAY" => Some(" 10000 ".into()),
            "MAIL_BODY_RETENTION_DAYS" => Some("30".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(config.mail_limits, MailLimits { per_minute: Some(30), per_day: Some(10_000) });
        assert_eq!(config.mail_body_retention_days, 30);
        for (name, value) in
            [("MAIL_MAX_PER_MINUTE", "0"), ("MAIL_MAX_PER_DAY", "lots"), ("MAIL_BODY_RETENTION_DAYS", "0")]
        {
            assert!(
                Config::from_lookup(|n| (n == name).then(|| value.to_owned())).is_err(),
                "{name}={value}"
            );
        }
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let config = Config::from_lookup(|name| match name {
            "SMTP_URL" => Some("smtp://user:hunter2hunter2@mail.example.org:587".into()),
            "DATABASE_URL" => Some("postgres://app:s3cret@db/coffee".into()),
            "SECRET_KEY" => Some("very-secret-key".into()),
            _ => None,
        })
        .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(!shown.contains("very-secret-key"), "{shown}");
    }

    #[test]
    fn a_wildcard_bind_needs_a_base_url_for_links() {
        let config = |bind: &'static str, base: Option<&'static str>| {
            Config::from_lookup(move |name| match name {
                "BIND" => Some(bind.to_owned()),
                "BASE_URL" => base.map(str::to_owned),
                _ => None,
            })
            .unwrap()
        };
        for wildcard in ["0.0.0.0:3000", "[::]:8080"] {
            let refused = config(wildcard, None).require_link_address().unwrap_err().to_string();
            assert!(refused.starts_with("BASE_URL must be set"), "{refused}");
            assert!(refused.contains(wildcard), "{refused}");
            config(wildcard, Some("https://coffee.hospital.example/")).require_link_address().unwrap();
        }
        config("127.0.0.1:3000", None).require_link_address().unwrap();
        config("10.1.2.3:3000", None).require_link_address().unwrap();
    }

    fn with(pairs: &'static [(&'static str, &'static str)]) -> anyhow::Result<Config> {
        Config::from_lookup(|name| pairs.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()))
    }

    #[test]
    fn the_identity_provider_needs_its_client_and_keeps_its_secret_out_of_debug_output() {
        assert!(with(&[]).unwrap().oidc.is_none());
        let config = with(&[
            ("OIDC_ISSUER_URL", "https://login.example.org/tenant/v2.0"),
            ("OIDC_CLIENT_ID", "coffee"),
            ("OIDC_CLIENT_SECRET", "hunter2hunter2"),
            ("OIDC_BUTTON_LABEL", "Sign in with St Mary's"),
            ("OIDC_COORDINATOR_CLAIM", "roles = Coordinator"),
        ])
        .unwrap();
        let oidc = config.oidc.as_ref().unwrap();
        assert_eq!(oidc.coordinator_claim, Some(("roles".into(), "Coordinator".into())));
        assert_eq!(oidc.scopes, ["email", "profile"]);
        assert_eq!(oidc.session_lifetime, Duration::from_secs(12 * 3600));
        assert_eq!(oidc.button_label, "Sign in with St Mary's");
        assert!(config.password_login);
        let shown = format!("{config:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("coffee"), "{shown}");

        for refused in [
            &[("OIDC_ISSUER_URL", "https://login.example.org")][..],
            &[
                ("OIDC_ISSUER_URL", "http://login.example.org"),
                ("OIDC_CLIENT_ID", "c"),
                ("OIDC_CLIENT_SECRET", "s"),
            ],
            &[("OIDC_CLIENT_ID", "c")],
            &[("PASSWORD_LOGIN", "off")],
            &[("PASSWORD_LOGIN", "maybe")],
            &[
                ("OIDC_ISSUER_URL", "https://login.example.org"),
                ("OIDC_CLIENT_ID", "c"),
                ("OIDC_CLIENT_SECRET", "s"),
                ("OIDC_COORDINATOR_CLAIM", "groups"),
            ],
        ] {
            assert!(with(refused).is_err(), "{refused:?}");
        }
        let local = with(&[
            ("OIDC_ISSUER_URL", "http://127.0.0.1:4455"),
            ("OIDC_CLIENT_ID", "c"),
            ("OIDC_CLIENT_SECRET", "s"),
            ("PASSWORD_LOGIN", "off"),
        ])
        .unwrap();
        assert!(!local.password_login);
    }

    #[test]
    fn allowed_domains_are_trimmed_and_lower_cased() {
        assert_eq!(parse_domains(" Example.ORG, @hospital.test ,,"), ["example.org", "hospital.test"]);
    }
}
