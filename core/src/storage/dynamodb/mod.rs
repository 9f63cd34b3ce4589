//! DynamoDB storage: one table shared by every process (and every store) of a deployment.
//!
//! Owns the mapping of the `Storage` contract onto DynamoDB calls, one call per contract
//! operation: `get` = GetItem, `get_many` = BatchGetItem (more only past 100 keys or when
//! DynamoDB leaves keys unprocessed), `list` = one Query per 1 MB page, `write` = one
//! UpdateItem/DeleteItem for a single op, else one TransactWriteItems. Versions live in a `ver`
//! attribute bumped by every put (`ADD`), so conditions are DynamoDB condition expressions and
//! no process ever holds a lock. Every read is strongly consistent: a write acknowledged by
//! one process is seen by the next read of any other.
//!
//! Never sees plaintext (values are the barrier's ciphertext) and never logs a value.

mod keys;
mod purge;
mod retry;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    KeysAndAttributes, Put, ScalarAttributeType, TableStatus, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;

use self::keys::{ItemKey, FOLDER, PK, SK, VALUE, VERSION};
use self::retry::{sdk_failure, with_retries, Failure};
use super::{Condition, Entry, Storage, StorageError, WriteOp};

/// How long one storage operation may keep retrying before it fails.
const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
/// Per attempt: a stalled emulator or endpoint must not eat the whole deadline in one try.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// DynamoDB's limits on one BatchGetItem and one TransactWriteItems.
const BATCH_GET_LIMIT: usize = 100;
const TRANSACTION_LIMIT: usize = 100;
/// Folders remembered as written before the set is dropped and relearned: forgetting is always
/// safe (the next write below a forgotten folder rewrites its idempotent folder item), so this
/// only bounds memory in a process that writes below very many folders (KV v2 keeps one per key).
const KNOWN_FOLDERS_LIMIT: usize = 100_000;
/// How long start-up waits for a table it created to become ACTIVE.
const TABLE_ACTIVE_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the table is and how to reach it. Anything unset comes from the standard AWS
/// environment (`AWS_REGION`, `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_DYNAMODB`, the credentials
/// chain) through aws-config.
#[derive(Debug, Clone, Default)]
pub struct DynamoDbOptions {
    pub table: String,
    pub region: Option<String>,
    pub endpoint: Option<String>,
    /// Create the table (PAY_PER_REQUEST) at start-up when it does not exist.
    pub create_table: bool,
}

pub struct DynamoDbStorage {
    client: Client,
    table: String,
    deadline: Duration,
    /// Folders whose folder item is known to exist. Folder items are deleted only by `purge`
    /// of a keyspace that is never written again (a deleted store), so an entry cannot go
    /// stale in a way that matters, in this process or because of another one.
    known_folders: Mutex<HashSet<String>>,
    /// `Limit` of each LIST Query page; `None` lets DynamoDB fill 1 MB pages. Tests lower it
    /// to prove paging.
    page_limit: Option<i32>,
}

impl DynamoDbStorage {
    /// Connects, then checks that the table exists (creating it if asked), so a wrong table
    /// name or endpoint fails at start-up rather than on the first request.
    pub async fn connect(options: &DynamoDbOptions) -> Result<Self, StorageError> {
        let mut loader = aws_config::defaults(BehaviorVersion::latest());
        if let Some(region) = &options.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &options.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let shared = loader.load().await;
        Self::from_sdk_config(&shared, &options.table, options.create_table).await
    }

    /// Like [`DynamoDbStorage::connect`], from an already loaded AWS config (region,
    /// endpoint and credentials); the retry and timeout policy of this module replaces its own.
    pub async fn from_sdk_config(
        shared: &aws_config::SdkConfig,
        table: &str,
        create_table: bool,
    ) -> Result<Self, StorageError> {
        if shared.region().is_none() {
            return Err(StorageError::Backend(
                "dynamodb: no AWS region: set storage \"dynamodb\" { region = ... } or AWS_REGION"
                    .into(),
            ));
        }
        let config = aws_sdk_dynamodb::config::Builder::from(shared)
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .build(),
            )
            .build();
        let storage = DynamoDbStorage {
            client: Client::from_conf(config),
            table: table.to_string(),
            deadline: DEFAULT_DEADLINE,
            known_folders: Mutex::new(HashSet::new()),
            page_limit: None,
        };
        storage.ensure_table(create_table).await?;
        Ok(storage)
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    async fn ensure_table(&self, create: bool) -> Result<(), StorageError> {
        let status = self.table_status().await?;
        let status = match status {
            Some(status) => status,
            None if create => {
                self.create_table().await?;
                TableStatus::Creating
            }
            None => {
                return Err(StorageError::Backend(format!(
                    "dynamodb table {:?} does not exist: create it (see docs/storage.md) or set \
                     create_table = true",
                    self.table
                )))
            }
        };
        if status == TableStatus::Active {
            return Ok(());
        }
        let start = std::time::Instant::now();
        while start.elapsed() < TABLE_ACTIVE_TIMEOUT {
            if self.table_status().await? == Some(TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(StorageError::Backend(format!(
            "dynamodb table {:?} not ACTIVE after {TABLE_ACTIVE_TIMEOUT:?}",
            self.table
        )))
    }

    async fn table_status(&self) -> Result<Option<TableStatus>, StorageError> {
        with_retries(self.deadline, "DescribeTable", || async {
            match self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
            {
                Ok(out) => Ok(Some(
                    out.table
                        .and_then(|t| t.table_status)
                        .unwrap_or(TableStatus::Active),
                )),
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    Ok(None)
                }
                Err(err) => Err(sdk_failure("DescribeTable", err)),
            }
        })
        .await
    }

    /// The table of docs/storage.md: `pk` (S) hash, `sk` (S) range, on-demand capacity.
    async fn create_table(&self) -> Result<(), StorageError> {
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StorageError::Backend(format!("dynamodb CreateTable: {e}")))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| StorageError::Backend(format!("dynamodb CreateTable: {e}")))
        };
        let attributes = vec![attr(PK)?, attr(SK)?];
        let schema = vec![key(PK, KeyType::Hash)?, key(SK, KeyType::Range)?];
        with_retries(self.deadline, "CreateTable", || async {
            match self
                .client
                .create_table()
                .table_name(&self.table)
                .set_attribute_definitions(Some(attributes.clone()))
                .set_key_schema(Some(schema.clone()))
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                // Another process created it first.
                Err(err)
                    if err
                        .as_service_error()
                        .is_some_and(|e| e.is_resource_in_use_exception()) =>
                {
                    Ok(())
                }
                Err(err) => Err(sdk_failure("CreateTable", err)),
            }
        })
        .await?;
        tracing::info!(table = %self.table, "created dynamodb table");
        Ok(())
    }

    fn key_attrs(item: &ItemKey) -> HashMap<String, AttributeValue> {
        HashMap::from([
            (PK.to_string(), AttributeValue::S(item.pk.clone())),
            (SK.to_string(), AttributeValue::S(item.sk.clone())),
        ])
    }

    /// The folder items a batch needs that this process has not seen written yet.
    fn missing_folders(&self, ops: &[WriteOp]) -> Vec<(String, ItemKey)> {
        let known = self.known_folders.lock().unwrap_or_else(|p| p.into_inner());
        let mut seen = HashSet::new();
        ops.iter()
            .filter(|op| matches!(op, WriteOp::Put { .. }))
            .flat_map(|op| keys::ancestor_folders(op.key()))
            .filter(|(folder, _)| !known.contains(folder) && seen.insert(folder.clone()))
            .collect()
    }

    fn remember_folders(&self, folders: &[(String, ItemKey)]) {
        let mut known = self.known_folders.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() + folders.len() > KNOWN_FOLDERS_LIMIT {
            known.clear();
        }
        known.extend(folders.iter().map(|(folder, _)| folder.clone()));
    }

    /// One UpdateItem (put) or DeleteItem with the op's condition: the cheapest write.
    async fn write_one(&self, op: &WriteOp, item: &ItemKey) -> Result<(), StorageError> {
        let ambiguous = AtomicBool::new(false);
        let result = self.write_one_attempts(op, item, &ambiguous).await;
        self.settle(result, &ambiguous, std::slice::from_ref(op))
            .await
    }

    /// A conditional write that failed its condition after an earlier attempt failed
    /// ambiguously (a timeout or a lost response: that attempt may have landed) is checked
    /// against storage. Every value coffer writes is a fresh ciphertext (random nonce), so
    /// finding exactly our bytes under every put key (and no item under every delete key)
    /// proves the earlier attempt applied: the write succeeded. Without this check a client
    /// could be told "check-and-set mismatch" for a write that is in storage.
    async fn settle(
        &self,
        result: Result<(), StorageError>,
        ambiguous: &AtomicBool,
        ops: &[WriteOp],
    ) -> Result<(), StorageError> {
        match result {
            Err(StorageError::ConditionFailed { key }) if ambiguous.load(Ordering::Relaxed) => {
                let keys: Vec<String> = ops.iter().map(|op| op.key().to_string()).collect();
                let now = self.get_many(&keys).await?;
                let landed = ops.iter().zip(&now).all(|(op, found)| match (op, found) {
                    (WriteOp::Put { value, .. }, Some(entry)) => entry.value == *value,
                    (WriteOp::Delete { .. }, None) => true,
                    _ => false,
                });
                if landed {
                    tracing::info!("a dynamodb write that timed out had applied; treated as done");
                    Ok(())
                } else {
                    Err(StorageError::ConditionFailed { key })
                }
            }
            other => other,
        }
    }

    /// How a single-item write failed: its condition (final), or as `sdk_failure` says,
    /// marking `ambiguous` when the attempt may have applied.
    fn write_failure<E>(
        op: &str,
        key: &str,
        err: SdkError<E, HttpResponse>,
        ambiguous: &AtomicBool,
    ) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        if err.as_service_error().and_then(|e| e.code()) == Some("ConditionalCheckFailedException")
        {
            Failure::Permanent(StorageError::ConditionFailed {
                key: key.to_string(),
            })
        } else {
            Self::note_transient(sdk_failure(op, err), ambiguous)
        }
    }

    /// Marks `ambiguous` when an attempt failed in a way that may have applied it.
    fn note_transient(failure: Failure, ambiguous: &AtomicBool) -> Failure {
        if matches!(failure, Failure::Transient(_)) {
            ambiguous.store(true, Ordering::Relaxed);
        }
        failure
    }

    async fn write_one_attempts(
        &self,
        op: &WriteOp,
        item: &ItemKey,
        ambiguous: &AtomicBool,
    ) -> Result<(), StorageError> {
        let expr = Expression::for_op(op);
        let key = op.key();
        match op {
            WriteOp::Put { .. } => {
                with_retries(self.deadline, "UpdateItem", || async {
                    self.client
                        .update_item()
                        .table_name(&self.table)
                        .set_key(Some(Self::key_attrs(item)))
                        .set_update_expression(expr.update.clone())
                        .set_condition_expression(expr.condition.clone())
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|err| Self::write_failure("UpdateItem", key, err, ambiguous))
                })
                .await
            }
            WriteOp::Delete { .. } => {
                with_retries(self.deadline, "DeleteItem", || async {
                    self.client
                        .delete_item()
                        .table_name(&self.table)
                        .set_key(Some(Self::key_attrs(item)))
                        .set_condition_expression(expr.condition.clone())
                        .set_expression_attribute_names(expr.names())
                        .set_expression_attribute_values(expr.values())
                        .send()
                        .await
                        .map(|_| ())
                        .map_err(|err| Self::write_failure("DeleteItem", key, err, ambiguous))
                })
                .await
            }
        }
    }

    /// One TransactWriteItems: the ops, then the folder items (unconditional, idempotent puts).
    /// The client request token makes a retry after an ambiguous failure (a timeout after the
    /// request was sent) apply the transaction at most once.
    async fn write_transaction(
        &self,
        ops: &[(WriteOp, ItemKey)],
        folders: &[(String, ItemKey)],
    ) -> Result<(), StorageError> {
        let mut items = Vec::with_capacity(ops.len() + folders.len());
        for (op, item) in ops {
            items.push(self.transact_item(op, item)?);
        }
        for (_, folder) in folders {
            let mut attrs = Self::key_attrs(folder);
            attrs.insert(FOLDER.to_string(), AttributeValue::Bool(true));
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(attrs))
                .build()
                .map_err(build_error)?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        let token = uuid::Uuid::new_v4().to_string();
        let ambiguous = AtomicBool::new(false);
        let result = with_retries(self.deadline, "TransactWriteItems", || async {
            self.client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .client_request_token(&token)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| Self::note_transient(transaction_failure(err, ops), &ambiguous))
        })
        .await;
        // DynamoDB itself makes a retried transaction with the same token idempotent; an
        // emulator may not, so a condition failure after an ambiguous attempt is checked too.
        let plain: Vec<WriteOp> = ops.iter().map(|(op, _)| op.clone()).collect();
        self.settle(result, &ambiguous, &plain).await
    }

    fn transact_item(
        &self,
        op: &WriteOp,
        item: &ItemKey,
    ) -> Result<TransactWriteItem, StorageError> {
        let expr = Expression::for_op(op);
        let built = match op {
            WriteOp::Put { .. } => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_attrs(item)))
                    .set_update_expression(expr.update.clone())
                    .set_condition_expression(expr.condition.clone())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?,
            ),
            WriteOp::Delete { .. } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(Self::key_attrs(item)))
                    .set_condition_expression(expr.condition.clone())
                    .set_expression_attribute_names(expr.names())
                    .set_expression_attribute_values(expr.values())
                    .build()
                    .map_err(build_error)?,
            ),
        };
        Ok(built.build())
    }

    /// One BatchGetItem round (≤ 100 distinct keys), retrying what DynamoDB leaves unprocessed.
    async fn batch_get(
        &self,
        keys: &[(String, ItemKey)],
        found: &mut HashMap<String, Entry>,
    ) -> Result<(), StorageError> {
        let mut pending: Vec<HashMap<String, AttributeValue>> =
            keys.iter().map(|(_, item)| Self::key_attrs(item)).collect();
        let start = std::time::Instant::now();
        let mut rounds = 0u32;
        while !pending.is_empty() {
            rounds += 1;
            let request = KeysAndAttributes::builder()
                .set_keys(Some(pending.clone()))
                .consistent_read(true)
                .build()
                .map_err(build_error)?;
            let out = with_retries(self.deadline, "BatchGetItem", || async {
                self.client
                    .batch_get_item()
                    .request_items(&self.table, request.clone())
                    .send()
                    .await
                    .map_err(|err| sdk_failure("BatchGetItem", err))
            })
            .await?;
            for item in out
                .responses
                .and_then(|mut r| r.remove(&self.table))
                .unwrap_or_default()
            {
                let entry = entry_from_item(None, item)?;
                found.insert(entry.key.clone(), entry);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if !pending.is_empty() {
                if start.elapsed() > self.deadline {
                    return Err(StorageError::Backend(format!(
                        "dynamodb BatchGetItem: {} keys still unprocessed after {rounds} rounds",
                        pending.len()
                    )));
                }
                // Unprocessed keys mean throttling: back off like any other throttle.
                tokio::time::sleep(Duration::from_millis(20 * u64::from(rounds.min(50)))).await;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Storage for DynamoDbStorage {
    fn kind(&self) -> &'static str {
        "dynamodb"
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StorageError> {
        let item = keys::item_key(key)?;
        let out = with_retries(self.deadline, "GetItem", || async {
            self.client
                .get_item()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(&item)))
                .consistent_read(true)
                .send()
                .await
                .map_err(|err| sdk_failure("GetItem", err))
        })
        .await?;
        out.item
            .map(|attrs| entry_from_item(Some(key), attrs))
            .transpose()
    }

    async fn get_many(&self, keys: &[String]) -> Result<Vec<Option<Entry>>, StorageError> {
        // BatchGetItem refuses a key twice in one request, so ask for each key once.
        let mut distinct: Vec<(String, ItemKey)> = Vec::new();
        let mut seen = HashSet::new();
        for key in keys {
            if seen.insert(key.as_str()) {
                distinct.push((key.clone(), keys::item_key(key)?));
            }
        }
        let mut found = HashMap::new();
        for chunk in distinct.chunks(BATCH_GET_LIMIT) {
            self.batch_get(chunk, &mut found).await?;
        }
        Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        if !(prefix.is_empty() || prefix.ends_with('/')) {
            return Err(StorageError::Backend(format!(
                "invalid list prefix {prefix:?}: must be empty or end in '/'"
            )));
        }
        let pk = keys::partition(prefix);
        let mut names = Vec::new();
        let mut start_key = None;
        loop {
            let page = with_retries(self.deadline, "Query", || async {
                self.client
                    .query()
                    .table_name(&self.table)
                    .key_condition_expression("#pk = :pk")
                    .expression_attribute_names("#pk", PK)
                    .expression_attribute_names("#sk", SK)
                    .expression_attribute_values(":pk", AttributeValue::S(pk.clone()))
                    .projection_expression("#sk")
                    .consistent_read(true)
                    .set_limit(self.page_limit)
                    .set_exclusive_start_key(start_key.clone())
                    .send()
                    .await
                    .map_err(|err| sdk_failure("Query", err))
            })
            .await?;
            for item in page.items.unwrap_or_default() {
                if let Some(AttributeValue::S(name)) = item.get(SK) {
                    names.push(name.clone());
                }
            }
            match page.last_evaluated_key {
                Some(next) if !next.is_empty() => start_key = Some(next),
                _ => break,
            }
        }
        names.sort();
        names.dedup();
        Ok(names)
    }

    async fn purge(&self, prefix: &str) -> Result<usize, StorageError> {
        self.purge_prefix(prefix).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StorageError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut seen = HashSet::new();
        let mut located = Vec::with_capacity(ops.len());
        for op in &ops {
            let item = keys::item_key(op.key())?;
            if let WriteOp::Put { value, .. } = op {
                keys::check_size(op.key(), &item, value.len())?;
            }
            if !seen.insert(op.key()) {
                return Err(StorageError::Backend(format!(
                    "a dynamodb write batch may touch {:?} only once",
                    op.key()
                )));
            }
            located.push((op.clone(), item));
        }
        if located.len() > TRANSACTION_LIMIT {
            return Err(StorageError::Backend(format!(
                "a dynamodb write batch holds at most {TRANSACTION_LIMIT} ops, got {}",
                located.len()
            )));
        }
        let mut folders = self.missing_folders(&ops);
        if located.len() + folders.len() > TRANSACTION_LIMIT {
            // Folder items are idempotent and harmless when empty: write them first on their own.
            self.write_transaction(&[], &folders).await?;
            self.remember_folders(&folders);
            folders.clear();
        }
        match (located.as_slice(), folders.is_empty()) {
            ([(op, item)], true) => self.write_one(op, item).await?,
            _ => self.write_transaction(&located, &folders).await?,
        }
        self.remember_folders(&folders);
        Ok(())
    }
}

/// The update and condition expressions of one op, with their placeholders.
struct Expression {
    update: Option<String>,
    condition: Option<String>,
    names: Vec<(&'static str, &'static str)>,
    values: Vec<(&'static str, AttributeValue)>,
}

impl Expression {
    fn for_op(op: &WriteOp) -> Expression {
        let mut expr = Expression {
            update: None,
            condition: None,
            names: Vec::new(),
            values: Vec::new(),
        };
        if let WriteOp::Put { value, .. } = op {
            // ADD creates `ver` as 1 on a new item and bumps it on an existing one.
            expr.update = Some("SET #v = :v ADD #ver :one".into());
            expr.names.push(("#v", VALUE));
            expr.names.push(("#ver", VERSION));
            expr.values
                .push((":v", AttributeValue::B(Blob::new(value.clone()))));
            expr.values.push((":one", AttributeValue::N("1".into())));
        }
        match op.condition() {
            None => {}
            Some(Condition::Absent) => {
                expr.condition = Some("attribute_not_exists(#pk)".into());
                expr.names.push(("#pk", PK));
            }
            Some(Condition::Version(version)) => {
                expr.condition = Some("#ver = :expected".into());
                if !expr.names.contains(&("#ver", VERSION)) {
                    expr.names.push(("#ver", VERSION));
                }
                expr.values
                    .push((":expected", AttributeValue::N(version.to_string())));
            }
        }
        expr
    }

    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| {
            self.names
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
    }

    fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| {
            self.values
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        })
    }
}

/// Maps a cancelled transaction to the contract: a failed condition names its key; a conflict
/// with another transaction or throttling is transient; anything else is a backend error.
fn transaction_failure(
    err: SdkError<TransactWriteItemsError, HttpResponse>,
    ops: &[(WriteOp, ItemKey)],
) -> Failure {
    let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
    else {
        return sdk_failure("TransactWriteItems", err);
    };
    let codes: Vec<&str> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None"))
        .collect();
    if let Some(i) = codes.iter().position(|c| *c == "ConditionalCheckFailed") {
        let key = ops
            .get(i)
            .map(|(op, _)| op.key())
            .unwrap_or("<folder item>");
        return Failure::Permanent(StorageError::ConditionFailed {
            key: key.to_string(),
        });
    }
    let message = format!(
        "TransactWriteItems cancelled: {} (reasons: {})",
        cancelled.message().unwrap_or("no message"),
        codes.join(", ")
    );
    if codes.iter().any(|c| {
        matches!(
            *c,
            "TransactionConflict" | "ThrottlingError" | "ProvisionedThroughputExceeded"
        )
    }) {
        Failure::Transient(message)
    } else {
        Failure::Permanent(StorageError::Backend(format!("dynamodb {message}")))
    }
}

/// An item back into an `Entry`; `key` when the caller knows it, else from `pk` and `sk`.
fn entry_from_item(
    key: Option<&str>,
    mut attrs: HashMap<String, AttributeValue>,
) -> Result<Entry, StorageError> {
    let corrupt = |what: &str| StorageError::Backend(format!("dynamodb item without {what}"));
    let key = match key {
        Some(key) => key.to_string(),
        None => match (attrs.get(PK), attrs.get(SK)) {
            (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => keys::storage_key(pk, sk),
            _ => return Err(corrupt("a key")),
        },
    };
    let value = match attrs.remove(VALUE) {
        Some(AttributeValue::B(blob)) => blob.into_inner(),
        _ => return Err(corrupt("a value")),
    };
    let version = match attrs.get(VERSION) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| corrupt("a numeric version"))?,
        _ => return Err(corrupt("a version")),
    };
    Ok(Entry {
        key,
        value,
        version,
    })
}

fn build_error(err: impl std::fmt::Display) -> StorageError {
    StorageError::Backend(format!("dynamodb request: {err}"))
}
