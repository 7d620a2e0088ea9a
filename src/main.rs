use std::process::ExitCode;

use clap::{Parser, Subcommand};
use coffee_rounds::cli;

/// Coffee Rounds: monthly random-coffee pairings across departments, professions and career stages.
///
/// Settings come from environment variables (see README.md); with none set, `serve` runs on
/// 127.0.0.1:3000 with a SQLite file and writes email as .eml files.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web application (and the mail sender), applying migrations first.
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// The monthly round.
    #[command(subcommand)]
    Round(RoundCommand),
    /// Outgoing email.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Who may use the coordinator dashboard.
    #[command(subcommand)]
    Coordinator(CoordinatorCommand),
    /// Close the accounts of people who left (a list from HR), or open one again.
    #[command(subcommand)]
    Leavers(LeaversCommand),
    /// Match participants from CSV files offline and print the groups as CSV.
    Plan(coffee_rounds::plan::PlanArgs),
    /// Write a synthetic hospital roster (and optional history) as CSV.
    GenRoster(coffee_rounds::plan::GenRosterArgs),
}

#[derive(Debug, Subcommand)]
enum RoundCommand {
    /// Pair everyone taking part and queue the introductions (once per month and kind).
    Run {
        /// The round's month, YYYY-MM (default: the next round's month).
        #[arg(long)]
        month: Option<String>,
        /// The mid-month round, for those who chose twice a month, instead of the monthly one.
        #[arg(long)]
        mid_month: bool,
        /// Show the groups without writing anything or sending email.
        #[arg(long)]
        dry_run: bool,
    },
    /// Queue a round's "did you meet?" emails (once per round).
    CheckIn {
        /// The round's month, YYYY-MM (default: this month).
        #[arg(long)]
        month: Option<String>,
        /// The mid-month round's check-in instead of the monthly round's.
        #[arg(long)]
        mid_month: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CoordinatorCommand {
    /// Give a confirmed account the coordinator role.
    Add { email: String },
    /// Take the coordinator role away from an account.
    Remove { email: String },
    /// List the coordinators.
    List,
}

#[derive(Debug, Subcommand)]
enum LeaversCommand {
    /// Close the accounts of the addresses in a CSV file's email column: no login, no email,
    /// opted out, sessions ended. Refuses a file with bad rows unless --valid-rows.
    Deactivate {
        /// The CSV file (a header line with an `email` column; other columns are ignored).
        file: std::path::PathBuf,
        /// Show what would be closed, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Close the accounts of the good rows even when some rows have errors.
        #[arg(long)]
        valid_rows: bool,
    },
    /// Open a closed account again (it stays opted out until its owner rejoins).
    Reactivate { email: String },
}

#[derive(Debug, Subcommand)]
enum MailCommand {
    /// Send every queued message that is due, then exit.
    SendPending,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = match cli.command {
        Command::Plan(args) => return coffee_rounds::plan::run_plan(args),
        Command::GenRoster(args) => return coffee_rounds::plan::run_gen_roster(args),
        other => other,
    };
    if let Err(err) = cli::init_logging() {
        eprintln!("error: {err:#}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match command {
            Command::Serve => cli::serve().await,
            Command::Migrate => cli::migrate().await,
            Command::Mail(MailCommand::SendPending) => cli::send_pending().await,
            Command::Round(RoundCommand::Run { month, mid_month, dry_run }) => {
                cli::round_run(month.as_deref(), kind(mid_month), dry_run).await
            }
            Command::Round(RoundCommand::CheckIn { month, mid_month }) => {
                cli::round_check_in(month.as_deref(), kind(mid_month)).await
            }
            Command::Coordinator(CoordinatorCommand::Add { email }) => {
                cli::coordinator_set(&email, true).await
            }
            Command::Coordinator(CoordinatorCommand::Remove { email }) => {
                cli::coordinator_set(&email, false).await
            }
            Command::Coordinator(CoordinatorCommand::List) => cli::coordinator_list().await,
            Command::Leavers(LeaversCommand::Deactivate { file, dry_run, valid_rows }) => {
                cli::leavers_deactivate(&file, dry_run, valid_rows).await
            }
            Command::Leavers(LeaversCommand::Reactivate { email }) => cli::leavers_reactivate(&email).await,
            Command::Plan(_) | Command::GenRoster(_) => unreachable!("handled above"),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn kind(mid_month: bool) -> coffee_rounds::domain::RoundKind {
    if mid_month {
        coffee_rounds::domain::RoundKind::MidMonth
    } else {
        coffee_rounds::domain::RoundKind::Main
    }
}
