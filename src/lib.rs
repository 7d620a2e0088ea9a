//! Coffee Rounds: a monthly "random coffee" program for hospital staff.
//!
//! The library owns everything; `main.rs` only parses the command line. Data flows one way:
//! `web` uses `accounts`, `store` and `mail`; `store` is the only module with SQL.

pub mod accounts;
pub mod app;
pub mod cli;
pub mod config;
pub mod coordinator;
pub mod domain;
pub mod forms;
pub mod mail;
pub mod matching;
pub mod plan;
pub mod roster;
pub mod rounds;
pub mod settings;
pub mod store;
pub mod web;
