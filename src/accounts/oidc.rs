//! Signing in through the hospital's identity provider with OpenID Connect: the authorization
//! code flow with PKCE (S256), `state` and `nonce`, discovery from the issuer URL, and the ID
//! token's signature, issuer, audience, expiry and nonce checked by the `openidconnect` crate
//! against the provider's published keys. What comes out is a verified [`Identity`]; what it
//! does to accounts is `accounts::sign_in`'s business.
//!
//! The provider's documents are fetched with the app's own reqwest client (rustls, the system's
//! trusted certificates, no redirects followed, answers of at most 1 MiB, 10-second deadlines)
//! and kept for ten minutes; a token signed with a key the kept set does not have makes the app
//! fetch the keys again once, so the provider can rotate them. No refresh token is asked for or
//! kept: a session started here lasts `OIDC_SESSION_HOURS` and then its owner signs in again.

use std::{
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use openidconnect::{
    AccessTokenHash, AdditionalClaims, AsyncHttpClient, AuthenticationFlow, AuthorizationCode, ClientId,
    ClientSecret, CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse, UserInfoClaims,
    core::{
        CoreAuthDisplay, CoreAuthPrompt, CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey,
        CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
        CoreRevocableToken, CoreRevocationErrorResponse, CoreTokenIntrospectionResponse, CoreTokenType,
    },
};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;

use crate::{config::OidcSettings, domain::Email};

/// The path the provider sends people back to, after `BASE_URL`.
pub const CALLBACK_PATH: &str = "/login/oidc/callback";
/// How long a started sign-in may take, from the button to the way back.
pub const FLOW_TTL_SECS: i64 = 600;
/// How long the provider's metadata and keys are kept before they are fetched again.
const METADATA_TTL: Duration = Duration::from_secs(600);
/// The largest answer read from the provider.
const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// Every claim the ID token or the userinfo answer carries besides the standard ones (a
/// `groups` or `roles` claim, Microsoft Entra's `xms_edov`).
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type IdFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
type Tokens = StandardTokenResponse<IdFields, CoreTokenType>;
/// A client built from the provider's discovery document.
type Discovered = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// A sign-in under way: what the browser's session keeps between the button and the way back.
/// Each is used once.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Flow {
    pub state: String,
    nonce: String,
    verifier: String,
    /// Where to go after signing in (checked to be a local path before it is followed).
    pub next: String,
    pub started_at: i64,
}

impl Flow {
    pub fn is_fresh(&self, now: i64) -> bool {
        now - self.started_at <= FLOW_TTL_SECS && self.started_at <= now + 60
    }
}

/// What the provider sent back to the callback address.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    pub iss: Option<String>,
}

/// A person the provider vouched for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub issuer: String,
    pub subject: String,
    /// The address the provider verified.
    pub email: Email,
    /// As the provider gives it, if it does.
    pub name: Option<String>,
    /// Whether the coordinator claim was there; `None` when none is configured.
    pub coordinator: Option<bool>,
}

/// Why a sign-in through the provider did not give an identity. Each is shown as a page of its
/// own; none creates or changes an account.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The way back names no sign-in this browser started, or one already used or too old: a
    /// replayed or forged `state`.
    #[error("unknown, used or expired state")]
    UnknownState,
    /// The person cancelled or refused, or the provider refused them (`access_denied`).
    #[error("access denied by the provider")]
    Denied,
    /// The provider answered with another error.
    #[error("the provider answered {code}: {description}")]
    Refused { code: String, description: String },
    /// The code was refused at the token endpoint: expired or already used (`invalid_grant`).
    #[error("the authorization code was refused: {0}")]
    CodeRejected(String),
    /// The ID token failed a check (signature, issuer, audience, expiry, nonce, access token hash).
    #[error("the ID token failed its checks: {0}")]
    InvalidToken(String),
    /// The provider could not be reached or gave an answer that is not OpenID Connect.
    #[error("the provider is unreachable: {0}")]
    Unreachable(String),
    /// No email address came with the sign-in.
    #[error("no email address in the claims")]
    NoEmail,
    /// The provider does not vouch for the email address.
    #[error("the email address is not verified")]
    UnverifiedEmail(Email),
}

/// The app's HTTP client for the provider.
#[derive(Clone)]
struct Http(reqwest::Client);

#[derive(Debug, thiserror::Error)]
enum HttpError {
    #[error(transparent)]
    Reqwest(#[from] reqwest::Error),
    #[error(transparent)]
    Http(#[from] openidconnect::http::Error),
    #[error("the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
}

impl<'c> AsyncHttpClient<'c> for Http {
    type Error = HttpError;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send + Sync + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let mut response = self.0.execute(reqwest::Request::try_from(request)?).await?;
            let mut answer = openidconnect::http::Response::builder().status(response.status());
            for (name, value) in response.headers() {
                answer = answer.header(name, value);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(HttpError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(answer.body(body)?)
        })
    }
}

/// The configured provider. Cheap to share (behind an `Arc`).
pub struct Provider {
    settings: OidcSettings,
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    http: Http,
    /// The client from the last discovery, and when it was made.
    discovered: Mutex<Option<(Instant, Arc<Discovered>)>>,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Provider {
    /// The provider of `settings`, sending people back to `base_url` + [`CALLBACK_PATH`]. Nothing
    /// is fetched yet: the app starts (and password login works) while the provider is down.
    pub fn new(settings: &OidcSettings, base_url: &str) -> anyhow::Result<Self> {
        // reqwest's rustls takes the process's provider; the app installs ring at start.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            // A redirect from the token endpoint could carry the code or the secret elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| anyhow::anyhow!("building the identity provider's HTTP client: {e}"))?;
        Ok(Self {
            settings: settings.clone(),
            issuer: IssuerUrl::new(settings.issuer_url.clone())
                .map_err(|e| anyhow::anyhow!("OIDC_ISSUER_URL is not a URL: {e}"))?,
            redirect: RedirectUrl::new(format!("{base_url}{CALLBACK_PATH}"))
                .map_err(|e| anyhow::anyhow!("BASE_URL does not make a redirect URI: {e}"))?,
            http: Http(http),
            discovered: Mutex::new(None),
        })
    }

    /// The words on the sign-in button.
    pub fn button_label(&self) -> &str {
        &self.settings.button_label
    }

    /// How long a session started here lasts.
    pub fn session_lifetime(&self) -> Duration {
        self.settings.session_lifetime
    }

    /// The redirect URI to register at the provider.
    pub fn redirect_uri(&self) -> &str {
        self.redirect.as_str()
    }

    /// The client of a discovery at most ten minutes old, or a fresh one (`refresh` forces it).
    /// When the provider cannot be reached, the last one found serves on.
    async fn client(&self, refresh: bool) -> Result<Arc<Discovered>, ProviderError> {
        let mut kept = self.discovered.lock().await;
        if let Some((at, client)) = kept.as_ref()
            && !refresh
            && at.elapsed() < METADATA_TTL
        {
            return Ok(client.clone());
        }
        match CoreProviderMetadata::discover_async(self.issuer.clone(), &self.http).await {
            Ok(metadata) => {
                let client = Arc::new(
                    Discovered::from_provider_metadata(
                        metadata,
                        ClientId::new(self.settings.client_id.clone()),
                        Some(ClientSecret::new(self.settings.client_secret.expose().to_owned())),
                    )
                    .set_redirect_uri(self.redirect.clone()),
                );
                *kept = Some((Instant::now(), client.clone()));
                Ok(client)
            }
            Err(err) => {
                let cause = format!("discovery at {}: {}", self.issuer.as_str(), chain(&err));
                match kept.as_ref() {
                    Some((_, client)) => {
                        tracing::warn!(%cause, "using the identity provider's metadata found earlier");
                        Ok(client.clone())
                    }
                    None => Err(ProviderError::Unreachable(cause)),
                }
            }
        }
    }

    /// Starts a sign-in: the address to send the browser to, and what its session must keep.
    pub async fn start(&self, next: &str, now: i64) -> Result<(String, Flow), ProviderError> {
        let client = self.client(false).await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.settings.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
            started_at: now,
        };
        Ok((url.to_string(), flow))
    }

    /// Finishes the sign-in `flow` (found in the session by the callback's `state`, which the
    /// caller has checked and removed) with what the provider sent back.
    pub async fn finish(&self, flow: Flow, callback: &Callback) -> Result<Identity, ProviderError> {
        if let Some(iss) = &callback.iss
            && iss != self.issuer.as_str()
        {
            return Err(ProviderError::Refused {
                code: "wrong_issuer".into(),
                description: format!("the answer came from {iss}, not {}", self.issuer.as_str()),
            });
        }
        match (&callback.error, &callback.code) {
            (Some(code), _) if code == "access_denied" => return Err(ProviderError::Denied),
            (Some(code), _) => {
                return Err(ProviderError::Refused {
                    code: code.clone(),
                    description: callback.error_description.clone().unwrap_or_default(),
                });
            }
            (None, None) => {
                return Err(ProviderError::Refused {
                    code: "no_code".into(),
                    description: "the answer carried neither a code nor an error".into(),
                });
            }
            (None, Some(_)) => {}
        }
        let code = callback.code.clone().unwrap_or_default();
        let client = self.client(false).await?;
        let tokens = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|e| ProviderError::Unreachable(format!("the provider names no token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request_async(&self.http)
            .await
            .map_err(|err| match err {
                RequestTokenError::ServerResponse(answer) if answer.error().as_ref() == "invalid_grant" => {
                    ProviderError::CodeRejected(answer.error_description().cloned().unwrap_or_default())
                }
                RequestTokenError::ServerResponse(answer) => ProviderError::Refused {
                    code: answer.error().as_ref().to_owned(),
                    description: answer.error_description().cloned().unwrap_or_default(),
                },
                other => ProviderError::Unreachable(format!("token endpoint: {}", chain(&other))),
            })?;
        let nonce = Nonce::new(flow.nonce);
        let (client, claims) = match self.verified_claims(&client, &tokens, &nonce) {
            // Keys may have rotated since the last discovery: fetch them again, once.
            Err(ProviderError::InvalidToken(why)) if why.contains("No matching key") => {
                let client = self.client(true).await?;
                let claims = self.verified_claims(&client, &tokens, &nonce)?;
                (client, claims)
            }
            other => (client.clone(), other?),
        };
        self.identity(&client, &tokens, claims).await
    }

    /// The ID token's claims, once its signature, issuer, audience, expiry, nonce and access
    /// token hash are checked.
    fn verified_claims(
        &self,
        client: &Discovered,
        tokens: &Tokens,
        nonce: &Nonce,
    ) -> Result<openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>, ProviderError> {
        let invalid = |why: String| ProviderError::InvalidToken(why);
        let id_token = tokens.id_token().ok_or_else(|| invalid("the answer has no ID token".into()))?;
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, nonce).map_err(|e| invalid(chain(&e)))?;
        if let Some(expected) = claims.access_token_hash() {
            let alg = id_token.signing_alg().map_err(|e| invalid(e.to_string()))?;
            let key = id_token.signing_key(&verifier).map_err(|e| invalid(e.to_string()))?;
            let actual = AccessTokenHash::from_token(tokens.access_token(), alg, key)
                .map_err(|e| invalid(e.to_string()))?;
            if actual != *expected {
                return Err(invalid("the access token does not match the ID token's at_hash".into()));
            }
        }
        Ok(claims.clone())
    }

    /// The person in `claims`, completed from the userinfo endpoint when the ID token lacks the
    /// email address, the name or the coordinator claim (a provider may put them there only).
    async fn identity(
        &self,
        client: &Discovered,
        tokens: &Tokens,
        claims: openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>,
    ) -> Result<Identity, ProviderError> {
        let coordinator_claim = self.settings.coordinator_claim.as_ref();
        let mut found = Claims::from_id_token(&claims);
        let incomplete = found.email.is_none()
            || found.name.is_none()
            || coordinator_claim.is_some_and(|(claim, _)| !found.other.contains_key(claim));
        if incomplete
            && let Ok(request) =
                client.user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
        {
            let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = request
                .request_async(&self.http)
                .await
                .map_err(|e| ProviderError::Unreachable(format!("userinfo endpoint: {}", chain(&e))))?;
            found.fill_from(Claims::from_userinfo(&userinfo));
        }
        let raw_email = found.email.ok_or(ProviderError::NoEmail)?;
        let email = Email::parse(&raw_email).map_err(|_| ProviderError::NoEmail)?;
        // Microsoft Entra ID never sends email_verified for work accounts; its optional claim
        // xms_edov says the tenant owns the address's domain. It counts only in its absence.
        let verified = match found.email_verified {
            Some(verified) => verified,
            None => found.other.get("xms_edov").is_some_and(is_true),
        };
        if !verified {
            return Err(ProviderError::UnverifiedEmail(email));
        }
        let coordinator = coordinator_claim
            .map(|(claim, wanted)| found.other.get(claim).is_some_and(|v| has_value(v, wanted)));
        Ok(Identity {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email,
            name: found.name,
            coordinator,
        })
    }
}

/// The claims this app reads, from the ID token or the userinfo answer.
#[derive(Default)]
struct Claims {
    email: Option<String>,
    email_verified: Option<bool>,
    name: Option<String>,
    other: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    fn from_id_token(c: &openidconnect::IdTokenClaims<OtherClaims, CoreGenderClaim>) -> Self {
        let given = c.given_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        let family = c.family_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        Self {
            email: c.email().map(|e| e.as_str().to_owned()),
            email_verified: c.email_verified(),
            name: c
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned())
                .or_else(|| join(given, family)),
            other: c.additional_claims().claims.clone(),
        }
    }

    fn from_userinfo(c: &UserInfoClaims<OtherClaims, CoreGenderClaim>) -> Self {
        let given = c.given_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        let family = c.family_name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        Self {
            email: c.email().map(|e| e.as_str().to_owned()),
            email_verified: c.email_verified(),
            name: c
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned())
                .or_else(|| join(given, family)),
            other: c.additional_claims().claims.clone(),
        }
    }

    /// Takes what `other` has and this lacks; the email address and whether it is verified go
    /// together.
    fn fill_from(&mut self, other: Self) {
        if self.email.is_none() {
            self.email = other.email;
            self.email_verified = other.email_verified;
        }
        if self.name.is_none() {
            self.name = other.name;
        }
        for (key, value) in other.other {
            self.other.entry(key).or_insert(value);
        }
    }
}

fn join(given: Option<String>, family: Option<String>) -> Option<String> {
    match (given, family) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (one, other) => one.or(other),
    }
}

fn is_true(value: &serde_json::Value) -> bool {
    value.as_bool() == Some(true) || value.as_str() == Some("true")
}

/// Whether a claim is `wanted` or, as `groups` and `roles` claims are, a list holding it.
fn has_value(value: &serde_json::Value, wanted: &str) -> bool {
    match value {
        serde_json::Value::String(s) => s == wanted,
        serde_json::Value::Array(items) => items.iter().any(|item| item.as_str() == Some(wanted)),
        // A number or a boolean, as its JSON text (`true`, `42`).
        other => serde_json::to_string(other).is_ok_and(|text| text == wanted),
    }
}

/// An error with its causes, for the log and the page's detail.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_group_or_role_claim_matches_a_value_or_a_list_holding_it() {
        assert!(has_value(&json!(["staff", "coffee-coordinators"]), "coffee-coordinators"));
        assert!(has_value(&json!("Coordinator"), "Coordinator"));
        assert!(has_value(&json!(true), "true"));
        assert!(!has_value(&json!(["staff"]), "coffee-coordinators"));
        assert!(!has_value(&json!("coffee-coordinators-old"), "coffee-coordinators"));
        assert!(!has_value(&json!(["/coffee-coordinators"]), "coffee-coordinators"));
    }

    #[test]
    fn userinfo_fills_only_what_the_id_token_lacks() {
        let mut found = Claims { name: Some("Ana Lima".into()), ..Claims::default() };
        found.other.insert("groups".into(), json!(["a"]));
        let mut userinfo = Claims {
            email: Some("ana@hospital.test".into()),
            email_verified: Some(true),
            name: Some("Someone Else".into()),
            ..Claims::default()
        };
        userinfo.other.insert("groups".into(), json!(["b"]));
        userinfo.other.insert("roles".into(), json!(["c"]));
        found.fill_from(userinfo);
        assert_eq!(found.email.as_deref(), Some("ana@hospital.test"));
        assert_eq!(found.email_verified, Some(true));
        assert_eq!(found.name.as_deref(), Some("Ana Lima"));
        assert_eq!(found.other["groups"], json!(["a"]));
        assert_eq!(found.other["roles"], json!(["c"]));
    }

    #[test]
    fn a_flow_lasts_ten_minutes() {
        let flow = Flow {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            next: String::new(),
            started_at: 1_000,
        };
        assert!(flow.is_fresh(1_000 + FLOW_TTL_SECS));
        assert!(!flow.is_fresh(1_001 + FLOW_TTL_SECS));
        assert!(!flow.is_fresh(900));
    }
}
