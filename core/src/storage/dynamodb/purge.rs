//! Removing a whole keyspace (a deleted store) from the table, folder items included.
//!
//! Folder items are otherwise immortal (see `keys`), so the trait's default `purge`, which only
//! deletes keys, would leave the folder skeleton of a deleted store behind. This walks the
//! folders with one Query per partition and deletes every item, children before the folder item
//! that makes them listable, so an interrupted purge leaves nothing unreachable: run it again.

use aws_sdk_dynamodb::types::{Delete, TransactWriteItem};

use super::keys::{self, ItemKey};
use super::retry::{sdk_failure, with_retries};
use super::{build_error, DynamoDbStorage, TRANSACTION_LIMIT};
use crate::storage::{Storage, StorageError};

impl DynamoDbStorage {
    /// See [`Storage::purge`].
    pub(super) async fn purge_prefix(&self, prefix: &str) -> Result<usize, StorageError> {
        if !prefix.ends_with('/') {
            return Err(StorageError::Backend(format!(
                "invalid purge prefix {prefix:?}: must end in '/'"
            )));
        }
        let mut items = Vec::new();
        let mut removed_keys = 0;
        self.collect(prefix, &mut items, &mut removed_keys).await?;
        // The prefix's own folder item, in its parent's partition, goes last.
        let trimmed = &prefix[..prefix.len() - 1];
        let (parent, name) = match trimmed.rfind('/') {
            Some(i) => (&prefix[..=i], &prefix[i + 1..]),
            None => ("", prefix),
        };
        items.push(ItemKey {
            pk: keys::partition(parent),
            sk: name.to_string(),
        });
        for chunk in items.chunks(TRANSACTION_LIMIT) {
            self.delete_items(chunk).await?;
        }
        self.known_folders
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|folder| !folder.starts_with(prefix));
        Ok(removed_keys)
    }

    /// Every item below `folder`, children first.
    async fn collect(
        &self,
        folder: &str,
        items: &mut Vec<ItemKey>,
        removed_keys: &mut usize,
    ) -> Result<(), StorageError> {
        let mut pending = vec![folder.to_string()];
        let mut ordered_folders = Vec::new();
        while let Some(current) = pending.pop() {
            for child in self.list(&current).await? {
                let item = ItemKey {
                    pk: keys::partition(&current),
                    sk: child.clone(),
                };
                if child.ends_with('/') {
                    pending.push(format!("{current}{child}"));
                    ordered_folders.push(item);
                } else {
                    *removed_keys += 1;
                    items.push(item);
                }
            }
        }
        // Deeper folders were discovered later: deleting in reverse order of discovery removes
        // every folder item after everything below it.
        items.extend(ordered_folders.into_iter().rev());
        Ok(())
    }

    async fn delete_items(&self, chunk: &[ItemKey]) -> Result<(), StorageError> {
        let mut batch = Vec::with_capacity(chunk.len());
        for item in chunk {
            let delete = Delete::builder()
                .table_name(&self.table)
                .set_key(Some(Self::key_attrs(item)))
                .build()
                .map_err(build_error)?;
            batch.push(TransactWriteItem::builder().delete(delete).build());
        }
        let token = uuid::Uuid::new_v4().to_string();
        with_retries(self.deadline, "TransactWriteItems", || async {
            self.client
                .transact_write_items()
                .set_transact_items(Some(batch.clone()))
                .client_request_token(&token)
                .send()
                .await
                .map(|_| ())
                .map_err(|err| sdk_failure("TransactWriteItems", err))
        })
        .await
    }
}
