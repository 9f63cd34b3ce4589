//! The `auth/token/` backend: create, lookup, renew, revoke, roles, accessors and tidy, one
//! concern per file. Handlers receive the already-authorised caller; the ACL decision (and
//! `sudo`) was made before dispatch, and handlers add only OpenBao's own in-handler checks
//! (orphans and `revoke-orphan` need root or sudo, child policies must be a subset).

mod create;
mod fields;
mod lookup;
mod renew;
mod revoke;
mod roles;
mod tidy;
mod ttl;

use super::token::{TokenSalt, ValidToken, ACCESSOR_PREFIX};
use super::Grant;
use crate::barrier::Barrier;
use crate::http::error::ApiError;
use crate::logical::{Auth, Operation, Request, Response};
use crate::store::Store;

pub use tidy::tidy;

/// Everything a handler may use: the store, the caller and what the ACL granted.
pub struct Ctx<'a> {
    pub store: &'a Store,
    pub salt: &'a TokenSalt,
    pub req: &'a Request,
    pub caller: &'a ValidToken,
    pub caller_token: &'a str,
    pub grant: Grant,
}

impl Ctx<'_> {
    fn barrier(&self) -> &Barrier {
        &self.store.barrier
    }

    /// Root tokens and callers whose policy grants `sudo` on the path.
    fn privileged(&self) -> bool {
        self.caller.entry.is_root() || self.grant.sudo
    }

    /// A field, from the body or the query.
    fn field(&self, name: &str) -> Option<String> {
        fields::string(&self.req.data, name).filter(|s| !s.is_empty())
    }
}

fn auth_block(token: String, entry: &super::token::TokenEntry, lease: u64) -> Auth {
    Auth {
        client_token: token,
        accessor: entry.accessor.clone(),
        policies: entry.policies.clone(),
        token_policies: entry.policies.clone(),
        metadata: entry.meta.clone(),
        lease_duration: lease,
        renewable: entry.renewable,
        entity_id: String::new(),
        token_type: "service".into(),
        orphan: entry.orphan,
        mfa_requirement: None,
        num_uses: entry.num_uses,
    }
}

/// Serves `auth/token/<rest>`.
pub async fn handle(ctx: &Ctx<'_>, rest: &str) -> Result<Response, ApiError> {
    let op = ctx.req.operation;
    let rest_trimmed = rest.trim_end_matches('/');
    match (rest_trimmed, op) {
        ("create", Operation::Update) => create::create(ctx, None, false).await,
        ("create-orphan", Operation::Update) => create::create(ctx, None, true).await,
        ("lookup-self", Operation::Read | Operation::Update) => lookup::lookup_self(ctx),
        ("lookup", Operation::Read | Operation::Update) => lookup::lookup(ctx).await,
        ("lookup-accessor", Operation::Update) => lookup::lookup_accessor(ctx).await,
        ("renew-self", Operation::Update) => renew::renew_self(ctx).await,
        ("renew", Operation::Update) => renew::renew(ctx).await,
        ("renew-accessor", Operation::Update) => renew::renew_accessor(ctx).await,
        ("revoke-self", Operation::Update) => revoke::revoke_self(ctx).await,
        ("revoke", Operation::Update) => revoke::revoke(ctx).await,
        ("revoke-accessor", Operation::Update) => revoke::revoke_accessor(ctx).await,
        ("revoke-orphan", Operation::Update) => revoke::revoke_orphan(ctx).await,
        ("tidy", Operation::Update) => tidy::handle(ctx).await,
        ("accessors", Operation::List) => {
            let mut keys = ctx.barrier().list(ACCESSOR_PREFIX).await?;
            keys.retain(|k| !k.ends_with('/'));
            Ok(Response::list(keys))
        }
        ("roles", Operation::List) => roles::list(ctx).await,
        (
            "create" | "create-orphan" | "lookup-self" | "lookup" | "lookup-accessor"
            | "renew-self" | "renew" | "renew-accessor" | "revoke-self" | "revoke"
            | "revoke-accessor" | "revoke-orphan" | "tidy" | "accessors" | "roles",
            _,
        ) => Err(ApiError::UnsupportedOperation),
        _ => {
            if let Some(role) = rest.strip_prefix("create/") {
                if op != Operation::Update {
                    return Err(ApiError::UnsupportedOperation);
                }
                let name = role.trim_end_matches('/');
                let Some(role) = roles::load(ctx.barrier(), name).await? else {
                    return Err(ApiError::bad_request(format!("unknown role {name}")));
                };
                return create::create(ctx, Some(role), false).await;
            }
            if let Some(name) = rest.strip_prefix("roles/") {
                return roles::handle(ctx, name).await;
            }
            Err(ApiError::NoRoute(ctx.req.path.clone()))
        }
    }
}
