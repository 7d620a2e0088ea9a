//! The offline `plan` command and the synthetic roster generator (CSV at the edge of the matcher).

use std::process::ExitCode;

/// Arguments of `coffee-rounds plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {}

/// Arguments of `coffee-rounds gen-roster`.
#[derive(Debug, clap::Args)]
pub struct GenRosterArgs {}

pub fn run_plan(_args: PlanArgs) -> ExitCode {
    ExitCode::FAILURE
}

pub fn run_gen_roster(_args: GenRosterArgs) -> ExitCode {
    ExitCode::FAILURE
}
