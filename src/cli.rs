//! What the command-line subcommands do, apart from argument parsing (in `main.rs`).

use anyhow::Context;

use crate::{app, config::Config, coordinator::Answer, domain::RoundKind, rounds::RoundKey, store::Store};

/// Logs to stderr, at `info` unless `RUST_LOG` says otherwise. `LOG_FORMAT=text` (the default)
/// writes lines for people, coloured only when stderr is a terminal and `NO_COLOR` is unset, so
/// `docker logs` and files get no escape codes; `LOG_FORMAT=json` writes one JSON object a line,
/// the event's fields at its top level, for log collectors.
pub fn init_logging() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=info"));
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let format = std::env::var("LOG_FORMAT").unwrap_or_default();
    // An error here only means a subscriber is already set (tests); the first one stays.
    let _ = match format.trim() {
        "" | "text" => {
            let colour =
                std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            logs.with_ansi(colour).try_init()
        }
        "json" => logs.json().flatten_event(true).with_span_list(false).try_init(),
        other => anyhow::bail!("LOG_FORMAT must be text or json, not {other:?}"),
    };
    Ok(())
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
    let purged = crate::mail::purge_old_bodies(&store, config.mail_body_retention_days).await?;
    let counts = store.outbox_counts().await?;
    store.close().await;
    if purged > 0 {
        eprintln!(
            "cleared the bodies of {purged} emails older than {} days",
            config.mail_body_retention_days
        );
    }
    eprintln!(
        "sent {}, will retry {}, slowed down {}, bounced {}, failed {} (outbox now: {} pending, {} sent, {} failed)",
        done.sent,
        done.retrying,
        done.throttled,
        done.bounced,
        done.failed,
        counts.pending,
        counts.sent,
        counts.failed
    );
    Ok(())
}

/// A progress bar on stderr for the round job's long steps; indicatif hides it when stderr is not
/// a terminal.
struct Bar(indicatif::ProgressBar);

impl crate::rounds::Progress for Bar {
    fn step(&self, name: &str, total: u64) {
        self.0.reset();
        self.0.set_length(total);
        self.0.set_message(name.to_owned());
    }

    fn advance(&self, units: u64) {
        self.0.inc(units);
    }

    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

async fn round_service() -> anyhow::Result<(Config, crate::rounds::Rounds)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = Config::from_env()?;
    // Before the database is touched: the round's emails carry links.
    config.require_link_address()?;
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    let rounds = app::rounds(&config, store, Default::default()).await?;
    Ok((config, rounds))
}

/// `--month`, or the next `kind` round's month by the configured schedule.
fn month_or_next(
    schedule: &crate::domain::schedule::Schedule,
    month: Option<&str>,
    kind: RoundKind,
) -> anyhow::Result<crate::matching::Month> {
    match month {
        Some(m) => crate::matching::Month::parse(m)
            .map_err(|_| anyhow::anyhow!("--month must be YYYY-MM, not {m:?}")),
        None => Ok(schedule.next_of(jiff::Timestamp::now(), kind)),
    }
}

/// `coffee-rounds round run [--month YYYY-MM] [--mid-month] [--dry-run]`.
pub async fn round_run(month: Option<&str>, kind: RoundKind, dry_run: bool) -> anyhow::Result<()> {
    use crate::rounds::Outcome;
    let (_, rounds) = round_service().await?;
    let month = month_or_next(&rounds.settings().await?.schedule, month, kind)?;
    let round = RoundKey { month, kind };
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template("{msg:32} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let outcome = rounds.run_round(round, dry_run, None, &Bar(bar)).await?;
    match outcome {
        Outcome::AlreadyRan(round) => println!("The {round} round has already run; nothing changed."),
        Outcome::Skipped(round, available) => println!(
            "The {round} round was skipped and recorded as such: {available} of the two people it needs could take part."
        ),
        Outcome::Created(s) => println!(
            "Round {}: {} participants, {} groups, {} sat out, {} emails queued, {} auto-paused; \
             {} of {} groups cross departments; total score {}{}.",
            RoundKey { month: s.month, kind: s.kind },
            s.participants,
            s.groups,
            s.sit_outs,
            s.emails,
            s.auto_paused,
            s.cross_department_groups,
            s.groups,
            s.total_score,
            s.proven_gap.map_or_else(String::new, |gap| format!(
                " (the exact search stopped at its bounded graph: at most {gap} below the best possible)"
            ))
        ),
        Outcome::DryRun(preview) => {
            println!("Dry run for {}: nothing was written.", round);
            for group in &preview.plan.groups {
                let names: Vec<String> = group
                    .members
                    .iter()
                    .map(|id| match preview.person(id) {
                        Some(p) => format!(
                            "{} ({}, {}, {})",
                            p.name,
                            p.role,
                            crate::domain::stage_name(p.level),
                            p.department
                        ),
                        None => id.as_str().to_owned(),
                    })
                    .collect();
                println!("  {:>4}  {}", group.score, names.join(" + "));
            }
            for sit_out in &preview.plan.sit_outs {
                let name = preview
                    .person(&sit_out.id)
                    .map_or(sit_out.id.as_str().to_owned(), |p| p.name.to_string());
                println!("  sits out: {name}: {}", sit_out.reason.describe());
            }
            println!("{} groups, {} sit-outs.", preview.plan.groups.len(), preview.plan.sit_outs.len());
        }
    }
    Ok(())
}

/// `coffee-rounds round check-in [--month YYYY-MM] [--mid-month]`.
pub async fn round_check_in(month: Option<&str>, kind: RoundKind) -> anyhow::Result<()> {
    let (_, rounds) = round_service().await?;
    let schedule = rounds.settings().await?.schedule;
    let month = match month {
        Some(_) => month_or_next(&schedule, month, kind)?,
        None => schedule.month_of(jiff::Timestamp::now()),
    };
    let round = RoundKey { month, kind };
    let sent = rounds.send_checkins(round).await?;
    println!("{sent} check-in emails queued for the {round} round.");
    Ok(())
}

async fn migrated_store() -> anyhow::Result<Store> {
    let config = Config::from_env()?;
    let store = Store::connect(&config.database_url).await?;
    store.migrate().await?;
    Ok(store)
}

/// `coffee-rounds coordinator add|remove EMAIL`: refuses unknown and unconfirmed accounts.
pub async fn coordinator_set(email: &str, grant: bool) -> anyhow::Result<()> {
    let store = migrated_store().await?;
    let actor = crate::store::coordinators::Actor::command_line();
    let outcome = crate::coordinator::change_role(&store, email, grant, &actor).await;
    store.close().await;
    match outcome.context("changing the coordinator role")? {
        Answer::Done(message) => {
            println!("{message}");
            Ok(())
        }
        Answer::Refused(refusal) => anyhow::bail!(refusal),
    }
}

/// `coffee-rounds coordinator list`.
pub async fn coordinator_list() -> anyhow::Result<()> {
    let store = migrated_store().await?;
    let coordinators = store.coordinators().await;
    store.close().await;
    let coordinators = coordinators.context("listing coordinators")?;
    if coordinators.is_empty() {
        println!("No coordinators yet. Add one with: coffee-rounds coordinator add EMAIL");
    }
    for c in coordinators {
        println!("{}\t{}", c.email, c.name);
    }
    Ok(())
}

/// `coffee-rounds leavers deactivate FILE [--dry-run] [--valid-rows]`: closes the accounts of the
/// file's addresses. Every bad row is listed by line and column; a file with any is refused
/// unless `--valid-rows`. The audit log names each account closed, as done from the command line.
pub async fn leavers_deactivate(
    file: &std::path::Path,
    dry_run: bool,
    valid_rows: bool,
) -> anyhow::Result<()> {
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("{} is not UTF-8 text: save it as \"CSV UTF-8\"", file.display()))?;
    let parsed = crate::accounts::leavers::parse(&text);
    for error in &parsed.errors {
        match error.column {
            0 => eprintln!("line {}: {}", error.line, error.message),
            column => eprintln!("line {}, column {column} ({}): {}", error.line, error.header, error.message),
        }
    }
    if !parsed.errors.is_empty() && !valid_rows {
        anyhow::bail!(
            "{} rows have errors; nothing was changed. Correct them, or pass --valid-rows to close the {} good rows' accounts",
            parsed.errors.len(),
            parsed.rows.len()
        );
    }
    let store = migrated_store().await?;
    if dry_run {
        let mut closing = Vec::new();
        let mut missing = Vec::new();
        for row in &parsed.rows {
            match store.user_by_email(&row.email).await? {
                Some(user) if !store.is_deactivated(user.id).await? => closing.push(row.email.to_string()),
                Some(_) => {}
                None => missing.push(row.email.to_string()),
            }
        }
        store.close().await;
        println!("Dry run: nothing was changed. Would close {} accounts.", closing.len());
        for email in closing {
            println!("  would close\t{email}");
        }
        for email in missing {
            println!("  no account\t{email}");
        }
        return Ok(());
    }
    let actor = crate::store::coordinators::Actor::command_line();
    let done = crate::accounts::leavers::deactivate(&store, &parsed.rows, parsed.errors.len(), &actor).await;
    store.close().await;
    let done = done.context("closing the accounts")?;
    for email in &done.closed {
        println!("closed\t{email}");
    }
    for email in &done.already {
        println!("already closed\t{email}");
    }
    for email in &done.unknown {
        println!("no account\t{email}");
    }
    println!(
        "{} accounts closed, {} were closed already, {} addresses have no account{}.",
        done.closed.len(),
        done.already.len(),
        done.unknown.len(),
        if parsed.errors.is_empty() {
            String::new()
        } else {
            format!(", {} bad rows left out", parsed.errors.len())
        }
    );
    Ok(())
}

/// `coffee-rounds leavers reactivate EMAIL`.
pub async fn leavers_reactivate(email: &str) -> anyhow::Result<()> {
    let email = crate::domain::Email::parse(email).map_err(|why| anyhow::anyhow!("{email:?}: {why}"))?;
    let store = migrated_store().await?;
    let done = store.reactivate(&email, &crate::store::coordinators::Actor::command_line()).await;
    store.close().await;
    if done.context("opening the account")? {
        println!("{email} is open again; it stays opted out of the rounds until its owner rejoins.");
        Ok(())
    } else {
        anyhow::bail!("{email} has no closed account")
    }
}
