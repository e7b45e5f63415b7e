//! ISO 8601 durations, as xAPI's `result.duration` gives them.

use chrono::Duration;

/// `P[nW][nD][T[nH][nM][n[.n]S]]`; years and months are refused (their
/// length in seconds is not fixed).
pub fn iso8601_duration(text: &str) -> Option<Duration> {
    let rest = text.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((d, t)) if !t.is_empty() => (d, Some(t)),
        Some(_) => return None,
        None => (rest, None),
    };
    let mut millis = 0f64;
    let mut any = false;
    let mut add = |part: &str, units: &[(char, f64)]| -> Option<()> {
        let mut number = String::new();
        for c in part.chars() {
            if c.is_ascii_digit() || c == '.' {
                number.push(c);
                continue;
            }
            let (_, scale) = units.iter().find(|(u, _)| *u == c)?;
            let value: f64 = number.parse().ok()?;
            millis += value * scale;
            number.clear();
            any = true;
        }
        number.is_empty().then_some(())
    };
    add(date, &[('W', 604_800_000.0), ('D', 86_400_000.0)])?;
    if let Some(time) = time {
        add(time, &[('H', 3_600_000.0), ('M', 60_000.0), ('S', 1_000.0)])?;
    }
    (any && millis.is_finite() && millis < 1e15).then(|| Duration::milliseconds(millis as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_durations() {
        let ms = |t: &str| iso8601_duration(t).map(|d| d.num_milliseconds());
        assert_eq!(ms("PT25M30S"), Some(1_530_000));
        assert_eq!(ms("P1DT1H"), Some(90_000_000));
        assert_eq!(ms("PT0.25S"), Some(250));
        assert_eq!(ms("P1W"), Some(604_800_000));
        for bad in [
            "", "P", "PT", "P1M", "P1Y", "PT5", "T5M", "PT1.2.3S", "PTxS",
        ] {
            assert_eq!(ms(bad), None, "{bad}");
        }
    }
}
