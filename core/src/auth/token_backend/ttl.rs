//! TTL arithmetic of token creation and renewal, as OpenBao's `CalculateTTL`: a periodic token
//! gets its period each time; otherwise the increment (or the default), capped by the tightest
//! of the system max TTL and the explicit max TTL counted from creation.

use chrono::{DateTime, Utc};

use super::fields::human_duration;
use crate::http::error::ApiError;

/// OpenBao's default and maximum lease TTL: 768h (32 days).
pub const SYSTEM_MAX_TTL: u64 = 768 * 3600;
pub const SYSTEM_DEFAULT_TTL: u64 = SYSTEM_MAX_TTL;

/// The new TTL in seconds, and the warnings to return.
pub fn calculate(
    increment: u64,
    period: u64,
    explicit_max_ttl: u64,
    start: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(u64, Vec<String>), ApiError> {
    let mut warnings = Vec::new();
    let elapsed = (now - start).num_seconds().max(0) as u64;
    if period > 0 {
        let mut ttl = period.min(SYSTEM_MAX_TTL);
        if explicit_max_ttl > 0 {
            let left = explicit_max_ttl.checked_sub(elapsed).filter(|l| *l > 0);
            let left =
                left.ok_or_else(|| ApiError::bad_request("past the max TTL, cannot renew"))?;
            ttl = ttl.min(left);
        }
        return Ok((ttl, warnings));
    }
    let wanted = if increment == 0 {
        SYSTEM_DEFAULT_TTL
    } else {
        increment
    };
    let mut max = SYSTEM_MAX_TTL;
    if explicit_max_ttl > 0 {
        max = max.min(explicit_max_ttl);
    }
    let left = max
        .checked_sub(elapsed)
        .filter(|l| *l > 0)
        .ok_or_else(|| ApiError::bad_request("past the max TTL, cannot renew"))?;
    let mut ttl = wanted;
    if ttl > left {
        warnings.push(format!(
            "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
            human_duration(wanted),
            human_duration(left)
        ));
        ttl = left;
    }
    Ok((ttl, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_increment_beyond_the_explicit_max_is_capped_with_a_warning() {
        let now = Utc::now();
        let (ttl, warnings) = calculate(3600, 0, 20, now, now).unwrap();
        assert_eq!(ttl, 20);
        assert_eq!(
            warnings,
            ["TTL of \"1h\" exceeded the effective max_ttl of \"20s\"; TTL value is capped accordingly"]
        );
    }

    #[test]
    fn a_periodic_token_gets_its_period_back() {
        let start = Utc::now() - chrono::Duration::seconds(7200);
        assert_eq!(calculate(60, 3600, 0, start, Utc::now()).unwrap().0, 3600);
    }

    #[test]
    fn renewing_past_the_explicit_max_fails() {
        let start = Utc::now() - chrono::Duration::seconds(30);
        let e = calculate(10, 0, 20, start, Utc::now()).unwrap_err();
        assert_eq!(e.to_string(), "past the max TTL, cannot renew");
    }

    #[test]
    fn no_increment_means_the_default_ttl() {
        let now = Utc::now();
        assert_eq!(calculate(0, 0, 0, now, now).unwrap().0, SYSTEM_DEFAULT_TTL);
    }
}
