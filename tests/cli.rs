//! The binary as a new user runs it: zero-configuration `serve`, `migrate`, graceful shutdown.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_coffee-rounds");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Runs `serve` in `dir` with only the port and `env` set, waits until `/healthz` answers 200,
/// stops it with SIGTERM and returns (whether it exited successfully, its stderr, the port).
fn serve_then_stop(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String, u16) {
    let port = free_port();
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND", format!("127.0.0.1:{port}"))
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/healthz");
    let deadline = Instant::now() + Duration::from_secs(30);
    // reqwest's TLS takes the process's crypto provider (the app's is ring), even for http://.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    loop {
        let up = runtime.block_on(async { reqwest::get(&url).await.map(|r| r.status().as_u16()).ok() });
        if up == Some(200) {
            break;
        }
        assert!(Instant::now() < deadline, "serve did not answer /healthz");
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "serve did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    (exit.success(), stderr, port)
}

/// Only the port is set (so tests can run side by side); everything else is the default.
#[test]
fn serve_starts_with_no_configuration_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (success, stderr, port) = serve_then_stop(dir.path(), &[]);
    assert!(success, "{stderr}");
    assert!(dir.path().join("coffee-rounds.db").exists(), "SQLite file created in the working directory");
    assert!(dir.path().join("mail-out").is_dir(), "mail folder created");
    assert!(stderr.contains(&format!("running at http://127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("mail-out"), "says where mail goes: {stderr}");
    // Not a terminal (as under `docker logs`): no colour codes.
    assert!(stderr.contains("Coffee Rounds is ready") && !stderr.contains('\u{1b}'), "{stderr:?}");
}

/// `LOG_FORMAT=json`: every log line is one JSON object, the event's fields at its top level.
#[test]
fn json_logs_are_one_object_a_line() {
    let dir = tempfile::tempdir().unwrap();
    let (success, stderr, _) = serve_then_stop(dir.path(), &[("LOG_FORMAT", "json")]);
    assert!(success, "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|line| line.starts_with('{'))
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let ready = events.iter().find(|e| e["message"] == "Coffee Rounds is ready").expect("the ready event");
    assert_eq!(ready["level"], "INFO");
    assert!(ready["address"].as_str().is_some_and(|a| a.starts_with("127.0.0.1:")), "{ready}");
    assert!(events.iter().any(|e| e["message"].as_str().is_some_and(|m| m.starts_with("shutting down"))));

    let out = Command::new(BIN).arg("migrate").env("LOG_FORMAT", "yaml").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("LOG_FORMAT must be text or json"));
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/m.db", dir.path().display());
    for _ in 0..2 {
        let out = Command::new(BIN).arg("migrate").env("DATABASE_URL", &url).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("Migrations applied"));
    }
}

/// In the container image `BIND` is `0.0.0.0:3000`: without `BASE_URL` every emailed link would
/// point at it, so the commands that email links refuse to start, saying which variable to set.
#[test]
fn a_wildcard_bind_without_base_url_is_refused_by_the_commands_that_email_links() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], base_url: Option<&str>| {
        let mut command = Command::new(BIN);
        command
            .args(args)
            .current_dir(dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("BIND", "0.0.0.0:0");
        if let Some(base_url) = base_url {
            command.env("BASE_URL", base_url);
        }
        command.output().unwrap()
    };
    for args in [&["serve"][..], &["round", "run", "--month", "2027-01"], &["round", "check-in"]] {
        let out = run(args, None);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started");
        assert!(
            stderr.contains("BASE_URL must be set when BIND listens on every interface (0.0.0.0:0)"),
            "{stderr}"
        );
    }
    assert!(!dir.path().join("coffee-rounds.db").exists(), "refused before touching the database");
    // Commands without links do not need it, and with BASE_URL the round runs.
    let migrate = run(&["migrate"], None);
    assert!(migrate.status.success(), "{}", String::from_utf8_lossy(&migrate.stderr));
    let round = run(&["round", "run", "--month", "2027-01"], Some("https://coffee.hospital.example"));
    assert!(round.status.success(), "{}", String::from_utf8_lossy(&round.stderr));
}

#[test]
fn a_bad_setting_is_a_clear_error() {
    let out = Command::new(BIN).arg("serve").env("BIND", "not an address").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("BIND must be an address"));
}
