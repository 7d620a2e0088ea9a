//! SMTP connections that Coffee Rounds opens and pools itself, for two things lettre's pooled
//! transport does not do: it leaves Nagle's algorithm on (so the end of every message waits about
//! 40 ms for a delayed ACK), and its async client times out only the connect, so a stalled server
//! could hold a send past its claim. Here the socket has `TCP_NODELAY`, connecting and sending each
//! have a deadline, and a connection that failed or timed out is closed, never reused.
//!
//! Serves `smtp://` addresses (STARTTLS required, opportunistic or none, optional AUTH);
//! `smtps://` stays on lettre's transport.

use std::time::{Duration, Instant};

use lettre::{
    Message,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, TlsParameters},
        extension::ClientId,
    },
};
use tokio::{net::TcpStream, sync::Mutex};

use super::SendError;

/// A pooled connection unused for longer than this is checked with NOOP before it is used.
const IDLE_CHECK: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tls {
    None,
    Opportunistic,
    Required,
}

/// Where and how to connect, from an `smtp://user:pass@host:port?tls=…` address.
#[derive(Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<(String, String)>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} ({:?})", self.host, self.port, self.tls)
    }
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = bytes
            .get(i + 1..i + 3)
            .filter(|_| bytes[i] == b'%')
            .and_then(|hex| std::str::from_utf8(hex).ok())
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Target {
    /// `None` for anything but `smtp://` (lettre's transport handles the rest).
    fn parse(url: &str) -> Option<Self> {
        let rest = url.strip_prefix("smtp://")?;
        let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
        let address = address.trim_end_matches('/');
        let (userinfo, hostport) = match address.rsplit_once('@') {
            Some((userinfo, hostport)) => (Some(userinfo), hostport),
            None => (None, address),
        };
        let tls = match query.split('&').find_map(|pair| pair.strip_prefix("tls=")) {
            Some("none") => Tls::None,
            Some("opportunistic") => Tls::Opportunistic,
            Some("required") | None => Tls::Required,
            Some(_) => return None,
        };
        let (host, port) = match hostport.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => (host, port.parse().ok()?),
            _ => (hostport, if tls == Tls::None { 25 } else { 587 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return None;
        }
        let credentials = userinfo.map(|userinfo| {
            let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (percent_decode(user), percent_decode(password))
        });
        Some(Self { host: host.to_owned(), port, tls, credentials })
    }
}

/// A pool of SMTP connections to one server.
pub struct Pool {
    target: Target,
    hello: ClientId,
    timeout: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl Pool {
    /// A pool for `url` keeping up to `max_idle` connections open, or `None` if `url` is not
    /// `smtp://`. A send takes at most three `timeout`s: two to find or open a working connection
    /// (with STARTTLS and AUTH), one for the message itself.
    pub fn new(url: &str, max_idle: usize, timeout: Duration) -> Option<Self> {
        Some(Self {
            target: Target::parse(url)?,
            hello: ClientId::default(),
            timeout,
            max_idle: max_idle.max(1),
            idle: Mutex::new(Vec::new()),
        })
    }

    /// Sends `message` over a pooled connection, or a new one.
    pub async fn send(&self, message: &Message) -> Result<(), SendError> {
        let bytes = message.formatted();
        // Stale pooled connections and a new one together get two deadlines, the send a third.
        let mut conn = match tokio::time::timeout(self.timeout * 2, self.checkout()).await {
            Ok(conn) => conn?,
            Err(_) => {
                return Err(SendError::Temporary(format!(
                    "no working connection to {:?} within {:?}",
                    self.target,
                    self.timeout * 2
                )));
            }
        };
        match tokio::time::timeout(self.timeout, conn.send(message.envelope(), &bytes)).await {
            Ok(Ok(_)) => {
                let mut idle = self.idle.lock().await;
                if idle.len() < self.max_idle {
                    idle.push((conn, Instant::now()));
                }
                Ok(())
            }
            // lettre has already closed the connection (`try_smtp!` aborts on any error).
            Ok(Err(err)) => Err(classify(err)),
            // Dropping the connection closes it mid-conversation: the server discards the message
            // unless it had it whole, and then its reply is what never came.
            Err(_) => {
                Err(SendError::Temporary(format!("no answer from the SMTP server within {:?}", self.timeout)))
            }
        }
    }

    async fn checkout(&self) -> Result<AsyncSmtpConnection, SendError> {
        loop {
            let parked = self.idle.lock().await.pop();
            let Some((mut conn, since)) = parked else { break };
            if since.elapsed() < IDLE_CHECK {
                return Ok(conn);
            }
            if let Ok(true) = tokio::time::timeout(self.timeout, conn.test_connected()).await {
                return Ok(conn);
            }
        }
        match tokio::time::timeout(self.timeout, self.connect()).await {
            Ok(result) => result,
            Err(_) => Err(SendError::Temporary(format!(
                "could not connect to {:?} within {:?}",
                self.target, self.timeout
            ))),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let target = &self.target;
        let tcp = TcpStream::connect((target.host.as_str(), target.port))
            .await
            .map_err(|e| SendError::Temporary(format!("connecting to {target:?}: {e}")))?;
        // Without it, the end of each message waits for the server's delayed ACK.
        let _ = tcp.set_nodelay(true);
        let mut conn = AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
            .await
            .map_err(classify)?;
        let upgrade = match target.tls {
            Tls::Required => true,
            Tls::Opportunistic => conn.can_starttls(),
            Tls::None => false,
        };
        if upgrade {
            let parameters = TlsParameters::new(target.host.clone()).map_err(classify)?;
            conn.starttls(parameters, &self.hello).await.map_err(classify)?;
        }
        if let Some((user, password)) = &target.credentials {
            let credentials = Credentials::new(user.clone(), password.clone());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await.map_err(classify)?;
        }
        Ok(conn)
    }
}

/// 5xx replies are permanent; everything else (4xx, I/O, TLS, protocol trouble) may pass.
pub fn classify(err: lettre::transport::smtp::Error) -> SendError {
    if err.is_permanent() {
        SendError::Permanent(err.to_string())
    } else {
        SendError::Temporary(err.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::{Target, Tls};

    #[test]
    fn smtp_addresses_are_read_like_lettre_reads_them() {
        let plain = Target::parse("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!(
            (plain.host.as_str(), plain.port, plain.tls, plain.credentials),
            ("127.0.0.1", 2525, Tls::None, None)
        );
        let submission = Target::parse("smtp://user%40x:p%3Ass@mail.example.org").unwrap();
        assert_eq!((submission.port, submission.tls), (587, Tls::Required));
        assert_eq!(submission.credentials, Some(("user@x".to_owned(), "p:ss".to_owned())));
        let opportunistic = Target::parse("smtp://h:25?tls=opportunistic").unwrap();
        assert_eq!((opportunistic.port, opportunistic.tls), (25, Tls::Opportunistic));
        assert!(Target::parse("smtps://mail.example.org").is_none());
        assert!(Target::parse("smtp://h?tls=sometimes").is_none());
    }
}
