//! `delete/<key>`, `undelete/<key>`, `destroy/<key>`: changing the state of chosen versions.
//! Versions that do not exist are ignored, as OpenBao does.

use chrono::Utc;

use super::record::{load, save, version_path};
use super::requested_versions;
use crate::barrier::PlainOp;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::secrets::View;
use crate::storage::Condition;

#[derive(Clone, Copy)]
enum Change {
    SoftDelete,
    Undelete,
    Destroy,
}

async fn apply(
    view: &View<'_>,
    req: &Request,
    key: &str,
    change: Change,
) -> Result<Response, ApiError> {
    let wanted = requested_versions(req)?;
    loop {
        let Some((mut record, version)) = load(view, key).await? else {
            return Ok(Response::empty());
        };
        let now = Utc::now();
        let mut ops = Vec::new();
        let mut changed = false;
        for n in &wanted {
            let is_latest = *n == record.current_version;
            let Some(meta) = record.versions.get_mut(n) else {
                continue;
            };
            match change {
                Change::SoftDelete if !meta.destroyed && !meta.is_deleted() => {
                    meta.deletion_time = Some(now);
                    changed = true;
                }
                Change::Undelete if !meta.destroyed && meta.deletion_time.is_some() => {
                    meta.deletion_time = None;
                    changed = true;
                }
                Change::Destroy if !meta.destroyed => {
                    meta.destroyed = true;
                    changed = true;
                    if is_latest {
                        record.latest = None;
                    } else {
                        ops.push(PlainOp::delete(version_path(key, *n)));
                    }
                }
                _ => {}
            }
        }
        if !changed || save(view, key, &record, Condition::Version(version), ops).await? {
            return Ok(Response::empty());
        }
    }
}

pub(super) async fn soft_delete(
    view: &View<'_>,
    req: &Request,
    key: &str,
) -> Result<Response, ApiError> {
    apply(view, req, key, Change::SoftDelete).await
}

pub(super) async fn undelete(
    view: &View<'_>,
    req: &Request,
    key: &str,
) -> Result<Response, ApiError> {
    apply(view, req, key, Change::Undelete).await
}

pub(super) async fn destroy(
    view: &View<'_>,
    req: &Request,
    key: &str,
) -> Result<Response, ApiError> {
    apply(view, req, key, Change::Destroy).await
}
