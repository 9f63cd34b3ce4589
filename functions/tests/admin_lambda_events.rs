//! The control plane's two Lambda handlers driven by real event JSON, parsed by
//! `lambda_http::request::from_str` as the runtime parses them: `coffer-admin-lambda`'s
//! (`app::admin_service`) behind a Function URL, and `coffer-lambda`'s hosted mode
//! (`app::hosted_service`) behind an API Gateway HTTP API on a wildcard custom domain, where
//! the event's `host` header is the store's own name.
//!
//! Both handlers share one registry here (one process: a Shamir store stays unsealed where it
//! was created); separate instances on DynamoDB and KMS are `tests/tests/admin_lambda.rs`.

use std::sync::Arc;

use coffer_core::config::{ControlPlaneConfig, StorageConfig};
use coffer_core::seal::{Protector, SealSetup};
use coffer_core::tenancy::Registry;
use coffer_functions::admin::credential::AdminCredential;
use coffer_functions::lambda::app;
use lambda_http::{Body, IntoResponse};
use serde_json::{json, Value};
use tower::ServiceExt;

const FUNCTION_URL: &str = include_str!("events/function_url.json");
const HTTP_API_V2: &str = include_str!("events/http_api_v2.json");
const CREDENTIAL: &str = "admin-credential-for-event-tests";
const BASE_DOMAIN: &str = "secrets.example.com";
const LIMIT: u64 = 1024 * 1024;

/// A payload v2 event: `template`'s shape with this request filled in. `host` replaces the
/// `host` header and `requestContext.domainName`, as a custom domain does.
struct Event {
    event: Value,
}

impl Event {
    fn new(template: &str, method: &str, path: &str) -> Event {
        let mut event: Value = serde_json::from_str(template).expect("template is JSON");
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        // The HTTP API template's named stage would prefix the path: a custom domain's API
        // mapping serves the `$default` stage at the root.
        event["requestContext"]["stage"] = json!("$default");
        event["routeKey"] = json!("$default");
        event["requestContext"]["routeKey"] = json!("$default");
        Event { event }
    }

    /// A Function URL event (the admin function's endpoint).
    fn url(method: &str, path: &str) -> Event {
        Event::new(FUNCTION_URL, method, path)
    }

    /// An HTTP API event for a request to `https://<host><path>`.
    fn on_host(host: &str, method: &str, path: &str) -> Event {
        let mut event = Event::new(HTTP_API_V2, method, path);
        event.event["headers"]["host"] = json!(host);
        event.event["requestContext"]["domainName"] = json!(host);
        event.event["requestContext"]["domainPrefix"] =
            json!(host.split('.').next().unwrap_or_default());
        event
    }

    fn header(mut self, name: &str, value: &str) -> Event {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    fn admin(self) -> Event {
        self.header("authorization", &format!("Bearer {CREDENTIAL}"))
    }

    fn json(mut self, body: Value) -> Event {
        let text = body.to_string();
        self.event["headers"]["content-type"] = json!("application/json");
        self.event["headers"]["content-length"] = json!(text.len().to_string());
        self.event["body"] = json!(text);
        self.event["isBase64Encoded"] = json!(false);
        self
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: http::HeaderMap,
    json: Value,
}

async fn answer(response: http::Response<axum::body::Body>) -> Answer {
    let response = response.into_response().await;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = match response.into_body() {
        Body::Empty => String::new(),
        Body::Text(text) => text,
        Body::Binary(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("unexpected body kind {other:?}"),
    };
    let json = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"))
    };
    Answer {
        status,
        headers,
        json,
    }
}

/// The two handlers over one registry on memory storage.
struct ControlPlane {
    registry: Arc<Registry>,
}

impl ControlPlane {
    async fn new() -> ControlPlane {
        let storage = coffer_functions::assemble::open_storage(&StorageConfig::Memory)
            .await
            .expect("memory storage");
        let config = ControlPlaneConfig::from_hcl(&format!(
            "control_plane {{\n base_domain = \"{BASE_DOMAIN}\"\n key_shares = 1\n key_threshold = 1\n plan \"free\" {{\n max_secrets = 10\n }}\n plan \"pro\" {{\n max_secrets = 1000\n }}\n}}\n"
        ))
        .expect("control plane block");
        let seal = SealSetup {
            active: Protector::Shamir,
            migrate_from: None,
        };
        ControlPlane {
            registry: Arc::new(Registry::new(storage, config, seal)),
        }
    }

    async fn admin(&self, event: Event) -> Answer {
        let request =
            lambda_http::request::from_str(&event.event.to_string()).expect("event parses");
        let credential = AdminCredential::new(CREDENTIAL).expect("credential");
        let response = app::admin_service(self.registry.clone(), credential)
            .oneshot(request)
            .await
            .expect("infallible");
        answer(response).await
    }

    async fn data(&self, event: Event) -> Answer {
        let request =
            lambda_http::request::from_str(&event.event.to_string()).expect("event parses");
        let response = app::hosted_service(self.registry.clone(), LIMIT)
            .oneshot(request)
            .await
            .expect("infallible");
        answer(response).await
    }

    async fn create(&self, plan: Option<&str>) -> (String, String) {
        let body = match plan {
            Some(plan) => json!({ "plan": plan }),
            None => json!({}),
        };
        let created = self
            .admin(Event::url("POST", "/v1/stores").admin().json(body))
            .await;
        assert_eq!(created.status, 200, "{created:?}");
        (
            created.json["id"].as_str().expect("id").to_owned(),
            created.json["root_token"]
                .as_str()
                .expect("root token")
                .to_owned(),
        )
    }
}

fn host(id: &str) -> String {
    format!("{id}.{BASE_DOMAIN}")
}

#[tokio::test]
async fn stores_are_created_listed_shown_upgraded_and_deleted_through_function_url_events() {
    let cp = ControlPlane::new().await;
    let created = cp
        .admin(
            Event::url("POST", "/v1/stores")
                .admin()
                .json(json!({ "plan": "free" })),
        )
        .await;
    assert_eq!(created.status, 200, "{created:?}");
    assert_eq!(
        created.headers.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "the keys must not be cached anywhere"
    );
    let id = created.json["id"].as_str().expect("id").to_owned();
    assert_eq!(
        created.json["endpoint"],
        json!(format!("https://{}", host(&id)))
    );
    assert!(created.json["root_token"]
        .as_str()
        .is_some_and(|t| t.starts_with("s.")));
    assert_eq!(created.json["keys"].as_array().map(Vec::len), Some(1));

    let list = cp.admin(Event::url("GET", "/v1/stores").admin()).await;
    assert_eq!(list.status, 200, "{list:?}");
    let ids: Vec<&str> = list.json["stores"]
        .as_array()
        .expect("stores")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()]);
    assert!(
        list.json["stores"][0].get("root_token").is_none(),
        "{list:?}"
    );

    let show = cp
        .admin(Event::url("GET", &format!("/v1/stores/{id}")).admin())
        .await;
    assert_eq!(show.status, 200, "{show:?}");
    assert_eq!(show.json["plan"]["name"], "free");
    assert_eq!(show.json["seal_type"], "shamir");
    assert_eq!(show.json["secret_count"], 0);

    let upgraded = cp
        .admin(
            Event::url("POST", &format!("/v1/stores/{id}/plan"))
                .admin()
                .json(json!({ "plan": "pro" })),
        )
        .await;
    assert_eq!(upgraded.status, 200, "{upgraded:?}");
    assert_eq!(upgraded.json["plan"]["name"], "pro");
    assert_eq!(upgraded.json["plan"]["max_secrets"], 1000);

    let unconfirmed = cp
        .admin(Event::url("DELETE", &format!("/v1/stores/{id}")).admin())
        .await;
    assert_eq!(unconfirmed.status, 400, "{unconfirmed:?}");
    assert!(unconfirmed.json["errors"][0]
        .as_str()
        .is_some_and(|e| e.contains("irreversible")));

    let deleted = cp
        .admin(Event::url("DELETE", &format!("/v1/stores/{id}?confirm={id}")).admin())
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    assert_eq!(deleted.json["id"], json!(id));
    let gone = cp
        .admin(Event::url("GET", &format!("/v1/stores/{id}")).admin())
        .await;
    assert_eq!(gone.status, 404, "{gone:?}");
    assert_eq!(gone.json, json!({ "errors": [format!("no store {id:?}")] }));
}

#[tokio::test]
async fn bad_admin_requests_get_vault_style_errors() {
    let cp = ControlPlane::new().await;
    let unknown_plan = cp
        .admin(
            Event::url("POST", "/v1/stores")
                .admin()
                .json(json!({ "plan": "gold" })),
        )
        .await;
    assert_eq!(unknown_plan.status, 400, "{unknown_plan:?}");
    assert_eq!(
        unknown_plan.json,
        json!({ "errors": ["no plan \"gold\"; plans: free, pro"] })
    );
    let unknown_store = cp
        .admin(
            Event::url("POST", "/v1/stores/nosuchstore/plan")
                .admin()
                .json(json!({ "plan": "pro" })),
        )
        .await;
    assert_eq!(unknown_store.status, 404, "{unknown_store:?}");
    assert!(unknown_store.json["errors"].is_array());
}

#[tokio::test]
async fn a_missing_wrong_or_store_credential_is_refused() {
    let cp = ControlPlane::new().await;
    let (_, root_token) = cp.create(None).await;

    let missing = cp.admin(Event::url("GET", "/v1/stores")).await;
    assert_eq!(missing.status, 401, "{missing:?}");
    assert_eq!(
        missing.json,
        json!({ "errors": ["missing admin credential"] })
    );

    for presented in [
        "wrong-credential-of-some-length".to_string(),
        format!("{CREDENTIAL}x"),
        root_token.clone(),
    ] {
        let wrong = cp
            .admin(
                Event::url("GET", "/v1/stores")
                    .header("authorization", &format!("Bearer {presented}")),
            )
            .await;
        assert_eq!(wrong.status, 403, "{wrong:?}");
        assert_eq!(wrong.json, json!({ "errors": ["permission denied"] }));
    }
    // A store's root token as Vault clients send it means nothing here either.
    let vault_style = cp
        .admin(Event::url("POST", "/v1/stores").header("x-vault-token", &root_token))
        .await;
    assert_eq!(vault_style.status, 401, "{vault_style:?}");
}

#[tokio::test]
async fn behind_an_aws_iam_url_the_credential_rides_in_its_own_header() {
    let cp = ControlPlane::new().await;
    // An AWS_IAM Function URL hands the function the caller's SigV4 Authorization header.
    let sigv4 = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261203/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=0123";
    let signed_only = cp
        .admin(Event::url("GET", "/v1/stores").header("authorization", sigv4))
        .await;
    assert_eq!(signed_only.status, 401, "{signed_only:?}");
    let both = cp
        .admin(
            Event::url("GET", "/v1/stores")
                .header("authorization", sigv4)
                .header("x-coffer-admin-token", CREDENTIAL),
        )
        .await;
    assert_eq!(both.status, 200, "{both:?}");
    let wrong = cp
        .admin(
            Event::url("GET", "/v1/stores")
                .header("authorization", &format!("Bearer {CREDENTIAL}"))
                .header("x-coffer-admin-token", "not-the-admin-credential"),
        )
        .await;
    assert_eq!(wrong.status, 403, "the dedicated header decides: {wrong:?}");
}

#[tokio::test]
async fn the_data_plane_routes_http_api_events_by_their_custom_domain_host() {
    let cp = ControlPlane::new().await;
    let (a, root_a) = cp.create(None).await;
    let (b, root_b) = cp.create(None).await;

    for (id, token, value) in [(&a, &root_a, "alpha"), (&b, &root_b, "bravo")] {
        let put = cp
            .data(
                Event::on_host(&host(id), "POST", "/v1/secret/data/app")
                    .header("x-vault-token", token)
                    .json(json!({ "data": { "v": value } })),
            )
            .await;
        assert_eq!(put.status, 200, "{put:?}");
    }
    for (id, token, value) in [(&a, &root_a, "alpha"), (&b, &root_b, "bravo")] {
        let get = cp
            .data(
                Event::on_host(&host(id), "GET", "/v1/secret/data/app")
                    .header("x-vault-token", token),
            )
            .await;
        assert_eq!(get.status, 200, "{get:?}");
        assert_eq!(get.json["data"]["data"]["v"], value);
        assert_eq!(
            get.headers
                .get("x-coffer-storage-round-trips")
                .map(|v| v.as_bytes()),
            Some(&b"1"[..]),
            "a KV read through host routing stays at one round trip"
        );
    }
    // B's token means nothing on A.
    let crossed = cp
        .data(
            Event::on_host(&host(&a), "GET", "/v1/secret/data/app")
                .header("x-vault-token", &root_b),
        )
        .await;
    assert_eq!(crossed.status, 403, "{crossed:?}");

    // The function's own Function URL host names no store.
    let own_host = cp
        .data(Event::url("GET", "/v1/sys/health").header("x-vault-token", &root_a))
        .await;
    assert_eq!(own_host.status, 404, "{own_host:?}");
    assert_eq!(
        own_host.json,
        json!({ "errors": ["no secret store is served at host \"abcdefghijklmnopqrstuvwxyz0123.lambda-url.us-east-1.on.aws\""] })
    );

    // Deleted: its host answers 404, the other store keeps serving.
    let deleted = cp
        .admin(Event::url("DELETE", &format!("/v1/stores/{a}?confirm={a}")).admin())
        .await;
    assert_eq!(deleted.status, 200, "{deleted:?}");
    let after = cp
        .data(
            Event::on_host(&host(&a), "GET", "/v1/secret/data/app")
                .header("x-vault-token", &root_a),
        )
        .await;
    assert_eq!(after.status, 404, "{after:?}");
    let other = cp
        .data(
            Event::on_host(&host(&b), "GET", "/v1/secret/data/app")
                .header("x-vault-token", &root_b),
        )
        .await;
    assert_eq!(other.status, 200, "{other:?}");
}
