//! `Acl`: the policies of one token compiled into lookup tables, and the decision for a path.
//!
//! Matching follows OpenBao: an exact rule wins; otherwise the candidates are the longest
//! prefix (`*`) rule and every matching `+` rule, ranked by (in order) the later position of the
//! first wildcard, exact over glob, fewer `+` segments, longer pattern, and lexical order. Rules
//! on one pattern from several policies are merged first (capabilities unioned, `deny` sticky).
//! An `Acl` is built from cached policies and never touches storage.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::capability::{Capability, CapabilitySet};
use super::parse::{ParameterRules, PathKind, Permissions, Policy};

/// What a request asks of a path, in ACL terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AclOperation {
    Create,
    Read,
    Update,
    Patch,
    Delete,
    List,
}

impl AclOperation {
    fn capability(self) -> Capability {
        match self {
            AclOperation::Create => Capability::Create,
            AclOperation::Read => Capability::Read,
            AclOperation::Update => Capability::Update,
            AclOperation::Patch => Capability::Patch,
            AclOperation::Delete => Capability::Delete,
            AclOperation::List => Capability::List,
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Decision {
    pub allowed: bool,
    /// The matching rule grants `sudo` (or the token is root).
    pub sudo: bool,
}

#[derive(Debug, Default)]
pub struct Acl {
    root: bool,
    exact: HashMap<String, Permissions>,
    prefix: HashMap<String, Permissions>,
    /// The distinct lengths of the `prefix` patterns, longest first: the only lengths at which
    /// a path's prefix can be one of them, so a lookup tries those and no others.
    prefix_lengths: Vec<usize>,
    segments: SegmentRules,
}

impl Acl {
    /// Compiles `policies`; a policy named `root` makes the ACL allow everything.
    pub fn new<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Acl {
        let mut acl = Acl::default();
        let mut segments = HashMap::new();
        for policy in policies {
            if policy.name == "root" {
                acl.root = true;
            }
            for rule in &policy.paths {
                let table = match rule.kind {
                    PathKind::Exact => &mut acl.exact,
                    PathKind::Prefix => &mut acl.prefix,
                    PathKind::Segments => &mut segments,
                };
                match table.get_mut(&rule.pattern) {
                    Some(existing) => merge(existing, &rule.permissions),
                    None => {
                        table.insert(rule.pattern.clone(), rule.permissions.clone());
                    }
                }
            }
        }
        acl.prefix_lengths = acl.prefix.keys().map(String::len).collect();
        acl.prefix_lengths.sort_unstable_by(|a, b| b.cmp(a));
        acl.prefix_lengths.dedup();
        acl.segments = SegmentRules::new(segments);
        acl
    }

    pub fn is_root(&self) -> bool {
        self.root
    }

    /// The capabilities on `path`, as `sys/capabilities` reports them.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        self.rule_for(path, true)
            .map(|p| p.capabilities)
            .unwrap_or_default()
            .names()
    }

    /// Whether any rule grants something (not `deny`) on a path under `prefix`: OpenBao's
    /// test for `sys/internal/ui/mounts/<mount>`, where any access to a mount lets a client
    /// learn what the mount is.
    pub fn grants_anything_under(&self, prefix: &str) -> bool {
        if self.root {
            return true;
        }
        let useful = |p: &Permissions| {
            !p.capabilities.is_deny() && p.capabilities != CapabilitySet::default()
        };
        let related = |pattern: &str| pattern.starts_with(prefix) || prefix.starts_with(pattern);
        let segments_related = |pattern: &str| {
            pattern
                .split('/')
                .zip(prefix.trim_end_matches('/').split('/'))
                .all(|(want, got)| {
                    want == "+"
                        || want == got
                        || (want.ends_with('*') && got.starts_with(want.trim_end_matches('*')))
                })
        };
        self.exact
            .iter()
            .any(|(k, p)| k.starts_with(prefix) && useful(p))
            || self.prefix.iter().any(|(k, p)| related(k) && useful(p))
            || self
                .segments
                .iter()
                .any(|r| segments_related(&r.written) && useful(&r.perms))
    }

    /// Whether `op` on `path` with request `data` is allowed, and whether the rule grants sudo.
    pub fn check(&self, op: AclOperation, path: &str, data: &Map<String, Value>) -> Decision {
        if self.root {
            return Decision {
                allowed: true,
                sudo: true,
            };
        }
        let Some(perms) = self.rule_for(path, op == AclOperation::List) else {
            return Decision::default();
        };
        let caps = perms.capabilities;
        let sudo = caps.contains(Capability::Sudo);
        let mut allowed = caps.contains(op.capability());
        if allowed
            && matches!(
                op,
                AclOperation::Read
                    | AclOperation::Update
                    | AclOperation::Create
                    | AclOperation::Patch
            )
        {
            allowed = parameters_allowed(perms, data);
        }
        Decision { allowed, sudo }
    }

    /// The one rule that governs `path`. `list` applies OpenBao 2.7's LIST fallbacks for a
    /// folder path: the exact rule without the slash, then (only if no glob or `+` rule
    /// matches the folder itself) the non-exact rules without the slash. The generated
    /// differential test against a live OpenBao pins this order.
    fn rule_for(&self, path: &str, list: bool) -> Option<&Permissions> {
        let path = path.trim_start_matches('/');
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let bare = path.strip_suffix('/').filter(|_| list);
        if let Some(p) = bare.and_then(|b| self.exact.get(b)) {
            return Some(p);
        }
        self.non_exact(path)
            .or_else(|| bare.and_then(|b| self.non_exact(b)))
    }

    fn longest_prefix(&self, path: &str) -> Option<(&str, &Permissions)> {
        self.prefix_lengths
            .iter()
            .filter(|&&len| len <= path.len() && path.is_char_boundary(len))
            .find_map(|&len| self.prefix.get_key_value(&path[..len]))
            .map(|(k, v)| (k.as_str(), v))
    }

    fn non_exact(&self, path: &str) -> Option<&Permissions> {
        let prefix = self.longest_prefix(path);
        if self.segments.is_empty() {
            return prefix.map(|(_, p)| p);
        }
        let mut best: Option<Candidate<'_>> = prefix.map(|(pattern, perms)| Candidate {
            first_wildcard: pattern.len(),
            is_glob: true,
            wildcards: 0,
            pattern,
            perms,
        });
        let parts: Vec<&str> = path.split('/').collect();
        for rule in self.segments.candidates(&parts) {
            let Some(candidate) = rule.matches(&parts) else {
                continue;
            };
            if best.as_ref().is_none_or(|b| candidate.outranks(b)) {
                best = Some(candidate);
            }
        }
        best.map(|c| c.perms)
    }
}

/// The `+` rules, split once at compile time so a check neither allocates nor re-splits them,
/// and indexed so that a check looks only at rules that can match.
#[derive(Debug, Default)]
struct SegmentRules {
    /// Rules without a trailing `*` that end in a literal segment, by that segment: a path
    /// can match them only if its last segment is the same.
    by_last: HashMap<String, Vec<SegmentRule>>,
    /// Every other `+` rule (a trailing `*`, or a `+` last).
    other: Vec<SegmentRule>,
}

impl SegmentRules {
    fn new(rules: HashMap<String, Permissions>) -> Self {
        let mut out = SegmentRules::default();
        for (written, perms) in rules {
            let rule = SegmentRule::new(written, perms);
            match rule.parts.last().filter(|l| !rule.is_glob && *l != "+") {
                Some(last) => out.by_last.entry(last.clone()).or_default().push(rule),
                None => out.other.push(rule),
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.by_last.is_empty() && self.other.is_empty()
    }

    fn iter(&self) -> impl Iterator<Item = &SegmentRule> {
        self.by_last.values().flatten().chain(&self.other)
    }

    /// The rules that may match a path split into `parts` (a superset of those that do).
    fn candidates<'a>(&'a self, parts: &[&str]) -> impl Iterator<Item = &'a SegmentRule> {
        let last = parts.last().and_then(|l| self.by_last.get(*l));
        last.into_iter().flatten().chain(&self.other)
    }
}

/// One `+` rule, with what ranking it needs computed once.
#[derive(Debug)]
struct SegmentRule {
    /// The pattern as written (trailing `*` kept).
    written: String,
    /// The length of the pattern without its trailing `*` (a prefix of `written`), which the
    /// ranking compares.
    pattern_len: usize,
    parts: Vec<String>,
    is_glob: bool,
    first_wildcard: usize,
    wildcards: usize,
    perms: Permissions,
}

impl SegmentRule {
    fn new(written: String, perms: Permissions) -> Self {
        let first_wildcard = written.find('+').unwrap_or(written.len());
        let (pattern, is_glob) = match written.strip_suffix('*') {
            Some(p) => (p, true),
            None => (written.as_str(), false),
        };
        let parts: Vec<String> = pattern.split('/').map(str::to_string).collect();
        SegmentRule {
            pattern_len: pattern.len(),
            wildcards: parts.iter().filter(|p| *p == "+").count(),
            parts,
            is_glob,
            first_wildcard,
            written,
            perms,
        }
    }

    fn matches(&self, parts: &[&str]) -> Option<Candidate<'_>> {
        if parts.len() < self.parts.len() || (!self.is_glob && parts.len() != self.parts.len()) {
            return None;
        }
        let last = self.parts.len() - 1;
        let all = self
            .parts
            .iter()
            .zip(parts)
            .enumerate()
            .all(|(i, (want, got))| {
                want == "+"
                    || want == got
                    || (self.is_glob && i == last && got.starts_with(want.as_str()))
            });
        all.then(|| Candidate {
            first_wildcard: self.first_wildcard,
            is_glob: self.is_glob,
            wildcards: self.wildcards,
            pattern: &self.written[..self.pattern_len],
            perms: &self.perms,
        })
    }
}

struct Candidate<'a> {
    first_wildcard: usize,
    is_glob: bool,
    wildcards: usize,
    pattern: &'a str,
    perms: &'a Permissions,
}

impl Candidate<'_> {
    /// OpenBao's priority order between two matching non-exact rules.
    fn outranks(&self, other: &Candidate<'_>) -> bool {
        use std::cmp::Ordering::*;
        let order = self
            .first_wildcard
            .cmp(&other.first_wildcard)
            .then_with(|| other.is_glob.cmp(&self.is_glob))
            .then_with(|| other.wildcards.cmp(&self.wildcards))
            .then_with(|| self.pattern.len().cmp(&other.pattern.len()))
            .then_with(|| self.pattern.cmp(other.pattern));
        order == Greater
    }
}

/// Merges another policy's rule on the same pattern into `existing`, as OpenBao does.
fn merge(existing: &mut Permissions, new: &Permissions) {
    if existing.capabilities.is_deny() {
        return;
    }
    if new.capabilities.is_deny() {
        existing.capabilities = CapabilitySet::DENY;
        existing.allowed_parameters = None;
        existing.denied_parameters = None;
        return;
    }
    existing.capabilities = existing.capabilities.merge(new.capabilities);
    let min_nonzero = |a: u64, b: u64| match (a, b) {
        (0, x) | (x, 0) => x,
        (a, b) => a.min(b),
    };
    existing.max_wrapping_ttl = min_nonzero(existing.max_wrapping_ttl, new.max_wrapping_ttl);
    existing.min_wrapping_ttl = min_nonzero(existing.min_wrapping_ttl, new.min_wrapping_ttl);
    merge_parameters(&mut existing.allowed_parameters, &new.allowed_parameters);
    merge_parameters(&mut existing.denied_parameters, &new.denied_parameters);
    for p in &new.required_parameters {
        if !existing.required_parameters.contains(p) {
            existing.required_parameters.push(p.clone());
        }
    }
}

/// An empty value list (any value) absorbs a non-empty one; non-empty lists concatenate.
fn merge_parameters(existing: &mut Option<ParameterRules>, new: &Option<ParameterRules>) {
    let Some(new) = new.as_ref().filter(|n| !n.is_empty()) else {
        return;
    };
    let Some(existing) = existing.as_mut() else {
        *existing = Some(new.clone());
        return;
    };
    for (name, values) in new {
        match existing.get_mut(name) {
            Some(current) if current.is_empty() || values.is_empty() => current.clear(),
            Some(current) => current.extend(values.iter().cloned()),
            None => {
                existing.insert(name.clone(), values.clone());
            }
        }
    }
}

fn parameters_allowed(perms: &Permissions, data: &Map<String, Value>) -> bool {
    let lower: HashMap<String, &Value> = data.iter().map(|(k, v)| (k.to_lowercase(), v)).collect();
    if perms
        .required_parameters
        .iter()
        .any(|p| !lower.contains_key(&p.to_lowercase()))
    {
        return false;
    }
    if lower.is_empty() {
        return true;
    }
    if let Some(denied) = perms.denied_parameters.as_ref().filter(|d| !d.is_empty()) {
        if denied.contains_key("*") {
            return false;
        }
        for (name, value) in &lower {
            if denied
                .get(name)
                .is_some_and(|values| value_in_list(value, values))
            {
                return false;
            }
        }
    }
    let Some(allowed) = perms.allowed_parameters.as_ref().filter(|a| !a.is_empty()) else {
        return true;
    };
    let allow_all = allowed.contains_key("*");
    if allow_all && allowed.len() == 1 {
        return true;
    }
    lower.iter().all(|(name, value)| match allowed.get(name) {
        Some(values) => value_in_list(value, values),
        None => allow_all,
    })
}

/// An empty list holds every value; strings match with `*` globs at either end.
fn value_in_list(value: &Value, list: &[Value]) -> bool {
    list.is_empty()
        || list.iter().any(|item| match (item, value) {
            (Value::String(pattern), Value::String(v)) => glob_match(pattern, v),
            (a, b) => a == b,
        })
}

/// OpenBao's `GlobbedStringsMatch`: `*` at the start and/or end of the pattern.
fn glob_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let (start, rest) = match pattern.strip_prefix('*') {
        Some(r) => (true, r),
        None => (false, pattern),
    };
    let (end, core) = match rest.strip_suffix('*') {
        Some(r) => (true, r),
        None => (false, rest),
    };
    match (start, end) {
        (true, true) => value.contains(core),
        (true, false) => value.ends_with(core),
        (false, true) => value.starts_with(core),
        (false, false) => value == core,
    }
}
