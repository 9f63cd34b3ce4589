//! `subkeys/<key>`: the structure of a version's data without its values (leaves are null),
//! down to `depth` levels (0 = all).

use serde_json::{json, Map, Value};

use super::data::{not_found_with, version_data};
use super::record::load;
use super::requested_version;
use crate::http::error::ApiError;
use crate::logical::{Request, Response};
use crate::secrets::kv::fields;
use crate::secrets::View;

fn skeleton(data: &Map<String, Value>, depth: i64, level: i64) -> Value {
    Value::Object(
        data.iter()
            .map(|(k, v)| {
                let child = match v {
                    Value::Object(inner) if depth == 0 || level < depth => {
                        skeleton(inner, depth, level + 1)
                    }
                    _ => Value::Null,
                };
                (k.clone(), child)
            })
            .collect(),
    )
}

pub(super) async fn read(view: &View<'_>, req: &Request, key: &str) -> Result<Response, ApiError> {
    let wanted = requested_version(req)?;
    let depth = fields::int(req.data.get("depth"), "depth")?
        .unwrap_or(0)
        .max(0);
    let Some((record, _)) = load(view, key).await? else {
        return Err(ApiError::NotFound);
    };
    let n = wanted.unwrap_or(record.current_version);
    let Some(meta) = record.versions.get(&n) else {
        return Err(ApiError::NotFound);
    };
    let metadata = meta.to_json(n, &record.custom_metadata);
    if !meta.is_readable() {
        return Ok(not_found_with(
            json!({ "metadata": metadata, "subkeys": null }),
        ));
    }
    let data = version_data(view, &record, key, n)
        .await?
        .unwrap_or_default();
    Ok(Response::data(
        json!({ "metadata": metadata, "subkeys": skeleton(&data, depth, 1) }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skeleton_stops_at_the_depth_asked() {
        let data = json!({"a": "1", "b": {"c": {"d": 1}, "e": 2}});
        let data = data.as_object().unwrap();
        assert_eq!(
            skeleton(data, 0, 1),
            json!({"a": null, "b": {"c": {"d": null}, "e": null}})
        );
        assert_eq!(skeleton(data, 1, 1), json!({"a": null, "b": null}));
        assert_eq!(
            skeleton(data, 2, 1),
            json!({"a": null, "b": {"c": null, "e": null}})
        );
    }
}
