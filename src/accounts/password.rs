//! Password hashing with argon2id, off the async threads and bounded in concurrency.
//!
//! Parameters follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). Hashing runs on a
//! few dedicated threads (like `spawn_blocking`, but with a queue of their own), at a lower CPU
//! priority: a login storm then queues instead of taking the cores from the pages. A fixed dummy
//! hash lets an unknown email cost exactly what a known one does.

use std::sync::{
    Arc, Mutex,
    atomic::{AtomicU64, Ordering},
    mpsc,
};

use anyhow::Context;
use argon2::{
    Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::phc::PasswordHash,
};
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// Hashes and verifies passwords; cheap to clone. Its threads end when the last clone is dropped.
#[derive(Clone)]
pub struct Hasher {
    jobs: mpsc::Sender<Job>,
    dummy_hash: Arc<str>,
    /// Password checks that ran argon2 so far (every check should, whatever the account).
    verifications: Arc<AtomicU64>,
}

/// Makes the calling thread yield the CPU to the web threads when both want it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread, with no memory passed.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}

fn start_threads(count: usize) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    for n in 0..count.max(1) {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new().name(format!("password-hash-{n}")).spawn(move || {
            lower_priority();
            loop {
                let job = match rx.lock() {
                    Ok(rx) => rx.recv(),
                    Err(_) => return,
                };
                match job {
                    Ok(job) => job(),
                    Err(_) => return,
                }
            }
        });
        if let Err(err) = spawned {
            tracing::error!(%err, "could not start a password-hashing thread");
        }
    }
    tx
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let hash = argon2().hash_password(password).map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

/// Checks `password` against a PHC hash; counts in `runs` each check that ran argon2.
fn verify_blocking(password: &[u8], hash: &str, runs: &AtomicU64) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => {
            let matches = argon2().verify_password(password, &parsed).is_ok();
            runs.fetch_add(1, Ordering::Relaxed);
            matches
        }
        Err(_) => false,
    }
}

/// Whether `hash` is a real password hash (a PHC string) rather than a placeholder no password
/// matches.
pub fn is_password_hash(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
}

impl Hasher {
    /// Starts the hashing threads and prepares the dummy hash (one hashing, at start-up).
    pub async fn new(concurrency: usize) -> anyhow::Result<Self> {
        let mut hasher = Self {
            jobs: start_threads(concurrency),
            dummy_hash: Arc::from(""),
            verifications: Arc::new(AtomicU64::new(0)),
        };
        hasher.dummy_hash =
            hasher.run(|| hash_blocking(b"a password nobody has: coffee rounds")).await??.into();
        Ok(hasher)
    }

    /// Runs `work` on a hashing thread and waits for it without blocking the async thread.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
        let (tx, rx) = oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = tx.send(work());
            }))
            .map_err(|_| anyhow::anyhow!("the password-hashing threads have stopped"))?;
        rx.await.context("a password-hashing thread stopped mid-job")
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let password = password.as_bytes().to_vec();
        self.run(move || hash_blocking(&password)).await?
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no account or
    /// its hash is a placeholder that no password matches (an invited account), so every case
    /// takes the same time; the dummy case always answers `false`.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let real = hash.filter(|h| PasswordHash::new(h).is_ok());
        let known = real.is_some();
        let hash = real.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.as_bytes().to_vec();
        let runs = self.verifications.clone();
        let matches = self.run(move || verify_blocking(&password, &hash, &runs)).await?;
        Ok(known && matches)
    }

    /// How many password checks have run argon2: with it a test can see that no answer skipped
    /// the work, without timing anything.
    pub fn verifications(&self) -> u64 {
        self.verifications.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_and_verify() {
        let hasher = Hasher::new(1).await.unwrap();
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(hasher.verify("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("wrong horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify("a password nobody has: coffee rounds", None).await.unwrap());
    }

    #[tokio::test]
    async fn a_placeholder_hash_costs_a_full_check_and_never_matches() {
        let hasher = Hasher::new(1).await.unwrap();
        let before = hasher.verifications();
        assert!(!hasher.verify("!invited", Some("!invited")).await.unwrap());
        assert!(!hasher.verify("", Some("")).await.unwrap());
        assert_eq!(hasher.verifications(), before + 2);
    }
}
