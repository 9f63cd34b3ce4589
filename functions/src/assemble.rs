//! Builds a [`Store`] from a [`Config`]: the storage backend, the audit rules and the seal.
//! Shared by every host (`coffer server`, the Lambda function) so that they serve the same
//! store from the same settings.

use std::sync::Arc;

use anyhow::Context;
use coffer_core::audit::{AuditBroker, AuditPolicy, DeclaredDevice};
use coffer_core::config::{Config, SealConfig, StorageConfig};
use coffer_core::seal::{Protector, SealSetup};
use coffer_core::storage::{CountingStorage, EmbeddedStorage, MemoryStorage, Storage};
use coffer_core::store::{Store, DEFAULT_STORE_ID};

/// Opens the storage, the audit devices and the seal of `config`. With an auto seal, an
/// initialized store is unsealed before this returns (cold start: one decrypt by the HSM or
/// KMS, then the keyring read); if the HSM or KMS refuses (wrong PIN, missing or disabled
/// key), the error is logged and the store stays sealed, trying again on later requests.
/// Settings the provider cannot accept at all are a start-up error.
pub async fn build_store(config: &Config) -> anyhow::Result<Arc<Store>> {
    let storage = open_storage(&config.storage).await?;
    let setup = SealSetup {
        active: open_seal(&config.seal).await?,
        migrate_from: match &config.disabled_seal {
            Some(seal) => Some(open_seal(seal).await?),
            None => None,
        },
    };
    let store = Arc::new(
        Store::new(storage, DEFAULT_STORE_ID)
            .with_seal(setup.clone())
            .with_audit(audit_broker(config))
            .with_generate_root(!config.disable_unauthed_generate_root_endpoints)
            .with_unauthed_rekey(!config.disable_unauthed_rekey_endpoints),
    );
    if let Protector::Auto(seal) = &setup.active {
        match seal.check().await {
            Ok(()) => match store.auto_unseal().await {
                Ok(true) => tracing::info!(seal = seal.kind(), "unsealed by the auto seal"),
                Ok(false) => tracing::info!(
                    seal = seal.kind(),
                    "not unsealed at start-up (not initialized, or a seal migration is pending)"
                ),
                Err(e) => {
                    tracing::error!(seal = seal.kind(), error = %e, "auto-unseal failed; the store stays sealed")
                }
            },
            Err(e) => {
                tracing::error!(error = %e, "the seal cannot be used; the store stays sealed")
            }
        }
    }
    Ok(store)
}

/// The provider of one `seal` block.
pub(crate) async fn open_seal(config: &SealConfig) -> anyhow::Result<Protector> {
    Ok(match config {
        SealConfig::Shamir => Protector::Shamir,
        SealConfig::Auto { kind, settings } => Protector::Auto(
            coffer_seal::open_auto_seal(kind, settings)
                .await
                .with_context(|| format!("configuring seal {kind:?}"))?,
        ),
    })
}

/// The registry of managed stores over the config's storage and seal (`coffer server` with a
/// control plane, and both Lambda functions with `COFFER_CONTROL_PLANE`). Opens clients only:
/// no store is read until a request or an admin call names it.
pub async fn open_registry(
    config: &Config,
    control_plane: coffer_core::config::ControlPlaneConfig,
) -> anyhow::Result<Arc<coffer_core::tenancy::Registry>> {
    let storage = open_storage(&config.storage).await?;
    let seal = coffer_core::seal::SealSetup {
        active: open_seal(&config.seal).await?,
        migrate_from: None,
    };
    Ok(Arc::new(coffer_core::tenancy::Registry::new(
        storage,
        control_plane,
        seal,
    )))
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
        ..AuditPolicy::default()
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
