//! `auth/token/create`, `create-orphan` and `create/<role>`.
//!
//! A child is written in one atomic batch (entry, accessor, parent index) conditioned on the
//! parent's entry being unchanged, so a parent revoked or used up meanwhile cannot gain a
//! child that would outlive it; on conflict the parent is re-read and the creation retried.

use super::fields;
use super::roles::Role;
use super::ttl;
use super::{auth_block, Ctx};
use crate::auth::token::{self, TokenEntry};
use crate::barrier::{BarrierError, PlainOp};
use crate::http::error::ApiError;
use crate::logical::Response;
use crate::storage::{Condition, StorageError};
use chrono::Utc;

/// OpenBao's `SanitizePolicies`: lower-case, trimmed, `root` alone wins, `default` added
/// unless asked not to, sorted and deduplicated.
pub fn sanitize_policies(policies: &[String], add_default: bool) -> Vec<String> {
    let mut out: Vec<String> = policies
        .iter()
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    if out.iter().any(|p| p == "root") {
        return vec!["root".into()];
    }
    if add_default && !out.iter().any(|p| p == "default") {
        out.push("default".into());
    }
    out.sort();
    out.dedup();
    out
}

fn display_name(requested: Option<String>) -> String {
    let Some(name) = requested else {
        return "token".into();
    };
    let full: String = format!("token-{name}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    full.trim_end_matches('-').to_string()
}

fn quoted_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|p| format!("{p:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The policies of the new token, after the role's and the parent's limits.
fn choose_policies(
    ctx: &Ctx<'_>,
    role: Option<&Role>,
    requested: Option<Vec<String>>,
    no_default: bool,
) -> Result<Vec<String>, ApiError> {
    let parent = &ctx.caller.entry;
    let add_default = !no_default;
    if let Some(role) = role {
        let requested = requested.filter(|r| !r.is_empty());
        if !role.allowed_policies.is_empty() {
            let wanted = requested.unwrap_or_else(|| role.allowed_policies.clone());
            let policies = sanitize_policies(&wanted, add_default);
            let allowed = sanitize_policies(&role.allowed_policies, true);
            if !policies.iter().all(|p| allowed.contains(p)) {
                return Err(ApiError::bad_request(format!(
                    "token policies ({}) must be subset of the role's allowed policies ({}) or glob policies ([])",
                    quoted_list(&policies),
                    quoted_list(&allowed)
                )));
            }
            check_disallowed(role, &policies)?;
            return Ok(policies);
        }
        let wanted = requested.unwrap_or_else(|| parent.policies.clone());
        let policies = sanitize_policies(&wanted, add_default);
        check_disallowed(role, &policies)?;
        check_subset_of_parent(ctx, &policies)?;
        return Ok(policies);
    }
    let wanted = match requested {
        Some(r) if !r.is_empty() => r,
        _ => parent.policies.clone(),
    };
    let policies = sanitize_policies(&wanted, add_default);
    check_subset_of_parent(ctx, &policies)?;
    Ok(policies)
}

fn check_disallowed(role: &Role, policies: &[String]) -> Result<(), ApiError> {
    match policies
        .iter()
        .find(|p| role.disallowed_policies.contains(p))
    {
        Some(p) => Err(ApiError::bad_request(format!(
            "token policy {p:?} is disallowed by this role"
        ))),
        None => Ok(()),
    }
}

fn check_subset_of_parent(ctx: &Ctx<'_>, policies: &[String]) -> Result<(), ApiError> {
    let parent = &ctx.caller.entry;
    if ctx.privileged() {
        return Ok(());
    }
    let ok = policies
        .iter()
        .all(|p| p == "default" || parent.policies.contains(p));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "child policies must be subset of parent",
        ))
    }
}

pub async fn create(
    ctx: &Ctx<'_>,
    role: Option<Role>,
    orphan_path: bool,
) -> Result<Response, ApiError> {
    let d = &ctx.req.data;
    let parent = &ctx.caller.entry;
    let mut warnings = Vec::new();

    let no_parent = fields::bool_field(d, "no_parent")?.unwrap_or(false);
    if no_parent && !orphan_path && !ctx.privileged() {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to create orphan token",
        ));
    }
    let orphan = orphan_path || no_parent || role.as_ref().is_some_and(|r| r.orphan);

    let custom_id = ctx.field("id");
    if custom_id.is_some() && !ctx.privileged() {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to specify token id",
        ));
    }
    if custom_id
        .as_deref()
        .is_some_and(|id| id.contains('.') && !id.starts_with("s."))
    {
        return Err(ApiError::bad_request("token IDs can not contain periods"));
    }
    if custom_id.is_some() {
        warnings.push("Supplying a custom ID for the token uses the weaker SHA1 hashing instead of the more secure SHA2-256 HMAC for token obfuscation. SHA1 hashed tokens on the wire leads to less secure lookups.".to_string());
    }

    let num_uses = fields::int(d, "num_uses")?.unwrap_or(0);
    if num_uses < 0 {
        return Err(ApiError::bad_request("number of uses cannot be negative"));
    }
    let no_default = fields::bool_field(d, "no_default_policy")?.unwrap_or(false)
        || role.as_ref().is_some_and(|r| r.no_default_policy);
    let policies = choose_policies(
        ctx,
        role.as_ref(),
        fields::string_list(d, "policies")?,
        no_default,
    )?;

    let mut renewable = fields::bool_field(d, "renewable")?.unwrap_or(true);
    if let Some(r) = &role {
        renewable = renewable && r.renewable;
    }
    let requested_ttl = fields::duration_secs(d, "ttl")?
        .or(fields::duration_secs(d, "lease")?)
        .unwrap_or(0);
    let mut explicit_max_ttl = fields::duration_secs(d, "explicit_max_ttl")?.unwrap_or(0);
    let mut period = fields::duration_secs(d, "period")?.unwrap_or(0);
    if period > 0 && !ctx.privileged() && role.is_none() {
        return Err(ApiError::bad_request(
            "root or sudo privileges required to create periodic token",
        ));
    }
    if let Some(r) = &role {
        if r.period > 0 {
            period = r.period;
        }
        if r.explicit_max_ttl > 0
            && (explicit_max_ttl == 0 || r.explicit_max_ttl < explicit_max_ttl)
        {
            explicit_max_ttl = r.explicit_max_ttl;
        }
    }

    let now = Utc::now();
    let never_expires = period == 0
        && requested_ttl == 0
        && explicit_max_ttl == 0
        && policies.iter().any(|p| p == "root");
    let ttl = if never_expires {
        0
    } else {
        let (ttl, w) = ttl::calculate(requested_ttl, period, explicit_max_ttl, now, now)?;
        warnings.extend(w);
        ttl
    };

    let path = match &role {
        Some(r) if r.path_suffix.is_empty() => format!("auth/token/create/{}", r.name),
        Some(r) => format!("auth/token/create/{}/{}", r.name, r.path_suffix),
        None => "auth/token/create".to_string(),
    };
    let entry = TokenEntry {
        accessor: token::generate_accessor(),
        policies,
        path,
        display_name: display_name(ctx.field("display_name")),
        meta: fields::string_map(d, "meta")?,
        num_uses: num_uses as u64,
        creation_time: now,
        ttl_seconds: ttl,
        explicit_max_ttl_seconds: explicit_max_ttl,
        orphan,
        parent_hash: (!orphan).then(|| ctx.caller.hash.clone()),
        expire_time: (ttl > 0).then(|| now + chrono::Duration::seconds(ttl as i64)),
        period_seconds: period,
        renewable: renewable && ttl > 0,
        role: role.as_ref().map(|r| r.name.clone()),
        last_renewal: None,
        revoking: false,
    };
    for missing in missing_policies(ctx, &entry.policies).await? {
        warnings.push(format!("Policy {missing:?} does not exist"));
    }

    let token = custom_id.unwrap_or_else(token::generate_token);
    let hash = ctx.salt.hash(&token);
    let mut parent_entry = parent.clone();
    let mut parent_version = ctx.caller.version;
    loop {
        let mut ops = token::create_ops(&hash, &entry);
        if !orphan {
            // Re-put the parent unchanged, conditioned on its version: the child is written
            // only if the parent was not revoked or changed in the meantime.
            ops.push(PlainOp::Put {
                path: token::id_path(&ctx.caller.hash),
                value: serde_json::to_vec(&parent_entry).expect("token entry serializes"),
                condition: Some(Condition::Version(parent_version)),
            });
        }
        match ctx.barrier().write(ops).await {
            Ok(()) => break,
            Err(BarrierError::Storage(StorageError::ConditionFailed { key })) => {
                if key.ends_with(&token::id_path(&hash)) {
                    return Err(ApiError::bad_request("token with that ID already exists"));
                }
                match token::by_hash(ctx.barrier(), &ctx.caller.hash).await? {
                    Some((fresh, v)) if !fresh.revoking && !fresh.is_expired(Utc::now()) => {
                        parent_entry = fresh;
                        parent_version = v;
                    }
                    _ => return Err(ApiError::PermissionDenied),
                }
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(Response {
        auth: Some(auth_block(token, &entry, ttl)),
        warnings,
        ..Default::default()
    })
}

/// Policies named by a new token that do not exist (OpenBao warns, and creates the token).
async fn missing_policies(ctx: &Ctx<'_>, policies: &[String]) -> Result<Vec<String>, ApiError> {
    let found = ctx.store.policies.get_many(policies).await?;
    Ok(policies
        .iter()
        .filter(|p| *p != "root" && !found.iter().any(|f| &f.1.name == *p))
        .cloned()
        .collect())
}
