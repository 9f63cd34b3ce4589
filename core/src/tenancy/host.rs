//! Which store a request is for: the first label of its host name.
//!
//! `abc123.secrets.example.com` under the base domain `secrets.example.com` is store `abc123`.
//! Host names are hostile input: anything that is not exactly one valid store id followed by
//! the base domain (another domain, a deeper name, `..`, escapes, upper-case tricks aside) is
//! no store at all, so a crafted host can never name a keyspace the id rules do not allow.

use rand::Rng;

/// Store ids: 1 to 32 characters of `a-z` and `0-9`. No `/`, `.`, `_` or `%`, so an id is
/// always exactly one storage path segment and never collides with the control plane's own
/// keyspace (`_coffer/`).
pub fn is_valid_store_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A fresh random store id: 12 characters (about 62 bits), never reused in practice, which
/// `purge` relies on (see `Storage::purge`).
pub fn new_store_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// The store id a `Host` (or `:authority`) value names under `base_domain`, if any.
pub fn store_id_from_host(host: &str, base_domain: &str) -> Option<String> {
    let host = host.trim().to_ascii_lowercase();
    // A port, but not an IPv6 literal's colons (which never match a base domain anyway).
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host.as_str(),
    };
    let name = name.strip_suffix('.').unwrap_or(name);
    let base = base_domain.trim_matches('.').to_ascii_lowercase();
    let id = name.strip_suffix(base.as_str())?.strip_suffix('.')?;
    is_valid_store_id(id).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_label_under_the_base_domain_is_the_store() {
        let base = "secrets.example.com";
        assert_eq!(
            store_id_from_host("abc123.secrets.example.com", base).as_deref(),
            Some("abc123")
        );
        assert_eq!(
            store_id_from_host("ABC123.Secrets.Example.com:8200", base).as_deref(),
            Some("abc123")
        );
        assert_eq!(
            store_id_from_host("abc123.secrets.example.com.", base).as_deref(),
            Some("abc123")
        );
    }

    #[test]
    fn crafted_hosts_name_no_store() {
        let base = "secrets.example.com";
        for host in [
            "secrets.example.com",
            ".secrets.example.com",
            "a.b.secrets.example.com",
            "abc123.evil.com",
            "abc123.secrets.example.com.evil.com",
            "abc123secrets.example.com",
            "../abc.secrets.example.com",
            "abc%2f..%2fdef.secrets.example.com",
            "abc/def.secrets.example.com",
            "_coffer.secrets.example.com",
            "abc-1.secrets.example.com",
            "",
        ] {
            assert_eq!(store_id_from_host(host, base), None, "{host}");
        }
    }

    #[test]
    fn new_ids_are_valid_and_differ() {
        let a = new_store_id();
        assert!(is_valid_store_id(&a));
        assert_ne!(a, new_store_id());
        assert!(!is_valid_store_id(&"a".repeat(33)));
        assert!(!is_valid_store_id("Abc"));
    }
}
