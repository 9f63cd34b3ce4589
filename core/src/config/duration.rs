//! Durations as OpenBao's `parseutil.ParseDurationSecond` reads them: a bare integer is seconds,
//! anything else is Go's `time.ParseDuration` syntax ("30s", "1h30m", "1.5h") plus OpenBao's
//! "d" for days.

use std::time::Duration;

const NANOS_PER_SECOND: u128 = 1_000_000_000;

/// Parses `text`; the error is a reason fit for [`super::ConfigError::InvalidValue`].
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    if text.is_empty() {
        return Ok(Duration::ZERO);
    }
    if text.starts_with('-') {
        return Err(format!("durations cannot be negative, got {text:?}"));
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<u64>()
            .map(Duration::from_secs)
            .map_err(|_| format!("{text:?} is too many seconds"));
    }

    let mut total_nanos: u128 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after_number) = rest.split_at(number_len);
        let unit_len = after_number
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after_number.len());
        let (unit, after_unit) = after_number.split_at(unit_len);
        let unit_nanos = unit_nanos(unit).ok_or_else(|| {
            format!("{text:?} is not a duration; expected seconds or a value like \"30s\", \"10m\", \"768h\" or \"1h30m\"")
        })?;
        let component = component_nanos(number, unit_nanos)
            .ok_or_else(|| format!("{text:?} is not a duration; {number:?} is not a number"))?;
        total_nanos = total_nanos
            .checked_add(component)
            .ok_or_else(|| format!("{text:?} is too long a duration"))?;
        rest = after_unit;
    }
    let secs = u64::try_from(total_nanos / NANOS_PER_SECOND)
        .map_err(|_| format!("{text:?} is too long a duration"))?;
    // The remainder is below one second, so it fits.
    let nanos = (total_nanos % NANOS_PER_SECOND) as u32;
    Ok(Duration::new(secs, nanos))
}

fn unit_nanos(unit: &str) -> Option<u128> {
    Some(match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => NANOS_PER_SECOND,
        "m" => 60 * NANOS_PER_SECOND,
        "h" => 3_600 * NANOS_PER_SECOND,
        "d" => 86_400 * NANOS_PER_SECOND,
        _ => return None,
    })
}

/// `number` (digits with an optional fraction) times `unit_nanos`, truncated to whole
/// nanoseconds as Go does.
fn component_nanos(number: &str, unit_nanos: u128) -> Option<u128> {
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits_ok = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if !digits_ok(whole) || !digits_ok(fraction) {
        return None;
    }
    let whole_value: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut nanos = whole_value.checked_mul(unit_nanos)?;
    // Beyond 18 digits a fraction is below a nanosecond for every unit up to days.
    let fraction = &fraction[..fraction.len().min(18)];
    if !fraction.is_empty() {
        let numerator: u128 = fraction.parse().ok()?;
        let denominator = 10u128.pow(u32::try_from(fraction.len()).ok()?);
        nanos = nanos.checked_add(numerator * unit_nanos / denominator)?;
    }
    Some(nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_integer_is_seconds() {
        assert_eq!(parse("3600"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn go_style_units_add_up() {
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("768h"), Ok(Duration::from_secs(768 * 3600)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("7d"), Ok(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse("1500ms"), Ok(Duration::from_millis(1500)));
    }

    #[test]
    fn empty_is_zero_as_in_openbao() {
        assert_eq!(parse(""), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_negative_unknown_unit_missing_unit_and_garbage() {
        for bad in [
            "-1h", "10 years", "5y", "1h30", "h", ".h", "1..5h", "1h 30m",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn rejects_overflow_without_panicking() {
        assert!(parse("99999999999999999999999999999999999999999h").is_err());
        assert!(parse("999999999999999999999").is_err());
    }
}
