use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Coffee Rounds: monthly random-coffee pairings across departments, roles and career stages.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Match participants from CSV files offline and print the groups as CSV.
    Plan(coffee_rounds::plan::PlanArgs),
    /// Write a synthetic hospital roster (and optional history) as CSV.
    GenRoster(coffee_rounds::plan::GenRosterArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Plan(args) => coffee_rounds::plan::run_plan(args),
        Command::GenRoster(args) => coffee_rounds::plan::run_gen_roster(args),
    }
}
