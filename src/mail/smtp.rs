//! SMTP connections that Coffee Rounds opens and pools itself, for two things lettre's pooled
//! transport does not do: it leaves Nagle's algorithm on (so the end of every message waits about
//! 40 ms for a delayed ACK), and its async client times out only the connect, so a stalled server
//! could hold a send past its claim. Here the socket has `TCP_NODELAY`, connecting and sending each
//! have a deadline, and a connection that failed or timed out is closed, never reused.
//!
//! Serves `smtp://` addresses (STARTTLS required, opportunistic or none, optional AUTH);
//! `smtps://` stays on lettre's transport.
//!
//! The conversation (MAIL, RCPT, DATA) is driven here rather than by lettre's `send`, for two
//! reasons: a refusal is known to answer RCPT TO (a 5xx there is the recipient's address refused
//! for good, a hard bounce, not a problem with the message or with us); and with a server that
//! offers PIPELINING (RFC 2920) the three commands go in one write, so a message costs two round
//! trips instead of four.

use std::time::{Duration, Instant};

use lettre::{
    Message,
    address::Envelope,
    transport::smtp::{
        authentication::{Credentials, Mechanism},
        client::{AsyncSmtpConnection, TlsParameters},
        commands::{Data, Ehlo, Mail, Rcpt},
        extension::{ClientId, Extension, MailBodyParameter, MailParameter},
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
    idle: Mutex<Vec<(Connection, Instant)>>,
}

/// An open SMTP session, and whether its server takes pipelined commands.
struct Connection {
    conn: AsyncSmtpConnection,
    pipelining: bool,
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
        let pipelining = conn.pipelining;
        match tokio::time::timeout(
            self.timeout,
            transfer(&mut conn.conn, pipelining, message.envelope(), &bytes),
        )
        .await
        {
            Ok(Ok(())) => {
                let mut idle = self.idle.lock().await;
                if idle.len() < self.max_idle {
                    idle.push((conn, Instant::now()));
                }
                Ok(())
            }
            // The connection is closed, as lettre's `send` does after any error.
            Ok(Err((step, err))) => {
                conn.conn.abort().await;
                Err(classify_at(err, Some(step)))
            }
            // Dropping the connection closes it mid-conversation: the server discards the message
            // unless it had it whole, and then its reply is what never came.
            Err(_) => {
                Err(SendError::Temporary(format!("no answer from the SMTP server within {:?}", self.timeout)))
            }
        }
    }

    async fn checkout(&self) -> Result<Connection, SendError> {
        loop {
            let parked = self.idle.lock().await.pop();
            let Some((mut conn, since)) = parked else { break };
            if since.elapsed() < IDLE_CHECK {
                return Ok(conn);
            }
            if let Ok(true) = tokio::time::timeout(self.timeout, conn.conn.test_connected()).await {
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

    async fn connect(&self) -> Result<Connection, SendError> {
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
        // lettre keeps only the extensions it uses from EHLO; ask again (before AUTH, which a new
        // EHLO could undo) to learn whether the server takes pipelined commands.
        let hello = conn.command(Ehlo::new(self.hello.clone())).await.map_err(classify)?;
        let pipelining = hello.message().any(|line| {
            line.split_whitespace().next().is_some_and(|keyword| keyword.eq_ignore_ascii_case("PIPELINING"))
        });
        if let Some((user, password)) = &target.credentials {
            let credentials = Credentials::new(user.clone(), password.clone());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials).await.map_err(classify)?;
        }
        Ok(Connection { conn, pipelining })
    }
}

/// The command a failed step of the conversation sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Mail,
    Rcpt,
    Data,
}

/// Commands written as one, for pipelining.
struct Group(String);

impl std::fmt::Display for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// MAIL FROM, RCPT TO for each recipient, DATA and the message, as lettre's `send` does (with
/// its SMTPUTF8 and 8BITMIME rules), telling which step a refusal answered. With `pipelining`,
/// the commands before the message go in one write and their replies are read in order.
async fn transfer(
    conn: &mut AsyncSmtpConnection,
    pipelining: bool,
    envelope: &Envelope,
    bytes: &[u8],
) -> Result<(), (Step, lettre::transport::smtp::Error)> {
    let mut options = Vec::new();
    let info = conn.server_info();
    let non_ascii_addresses = envelope
        .from()
        .into_iter()
        .chain(envelope.to())
        .any(|address| !AsRef::<str>::as_ref(address).is_ascii());
    if non_ascii_addresses && info.supports_feature(Extension::SmtpUtfEight) {
        options.push(MailParameter::SmtpUtfEight);
    }
    if !bytes.is_ascii() && info.supports_feature(Extension::EightBitMime) {
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    let mail = Mail::new(envelope.from().cloned(), options);
    if pipelining {
        let mut group = mail.to_string();
        for to in envelope.to() {
            group.push_str(&Rcpt::new(to.clone(), Vec::new()).to_string());
        }
        group.push_str(&Data.to_string());
        // On any refusal the caller closes the connection, so replies left unread do no harm.
        conn.command(Group(group)).await.map_err(|e| (Step::Mail, e))?;
        for _ in envelope.to() {
            conn.read_response().await.map_err(|e| (Step::Rcpt, e))?;
        }
        conn.read_response().await.map_err(|e| (Step::Data, e))?;
    } else {
        conn.command(mail).await.map_err(|e| (Step::Mail, e))?;
        for to in envelope.to() {
            conn.command(Rcpt::new(to.clone(), Vec::new())).await.map_err(|e| (Step::Rcpt, e))?;
        }
        conn.command(Data).await.map_err(|e| (Step::Data, e))?;
    }
    // lettre's `message` escapes the content one byte at a time into a new buffer; the same
    // escaping done here by whole lines costs a tenth of that per message.
    match std::str::from_utf8(bytes) {
        Ok(text) => conn.command(Group(dot_stuffed(text))).await,
        Err(_) => conn.message(bytes).await,
    }
    .map_err(|e| (Step::Data, e))?;
    Ok(())
}

/// The message as DATA sends it (RFC 5321 4.5.2): a line starting with "." gets one more, and
/// "CRLF . CRLF" ends it, exactly as lettre's `message` writes it.
fn dot_stuffed(message: &str) -> String {
    let mut out = String::with_capacity(message.len() + message.len() / 64 + 5);
    if message.starts_with('.') {
        out.push('.');
    }
    let mut rest = message;
    while let Some(at) = rest.find("\r\n.") {
        out.push_str(&rest[..at + 3]);
        out.push('.');
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out.push_str("\r\n.\r\n");
    out
}

/// An error of lettre's own transport, where the step is unknown.
pub fn classify(err: lettre::transport::smtp::Error) -> SendError {
    classify_at(err, None)
}

/// What a failed send means for the message, the address and the sender.
pub fn classify_at(err: lettre::transport::smtp::Error, step: Option<Step>) -> SendError {
    let text = err.to_string();
    match err.status() {
        // lettre writes "permanent error (550): …"; keep the server's own answer.
        Some(code) => {
            let reply = text.split_once("): ").map_or("", |(_, reply)| reply);
            classify_reply(u16::from(code), reply, step)
        }
        None if err.is_permanent() => SendError::Permanent(text),
        None => SendError::Temporary(text),
    }
}

/// The enhanced status code (RFC 3463) a reply's text starts with, such as `(5, 1, 1)` for
/// "5.1.1 mailbox unavailable".
fn enhanced_status(reply: &str) -> Option<(u16, u16, u16)> {
    let word = reply.split_whitespace().next()?;
    let mut parts = word.split('.').map(|part| part.parse::<u16>().ok());
    let status = (parts.next()??, parts.next()??, parts.next()??);
    (parts.next().is_none() && matches!(status.0, 2 | 4 | 5)).then_some(status)
}

/// Sorts a negative reply:
///
/// - 421, 451 and 452 are the answers relays give a sender that goes too fast ("try later"):
///   the whole sender slows down. A 4.2.x status names the recipient's mailbox instead (452 4.2.2,
///   mailbox full), which is that message's own temporary failure.
/// - A 5xx to RCPT TO refuses the address for good: a hard bounce. Not when its status blames the
///   mail system, the protocol or policy (5.3.x, 5.5.x, 5.7.x, such as "relaying denied"), which
///   are about us rather than the address. Where the step is unknown (lettre's transport), only a
///   5.1.x status (bad mailbox or domain) counts as a bounce.
/// - Any other 5xx is a permanent failure of this message; any other 4xx a temporary one.
pub fn classify_reply(code: u16, reply: &str, step: Option<Step>) -> SendError {
    let status = enhanced_status(reply);
    let text = format!("{code} {reply}");
    match code {
        421 | 451 | 452 if status.is_none_or(|(_, subject, _)| subject != 2) => SendError::Throttled(text),
        500..=599 => {
            let bounce = match step {
                Some(Step::Rcpt) => status.is_none_or(|(_, subject, _)| !matches!(subject, 3 | 5 | 7)),
                None => status.is_some_and(|(_, subject, _)| subject == 1),
                Some(_) => false,
            };
            if bounce { SendError::Bounced(text) } else { SendError::Permanent(text) }
        }
        _ => SendError::Temporary(text),
    }
}

#[cfg(test)]
mod tests {
    use super::{SendError, Step, Target, Tls, classify_reply, dot_stuffed};

    #[test]
    fn lines_starting_with_a_dot_get_another_and_the_end_is_marked() {
        assert_eq!(dot_stuffed("Subject: x\r\n\r\nHello"), "Subject: x\r\n\r\nHello\r\n.\r\n");
        assert_eq!(dot_stuffed(".a\r\n.b\r\n..c\r\nd.e\r\n."), "..a\r\n..b\r\n...c\r\nd.e\r\n..\r\n.\r\n");
        assert_eq!(dot_stuffed("a\n.b"), "a\n.b\r\n.\r\n", "only after CRLF, as lettre does");
    }

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

    #[test]
    fn replies_are_sorted_into_bounces_throttles_and_failures() {
        let kind = |code, text: &str, step| match classify_reply(code, text, step) {
            SendError::Bounced(_) => "bounced",
            SendError::Permanent(_) => "permanent",
            SendError::Throttled(_) => "throttled",
            SendError::Temporary(_) => "temporary",
        };
        let rcpt = Some(Step::Rcpt);
        assert_eq!(kind(550, "5.1.1 mailbox unavailable", rcpt), "bounced");
        assert_eq!(kind(550, "No such user here", rcpt), "bounced");
        assert_eq!(kind(550, "5.7.1 Relaying denied", rcpt), "permanent");
        assert_eq!(kind(554, "5.6.0 message refused", Some(Step::Data)), "permanent");
        assert_eq!(kind(550, "5.1.1 user unknown", Some(Step::Mail)), "permanent");
        assert_eq!(kind(550, "5.1.1 user unknown", None), "bounced");
        assert_eq!(kind(550, "message refused", None), "permanent");
        for code in [421, 451, 452] {
            assert_eq!(kind(code, "4.7.0 too many messages, slow down", rcpt), "throttled");
            assert_eq!(kind(code, "try again later", None), "throttled");
        }
        assert_eq!(kind(452, "4.2.2 mailbox full", rcpt), "temporary");
        assert_eq!(kind(450, "4.2.1 mailbox busy", rcpt), "temporary");
        let kept = classify_reply(550, "5.1.1 mailbox unavailable", rcpt);
        assert!(
            matches!(&kept, SendError::Bounced(text) if text == "550 5.1.1 mailbox unavailable"),
            "{kept:?}"
        );
    }
}
