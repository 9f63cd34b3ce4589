//! Capabilities: what a policy grants on a path, as a small bit set.
//!
//! The bit set exists so that merging the rules of several policies on one path (a union, or
//! `deny` alone) and checking an operation are single machine operations on the hot path.

use std::fmt;

/// One capability a `path` block can list, in OpenBao's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capability {
    Deny,
    Create,
    Read,
    Update,
    Delete,
    List,
    Sudo,
    Patch,
    Scan,
}

impl Capability {
    /// Every capability but `deny`.
    const ALL: [Capability; 8] = [
        Capability::Sudo,
        Capability::Read,
        Capability::List,
        Capability::Update,
        Capability::Delete,
        Capability::Create,
        Capability::Patch,
        Capability::Scan,
    ];

    pub fn parse(name: &str) -> Option<Capability> {
        Some(match name {
            "deny" => Capability::Deny,
            "create" => Capability::Create,
            "read" => Capability::Read,
            "update" => Capability::Update,
            "delete" => Capability::Delete,
            "list" => Capability::List,
            "sudo" => Capability::Sudo,
            "patch" => Capability::Patch,
            "scan" => Capability::Scan,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Deny => "deny",
            Capability::Create => "create",
            Capability::Read => "read",
            Capability::Update => "update",
            Capability::Delete => "delete",
            Capability::List => "list",
            Capability::Sudo => "sudo",
            Capability::Patch => "patch",
            Capability::Scan => "scan",
        }
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of capabilities. A set holding `deny` holds nothing else: `deny` wins every merge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CapabilitySet(u16);

impl CapabilitySet {
    pub const DENY: CapabilitySet = CapabilitySet(1);

    pub fn with(self, cap: Capability) -> CapabilitySet {
        if cap == Capability::Deny || self.is_deny() {
            return CapabilitySet::DENY;
        }
        CapabilitySet(self.0 | cap.bit())
    }

    pub fn contains(self, cap: Capability) -> bool {
        self.0 & cap.bit() != 0
    }

    pub fn is_deny(self) -> bool {
        self.contains(Capability::Deny)
    }

    /// The union of two rules on one path, as OpenBao merges policies: `deny` is sticky.
    pub fn merge(self, other: CapabilitySet) -> CapabilitySet {
        if self.is_deny() || other.is_deny() {
            CapabilitySet::DENY
        } else {
            CapabilitySet(self.0 | other.0)
        }
    }

    /// The names `sys/capabilities` answers with, sorted as OpenBao sorts them: `["deny"]` for
    /// an empty or denying set.
    pub fn names(self) -> Vec<&'static str> {
        if self.is_deny() {
            return vec!["deny"];
        }
        let mut names: Vec<&'static str> = Capability::ALL
            .iter()
            .filter(|c| self.contains(**c))
            .map(|c| c.as_str())
            .collect();
        names.sort_unstable();
        if names.is_empty() {
            vec!["deny"]
        } else {
            names
        }
    }
}

impl FromIterator<Capability> for CapabilitySet {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        iter.into_iter()
            .fold(CapabilitySet::default(), CapabilitySet::with)
    }
}
