//! Calls from Atelier to a store: OAuth grants and the GraphQL Admin API, all at
//! `SHOP_ORIGIN_TEMPLATE`, with a timeout on every call.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::ShopDomain;
use crate::config::{Secret, Settings};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store refused the request (4xx): a bad or used code, an invalid subject token…
    #[error("the store refused the request (HTTP {status})")]
    Rejected { status: u16, error: Option<String> },
    /// The store failed (5xx), could not be reached, or answered something unreadable.
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    #[error("the store did not answer in time")]
    Timeout,
}

impl StoreError {
    fn from_reqwest(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            StoreError::Timeout
        } else {
            // No URL in the message: it can carry a shop's admin path; the kind is enough.
            StoreError::Unavailable(if e.is_connect() {
                "connection failed".into()
            } else {
                "request failed".into()
            })
        }
    }
}

/// Tries of one GraphQL call, the first included.
pub const MAX_TRIES: u32 = 5;
/// Time one GraphQL call may spend waiting to be retried.
pub const RETRY_BUDGET: Duration = Duration::from_secs(10);

/// How one try of a store call ended, when it did not succeed.
enum CallError {
    /// Asked to wait this long (a `429`'s `Retry-After`, a `THROTTLED` query's restore time).
    Throttled(Duration),
    /// May work on a later try: 5xx, timeout, connection failure.
    Transient(StoreError),
    /// Will not work again as it is.
    Final(StoreError),
}

impl CallError {
    fn retry_after(&self, attempt: u32) -> Option<Duration> {
        match self {
            CallError::Throttled(d) => Some(*d),
            CallError::Transient(_) => {
                // 0.5 s, 1 s, 2 s, 4 s …, with up to a quarter more at random.
                let base = Duration::from_millis(500u64 << (attempt - 1).min(5));
                let jitter = rand::random::<u64>() % (base.as_millis() as u64 / 4 + 1);
                Some(base + Duration::from_millis(jitter))
            }
            CallError::Final(_) => None,
        }
    }

    fn into_store_error(self) -> StoreError {
        match self {
            CallError::Throttled(d) => StoreError::Unavailable(format!(
                "throttled by the store (retry after {} s)",
                d.as_secs_f64().ceil()
            )),
            CallError::Transient(e) | CallError::Final(e) => e,
        }
    }
}

/// How long until a throttled query's cost is available again, from the cost extension
/// Shopify sends with a `THROTTLED` error; one second when it is missing.
fn restore_time(body: &Value) -> Duration {
    let cost = body.pointer("/extensions/cost");
    let num = |p: &str| cost.and_then(|c| c.pointer(p)).and_then(Value::as_f64);
    match (
        num("/requestedQueryCost"),
        num("/throttleStatus/currentlyAvailable"),
        num("/throttleStatus/restoreRate"),
    ) {
        (Some(requested), Some(available), Some(rate)) if rate > 0.0 => {
            let secs = ((requested - available).max(0.0) / rate).clamp(0.1, 3600.0);
            Duration::from_secs_f64(secs)
        }
        _ => Duration::from_secs(1),
    }
}

/// Result of an OAuth grant (authorization code, token exchange or refresh).
#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub access_token: Secret,
    pub scope: String,
    /// Expiring offline tokens only.
    pub expires_in: Option<i64>,
    pub refresh_token: Option<Secret>,
    pub refresh_token_expires_in: Option<i64>,
}

#[derive(Deserialize)]
struct GrantResponse {
    access_token: String,
    #[serde(default)]
    scope: String,
    expires_in: Option<i64>,
    refresh_token: Option<String>,
    refresh_token_expires_in: Option<i64>,
}

#[derive(Clone)]
pub struct StoreClient {
    http: reqwest::Client,
    origin_template: String,
    api_key: String,
    api_secret: Secret,
    api_version: String,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RegistrationReport {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
}

impl StoreClient {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.store_timeout)
            .connect_timeout(settings.store_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("Atelier/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(StoreClient {
            http,
            origin_template: settings.shop_origin_template.clone(),
            api_key: settings.api_key.clone(),
            api_secret: settings.api_secret.clone(),
            api_version: settings.api_version.clone(),
        })
    }

    pub fn origin(&self, shop: &ShopDomain) -> String {
        self.origin_template
            .replace("{shop}", shop.as_str())
            .trim_end_matches('/')
            .to_owned()
    }

    async fn grant(&self, shop: &ShopDomain, body: Value) -> Result<AccessGrant, StoreError> {
        let url = format!("{}/admin/oauth/access_token", self.origin(shop));
        let resp = self
            .http
            .post(url)
            .header("Accept", "application/json")
            .json(&body)
            .send()
            .await
            .map_err(StoreError::from_reqwest)?;
        let status = resp.status();
        if status.is_client_error() {
            // Shopify answers e.g. {"error":"invalid_subject_token"}; keep only the code.
            let error = resp
                .json::<Value>()
                .await
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .filter(|e| {
                    e.len() <= 64 && e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                });
            return Err(StoreError::Rejected {
                status: status.as_u16(),
                error,
            });
        }
        if !status.is_success() {
            return Err(StoreError::Unavailable(format!("HTTP {}", status.as_u16())));
        }
        let parsed: GrantResponse = resp.json().await.map_err(|e| {
            if e.is_timeout() {
                StoreError::Timeout
            } else {
                StoreError::Unavailable("unreadable token response".into())
            }
        })?;
        if parsed.access_token.is_empty() {
            return Err(StoreError::Unavailable("empty access token".into()));
        }
        Ok(AccessGrant {
            access_token: Secret::new(parsed.access_token),
            scope: parsed.scope,
            expires_in: parsed.expires_in,
            refresh_token: parsed.refresh_token.map(Secret::new),
            refresh_token_expires_in: parsed.refresh_token_expires_in,
        })
    }

    /// Authorization-code grant.
    pub async fn exchange_code(
        &self,
        shop: &ShopDomain,
        code: &str,
    ) -> Result<AccessGrant, StoreError> {
        self.grant(
            shop,
            json!({
                "client_id": self.api_key,
                "client_secret": self.api_secret.expose(),
                "code": code,
            }),
        )
        .await
    }

    /// Token exchange of an App Bridge session token for an offline token.
    pub async fn token_exchange(
        &self,
        shop: &ShopDomain,
        session_token: &str,
    ) -> Result<AccessGrant, StoreError> {
        self.grant(
            shop,
            json!({
                "client_id": self.api_key,
                "client_secret": self.api_secret.expose(),
                "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token": session_token,
                "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
                "requested_token_type": "urn:shopify:params:oauth:token-type:offline-access-token",
            }),
        )
        .await
    }

    /// Refresh of an expiring offline token.
    pub async fn refresh(
        &self,
        shop: &ShopDomain,
        refresh_token: &str,
    ) -> Result<AccessGrant, StoreError> {
        self.grant(
            shop,
            json!({
                "client_id": self.api_key,
                "client_secret": self.api_secret.expose(),
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
            }),
        )
        .await
    }

    /// One GraphQL Admin API call. Top-level `errors` are reported as `Unavailable`.
    ///
    /// What the store asks to be retried is retried, within [`RETRY_BUDGET`] and
    /// [`MAX_TRIES`]: `429` after its `Retry-After`, a `THROTTLED` error after the time the
    /// query's cost takes to restore (from `extensions.cost.throttleStatus`), 5xx answers,
    /// timeouts and failed connections after an exponential backoff with jitter. A wait that
    /// would pass the budget is not waited: the call fails and its caller's own retry (the
    /// maintenance loop, the backfill job) comes back later, so a throttled store is never
    /// hammered.
    pub async fn graphql(
        &self,
        shop: &ShopDomain,
        access_token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, StoreError> {
        let started = std::time::Instant::now();
        let mut attempt = 1;
        loop {
            let error = match self
                .graphql_once(shop, access_token, query, &variables)
                .await
            {
                Ok(data) => return Ok(data),
                Err(e) => e,
            };
            let Some(wait) = error.retry_after(attempt) else {
                return Err(error.into_store_error());
            };
            if attempt >= MAX_TRIES || started.elapsed() + wait > RETRY_BUDGET {
                return Err(error.into_store_error());
            }
            tracing::debug!(shop = %shop, attempt, wait_ms = wait.as_millis() as u64, "store call retried");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn graphql_once(
        &self,
        shop: &ShopDomain,
        access_token: &str,
        query: &str,
        variables: &Value,
    ) -> Result<Value, CallError> {
        let url = format!(
            "{}/admin/api/{}/graphql.json",
            self.origin(shop),
            self.api_version
        );
        let resp = self
            .http
            .post(url)
            .header("X-Shopify-Access-Token", access_token)
            .header("Accept", "application/json")
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .map_err(|e| CallError::Transient(StoreError::from_reqwest(e)))?;
        let status = resp.status();
        if status.as_u16() == 429 {
            let after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map_or(Duration::from_secs(2), |s| {
                    Duration::from_secs_f64(s.min(3600.0))
                });
            return Err(CallError::Throttled(after));
        }
        if status.is_client_error() {
            return Err(CallError::Final(StoreError::Rejected {
                status: status.as_u16(),
                error: None,
            }));
        }
        if !status.is_success() {
            return Err(CallError::Transient(StoreError::Unavailable(format!(
                "HTTP {}",
                status.as_u16()
            ))));
        }
        let body: Value = resp.json().await.map_err(|e| {
            CallError::Transient(if e.is_timeout() {
                StoreError::Timeout
            } else {
                StoreError::Unavailable("unreadable GraphQL response".into())
            })
        })?;
        if let Some(errors) = body.get("errors").filter(|e| !e.is_null()) {
            let throttled = errors.as_array().is_some_and(|list| {
                list.iter().any(|e| {
                    e.pointer("/extensions/code").and_then(Value::as_str) == Some("THROTTLED")
                })
            });
            if throttled {
                return Err(CallError::Throttled(restore_time(&body)));
            }
            let first = errors
                .pointer("/0/message")
                .and_then(Value::as_str)
                .unwrap_or("GraphQL error");
            return Err(CallError::Final(StoreError::Unavailable(
                first.chars().take(200).collect(),
            )));
        }
        Ok(body.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Makes the shop's subscriptions match `topics` → `callback_uri`: existing ones are kept,
    /// ones pointing elsewhere are moved, missing ones created. Safe to repeat (reinstall).
    pub async fn register_webhooks(
        &self,
        shop: &ShopDomain,
        access_token: &str,
        topics: &[&str],
        callback_uri: &str,
    ) -> Result<RegistrationReport, StoreError> {
        const LIST: &str = "query atelierWebhooks($after: String) { webhookSubscriptions(first: 250, after: $after) { nodes { id topic uri } pageInfo { hasNextPage endCursor } } }";
        const CREATE: &str = "mutation webhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { webhookSubscription { id topic uri } userErrors { field message } } }";
        const UPDATE: &str = "mutation webhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) { webhookSubscription { id topic uri } userErrors { field message } } }";

        let mut existing: Vec<(String, String, String)> = Vec::new();
        let mut after = Value::Null;
        for _page in 0..20 {
            let data = self
                .graphql(shop, access_token, LIST, json!({ "after": after }))
                .await?;
            let conn = &data["webhookSubscriptions"];
            for node in conn["nodes"].as_array().into_iter().flatten() {
                let field = |k: &str| node[k].as_str().unwrap_or_default().to_owned();
                existing.push((field("id"), field("topic"), field("uri")));
            }
            if conn["pageInfo"]["hasNextPage"].as_bool() != Some(true) {
                break;
            }
            after = conn["pageInfo"]["endCursor"].clone();
        }

        let mut report = RegistrationReport::default();
        for topic in topics {
            let gql_topic = super::graphql_topic(topic);
            let same_topic: Vec<_> = existing
                .iter()
                .filter(|(_, t, _)| *t == gql_topic)
                .collect();
            let (query, variables, field, bucket) = if same_topic
                .iter()
                .any(|(_, _, uri)| uri == callback_uri)
            {
                report.unchanged.push(topic.to_string());
                continue;
            } else if let Some((id, _, _)) = same_topic.first() {
                (
                    UPDATE,
                    json!({ "id": id, "webhookSubscription": { "uri": callback_uri } }),
                    "webhookSubscriptionUpdate",
                    &mut report.updated,
                )
            } else {
                (
                    CREATE,
                    json!({ "topic": gql_topic, "webhookSubscription": { "uri": callback_uri } }),
                    "webhookSubscriptionCreate",
                    &mut report.created,
                )
            };
            let data = self.graphql(shop, access_token, query, variables).await?;
            let user_errors = data[field]["userErrors"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if let Some(first) = user_errors.first() {
                let message: String = first["message"]
                    .as_str()
                    .unwrap_or("userError")
                    .chars()
                    .take(200)
                    .collect();
                return Err(StoreError::Unavailable(format!("{topic}: {message}")));
            }
            bucket.push(topic.to_string());
        }
        Ok(report)
    }

    /// Makes sure the shop has Atelier's cart transform (the record that runs the function
    /// `function_handle` at checkout): an existing one is reused, so installing again never
    /// creates a second. A store may hold one cart transform per app, and lists only this
    /// app's, so any node found is ours.
    pub async fn ensure_cart_transform(
        &self,
        shop: &ShopDomain,
        access_token: &str,
        function_handle: &str,
    ) -> Result<CartTransformOutcome, StoreError> {
        const LIST: &str = "query atelierCartTransforms { cartTransforms(first: 25) { nodes { id functionId blockOnFailure } } }";
        const CREATE: &str = "mutation atelierCartTransformCreate($functionHandle: String!) { cartTransformCreate(functionHandle: $functionHandle, blockOnFailure: false) { cartTransform { id functionId } userErrors { field message code } } }";
        let existing = |data: &Value| {
            data.pointer("/cartTransforms/nodes/0/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let data = self.graphql(shop, access_token, LIST, json!({})).await?;
        if let Some(id) = existing(&data) {
            return Ok(CartTransformOutcome { id, created: false });
        }
        let data = self
            .graphql(
                shop,
                access_token,
                CREATE,
                json!({ "functionHandle": function_handle }),
            )
            .await?;
        let payload = &data["cartTransformCreate"];
        if let Some(first) = payload["userErrors"].as_array().and_then(|e| e.first()) {
            if first["code"].as_str() == Some("FUNCTION_ALREADY_REGISTERED") {
                // Another instance created it a moment ago.
                let data = self.graphql(shop, access_token, LIST, json!({})).await?;
                if let Some(id) = existing(&data) {
                    return Ok(CartTransformOutcome { id, created: false });
                }
            }
            return Err(StoreError::Unavailable(user_error(first)));
        }
        payload
            .pointer("/cartTransform/id")
            .and_then(Value::as_str)
            .map(|id| CartTransformOutcome {
                id: id.to_owned(),
                created: true,
            })
            .ok_or_else(|| StoreError::Unavailable("no cart transform in the answer".into()))
    }

    /// Writes JSON metafields (`metafieldsSet`, at most 25 per call as Shopify allows). Setting a
    /// metafield to the value it has is harmless, so a repeated or concurrent write is too.
    pub async fn set_json_metafields(
        &self,
        shop: &ShopDomain,
        access_token: &str,
        metafields: &[JsonMetafield],
    ) -> Result<(), StoreError> {
        const SET: &str = "mutation atelierMetafieldsSet($metafields: [MetafieldsSetInput!]!) { metafieldsSet(metafields: $metafields) { metafields { id key namespace } userErrors { field message code } } }";
        for chunk in metafields.chunks(25) {
            let inputs: Vec<Value> = chunk
                .iter()
                .map(|m| {
                    json!({"ownerId": m.owner_id, "namespace": m.namespace, "key": m.key,
                           "type": "json", "value": m.value})
                })
                .collect();
            let data = self
                .graphql(shop, access_token, SET, json!({ "metafields": inputs }))
                .await?;
            if let Some(first) = data
                .pointer("/metafieldsSet/userErrors")
                .and_then(Value::as_array)
                .and_then(|e| e.first())
            {
                return Err(StoreError::Unavailable(user_error(first)));
            }
        }
        Ok(())
    }
}

/// A `userErrors` entry as one short line (code and message; never a value that was sent).
fn user_error(e: &Value) -> String {
    let message: String = e["message"]
        .as_str()
        .unwrap_or("userError")
        .chars()
        .take(200)
        .collect();
    match e["code"].as_str() {
        Some(code) => format!("{code}: {message}"),
        None => message,
    }
}

/// The shop's cart transform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CartTransformOutcome {
    pub id: String,
    /// Made by this call (false: it existed).
    pub created: bool,
}

/// One JSON metafield to write.
#[derive(Debug, Clone)]
pub struct JsonMetafield {
    pub owner_id: String,
    pub namespace: String,
    pub key: String,
    pub value: String,
}
