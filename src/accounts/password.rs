//! Password hashing with argon2id, off the async threads and bounded in concurrency.
//!
//! Parameters follow OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane). Hashing runs in
//! `spawn_blocking`, and a semaphore caps how many hashes run at once so that a login storm
//! queues instead of taking every core from the pages. A fixed dummy hash lets an unknown email
//! cost exactly what a known one does.

use std::sync::Arc;

use anyhow::Context;
use argon2::{
    Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::phc::PasswordHash,
};
use tokio::sync::Semaphore;

/// Hashes and verifies passwords; cheap to clone.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    dummy_hash: Arc<str>,
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &[u8]) -> anyhow::Result<String> {
    let hash = argon2().hash_password(password).map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    Ok(hash.to_string())
}

fn verify_blocking(password: &[u8], hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => argon2().verify_password(password, &parsed).is_ok(),
        Err(_) => false,
    }
}

impl Hasher {
    /// Prepares the dummy hash (one hashing, at start-up) and the concurrency limit.
    pub async fn new(concurrency: usize) -> anyhow::Result<Self> {
        let dummy_hash =
            tokio::task::spawn_blocking(|| hash_blocking(b"a password nobody has: coffee rounds"))
                .await
                .context("hashing thread")??;
        Ok(Self { permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash: dummy_hash.into() })
    }

    /// Hashes a new password.
    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let _permit = self.permits.acquire().await.context("hasher closed")?;
        let password = password.as_bytes().to_vec();
        tokio::task::spawn_blocking(move || hash_blocking(&password)).await.context("hashing thread")?
    }

    /// Checks `password` against `hash`, or against the dummy hash when there is no account, so
    /// both cases take the same time; the dummy case always answers `false`.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let _permit = self.permits.acquire().await.context("hasher closed")?;
        let known = hash.is_some();
        let hash = hash.map_or_else(|| self.dummy_hash.to_string(), str::to_owned);
        let password = password.as_bytes().to_vec();
        let matches = tokio::task::spawn_blocking(move || verify_blocking(&password, &hash))
            .await
            .context("hashing thread")?;
        Ok(known && matches)
    }

    /// Spends the time of one hashing without a result, where a path must cost what another does.
    pub async fn waste(&self, password: &str) -> anyhow::Result<()> {
        self.verify(password, None).await.map(|_| ())
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
}
