//! Builds a [`Store`] from a [`Config`]: the storage backend, the audit rules and the seal.
//! Shared by every host (`coffer server`, the Lambda function) so that they serve the same
//! store from the same settings.

use std::sync::Arc;

use anyhow::Context;
use coffer_core::audit::{AuditBroker, AuditPolicy, DeclaredDevice};
use coffer_core::config::{Config, StorageConfig};
use coffer_core::storage::{CountingStorage, EmbeddedStorage, MemoryStorage, Storage};
use coffer_core::store::{Store, DEFAULT_STORE_ID};

/// Opens the storage, the audit devices and the seal of `config`. The store is sealed.
pub async fn build_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let storage = open_storage(&config.storage).await?;
    let store = Store::new(storage, DEFAULT_STORE_ID)
        .with_audit(audit_broker(config))
        .with_generate_root(!config.disable_unauthed_generate_root_endpoints);
    Ok(Arc::new(store))
}

pub async fn open_storage(config: &StorageConfig) -> anyhow::Result<Arc<dyn Storage>> {
    let inner: Arc<dyn Storage> = match config {
        StorageConfig::Memory => Arc::new(MemoryStorage::new()),
        StorageConfig::Embedded { path } => Arc::new(
            EmbeddedStorage::open(path)
                .with_context(|| format!("opening embedded storage at {}", path.display()))?,
        ),
        StorageConfig::DynamoDb {
            table,
            region,
            endpoint,
            create_table,
        } => open_dynamodb(table, region, endpoint, *create_table).await?,
    };
    Ok(Arc::new(CountingStorage::new(inner)))
}

#[cfg(feature = "dynamodb")]
async fn open_dynamodb(
    table: &str,
    region: &Option<String>,
    endpoint: &Option<String>,
    create_table: bool,
) -> anyhow::Result<Arc<dyn Storage>> {
    let options = coffer_core::storage::DynamoDbOptions {
        table: table.to_owned(),
        region: region.clone(),
        endpoint: endpoint.clone(),
        create_table,
    };
    let storage = coffer_core::storage::DynamoDbStorage::connect(&options)
        .await
        .with_context(|| format!("opening dynamodb storage (table {table:?})"))?;
    Ok(Arc::new(storage))
}

#[cfg(not(feature = "dynamodb"))]
async fn open_dynamodb(
    _table: &str,
    _region: &Option<String>,
    _endpoint: &Option<String>,
    _create_table: bool,
) -> anyhow::Result<Arc<dyn Storage>> {
    anyhow::bail!("storage \"dynamodb\": this coffer was built without the `dynamodb` feature")
}

/// The audit rules of a config: where API-created file devices may write, whether they may be
/// created at all, and the devices the config declares.
fn audit_broker(config: &Config) -> AuditBroker {
    let policy = AuditPolicy {
        file_dir: config.audit_file_dir.clone(),
        api_creation_disabled: config.disable_api_audit_creation,
    };
    let declared = config
        .audit_devices
        .iter()
        .map(|d| DeclaredDevice {
            kind: d.kind.clone(),
            path: d.path.clone(),
            description: d.description.clone(),
            options: d.options.clone(),
        })
        .collect();
    AuditBroker::new(policy, declared)
}
