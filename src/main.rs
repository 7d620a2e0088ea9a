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
    /// Outgoing email.
    #[command(subcommand)]
    Mail(MailCommand),
    /// Match participants from CSV files offline and print the groups as CSV.
    Plan(coffee_rounds::plan::PlanArgs),
    /// Write a synthetic hospital roster (and optional history) as CSV.
    GenRoster(coffee_rounds::plan::GenRosterArgs),
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
    cli::init_logging();
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
