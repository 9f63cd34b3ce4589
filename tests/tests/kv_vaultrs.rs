//! The Rust `vaultrs` client runs the secret lifecycle against coffer: enable a KV v2 mount,
//! write, read, update with check-and-set, list, soft delete, undelete, destroy and delete the
//! metadata.

use std::collections::HashMap;

use coffer_blackbox::{Flavor, Server};
use vaultrs::api::kv2::requests::SetSecretRequestOptions;
use vaultrs::client::{VaultClient, VaultClientSettingsBuilder};
use vaultrs::error::ClientError;
use vaultrs::{kv2, sys};

fn client(server: &Server) -> VaultClient {
    VaultClient::new(
        VaultClientSettingsBuilder::default()
            .address(server.addr())
            .token("root")
            .build()
            .expect("vaultrs settings"),
    )
    .expect("vaultrs client")
}

/// A 404: an `APIError` when the body is `{"errors":[]}`, a raw server response when it is
/// OpenBao's 404 with the deleted version's metadata.
fn is_404(e: &ClientError) -> bool {
    match e {
        ClientError::APIError { code, .. } => *code == 404,
        ClientError::RestClientError { source } => {
            matches!(
                source,
                rustify::errors::ClientError::ServerResponseError { code: 404, .. }
            )
        }
        _ => false,
    }
}

#[test]
fn vaultrs_runs_the_secret_lifecycle_against_coffer() {
    let server = Server::dev(Flavor::Coffer);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        let c = client(&server);
        sys::mount::enable(&c, "secret1", "kv-v2", None)
            .await
            .expect("enable kv-v2");
        let mounts = sys::mount::list(&c).await.expect("list mounts");
        assert!(mounts.contains_key("secret1/"));

        let mut first = HashMap::new();
        first.insert("user", "alice");
        first.insert("pass", "one");
        let meta = kv2::set(&c, "secret1", "demo", &first)
            .await
            .expect("write");
        assert_eq!(meta.version, 1);
        let read: HashMap<String, String> = kv2::read(&c, "secret1", "demo").await.expect("read");
        assert_eq!(read["pass"], "one");

        let mut second = first.clone();
        second.insert("pass", "two");
        let meta = kv2::set_with_options(
            &c,
            "secret1",
            "demo",
            &second,
            SetSecretRequestOptions { cas: 1 },
        )
        .await
        .expect("update with cas");
        assert_eq!(meta.version, 2);
        let stale = kv2::set_with_options(
            &c,
            "secret1",
            "demo",
            &second,
            SetSecretRequestOptions { cas: 1 },
        )
        .await;
        assert!(
            matches!(stale, Err(ClientError::APIError { code: 400, .. })),
            "{stale:?}"
        );
        let old: HashMap<String, String> = kv2::read_version(&c, "secret1", "demo", 1)
            .await
            .expect("read version 1");
        assert_eq!(old["pass"], "one");
        let keys = kv2::list(&c, "secret1", "").await.expect("list");
        assert_eq!(keys, vec!["demo".to_string()]);

        kv2::delete_latest(&c, "secret1", "demo")
            .await
            .expect("soft delete");
        let gone = kv2::read::<HashMap<String, String>>(&c, "secret1", "demo").await;
        assert!(gone.as_ref().is_err_and(is_404), "{gone:?}");
        kv2::undelete_versions(&c, "secret1", "demo", vec![2])
            .await
            .expect("undelete");
        let back: HashMap<String, String> = kv2::read(&c, "secret1", "demo").await.expect("read");
        assert_eq!(back["pass"], "two");
        kv2::destroy_versions(&c, "secret1", "demo", vec![1])
            .await
            .expect("destroy");
        let metadata = kv2::read_metadata(&c, "secret1", "demo")
            .await
            .expect("metadata");
        assert_eq!(metadata.current_version, 2);
        assert!(metadata.versions["1"].destroyed);

        kv2::delete_metadata(&c, "secret1", "demo")
            .await
            .expect("delete metadata");
        let none = kv2::read_metadata(&c, "secret1", "demo").await;
        assert!(none.as_ref().is_err_and(is_404), "{none:?}");
    });
}
