//! Durations (`"30s"`, `"5m"`, `"500ms"`) and rates (`"100/min"`) as written in `#[target]`.

use std::time::Duration;

use crate::ir::RateLimit;

const UNITS: &str = "`ms`, `s`, `m` or `h`";

/// Parses a positive duration such as `30s`, `5m`, `500ms` or `1h`.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits = text.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = text.split_at(digits);
    if number.is_empty() {
        return Err(format!(
            "`{text}` is not a duration: write a whole number and a unit ({UNITS}), like `30s`"
        ));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is too large"))?;
    let duration = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n.saturating_mul(60)),
        "h" => Duration::from_secs(n.saturating_mul(3600)),
        "" => {
            return Err(format!(
                "`{text}` has no unit: write `{text}s` (units: {UNITS})"
            ));
        }
        other if other.starts_with(char::is_whitespace) => {
            return Err(format!(
                "`{text}` is not a duration: write the unit right after the number, like `{number}s`"
            ));
        }
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use {UNITS}{}",
                crate::suggest::did_you_mean(other, &["ms", "s", "m", "h"])
            ));
        }
    };
    if duration.is_zero() {
        return Err(format!(
            "`{text}` is zero: a duration must be longer than zero"
        ));
    }
    Ok(duration)
}

/// Parses a rate such as `100/min`, `10/s` or `1000/h`.
pub(crate) fn parse_rate(text: &str) -> Result<RateLimit, String> {
    let Some((count, unit)) = text.split_once('/') else {
        return Err(format!(
            "`{text}` is not a rate: write a count and a window, like `100/min`"
        ));
    };
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("`{count}` in `{text}` is not a whole number"))?;
    if count == 0 {
        return Err(format!(
            "`{text}` allows nothing: the count must be at least 1"
        ));
    }
    let per = match unit.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        other => {
            return Err(format!(
                "unknown window `{other}` in `{text}`: use `s`, `min` or `h`"
            ));
        }
    };
    Ok(RateLimit { count, per })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_documented_durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("300s"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    }

    #[test]
    fn rejects_bad_durations_with_the_fix() {
        assert!(parse_duration("30").unwrap_err().contains("write `30s`"));
        assert!(parse_duration("0s").unwrap_err().contains("zero"));
        assert!(
            parse_duration("30sec")
                .unwrap_err()
                .contains("unknown unit `sec`")
        );
        assert!(parse_duration("s").unwrap_err().contains("not a duration"));
        assert!(
            parse_duration("-5s")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn parses_rates() {
        assert_eq!(
            parse_rate("100/min"),
            Ok(RateLimit {
                count: 100,
                per: Duration::from_secs(60)
            })
        );
        assert!(parse_rate("0/s").unwrap_err().contains("at least 1"));
        assert!(parse_rate("100").unwrap_err().contains("not a rate"));
        assert!(parse_rate("5/week").unwrap_err().contains("unknown window"));
    }
}
