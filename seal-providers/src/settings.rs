//! Resolving a `seal` block's settings: the block first, then environment variables, as
//! OpenBao does. Shared by the auto seals so that every provider refuses unknown settings and
//! applies the same precedence.
//!
//! The environment is a lookup function rather than `std::env` so tests can inject one (and
//! so that a process can resolve two seals against different environments). Values never pass
//! through any log or error from here: only setting names do.

#[cfg(any(feature = "pkcs11", feature = "awskms"))]
use crate::{SealProviderError, SealSettings};

/// How environment variables are read while settings are resolved: name in, value out.
/// [`process_env`] reads the real environment; tests pass a closure over a map.
pub type EnvLookup<'a> = &'a (dyn Fn(&str) -> Option<String> + Sync);

/// Reads the process environment (a variable that is unset or not Unicode is absent).
pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// One seal block's settings plus the environment they fall back to.
#[cfg(any(feature = "pkcs11", feature = "awskms"))]
pub(crate) struct Resolver<'a> {
    settings: &'a SealSettings,
    env: EnvLookup<'a>,
}

#[cfg(any(feature = "pkcs11", feature = "awskms"))]
impl<'a> Resolver<'a> {
    /// Refuses any setting not in `known`, naming it: a typo must not silently fall back to
    /// an environment variable or a default.
    pub(crate) fn new(
        kind: &'static str,
        settings: &'a SealSettings,
        env: EnvLookup<'a>,
        known: &[&str],
    ) -> Result<Self, SealProviderError> {
        if let Some(unknown) = settings.keys().find(|k| !known.contains(&k.as_str())) {
            return Err(SealProviderError::Config {
                kind,
                message: format!(
                    "unknown setting {unknown:?} (known settings: {})",
                    known.join(", ")
                ),
            });
        }
        Ok(Resolver { settings, env })
    }

    /// The setting `name` from the block, else the first of `env_names` that is set. Empty
    /// values count as absent, as an unset variable does.
    pub(crate) fn get(&self, name: &str, env_names: &[&str]) -> Option<String> {
        self.settings
            .get(name)
            .cloned()
            .filter(|v| !v.is_empty())
            .or_else(|| {
                env_names
                    .iter()
                    .find_map(|var| (self.env)(var).filter(|v| !v.is_empty()))
            })
    }
}
