//! The Lambda host driven by real event JSON: Function URL, API Gateway HTTP API (payload v2)
//! and REST API (payload v1) events, parsed by `lambda_http::request::from_str` exactly as the
//! runtime parses them, through `coffer_functions::lambda::app::service` (what the binary
//! serves), answered by the same Router as `coffer server`.
//!
//! The event templates in `tests/events/` are AWS's documented payloads; each test fills in
//! method, path, query, headers and body. Server-mode references are the plain Router called
//! with the equivalent HTTP request, on the same store.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::ConnectInfo;
use base64::Engine as _;
use coffer_core::config::StorageConfig;
use coffer_core::seal::InitParams;
use coffer_core::store::{kv_v2_mount, Store, DEFAULT_STORE_ID};
use coffer_functions::lambda::app;
use lambda_http::{Body, IntoResponse};
use serde_json::{json, Map, Value};
use tower::ServiceExt;

const LIMIT: u64 = 1024 * 1024;
const FUNCTION_URL: &str = include_str!("events/function_url.json");
const HTTP_API_V2: &str = include_str!("events/http_api_v2.json");
const REST_API_V1: &str = include_str!("events/rest_api_v1.json");
/// The named stage of the two API Gateway templates (Function URLs have none).
const STAGE: &str = "prod";

/// Where an event comes from: each has its own payload shape.
#[derive(Debug, Clone, Copy)]
enum Source {
    FunctionUrl,
    HttpApi,
    RestApi,
}

const SOURCES: [Source; 3] = [Source::FunctionUrl, Source::HttpApi, Source::RestApi];

/// One HTTP request, as a client sent it.
#[derive(Debug, Clone, Default)]
struct Call {
    method: &'static str,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
    /// Send the body base64-encoded (`isBase64Encoded`), as Function URLs and API Gateway do
    /// for bodies they do not treat as text.
    base64: bool,
}

impl Call {
    fn new(method: &'static str, path: &str) -> Call {
        Call {
            method,
            path: path.to_owned(),
            ..Call::default()
        }
    }

    fn token(self, token: &str) -> Call {
        self.header("X-Vault-Token", token)
    }

    fn header(mut self, name: &str, value: &str) -> Call {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    fn query(mut self, name: &str, value: &str) -> Call {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    fn json(mut self, body: Value) -> Call {
        self.body = Some(body.to_string().into_bytes());
        self.headers
            .push(("Content-Type".into(), "application/json".into()));
        self
    }

    fn base64(mut self) -> Call {
        self.base64 = true;
        self
    }

    fn query_string(&self) -> String {
        form_urlencoded_pairs(&self.query)
    }

    fn body_fields(&self) -> (Value, Value) {
        match &self.body {
            None => (Value::Null, Value::Bool(false)),
            Some(bytes) if self.base64 => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                Value::Bool(true),
            ),
            Some(bytes) => (
                Value::String(String::from_utf8(bytes.clone()).expect("text body")),
                Value::Bool(false),
            ),
        }
    }

    /// The event JSON `source` would hand the function for this request.
    fn event(&self, source: Source) -> String {
        let mut event: Value = serde_json::from_str(match source {
            Source::FunctionUrl => FUNCTION_URL,
            Source::HttpApi => HTTP_API_V2,
            Source::RestApi => REST_API_V1,
        })
        .expect("template is JSON");
        let (body, is_base64) = self.body_fields();
        event["body"] = body;
        event["isBase64Encoded"] = is_base64;
        match source {
            Source::FunctionUrl | Source::HttpApi => {
                let raw_path = match source {
                    Source::HttpApi => format!("/{STAGE}{}", self.path),
                    _ => self.path.clone(),
                };
                event["rawPath"] = json!(raw_path);
                event["rawQueryString"] = json!(self.query_string());
                event["requestContext"]["http"]["method"] = json!(self.method);
                event["requestContext"]["http"]["path"] = json!(raw_path);
                if let Source::HttpApi = source {
                    event["pathParameters"]["proxy"] = json!(&self.path[1..]);
                }
                // Payload v2: header names lower-cased, repeated values joined by commas.
                let headers = event["headers"].as_object_mut().expect("headers");
                for (name, value) in &self.headers {
                    let name = name.to_ascii_lowercase();
                    let joined = match headers.get(&name).and_then(Value::as_str) {
                        Some(previous) => format!("{previous},{value}"),
                        None => value.clone(),
                    };
                    headers.insert(name, json!(joined));
                }
                if let Some(body) = &self.body {
                    headers.insert("content-length".into(), json!(body.len().to_string()));
                }
                if !self.query.is_empty() {
                    let mut params = Map::new();
                    for (name, value) in &self.query {
                        let joined = match params.get(name).and_then(Value::as_str) {
                            Some(previous) => format!("{previous},{value}"),
                            None => value.clone(),
                        };
                        params.insert(name.clone(), json!(joined));
                    }
                    event["queryStringParameters"] = Value::Object(params);
                }
            }
            Source::RestApi => {
                event["path"] = json!(self.path);
                event["httpMethod"] = json!(self.method);
                event["pathParameters"]["proxy"] = json!(&self.path[1..]);
                event["requestContext"]["path"] = json!(format!("/{STAGE}{}", self.path));
                event["requestContext"]["httpMethod"] = json!(self.method);
                // Payload v1: `headers` holds the last value of each, `multiValueHeaders` all.
                for (name, value) in &self.headers {
                    event["headers"][name] = json!(value);
                    let all = event["multiValueHeaders"]
                        .as_object_mut()
                        .expect("multiValueHeaders")
                        .entry(name.clone())
                        .or_insert_with(|| json!([]));
                    all.as_array_mut().expect("array").push(json!(value));
                }
                if !self.query.is_empty() {
                    let mut single = Map::new();
                    let mut multi = Map::new();
                    for (name, value) in &self.query {
                        single.insert(name.clone(), json!(value));
                        multi
                            .entry(name.clone())
                            .or_insert_with(|| json!([]))
                            .as_array_mut()
                            .expect("array")
                            .push(json!(value));
                    }
                    event["queryStringParameters"] = Value::Object(single);
                    event["multiValueQueryStringParameters"] = Value::Object(multi);
                }
            }
        }
        event.to_string()
    }

    /// The same request as `coffer server` receives it.
    fn http_request(&self) -> http::Request<axum::body::Body> {
        let query = self.query_string();
        let uri = if query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{query}", self.path)
        };
        let mut builder = http::Request::builder().method(self.method).uri(uri);
        for (name, value) in &self.headers {
            builder = builder.header(name, value);
        }
        if let Some(body) = &self.body {
            builder = builder.header("content-length", body.len());
        }
        builder
            .body(axum::body::Body::from(
                self.body.clone().unwrap_or_default(),
            ))
            .expect("request")
    }
}

fn form_urlencoded_pairs(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// A response as the function hands it back to the runtime (lambda_http's body: text, binary
/// or empty), or as server mode sends it.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    text: String,
    /// Whether lambda_http would send the body base64-encoded.
    binary: bool,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text))
    }

    /// The body without what differs per request by nature.
    fn comparable(&self) -> Value {
        if self.text.is_empty() {
            return Value::Null;
        }
        let mut body = self.json();
        if let Some(map) = body.as_object_mut() {
            map.remove("request_id");
        }
        body
    }
}

async fn dev_store() -> Arc<Store> {
    let storage = coffer_functions::assemble::open_storage(&StorageConfig::Memory)
        .await
        .expect("memory storage");
    let store = Arc::new(Store::new(storage, DEFAULT_STORE_ID));
    store
        .initialize(
            InitParams::shamir(1, 1),
            Some("root"),
            vec![kv_v2_mount("secret")],
            true,
        )
        .await
        .expect("dev init");
    store
}

async fn invoke_event(store: &Arc<Store>, event: &str, limit: u64) -> Answer {
    let request = lambda_http::request::from_str(event).expect("lambda_http parses the event");
    let response = app::service(store.clone(), limit)
        .oneshot(request)
        .await
        .expect("infallible");
    let response = response.into_response().await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let (text, binary) = match response.into_body() {
        Body::Empty => (String::new(), false),
        Body::Text(text) => (text, false),
        Body::Binary(bytes) => (String::from_utf8_lossy(&bytes).into_owned(), true),
        other => panic!("unexpected body kind {other:?}"),
    };
    Answer {
        status,
        headers,
        text,
        binary,
    }
}

async fn invoke(store: &Arc<Store>, source: Source, call: &Call) -> Answer {
    invoke_event(store, &call.event(source), LIMIT).await
}

async fn in_server_mode(store: &Arc<Store>, call: &Call) -> Answer {
    let response = coffer_core::http::router(store.clone(), LIMIT)
        .oneshot(call.http_request())
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    Answer {
        status,
        headers,
        text: String::from_utf8(bytes.to_vec()).expect("utf-8"),
        binary: false,
    }
}

/// README's first day with KV v2 (put, get, versions, list, delete, undelete, destroy,
/// metadata), every step as an event from `source`.
async fn kv_lifecycle(source: Source) {
    let store = dev_store().await;
    let send = |call: Call| {
        let store = store.clone();
        async move { invoke(&store, source, &call).await }
    };

    let health = send(Call::new("GET", "/v1/sys/health")).await;
    assert_eq!(health.status, 200, "{health:?}");
    assert_eq!(health.json()["sealed"], false);

    let put = send(
        Call::new("POST", "/v1/secret/data/app")
            .token("root")
            .header("X-Vault-Request", "true")
            .json(json!({"data": {"password": "hunter2"}})),
    )
    .await;
    assert_eq!(put.status, 200, "{put:?}");
    assert_eq!(put.json()["data"]["version"], 1);

    // A second version, its body base64-encoded as a Function URL sends binary bodies.
    let put2 = send(
        Call::new("PUT", "/v1/secret/data/app")
            .token("root")
            .json(json!({"data": {"password": "correct horse"}, "options": {"cas": 1}}))
            .base64(),
    )
    .await;
    assert_eq!(put2.status, 200, "{put2:?}");
    assert_eq!(put2.json()["data"]["version"], 2);

    let get = send(Call::new("GET", "/v1/secret/data/app").token("root")).await;
    assert_eq!(get.status, 200, "{get:?}");
    assert!(!get.binary, "JSON goes back as text, not base64");
    assert_eq!(get.json()["data"]["data"]["password"], "correct horse");
    assert_eq!(
        get.headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );

    let v1 = send(
        Call::new("GET", "/v1/secret/data/app")
            .token("root")
            .query("version", "1"),
    )
    .await;
    assert_eq!(v1.json()["data"]["data"]["password"], "hunter2", "{v1:?}");

    let list = send(
        Call::new("GET", "/v1/secret/metadata/")
            .token("root")
            .query("list", "true"),
    )
    .await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json()["data"]["keys"], json!(["app"]));

    let unauthenticated = send(Call::new("GET", "/v1/secret/data/app")).await;
    assert_eq!(unauthenticated.status, 403, "{unauthenticated:?}");

    let delete = send(Call::new("DELETE", "/v1/secret/data/app").token("root")).await;
    assert_eq!(delete.status, 204, "{delete:?}");
    assert_eq!(delete.text, "");

    let deleted = send(Call::new("GET", "/v1/secret/data/app").token("root")).await;
    assert_eq!(deleted.status, 404, "{deleted:?}");
    assert_eq!(deleted.json()["data"]["data"], Value::Null);
    assert_ne!(
        deleted.json()["data"]["metadata"]["deletion_time"],
        json!("")
    );

    let undelete = send(
        Call::new("POST", "/v1/secret/undelete/app")
            .token("root")
            .json(json!({"versions": [2]})),
    )
    .await;
    assert_eq!(undelete.status, 204, "{undelete:?}");
    let back = send(Call::new("GET", "/v1/secret/data/app").token("root")).await;
    assert_eq!(back.json()["data"]["data"]["password"], "correct horse");

    let destroy = send(
        Call::new("PUT", "/v1/secret/destroy/app")
            .token("root")
            .json(json!({"versions": [1]})),
    )
    .await;
    assert_eq!(destroy.status, 204, "{destroy:?}");
    let metadata = send(Call::new("GET", "/v1/secret/metadata/app").token("root")).await;
    assert_eq!(metadata.json()["data"]["versions"]["1"]["destroyed"], true);
    assert_eq!(metadata.json()["data"]["current_version"], 2);

    let gone = send(Call::new("DELETE", "/v1/secret/metadata/app").token("root")).await;
    assert_eq!(gone.status, 204, "{gone:?}");
    let missing = send(Call::new("GET", "/v1/secret/data/app").token("root")).await;
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(missing.json(), json!({"errors": []}));
}

#[tokio::test]
async fn kv_lifecycle_through_function_url_events() {
    kv_lifecycle(Source::FunctionUrl).await;
}

#[tokio::test]
async fn kv_lifecycle_through_http_api_v2_events_on_a_named_stage() {
    kv_lifecycle(Source::HttpApi).await;
}

#[tokio::test]
async fn kv_lifecycle_through_rest_api_v1_events() {
    kv_lifecycle(Source::RestApi).await;
}

#[tokio::test]
async fn status_codes_headers_and_bodies_are_those_of_server_mode() {
    let store = dev_store().await;
    let put = Call::new("POST", "/v1/secret/data/app")
        .token("root")
        .json(json!({"data": {"password": "hunter2"}}));
    assert_eq!(in_server_mode(&store, &put).await.status, 200);
    // Requests that change nothing, so the same one can be asked of both hosts in turn.
    let calls = [
        Call::new("GET", "/v1/secret/data/app").token("root"),
        Call::new("GET", "/v1/secret/data/app")
            .token("root")
            .query("version", "1"),
        Call::new("GET", "/v1/secret/metadata/")
            .token("root")
            .query("list", "true"),
        Call::new("GET", "/v1/secret/data/missing").token("root"),
        Call::new("GET", "/v1/secret/data/app"),
        Call::new("GET", "/v1/secret/data/app").token("s.not-a-token"),
        Call::new("GET", "/v1/sys/seal-status"),
        Call::new("GET", "/v1/sys/mounts").token("root"),
        Call::new("GET", "/v1/auth/token/lookup-self")
            .header("Authorization", "Bearer root")
            .header("X-Vault-Request", "true"),
        Call::new("GET", "/v1/no/such/path").token("root"),
        Call::new("GET", "/not-the-api"),
        Call::new("POST", "/v1/secret/data/bad")
            .token("root")
            .json(json!([1])),
        {
            let mut malformed = Call::new("POST", "/v1/secret/data/app").token("root");
            malformed.body = Some(b"{not json".to_vec());
            malformed
        },
        // Response wrapping is not implemented by the Router; whatever it answers, the
        // function answers the same.
        Call::new("GET", "/v1/secret/data/app")
            .token("root")
            .header("X-Vault-Wrap-TTL", "60s"),
    ];
    for source in SOURCES {
        for call in &calls {
            let lambda = invoke(&store, source, call).await;
            let server = in_server_mode(&store, call).await;
            let what = format!(
                "{source:?} {} {}?{}",
                call.method,
                call.path,
                call.query_string()
            );
            assert_eq!(
                lambda.status, server.status,
                "{what}: {lambda:?} vs {server:?}"
            );
            assert_eq!(lambda.comparable(), server.comparable(), "{what}");
            for header in [
                "content-type",
                "cache-control",
                "x-coffer-storage-round-trips",
            ] {
                assert_eq!(
                    lambda.headers.get(header),
                    server.headers.get(header),
                    "{what}: header {header}"
                );
            }
        }
    }
}

#[tokio::test]
async fn a_token_and_list_flag_only_in_rest_api_multi_value_fields_are_read() {
    let store = dev_store().await;
    let put = Call::new("POST", "/v1/secret/data/a/b")
        .token("root")
        .json(json!({"data": {"k": "v"}}));
    assert_eq!(invoke(&store, Source::RestApi, &put).await.status, 200);
    let mut event: Value = serde_json::from_str(
        &Call::new("GET", "/v1/secret/metadata/a/")
            .token("root")
            .query("list", "true")
            .event(Source::RestApi),
    )
    .expect("event");
    event["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("X-Vault-Token");
    event["queryStringParameters"] = Value::Null;
    assert_eq!(event["multiValueHeaders"]["X-Vault-Token"], json!(["root"]));
    let list = invoke_event(&store, &event.to_string(), LIMIT).await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json()["data"]["keys"], json!(["b"]));
}

#[tokio::test]
async fn the_list_method_is_served_where_the_source_carries_it() {
    // API Gateway cannot carry LIST (docs/deploy.md); `?list=true` is the portable form, and a
    // Function URL event that does name LIST is a list too.
    let store = dev_store().await;
    let put = Call::new("POST", "/v1/secret/data/x")
        .token("root")
        .json(json!({"data": {"k": "v"}}));
    assert_eq!(invoke(&store, Source::FunctionUrl, &put).await.status, 200);
    let list = invoke(
        &store,
        Source::FunctionUrl,
        &Call::new("LIST", "/v1/secret/metadata/").token("root"),
    )
    .await;
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.json()["data"]["keys"], json!(["x"]));
}

#[tokio::test]
async fn a_body_over_the_size_limit_is_refused_as_in_server_mode() {
    let store = dev_store().await;
    let call = Call::new("POST", "/v1/secret/data/big")
        .token("root")
        .json(json!({"data": {"blob": "x".repeat(2048)}}))
        .base64();
    for source in SOURCES {
        let answer = invoke_event(&store, &call.event(source), 1024).await;
        assert_eq!(answer.status, 413, "{source:?}: {answer:?}");
    }
    let server = coffer_core::http::router(store.clone(), 1024)
        .oneshot(call.http_request())
        .await
        .expect("infallible");
    assert_eq!(server.status(), 413);
}

#[tokio::test]
async fn a_stage_prefix_is_removed_from_the_path() {
    for (raw_path, expected) in [
        ("/prod/v1/sys/health", "/v1/sys/health"),
        ("/prod/v1", "/v1"),
        ("/prod/ui/", "/ui/"),
        // lambda_http adds the stage when the path lacks it; removing it gives the path back.
        ("/production/v1/sys/health", "/production/v1/sys/health"),
    ] {
        let mut event: Value = serde_json::from_str(HTTP_API_V2).expect("template");
        event["rawPath"] = json!(raw_path);
        event["rawQueryString"] = json!("standbyok=true");
        let adapted =
            app::adapt_request(lambda_http::request::from_str(&event.to_string()).expect("event"));
        assert_eq!(adapted.uri().path(), expected, "{raw_path}");
        assert_eq!(adapted.uri().query(), Some("standbyok=true"), "{raw_path}");
    }
}

#[tokio::test]
async fn a_stage_named_v1_keeps_the_api_path() {
    let mut event: Value = serde_json::from_str(REST_API_V1).expect("template");
    event["path"] = json!("/v1/sys/health");
    event["requestContext"]["stage"] = json!("v1");
    let adapted =
        app::adapt_request(lambda_http::request::from_str(&event.to_string()).expect("event"));
    assert_eq!(adapted.uri().path(), "/v1/sys/health");
    // The same stage on an HTTP API, whose raw path includes it.
    let mut event: Value = serde_json::from_str(HTTP_API_V2).expect("template");
    event["rawPath"] = json!("/v1/v1/sys/health");
    event["requestContext"]["stage"] = json!("v1");
    let adapted =
        app::adapt_request(lambda_http::request::from_str(&event.to_string()).expect("event"));
    assert_eq!(adapted.uri().path(), "/v1/sys/health");
}

#[tokio::test]
async fn the_client_address_of_the_request_context_becomes_the_peer_address() {
    for (source, ip) in [
        (Source::FunctionUrl, "203.0.113.7"),
        (Source::HttpApi, "198.51.100.20"),
        (Source::RestApi, "192.0.2.44"),
    ] {
        let request =
            lambda_http::request::from_str(&Call::new("GET", "/v1/sys/health").event(source))
                .expect("event");
        let adapted = app::adapt_request(request);
        let peer = adapted
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .unwrap_or_else(|| panic!("{source:?}: no peer address"));
        assert_eq!(peer.0.ip(), ip.parse::<IpAddr>().expect("ip"), "{source:?}");
    }
}
