//! `config`: the mount-wide `max_versions`, `cas_required` and `delete_version_after`.

use super::record::{encode, load_config, CONFIG_PATH};
use crate::barrier::PlainOp;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::secrets::kv::fields;
use crate::secrets::View;

pub(super) async fn read(view: &View<'_>) -> Result<Response, ApiError> {
    Ok(Response::data(load_config(view).await?.to_json()))
}

/// Changes the fields given and keeps the others. Last writer wins, as in OpenBao.
pub(super) async fn write(view: &View<'_>, req: &Request) -> Result<Response, ApiError> {
    let max_versions = fields::int(req.data.get("max_versions"), "max_versions")?;
    let cas_required = fields::boolean(req.data.get("cas_required"), "cas_required")?;
    let delete_version_after =
        fields::seconds(req.data.get("delete_version_after"), "delete_version_after")?;
    let mut config = load_config(view).await?;
    if let Some(v) = max_versions {
        config.max_versions = u64::try_from(v).unwrap_or(0);
    }
    if let Some(v) = cas_required {
        config.cas_required = v;
    }
    if let Some(v) = delete_version_after {
        config.delete_version_after = v;
    }
    view.write(vec![PlainOp::put(CONFIG_PATH, encode(&config))])
        .await?;
    Ok(Response::empty())
}
