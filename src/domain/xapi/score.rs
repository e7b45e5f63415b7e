//! The grade of a statement's `result.score`, as a percentage.

use serde_json::Value;

use crate::domain::FieldViolation;

/// The score 0-100 from `result.score`: `scaled` (0..1) x 100, else `raw`
/// within `min..max`, else `raw` as a percentage. Rounded to hundredths so
/// 0.85 is 85, not 85.00000000000001.
pub(super) fn score(statement: &Value, bad: &mut Vec<FieldViolation>) -> Option<f64> {
    let Some(score) = statement.pointer("/result/score") else {
        bad.push(FieldViolation::new(
            "result.score",
            "is required for a grade",
        ));
        return None;
    };
    let number = |name: &str| score.get(name).and_then(Value::as_f64);
    let percent = match (
        number("scaled"),
        number("raw"),
        number("min"),
        number("max"),
    ) {
        (Some(scaled), ..) => scaled * 100.0,
        (None, Some(raw), min, Some(max)) if max > min.unwrap_or(0.0) => {
            let min = min.unwrap_or(0.0);
            (raw - min) / (max - min) * 100.0
        }
        (None, Some(raw), _, None) => raw,
        _ => {
            bad.push(FieldViolation::new(
                "result.score",
                "needs scaled (0..1), or raw with max greater than min",
            ));
            return None;
        }
    };
    let percent = (percent * 100.0).round() / 100.0;
    if !(0.0..=100.0).contains(&percent) {
        bad.push(FieldViolation::new(
            "result.score",
            "must come to 0-100 percent",
        ));
        return None;
    }
    Some(percent)
}
