//! Test harness: the real server on a random port, a fresh database per test (a SQLite file, or
//! a PostgreSQL schema dropped afterwards when `TEST_DATABASE_URL` is set), and a fake store
//! that records every request Atelier makes to it.

#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use atelier::config::Settings;
use atelier::shops::Shop;
use atelier::startup::Application;
use atelier::state::AppState;
use base64::Engine;
use diesel::Connection;
use diesel::connection::SimpleConnection;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

pub const API_KEY: &str = "test-api-key";
pub const API_SECRET: &str = "test-api-secret";
pub const APP_URL: &str = "https://app.atelier.test";
pub const STORE_TOKEN: &str = "shpat_fake_offline_token_0123456789";

pub fn init() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    if std::env::var("TEST_LOG").is_ok() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter("debug")
            .with_test_writer()
            .try_init();
    }
}

// ---------------------------------------------------------------- database per test

pub struct TestDb {
    pub url: String,
    pg: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new() -> TestDb {
        match std::env::var("TEST_DATABASE_URL") {
            Ok(base) if base.starts_with("postgres") => {
                // This is the process's first PostgreSQL connection: OpenSSL initialized by
                // openssl-sys registers no `atexit` cleanup, which would otherwise race the
                // server's threads at exit (openssl#3505; see `db::ConnManager::establish`).
                openssl_sys::init();
                let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
                let mut conn = diesel::pg::PgConnection::establish(&base)
                    .expect("TEST_DATABASE_URL reachable");
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-csearch_path%3D{schema}");
                TestDb {
                    url,
                    pg: Some((base, schema)),
                    _dir: None,
                }
            }
            _ => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}", dir.path().join("atelier.db").display());
                TestDb {
                    url,
                    pg: None,
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((base, schema)) = &self.pg
            && let Ok(mut conn) = diesel::pg::PgConnection::establish(base)
        {
            let _ = conn.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
        }
    }
}

// ---------------------------------------------------------------- fake store

#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

#[derive(Debug, Clone)]
pub enum TokenBehaviour {
    Grant {
        token: String,
        scope: String,
    },
    /// An expiring offline token (60 s) with a refresh token; refresh grants answer a new pair.
    Expiring {
        token: String,
        refresh: String,
    },
    Status(u16, Value),
    Hang(Duration),
}

/// What the next GraphQL call answers instead of its result, as a store under load does.
#[derive(Debug, Clone)]
pub enum GraphqlFault {
    /// `429` with this `Retry-After` (seconds).
    TooManyRequests(&'static str),
    /// `200` with a `THROTTLED` error and the cost extension Shopify sends with it.
    Throttled {
        requested: f64,
        available: f64,
        restore_rate: f64,
    },
    Status(u16),
}

struct StoreInner {
    requests: Vec<Recorded>,
    graphql_faults: std::collections::VecDeque<GraphqlFault>,
    /// When each GraphQL call arrived and whether it was about webhook subscriptions, faults
    /// and backfill pages included.
    graphql_calls: Vec<(std::time::Instant, bool)>,
    token: TokenBehaviour,
    graphql_status: u16,
    subscriptions: Vec<(String, String, String)>,
    /// GraphQL `Product` and `Order` nodes answered to the backfill's `products` / `orders`
    /// queries, `BACKFILL_PAGE` per page (those requests are counted, not recorded).
    backfill_products: Vec<Value>,
    backfill_orders: Vec<Value>,
    backfill_requests: usize,
    /// GraphQL `Collection` nodes with all their products (`products.nodes`), answered to the
    /// backfill's `collections` query and to the collections job's `collection(id:)` query
    /// (`BACKFILL_PAGE` products per page there).
    collections: Vec<Value>,
    /// `collection(id:)` queries answered.
    collection_reads: usize,
    /// Cart transforms the app created: `(id, function handle)`.
    cart_transforms: Vec<(String, String)>,
    /// Whether the app's function is deployed (else `cartTransformCreate` answers
    /// `FUNCTION_NOT_FOUND`, as Shopify does).
    function_deployed: bool,
    /// Metafields written with `metafieldsSet`: `(owner, namespace, key)` → `(type, value)`.
    metafields: std::collections::BTreeMap<(String, String, String), (String, String)>,
    /// `metafieldsSet` calls answered (with or without userErrors).
    metafield_sets: usize,
    /// The next `metafieldsSet` calls answer this userError instead of writing.
    metafield_user_errors: usize,
    /// The app's web pixel on the store: `(id, settings as the JSON string the app sent)`.
    web_pixel: Option<(String, String)>,
    /// What Atelier wrote back: consent, order tags and notes (see [`FakeStore::admin_writes`]).
    writes: StoreWrites,
}

/// The store's side of what Atelier writes back.
#[derive(Default)]
struct StoreWrites {
    /// `(mutation, variables)` in arrival order.
    calls: Vec<(String, Value)>,
    /// Order GID → note.
    notes: HashMap<String, String>,
    /// Customer GIDs without a phone number (SMS consent refused).
    no_phone: std::collections::HashSet<String>,
}

pub const BACKFILL_PAGE: usize = 2;

#[derive(Clone)]
pub struct FakeStore {
    inner: Arc<Mutex<StoreInner>>,
    pub port: u16,
}

impl FakeStore {
    pub async fn start() -> FakeStore {
        let inner = Arc::new(Mutex::new(StoreInner {
            requests: Vec::new(),
            graphql_faults: Default::default(),
            graphql_calls: Vec::new(),
            token: TokenBehaviour::Grant {
                token: STORE_TOKEN.into(),
                scope: "read_products,read_orders,read_customers".into(),
            },
            graphql_status: 200,
            subscriptions: Vec::new(),
            backfill_products: Vec::new(),
            backfill_orders: Vec::new(),
            backfill_requests: 0,
            collections: Vec::new(),
            collection_reads: 0,
            writes: StoreWrites::default(),
            web_pixel: None,
            cart_transforms: Vec::new(),
            function_deployed: true,
            metafields: Default::default(),
            metafield_sets: 0,
            metafield_user_errors: 0,
        }));
        let data = web::Data::new(inner.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(fake_store_handler))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .disable_signals()
        .run();
        tokio::spawn(server);
        FakeStore { inner, port }
    }

    pub fn origin_template(&self) -> String {
        format!("http://127.0.0.1:{}/{{shop}}", self.port)
    }

    pub fn set_token(&self, behaviour: TokenBehaviour) {
        self.inner.lock().unwrap().token = behaviour;
    }

    /// The next GraphQL calls answer these faults, one each, then the store recovers.
    pub fn queue_graphql_faults(&self, faults: Vec<GraphqlFault>) {
        self.inner.lock().unwrap().graphql_faults.extend(faults);
    }

    pub fn graphql_calls(&self) -> Vec<std::time::Instant> {
        self.inner
            .lock()
            .unwrap()
            .graphql_calls
            .iter()
            .map(|c| c.0)
            .collect()
    }

    /// [`FakeStore::graphql_calls`] about webhook subscriptions only (not the backfill).
    pub fn subscription_calls(&self) -> Vec<std::time::Instant> {
        let g = self.inner.lock().unwrap();
        g.graphql_calls
            .iter()
            .filter(|c| c.1)
            .map(|c| c.0)
            .collect()
    }

    pub fn set_graphql_status(&self, status: u16) {
        self.inner.lock().unwrap().graphql_status = status;
    }

    pub fn requests(&self) -> Vec<Recorded> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn subscriptions(&self) -> Vec<(String, String, String)> {
        self.inner.lock().unwrap().subscriptions.clone()
    }

    /// What the Admin API's `products` and `orders` queries answer (GraphQL nodes).
    /// Mutations Atelier made to write back (`customerEmailMarketingConsentUpdate`, `tagsAdd`,
    /// …), with their variables, in arrival order.
    pub fn admin_writes(&self) -> Vec<(String, Value)> {
        self.inner.lock().unwrap().writes.calls.clone()
    }

    pub fn set_order_note(&self, order_gid: &str, note: &str) {
        let mut g = self.inner.lock().unwrap();
        g.writes.notes.insert(order_gid.into(), note.into());
    }

    pub fn order_note(&self, order_gid: &str) -> Option<String> {
        self.inner
            .lock()
            .unwrap()
            .writes
            .notes
            .get(order_gid)
            .cloned()
    }

    pub fn without_phone(&self, customer_gid: &str) {
        let mut g = self.inner.lock().unwrap();
        g.writes.no_phone.insert(customer_gid.into());
    }

    pub fn set_backfill(&self, products: Vec<Value>, orders: Vec<Value>) {
        let mut g = self.inner.lock().unwrap();
        g.backfill_products = products;
        g.backfill_orders = orders;
    }

    /// The store's collections (see [`gql_collection`]), as the backfill and the collections
    /// job read them.
    pub fn set_collections(&self, collections: Vec<Value>) {
        self.inner.lock().unwrap().collections = collections;
    }

    /// `collection(id:)` queries the store answered.
    pub fn collection_reads(&self) -> usize {
        self.inner.lock().unwrap().collection_reads
    }

    pub fn backfill_requests(&self) -> usize {
        self.inner.lock().unwrap().backfill_requests
    }

    /// The app's web pixel as the store holds it: `(id, settings)`.
    pub fn web_pixel(&self) -> Option<(String, Value)> {
        self.inner
            .lock()
            .unwrap()
            .web_pixel
            .clone()
            .map(|(id, s)| (id, serde_json::from_str(&s).unwrap_or(Value::Null)))
    }

    /// A web pixel that exists already (created by an earlier install), with these settings.
    pub fn set_web_pixel(&self, settings: &Value) {
        self.inner.lock().unwrap().web_pixel =
            Some(("gid://shopify/WebPixel/1".into(), settings.to_string()));
    }

    /// The cart transforms the store holds for the app: `(id, function handle)`.
    pub fn cart_transforms(&self) -> Vec<(String, String)> {
        self.inner.lock().unwrap().cart_transforms.clone()
    }

    pub fn set_function_deployed(&self, deployed: bool) {
        self.inner.lock().unwrap().function_deployed = deployed;
    }

    /// A metafield's `(type, value)` as written.
    pub fn metafield(&self, owner: &str, namespace: &str, key: &str) -> Option<(String, String)> {
        self.inner
            .lock()
            .unwrap()
            .metafields
            .get(&(owner.to_owned(), namespace.to_owned(), key.to_owned()))
            .cloned()
    }

    pub fn metafield_sets(&self) -> usize {
        self.inner.lock().unwrap().metafield_sets
    }

    /// The next `n` `metafieldsSet` calls answer a userError (nothing written).
    pub fn fail_metafield_sets(&self, n: usize) {
        self.inner.lock().unwrap().metafield_user_errors = n;
    }
}

/// One page of `nodes` after the opaque cursor (an index here).
fn backfill_page(nodes: &[Value], after: &Value) -> Value {
    let start: usize = after.as_str().and_then(|s| s.parse().ok()).unwrap_or(0);
    let end = (start + BACKFILL_PAGE).min(nodes.len());
    let page = nodes.get(start..end).unwrap_or(&[]).to_vec();
    json!({"nodes": page, "pageInfo": {"hasNextPage": end < nodes.len(), "endCursor": if page.is_empty() { Value::Null } else { Value::String(end.to_string()) }}})
}

async fn fake_store_handler(
    req: HttpRequest,
    body: web::Bytes,
    inner: web::Data<Arc<Mutex<StoreInner>>>,
) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = req.path().to_owned();
    if path.ends_with("/graphql.json") {
        let fault = {
            let mut g = inner.lock().unwrap();
            let about_subscriptions = body_json["query"]
                .as_str()
                .is_some_and(|q| q.contains("ebhookSubscription"));
            g.graphql_calls
                .push((std::time::Instant::now(), about_subscriptions));
            g.graphql_faults.pop_front()
        };
        match fault {
            Some(GraphqlFault::TooManyRequests(after)) => {
                return HttpResponse::TooManyRequests()
                    .insert_header(("Retry-After", after))
                    .json(json!({"errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."}));
            }
            Some(GraphqlFault::Throttled {
                requested,
                available,
                restore_rate,
            }) => {
                return HttpResponse::Ok().json(json!({
                    "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": {"cost": {"requestedQueryCost": requested, "actualQueryCost": null,
                        "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": available, "restoreRate": restore_rate}}}
                }));
            }
            Some(GraphqlFault::Status(status)) => {
                return HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .finish();
            }
            None => {}
        }
        let query = body_json["query"].as_str().unwrap_or_default();
        let after = &body_json["variables"]["after"];
        let mut g = inner.lock().unwrap();
        // Before `products(`: both collection queries read their products too.
        if query.contains("collection(id:") {
            g.collection_reads += 1;
            let gid = body_json["variables"]["id"].as_str().unwrap_or_default();
            let Some(found) = g.collections.iter().find(|c| c["id"] == gid).cloned() else {
                return HttpResponse::Ok().json(json!({"data": {"collection": null}}));
            };
            let products = found["products"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let page = backfill_page(&products, after);
            return HttpResponse::Ok()
                .json(json!({"data": {"collection": {"id": gid, "products": page}}}));
        }
        if query.contains("collections(") {
            g.backfill_requests += 1;
            // The backfill's page: each collection with its first 100 products.
            let nodes: Vec<Value> = g
                .collections
                .iter()
                .map(|c| {
                    let all = c["products"]["nodes"].as_array().cloned().unwrap_or_default();
                    let first: Vec<Value> = all.iter().take(100).cloned().collect();
                    let mut c = c.clone();
                    c["products"] = json!({"nodes": first, "pageInfo": {"hasNextPage": all.len() > 100, "endCursor": null}});
                    c
                })
                .collect();
            let page = backfill_page(&nodes, after);
            return HttpResponse::Ok().json(json!({"data": {"collections": page}}));
        }
        if query.contains("products(") {
            g.backfill_requests += 1;
            let page = backfill_page(&g.backfill_products, after);
            return HttpResponse::Ok().json(json!({"data": {"products": page}}));
        }
        if query.contains("orders(") {
            g.backfill_requests += 1;
            let page = backfill_page(&g.backfill_orders, after);
            return HttpResponse::Ok().json(json!({"data": {"orders": page}}));
        }
    }
    let (token, gql_status) = {
        let mut g = inner.lock().unwrap();
        g.requests.push(Recorded {
            method: req.method().to_string(),
            path: path.clone(),
            headers,
            body: body_json.clone(),
        });
        (g.token.clone(), g.graphql_status)
    };
    if path.ends_with("/admin/oauth/access_token") {
        return match token {
            TokenBehaviour::Grant { token, scope } => {
                HttpResponse::Ok().json(json!({ "access_token": token, "scope": scope }))
            }
            TokenBehaviour::Expiring { .. } if body_json["grant_type"] == "refresh_token" => HttpResponse::Ok().json(json!({
                "access_token": "shpat_refreshed", "scope": "read_products,read_orders,read_customers",
                "expires_in": 3600, "refresh_token": "shprt_second", "refresh_token_expires_in": 7776000
            })),
            TokenBehaviour::Expiring { token, refresh } => HttpResponse::Ok().json(json!({
                "access_token": token, "scope": "read_products,read_orders,read_customers",
                "expires_in": 60, "refresh_token": refresh, "refresh_token_expires_in": 7776000
            })),
            TokenBehaviour::Status(s, b) => {
                HttpResponse::build(actix_web::http::StatusCode::from_u16(s).unwrap()).json(b)
            }
            TokenBehaviour::Hang(d) => {
                tokio::time::sleep(d).await;
                HttpResponse::Ok()
                    .json(json!({ "access_token": "too-late", "scope": "read_products" }))
            }
        };
    }
    if path.ends_with("/graphql.json") {
        if gql_status != 200 {
            return HttpResponse::build(actix_web::http::StatusCode::from_u16(gql_status).unwrap())
                .finish();
        }
        let query = body_json["query"].as_str().unwrap_or_default();
        let vars = &body_json["variables"];
        let mut g = inner.lock().unwrap();
        if query.contains("webhookSubscriptionCreate(") {
            let id = format!(
                "gid://shopify/WebhookSubscription/{}",
                g.subscriptions.len() + 1
            );
            let topic = vars["topic"].as_str().unwrap_or_default().to_owned();
            let uri = vars["webhookSubscription"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            g.subscriptions
                .push((id.clone(), topic.clone(), uri.clone()));
            return HttpResponse::Ok().json(json!({"data": {"webhookSubscriptionCreate": {
                "webhookSubscription": {"id": id, "topic": topic, "uri": uri}, "userErrors": []}}}));
        }
        if query.contains("webhookSubscriptionUpdate(") {
            let id = vars["id"].as_str().unwrap_or_default();
            let uri = vars["webhookSubscription"]["uri"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            for s in g.subscriptions.iter_mut().filter(|s| s.0 == id) {
                s.2 = uri.clone();
            }
            return HttpResponse::Ok().json(json!({"data": {"webhookSubscriptionUpdate": {
                "webhookSubscription": {"id": id, "uri": uri}, "userErrors": []}}}));
        }
        if query.contains("cartTransformCreate(") {
            let handle = vars["functionHandle"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if !g.function_deployed {
                return HttpResponse::Ok().json(json!({"data": {"cartTransformCreate": {
                    "cartTransform": null, "userErrors": [{"field": ["functionHandle"],
                    "message": format!("Could not find function with handle: {handle}."),
                    "code": "FUNCTION_NOT_FOUND"}]}}}));
            }
            if !g.cart_transforms.is_empty() {
                return HttpResponse::Ok().json(json!({"data": {"cartTransformCreate": {
                    "cartTransform": null, "userErrors": [{"field": ["functionHandle"],
                    "message": "Could not enable cart transform because it is already registered",
                    "code": "FUNCTION_ALREADY_REGISTERED"}]}}}));
            }
            let id = format!(
                "gid://shopify/CartTransform/{}",
                g.cart_transforms.len() + 1
            );
            g.cart_transforms.push((id.clone(), handle));
            return HttpResponse::Ok().json(json!({"data": {"cartTransformCreate": {
                "cartTransform": {"id": id, "functionId": "01JFUNCTION"}, "userErrors": []}}}));
        }
        if query.contains("cartTransforms(") {
            let nodes: Vec<Value> = g
                .cart_transforms
                .iter()
                .map(|(id, _)| json!({"id": id, "functionId": "01JFUNCTION", "blockOnFailure": false}))
                .collect();
            return HttpResponse::Ok().json(json!({"data": {"cartTransforms": {"nodes": nodes}}}));
        }
        if query.contains("metafieldsSet(") {
            g.metafield_sets += 1;
            if g.metafield_user_errors > 0 {
                g.metafield_user_errors -= 1;
                return HttpResponse::Ok().json(json!({"data": {"metafieldsSet": {
                    "metafields": [], "userErrors": [{"field": ["metafields", "0", "value"],
                    "message": "Value is invalid JSON", "code": "INVALID_VALUE"}]}}}));
            }
            let list = vars["metafields"].as_array().cloned().unwrap_or_default();
            if list.len() > 25 {
                return HttpResponse::Ok().json(json!({"errors": [{"message": "The input array size of 26 is greater than the maximum allowed of 25."}]}));
            }
            let mut written = Vec::new();
            for m in list {
                let field = |k: &str| m[k].as_str().unwrap_or_default().to_owned();
                g.metafields.insert(
                    (field("ownerId"), field("namespace"), field("key")),
                    (field("type"), field("value")),
                );
                written.push(json!({"id": format!("gid://shopify/Metafield/{}", g.metafields.len()),
                    "key": field("key"), "namespace": field("namespace").replace("$app:", "app--1--")}));
            }
            return HttpResponse::Ok().json(json!({"data": {"metafieldsSet": {
                "metafields": written, "userErrors": []}}}));
        }
        if query.contains("webhookSubscriptions(") {
            let nodes: Vec<Value> = g
                .subscriptions
                .iter()
                .map(|(id, t, u)| json!({"id": id, "topic": t, "uri": u}))
                .collect();
            return HttpResponse::Ok().json(json!({"data": {"webhookSubscriptions": {
                "nodes": nodes, "pageInfo": {"hasNextPage": false, "endCursor": null}}}}));
        }
        // Web pixels, as the Admin API answers them: one per app and shop; creating a second
        // is `TAKEN`; `settings` is a JSON string.
        if query.contains("webPixelCreate(") {
            if g.web_pixel.is_some() {
                return HttpResponse::Ok().json(json!({"data": {"webPixelCreate": {"webPixel": null,
                    "userErrors": [{"code": "TAKEN", "field": ["webPixel"], "message": "Web pixel is taken."}]}}}));
            }
            let settings = vars["webPixel"]["settings"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = "gid://shopify/WebPixel/1".to_owned();
            g.web_pixel = Some((id.clone(), settings.clone()));
            return HttpResponse::Ok().json(json!({"data": {"webPixelCreate": {
                "webPixel": {"id": id, "settings": settings}, "userErrors": []}}}));
        }
        if query.contains("webPixelUpdate(") {
            let settings = vars["webPixel"]["settings"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let id = vars["id"].as_str().unwrap_or_default().to_owned();
            let known = g.web_pixel.as_ref().is_some_and(|(have, _)| *have == id);
            if !known {
                return HttpResponse::Ok().json(json!({"data": {"webPixelUpdate": {"webPixel": null,
                    "userErrors": [{"code": "NOT_FOUND", "field": ["id"], "message": "Not found."}]}}}));
            }
            g.web_pixel = Some((id.clone(), settings.clone()));
            return HttpResponse::Ok().json(json!({"data": {"webPixelUpdate": {
                "webPixel": {"id": id, "settings": settings}, "userErrors": []}}}));
        }
        if query.contains("webPixel {") {
            return match &g.web_pixel {
                Some((id, settings)) => HttpResponse::Ok()
                    .json(json!({"data": {"webPixel": {"id": id, "settings": settings}}})),
                None => HttpResponse::Ok().json(json!({"data": {"webPixel": null},
                    "errors": [{"message": "No web pixel was found for this app."}]})),
            };
        }
        if let Some(data) = answer_write(&mut g.writes, query, vars) {
            return HttpResponse::Ok().json(json!({ "data": data }));
        }
        return HttpResponse::Ok().json(json!({"errors": [{"message": "unknown query"}]}));
    }
    HttpResponse::NotFound().finish()
}

/// The store's answers to what Atelier writes back, as the Admin API shapes them.
fn answer_write(w: &mut StoreWrites, query: &str, vars: &Value) -> Option<Value> {
    let no_errors = json!([]);
    if query.contains("customerEmailMarketingConsentUpdate(") {
        w.calls
            .push(("customerEmailMarketingConsentUpdate".into(), vars.clone()));
        let id = vars["input"]["customerId"].clone();
        return Some(
            json!({"customerEmailMarketingConsentUpdate": {"customer": {"id": id}, "userErrors": no_errors}}),
        );
    }
    if query.contains("customerSmsMarketingConsentUpdate(") {
        w.calls
            .push(("customerSmsMarketingConsentUpdate".into(), vars.clone()));
        let id = vars["input"]["customerId"].as_str().unwrap_or_default();
        if w.no_phone.contains(id) {
            return Some(
                json!({"customerSmsMarketingConsentUpdate": {"customer": null, "userErrors": [
                {"field": ["input", "smsMarketingConsent"], "message": "A phone number is required to set SMS consent state."}]}}),
            );
        }
        return Some(
            json!({"customerSmsMarketingConsentUpdate": {"customer": {"id": id}, "userErrors": no_errors}}),
        );
    }
    if query.contains("order(id:") {
        let id = vars["id"].as_str().unwrap_or_default();
        return Some(json!({"order": {"id": id, "note": w.notes.get(id), "tags": []}}));
    }
    if query.contains("tagsAdd(") {
        w.calls.push(("tagsAdd".into(), vars.clone()));
        return Some(json!({"tagsAdd": {"node": {"id": vars["id"]}, "userErrors": no_errors}}));
    }
    if query.contains("orderUpdate(") {
        w.calls.push(("orderUpdate".into(), vars.clone()));
        let id = vars["input"]["id"].as_str().unwrap_or_default().to_owned();
        let note = vars["input"]["note"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        w.notes.insert(id.clone(), note);
        return Some(json!({"orderUpdate": {"order": {"id": id}, "userErrors": no_errors}}));
    }
    None
}

// ---------------------------------------------------------------- the app under test

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub state: AppState,
    pub store: FakeStore,
    pub client: reqwest::Client,
    pub db: TestDb,
}

pub fn base_vars(db: &TestDb, store: &FakeStore) -> HashMap<String, String> {
    let key = base64::engine::general_purpose::STANDARD.encode([42u8; 32]);
    [
        ("ATELIER_ENV", "production".to_owned()),
        ("BIND_ADDR", "127.0.0.1:0".to_owned()),
        ("APP_URL", APP_URL.to_owned()),
        ("DATABASE_URL", db.url.clone()),
        ("SHOPIFY_API_KEY", API_KEY.to_owned()),
        ("SHOPIFY_API_SECRET", API_SECRET.to_owned()),
        ("TOKEN_ENCRYPTION_KEY", key),
        ("SHOP_ORIGIN_TEMPLATE", store.origin_template()),
        ("ATELIER_STORE_TIMEOUT_MS", "1500".to_owned()),
        ("ATELIER_DB_POOL_SIZE", "4".to_owned()),
        ("LOG_FORMAT", "text".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(customize: impl FnOnce(&mut HashMap<String, String>)) -> TestApp {
    init();
    let store = FakeStore::start().await;
    let db = TestDb::new();
    let mut vars = base_vars(&db, &store);
    customize(&mut vars);
    let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("test settings");
    let app = Application::build(settings)
        .await
        .expect("application builds");
    let port = app.port();
    let state = app.state().clone();
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        state,
        store,
        client,
        db,
    }
}

impl TestApp {
    /// Starts a second instance on the same database and fake store (several app instances
    /// behind a load balancer); returns its port.
    pub async fn spawn_sibling(&self) -> u16 {
        let vars = base_vars(&self.db, &self.store);
        let settings = Settings::from_lookup(|k| vars.get(k).cloned()).expect("sibling settings");
        let sibling = Application::build(settings).await.expect("sibling builds");
        let port = sibling.port();
        tokio::spawn(sibling.run_until_stopped());
        port
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    pub fn shop_row(&self, domain: &str) -> Option<Shop> {
        let mut conn = self.state.db.conn().unwrap();
        atelier::shops::find_by_domain(&mut conn, domain).unwrap()
    }

    pub fn shop_count(&self) -> i64 {
        use diesel::prelude::*;
        let mut conn = self.state.db.conn().unwrap();
        atelier::db::schema::shops::table
            .count()
            .get_result(&mut *conn)
            .unwrap()
    }

    /// A session token as App Bridge mints it, for `shop`.
    pub fn session_token(&self, shop: &str) -> String {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        jwt(
            &json!({
                "iss": format!("https://{shop}/admin"),
                "dest": format!("https://{shop}"),
                "aud": API_KEY,
                "sub": "42",
                "exp": now + 60,
                "nbf": now,
                "iat": now,
                "jti": uuid::Uuid::new_v4().to_string(),
                "sid": "abc",
            }),
            API_SECRET,
        )
    }

    pub async fn api_get(&self, path: &str, shop: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(self.session_token(shop))
            .send()
            .await
            .unwrap()
    }

    /// Installs `shop` through the whole OAuth flow against the fake store.
    pub async fn install(&self, shop: &str) {
        let begun = self.begin_install(shop).await;
        let resp = self
            .callback(&begun, &callback_params(shop, &begun.state, now()))
            .await;
        assert_eq!(
            resp.status(),
            302,
            "install of {shop}: {}",
            resp.text().await.unwrap()
        );
    }

    pub async fn begin_install(&self, shop: &str) -> Begun {
        let resp = self.get(&format!("/auth?shop={shop}")).await;
        assert_eq!(resp.status(), 302);
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        let url = url::Url::parse(&location).unwrap();
        let state = url
            .query_pairs()
            .find(|(k, _)| k == "state")
            .unwrap()
            .1
            .into_owned();
        let cookie = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
            .collect::<Vec<_>>()
            .join("; ");
        Begun {
            location,
            state,
            cookie,
        }
    }

    pub async fn callback(&self, begun: &Begun, params: &[(String, String)]) -> reqwest::Response {
        self.callback_with_cookie(Some(&begun.cookie), params).await
    }

    pub async fn callback_with_cookie(
        &self,
        cookie: Option<&str>,
        params: &[(String, String)],
    ) -> reqwest::Response {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params)
            .finish();
        let mut req = self
            .client
            .get(self.url(&format!("/auth/callback?{query}")));
        if let Some(c) = cookie {
            req = req.header("Cookie", c);
        }
        req.send().await.unwrap()
    }
}

pub struct Begun {
    pub location: String,
    pub state: String,
    pub cookie: String,
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Callback parameters as Shopify sends them, with an `hmac` computed here (independently of
/// Atelier's code): hex HMAC-SHA256 of the sorted, form-encoded query without `hmac`.
pub fn callback_params(shop: &str, state: &str, timestamp: i64) -> Vec<(String, String)> {
    let host = base64::engine::general_purpose::STANDARD_NO_PAD.encode(format!(
        "admin.shopify.com/store/{}",
        shop.trim_end_matches(".myshopify.com")
    ));
    let params = vec![
        (
            "code".to_owned(),
            "0907a61c0c8d55e99db179b68161bc00".to_owned(),
        ),
        ("host".to_owned(), host),
        ("shop".to_owned(), shop.to_owned()),
        ("state".to_owned(), state.to_owned()),
        ("timestamp".to_owned(), timestamp.to_string()),
    ];
    sign_params(params, API_SECRET)
}

pub fn sign_params(mut params: Vec<(String, String)>, secret: &str) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != "hmac");
    let mut sorted = params.clone();
    sorted.sort();
    let message = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&sorted)
        .finish();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    params.push(("hmac".into(), hex::encode(mac.finalize().into_bytes())));
    params
}

/// Encodes a JWT by hand (header `{"alg":"HS256","typ":"JWT"}`), so tests do not depend on the
/// library under test to build tokens.
pub fn jwt(claims: &Value, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let signing_input = format!(
        "{}.{}",
        b64.encode(br#"{"alg":"HS256","typ":"JWT"}"#),
        b64.encode(serde_json::to_vec(claims).unwrap())
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        b64.encode(mac.finalize().into_bytes())
    )
}

// ---------------------------------------------------------------- webhooks

/// `X-Shopify-Hmac-Sha256` as Shopify computes it: base64 HMAC-SHA256 of the raw body.
pub fn webhook_hmac(body: &[u8], secret: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub struct Delivery<'a> {
    pub topic: &'a str,
    pub shop: &'a str,
    pub body: Vec<u8>,
    pub webhook_id: String,
    pub triggered_at: Option<String>,
}

impl<'a> Delivery<'a> {
    pub fn new(topic: &'a str, shop: &'a str, body: &Value) -> Self {
        Delivery {
            topic,
            shop,
            body: serde_json::to_vec(body).unwrap(),
            webhook_id: uuid::Uuid::new_v4().to_string(),
            triggered_at: None,
        }
    }
}

impl TestApp {
    pub async fn post_webhook(&self, d: &Delivery<'_>) -> reqwest::Response {
        self.post_webhook_signed(d, &webhook_hmac(&d.body, API_SECRET))
            .await
    }

    pub async fn post_webhook_signed(&self, d: &Delivery<'_>, hmac: &str) -> reqwest::Response {
        let mut req = self
            .client
            .post(self.url("/webhooks"))
            .header("Content-Type", "application/json")
            .header("X-Shopify-Topic", d.topic)
            .header("X-Shopify-Hmac-Sha256", hmac)
            .header("X-Shopify-Shop-Domain", d.shop)
            .header("X-Shopify-Webhook-Id", &d.webhook_id)
            .header("X-Shopify-Event-Id", uuid::Uuid::new_v4().to_string())
            .header("X-Shopify-API-Version", "2026-10")
            .body(d.body.clone());
        if let Some(t) = &d.triggered_at {
            req = req.header("X-Shopify-Triggered-At", t);
        }
        req.send().await.unwrap()
    }

    /// Posts and expects a 200.
    pub async fn deliver(&self, d: &Delivery<'_>) {
        let resp = self.post_webhook(d).await;
        assert_eq!(resp.status(), 200, "{}", resp.text().await.unwrap());
    }

    /// Waits until the inbox has nothing pending or in flight.
    pub async fn drain(&self) {
        drain_db(&self.state.db).await
    }

    /// `(topic, state, attempts, last_error, payload)` in arrival order.
    pub fn inbox_rows(&self) -> Vec<InboxRow> {
        use atelier::db::schema::webhook_inbox as w;
        use diesel::prelude::*;
        let mut conn = self.state.db.conn().unwrap();
        w::table
            .order(w::received_at)
            .select((w::topic, w::state, w::attempts, w::last_error, w::payload))
            .load(&mut *conn)
            .unwrap()
    }
}

pub type InboxRow = (String, String, i32, Option<String>, Vec<u8>);

/// Applies the webhook inbox of an app without workers (whose outbox then stays untouched)
/// through the library's own dispatcher, as its inbox worker would.
pub async fn apply_inbox(app: &TestApp) {
    let state = app.state.clone();
    tokio::task::spawn_blocking(move || {
        let dispatcher = atelier::jobs::dispatch::Dispatcher::new(&state);
        let applier = dispatcher.applier();
        let mut c = state.db.conn().unwrap();
        loop {
            let batch = atelier::inbox::claim(&mut c, "test", 16, Duration::from_secs(30)).unwrap();
            if batch.is_empty() {
                break;
            }
            atelier::inbox::process_batch(&mut c, &applier, dispatcher.hooks(), &batch, "test")
                .unwrap();
        }
    })
    .await
    .unwrap();
}

pub async fn drain_db(db: &atelier::db::Db) {
    use atelier::db::schema::webhook_inbox as w;
    use diesel::prelude::*;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let open: i64 = {
            let mut conn = db.conn().unwrap();
            w::table
                .filter(w::state.eq_any(["pending", "processing"]))
                .count()
                .get_result(&mut *conn)
                .unwrap()
        };
        if open == 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{open} inbox events still open after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A Shopify-shaped order (REST `orders/create` payload), about 5 KB with three lines.
pub fn order_payload(
    order_id: i64,
    customer_id: Option<i64>,
    updated_at: &str,
    lines: &[(i64, i64, i64, &str)],
) -> Value {
    let address = json!({
        "first_name": "Anna", "last_name": "Lindqvist", "address1": "Storgatan 12", "address2": null,
        "city": "Uppsala", "zip": "753 20", "province": null, "country": "Sweden", "country_code": "SE",
        "phone": "+46 70 123 45 67", "company": null, "latitude": 59.8586, "longitude": 17.6389,
        "name": "Anna Lindqvist", "province_code": null
    });
    let line_items: Vec<Value> = lines
        .iter()
        .enumerate()
        .map(|(i, (line_id, product_id, qty, price))| json!({
            "id": line_id, "admin_graphql_api_id": format!("gid://shopify/LineItem/{line_id}"),
            "product_id": product_id, "variant_id": product_id * 10 + 1, "title": format!("Product {product_id}"),
            "variant_title": "Default", "name": format!("Product {product_id} - Default"), "sku": format!("SKU-{product_id}"),
            "vendor": "Atelier Demo", "quantity": qty, "current_quantity": qty, "fulfillable_quantity": qty,
            "price": price, "price_set": {"shop_money": {"amount": price, "currency_code": "USD"}, "presentment_money": {"amount": price, "currency_code": "USD"}},
            "total_discount": "0.00", "gift_card": false, "requires_shipping": true, "taxable": true, "grams": 250,
            "fulfillment_service": "manual", "fulfillment_status": null, "product_exists": true,
            "properties": if i == 0 { json!([{"name": "Engraving", "value": "Für Anna ❤️"}, {"name": "_atelier", "value": "sig"}]) } else { json!([]) },
            "tax_lines": [{"price": "1.20", "rate": 0.06, "title": "State Tax"}], "discount_allocations": [], "duties": []
        }))
        .collect();
    json!({
        "id": order_id, "admin_graphql_api_id": format!("gid://shopify/Order/{order_id}"),
        "name": format!("#{}", 1000 + order_id % 100000), "order_number": 1000 + order_id % 100000,
        "email": "anna@example.com", "contact_email": "anna@example.com", "phone": null,
        "created_at": "2026-11-01T10:00:00-05:00", "updated_at": updated_at, "processed_at": "2026-11-01T10:00:00-05:00",
        "cancelled_at": null, "cancel_reason": null, "closed_at": null,
        "financial_status": "paid", "fulfillment_status": null, "currency": "USD", "presentment_currency": "USD",
        "total_price": "129.90", "subtotal_price": "119.90", "total_tax": "10.00", "total_discounts": "0.00",
        "total_line_items_price": "119.90", "taxes_included": false, "test": false, "source_name": "web",
        "tags": "", "note": null, "note_attributes": [], "browser_ip": "203.0.113.9",
        "customer": customer_id.map(|id| json!({"id": id, "email": "anna@example.com", "first_name": "Anna", "last_name": "Lindqvist", "state": "enabled", "verified_email": true, "currency": "USD", "default_address": address})),
        "billing_address": address, "shipping_address": address,
        "shipping_lines": [{"id": 1, "title": "Standard", "price": "9.90", "code": "STD", "source": "shopify"}],
        "discount_codes": [], "discount_applications": [], "fulfillments": [], "refunds": [], "payment_gateway_names": ["shopify_payments"],
        "line_items": line_items,
    })
}

// ---------------------------------------------------------------- whole-database scans

#[derive(diesel::QueryableByName)]
struct NameRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[derive(diesel::QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    kind: String,
}

#[derive(diesel::QueryableByName)]
struct CountRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

impl TestApp {
    /// Tables in which any column of any row contains `needle` as text (blobs included).
    pub fn tables_mentioning(&self, needle: &str) -> Vec<String> {
        use atelier::db::DbConnection;
        use diesel::RunQueryDsl;
        let mut conn = self.state.db.conn().unwrap();
        let pattern = format!("%{needle}%").replace('\'', "''");
        let mut hits = Vec::new();
        match &mut *conn {
            DbConnection::Sqlite(c) => {
                let tables: Vec<NameRow> = diesel::sql_query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
                )
                .load(c)
                .unwrap();
                for t in tables {
                    let cols: Vec<ColumnRow> = diesel::sql_query(format!(
                        "SELECT name, type AS kind FROM pragma_table_info('{}')",
                        t.name
                    ))
                    .load(c)
                    .unwrap();
                    let cond = cols
                        .iter()
                        .map(|col| format!("CAST(\"{}\" AS TEXT) LIKE '{pattern}'", col.name))
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let n: Vec<CountRow> = diesel::sql_query(format!(
                        "SELECT COUNT(*) AS n FROM \"{}\" WHERE {cond}",
                        t.name
                    ))
                    .load(c)
                    .unwrap();
                    if n[0].n > 0 {
                        hits.push(t.name);
                    }
                }
            }
            DbConnection::Postgres(c) => {
                let tables: Vec<NameRow> = diesel::sql_query(
                    "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' AND table_name <> '__diesel_schema_migrations'",
                )
                .load(c)
                .unwrap();
                for t in tables {
                    let cols: Vec<ColumnRow> = diesel::sql_query(format!(
                        "SELECT column_name::text AS name, data_type::text AS kind FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{}'",
                        t.name
                    ))
                    .load(c)
                    .unwrap();
                    let cond = cols
                        .iter()
                        .map(|col| {
                            if col.kind == "bytea" {
                                format!("encode(\"{}\", 'escape') LIKE '{pattern}'", col.name)
                            } else {
                                format!("CAST(\"{}\" AS TEXT) LIKE '{pattern}'", col.name)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(" OR ");
                    let n: Vec<CountRow> = diesel::sql_query(format!(
                        "SELECT COUNT(*) AS n FROM \"{}\" WHERE {cond}",
                        t.name
                    ))
                    .load(c)
                    .unwrap();
                    if n[0].n > 0 {
                        hits.push(t.name);
                    }
                }
            }
        }
        hits.sort();
        hits
    }

    pub fn table_count(&self, table: &str) -> i64 {
        use atelier::db::DbConnection;
        use diesel::RunQueryDsl;
        let mut conn = self.state.db.conn().unwrap();
        let q = format!("SELECT COUNT(*) AS n FROM {table}");
        let rows: Vec<CountRow> = match &mut *conn {
            DbConnection::Sqlite(c) => diesel::sql_query(q).load(c).unwrap(),
            DbConnection::Postgres(c) => diesel::sql_query(q).load(c).unwrap(),
        };
        rows[0].n
    }
}

// ---------------------------------------------------------------- app proxy

/// Query Shopify's app proxy adds, signed as Shopify does: every parameter but `signature` as
/// `key=value`, sorted, concatenated without separator, hex HMAC-SHA256 with the API secret.
pub fn proxy_query(shop: &str, customer: Option<i64>, timestamp: i64, secret: &str) -> String {
    proxy_query_with(shop, customer, timestamp, secret, &[])
}

/// [`proxy_query`] with the storefront's own query parameters, which Shopify signs too.
pub fn proxy_query_with(
    shop: &str,
    customer: Option<i64>,
    timestamp: i64,
    secret: &str,
    extra: &[(&str, &str)],
) -> String {
    let mut params = vec![
        (
            "logged_in_customer_id".to_owned(),
            customer.map(|c| c.to_string()).unwrap_or_default(),
        ),
        ("path_prefix".to_owned(), "/apps/atelier".to_owned()),
        ("shop".to_owned(), shop.to_owned()),
        ("timestamp".to_owned(), timestamp.to_string()),
    ];
    params.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut parts: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    parts.sort();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(parts.concat().as_bytes());
    let signature = hex::encode(mac.finalize().into_bytes());
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .append_pair("signature", &signature)
        .finish()
}

impl TestApp {
    pub fn proxy_url(&self, path: &str, shop: &str, customer: Option<i64>) -> String {
        self.url(&format!(
            "/proxy{path}?{}",
            proxy_query(shop, customer, now(), API_SECRET)
        ))
    }

    pub async fn api_send(
        &self,
        method: reqwest::Method,
        path: &str,
        shop: &str,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(self.session_token(shop));
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.unwrap()
    }
}

// ---------------------------------------------------------------- the real binary

/// A port nothing listens on (for a server started as a separate process).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server process, killed when the test ends however it ends.
pub struct ChildServer(pub std::process::Child);

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Stores an installed shop (with the tests' token key) straight into the database at `url`,
/// for tests that start the real binary and cannot go through OAuth first.
pub fn seed_installed_shop(url: &str, shop: &str, scope: &str) {
    let handle = atelier::db::Db::connect(url, 1).unwrap();
    let grant = atelier::shopify::AccessGrant {
        access_token: atelier::config::Secret::new("shpat_x"),
        scope: scope.into(),
        expires_in: None,
        refresh_token: None,
        refresh_token_expires_in: None,
    };
    let cipher = atelier::crypto::TokenCipher::new(&[42u8; 32]);
    let domain = atelier::shopify::ShopDomain::parse(shop).unwrap();
    atelier::shops::save_grant(&mut handle.conn().unwrap(), &cipher, &domain, &grant).unwrap();
}

/// A GraphQL `Collection` node holding these products, in this order.
pub fn gql_collection(id: i64, handle: &str, products: &[i64]) -> Value {
    let nodes: Vec<Value> = products
        .iter()
        .map(|p| json!({"id": format!("gid://shopify/Product/{p}")}))
        .collect();
    json!({
        "id": format!("gid://shopify/Collection/{id}"), "handle": handle, "title": handle.replace('-', " "),
        "updatedAt": "2026-10-01T00:00:00Z", "products": {"nodes": nodes}
    })
}
