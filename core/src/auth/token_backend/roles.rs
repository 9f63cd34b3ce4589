//! Token roles (`auth/token/roles/<name>`): presets and limits for `auth/token/create/<name>`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fields;
use super::Ctx;
use crate::auth::WriteKind;
use crate::barrier::{Barrier, BarrierError};
use crate::http::error::ApiError;
use crate::logical::{Operation, Response};

const ROLE_PREFIX: &str = "sys/token/role/";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub allowed_policies: Vec<String>,
    pub disallowed_policies: Vec<String>,
    pub orphan: bool,
    pub renewable: bool,
    pub period: u64,
    pub explicit_max_ttl: u64,
    pub path_suffix: String,
    pub no_default_policy: bool,
}

impl Role {
    fn to_json(&self) -> serde_json::Value {
        json!({
            "allowed_entity_aliases": null,
            "allowed_policies": self.allowed_policies,
            "allowed_policies_glob": [],
            "disallowed_policies": self.disallowed_policies,
            "disallowed_policies_glob": [],
            "explicit_max_ttl": self.explicit_max_ttl,
            "name": self.name,
            "orphan": self.orphan,
            "path_suffix": self.path_suffix,
            "period": self.period,
            "renewable": self.renewable,
            "token_explicit_max_ttl": self.explicit_max_ttl,
            "token_no_default_policy": self.no_default_policy,
            "token_period": self.period,
            "token_type": "default-service",
        })
    }
}

fn role_path(name: &str) -> String {
    format!("{ROLE_PREFIX}{name}")
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains('/')
}

pub async fn load(barrier: &Barrier, name: &str) -> Result<Option<Role>, BarrierError> {
    if !valid_name(name) {
        return Ok(None);
    }
    let Some(plain) = barrier.get(&role_path(name)).await? else {
        return Ok(None);
    };
    Ok(serde_json::from_slice(&plain.value).ok())
}

pub async fn list(ctx: &Ctx<'_>) -> Result<Response, ApiError> {
    let mut keys = ctx.barrier().list(ROLE_PREFIX).await?;
    keys.retain(|k| !k.ends_with('/'));
    if keys.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Response::list(keys))
}

fn sanitize(list: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = list.into_iter().map(|p| p.to_lowercase()).collect();
    out.sort();
    out.dedup();
    out
}

pub async fn handle(ctx: &Ctx<'_>, name: &str) -> Result<Response, ApiError> {
    let barrier = ctx.barrier();
    let name = name.trim_end_matches('/');
    if !valid_name(name) {
        return Err(ApiError::NoRoute(ctx.req.path.clone()));
    }
    match ctx.req.operation {
        Operation::Read => match load(barrier, name).await? {
            Some(role) => Ok(Response::data(role.to_json())),
            None => Err(ApiError::NotFound),
        },
        Operation::Delete => {
            barrier.delete(&role_path(name)).await?;
            Ok(Response::empty())
        }
        Operation::Update => {
            let existing = load(barrier, name).await?;
            match (ctx.grant.write_only_if, existing.is_some()) {
                (Some(WriteKind::Create), true) | (Some(WriteKind::Update), false) => {
                    return Err(ApiError::AclDenied)
                }
                _ => {}
            }
            let d = &ctx.req.data;
            let mut role = existing.unwrap_or(Role {
                renewable: true,
                ..Role::default()
            });
            role.name = name.to_string();
            if let Some(p) = fields::string_list(d, "allowed_policies")? {
                role.allowed_policies = sanitize(p);
            }
            if let Some(p) = fields::string_list(d, "disallowed_policies")? {
                role.disallowed_policies = sanitize(p);
            }
            if let Some(b) = fields::bool_field(d, "orphan")? {
                role.orphan = b;
            }
            if let Some(b) = fields::bool_field(d, "renewable")? {
                role.renewable = b;
            }
            if let Some(b) = fields::bool_field(d, "token_no_default_policy")? {
                role.no_default_policy = b;
            }
            if let Some(p) =
                fields::duration_secs(d, "token_period")?.or(fields::duration_secs(d, "period")?)
            {
                role.period = p;
            }
            if let Some(p) = fields::duration_secs(d, "token_explicit_max_ttl")?
                .or(fields::duration_secs(d, "explicit_max_ttl")?)
            {
                role.explicit_max_ttl = p;
            }
            if let Some(s) = fields::string(d, "path_suffix") {
                if s.contains("..") {
                    return Err(ApiError::bad_request(
                        "error in path suffix: invalid path suffix",
                    ));
                }
                role.path_suffix = s;
            }
            let bytes = serde_json::to_vec(&role).expect("role serializes");
            barrier.put(&role_path(name), &bytes).await?;
            Ok(Response::empty())
        }
        _ => Err(ApiError::UnsupportedOperation),
    }
}
