//! The single-table key layout: where a storage key lives in DynamoDB and which folder items a
//! write needs, so that a one-level LIST is a single Query of one partition.
//!
//! A key `a/b/c` is the item `pk = "#a/b/"`, `sk = "c"`: its partition is its parent folder, so
//! the direct children of a folder are exactly one partition. A folder shows up in its parent's
//! LIST through a *folder item* (`pk = "#a/"`, `sk = "b/"`), written in the same atomic write as
//! the first key below it that this process creates, and never deleted (see `docs/storage.md`
//! for why folder items are immortal and what that costs). The leading `#` keeps the root folder's
//! partition key non-empty, which DynamoDB requires.

use super::super::StorageError;

/// Attribute names. Short, because every byte of them counts towards the item size limit.
pub(super) const PK: &str = "pk";
pub(super) const SK: &str = "sk";
pub(super) const VALUE: &str = "v";
pub(super) const VERSION: &str = "ver";
/// Present (true) on folder items only.
pub(super) const FOLDER: &str = "dir";

/// DynamoDB's item size limit: attribute names and values, in bytes.
pub(super) const ITEM_LIMIT: usize = 400 * 1024;
/// Room left in an item for the attribute names, the version number and the `dir` flag.
const ITEM_OVERHEAD: usize = 64;

/// Where one key lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ItemKey {
    pub pk: String,
    pub sk: String,
}

/// Splits a storage key into its partition (parent folder) and sort key (name). A key must be
/// non-empty and must not end in `/`: such a name would collide with a folder item.
pub(super) fn item_key(key: &str) -> Result<ItemKey, StorageError> {
    if key.is_empty() || key.ends_with('/') {
        return Err(StorageError::Backend(format!(
            "invalid storage key {key:?}: empty or ending in '/'"
        )));
    }
    let (parent, name) = match key.rfind('/') {
        Some(i) => (&key[..=i], &key[i + 1..]),
        None => ("", key),
    };
    Ok(ItemKey {
        pk: partition(parent),
        sk: name.to_string(),
    })
}

/// The partition holding the direct children of `folder` (`""` or ending in `/`).
pub(super) fn partition(folder: &str) -> String {
    format!("#{folder}")
}

/// The storage key an item of partition `pk` and sort key `sk` stands for (`sk` ends in `/` for
/// a folder item).
pub(super) fn storage_key(pk: &str, sk: &str) -> String {
    format!("{}{sk}", pk.strip_prefix('#').unwrap_or(pk))
}

/// The folder items that make `key` reachable by one-level LISTs from the root: one per
/// ancestor folder, outermost first, each as (the folder path, its item key).
pub(super) fn ancestor_folders(key: &str) -> Vec<(String, ItemKey)> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(i) = key[start..].find('/') {
        let end = start + i + 1;
        let folder = &key[..end];
        out.push((
            folder.to_string(),
            ItemKey {
                pk: partition(&key[..start]),
                sk: key[start..end].to_string(),
            },
        ));
        start = end;
    }
    out
}

/// Refuses a value that would not fit in one item, before any call is made.
pub(super) fn check_size(key: &str, item: &ItemKey, value_len: usize) -> Result<(), StorageError> {
    let limit = ITEM_LIMIT.saturating_sub(item.pk.len() + item.sk.len() + ITEM_OVERHEAD);
    if value_len > limit {
        return Err(StorageError::TooLarge {
            key: key.to_string(),
            size: value_len,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_lives_in_its_parent_folders_partition() {
        assert_eq!(
            item_key("default/logical/u/data/a").unwrap(),
            ItemKey {
                pk: "#default/logical/u/data/".into(),
                sk: "a".into()
            }
        );
        assert_eq!(
            item_key("top").unwrap(),
            ItemKey {
                pk: "#".into(),
                sk: "top".into()
            }
        );
    }

    #[test]
    fn keys_that_would_collide_with_folder_items_are_refused() {
        assert!(item_key("").is_err());
        assert!(item_key("a/b/").is_err());
    }

    #[test]
    fn storage_key_inverts_the_layout() {
        let k = item_key("s/a/b").unwrap();
        assert_eq!(storage_key(&k.pk, &k.sk), "s/a/b");
        assert_eq!(storage_key("#s/", "a/"), "s/a/");
    }

    #[test]
    fn every_ancestor_folder_gets_an_item_in_its_parent() {
        let folders = ancestor_folders("s/a/b");
        assert_eq!(
            folders,
            vec![
                (
                    "s/".to_string(),
                    ItemKey {
                        pk: "#".into(),
                        sk: "s/".into()
                    }
                ),
                (
                    "s/a/".to_string(),
                    ItemKey {
                        pk: "#s/".into(),
                        sk: "a/".into()
                    }
                ),
            ]
        );
        assert!(ancestor_folders("top").is_empty());
    }

    #[test]
    fn values_over_the_item_limit_are_refused_with_the_limit() {
        let k = item_key("s/a").unwrap();
        assert!(check_size("s/a", &k, 300 * 1024).is_ok());
        match check_size("s/a", &k, ITEM_LIMIT) {
            Err(StorageError::TooLarge { size, limit, .. }) => {
                assert_eq!(size, ITEM_LIMIT);
                assert!(limit < ITEM_LIMIT && limit > 399 * 1024);
            }
            other => panic!("expected TooLarge, got {other:?}"),
        }
    }
}
