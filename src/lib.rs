//! Coffee Rounds: a monthly "random coffee" program for hospital staff.
//!
//! The library owns everything; `main.rs` only parses the command line.

pub mod matching;
pub mod plan;
