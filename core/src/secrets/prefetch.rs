//! One storage round trip for everything a request reads first: the token entry, the mount
//! table's current value, and the view keys the routed engine names in `prefetch_paths`.
//!
//! The fetch happens before the token is checked, so it must not act on what it read: it only
//! holds the values. `Store::handle` checks the token and the policy, and only then passes
//! [`Prefetched::view_values`] into the engine's [`super::View`].
//!
//! Why the mount table rides along: each process caches the table, and another process may
//! have changed it. Reading `core/mounts` in the same batch costs no extra round trip and tells
//! whether the cache is current; a stale cache is replaced from the value already read, so a
//! mount enabled, moved or disabled by any process is seen by every other one on its next
//! request.

use crate::barrier::{Barrier, BarrierError, Plain};
use crate::logical::Request;
use crate::mounts::{MountTable, MOUNTS_PATH};

use super::{prefetch_paths, Engine};

/// View keys with what storage held for them.
type ViewValues = Vec<(String, Option<Plain>)>;

/// What one `get_many` returned for a request.
pub struct Prefetched {
    pub token: Option<Plain>,
    mounts: Option<Plain>,
    /// The uuid of the mount the view keys were chosen for, and the keys with their values.
    view: Option<(String, ViewValues)>,
}

impl Prefetched {
    /// Reads `token_path`, the mount table and the routed engine's first keys in one round trip.
    pub async fn fetch(
        barrier: &Barrier,
        token_path: String,
        table: &MountTable,
        req: &Request,
    ) -> Result<Prefetched, BarrierError> {
        let routed = table.route(&req.path).and_then(|mount| {
            let engine = Engine::of(mount)?;
            let rel = req.path.strip_prefix(mount.path.as_str()).unwrap_or("");
            Some((mount, prefetch_paths(engine, req, rel)))
        });
        let mut paths = vec![token_path, MOUNTS_PATH.to_string()];
        if let Some((mount, keys)) = &routed {
            let prefix = mount.storage_prefix();
            paths.extend(keys.iter().map(|k| format!("{prefix}{k}")));
        }
        let mut values = barrier.get_many(&paths).await?.into_iter();
        let token = values.next().flatten();
        let mounts = values.next().flatten();
        let view = routed
            .map(|(mount, keys)| (mount.uuid.clone(), keys.into_iter().zip(values).collect()));
        Ok(Prefetched {
            token,
            mounts,
            view,
        })
    }

    /// The stored mount table when it differs from `cached` (another process changed it).
    pub fn newer_mount_table(
        &self,
        cached: &MountTable,
    ) -> Result<Option<MountTable>, BarrierError> {
        let stored_version = self.mounts.as_ref().map_or(0, |p| p.version);
        if stored_version == cached.version {
            return Ok(None);
        }
        match &self.mounts {
            Some(plain) => MountTable::decode(plain).map(Some),
            None => Ok(Some(MountTable::defaults())),
        }
    }

    /// The view values fetched for the mount with `uuid`; nothing if the request was routed
    /// elsewhere after the mount table changed.
    pub fn view_values(&mut self, uuid: &str) -> ViewValues {
        match self.view.take() {
            Some((fetched_for, values)) if fetched_for == uuid => values,
            _ => Vec::new(),
        }
    }
}
