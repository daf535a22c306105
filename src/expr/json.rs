//! Records from JSON, in the convention of the conformance files and `host-test`:
//! attribute name to value; a nested object is a related entity (`{"Class": {"Name":
//! "High"}}` gives the path `["Class", "Name"]`); a string `YYYY-MM-DD` is a date, an
//! RFC 3339 string a datetime, any other string text; numbers are exact decimals.

use crate::model::Attribute;
use crate::value::{Date, Decimal, Instant, Value};

/// The attributes of the record `json` (an object), or why it is not one.
///
/// Numbers are read from their JSON text, so they are exact when serde_json keeps that
/// text (`arbitrary_precision`); otherwise from the shortest text of the nearest `f64`,
/// exact for up to 15 significant digits.
pub fn attributes_from_json(json: &serde_json::Value) -> Result<Vec<Attribute>, String> {
    let serde_json::Value::Object(map) = json else {
        return Err("a record must be a JSON object of attribute names to values".into());
    };
    let mut out = Vec::new();
    let mut path = Vec::new();
    walk(map, &mut path, &mut out)?;
    Ok(out)
}

fn walk(
    map: &serde_json::Map<String, serde_json::Value>,
    path: &mut Vec<String>,
    out: &mut Vec<Attribute>,
) -> Result<(), String> {
    for (name, v) in map {
        path.push(name.clone());
        match v {
            serde_json::Value::Object(inner) => walk(inner, path, out)?,
            other => out.push(Attribute {
                path: path.clone(),
                value: value_from_json(other)
                    .map_err(|m| format!("attribute {}: {m}", path.join(".")))?,
            }),
        }
        path.pop();
    }
    Ok(())
}

/// One JSON scalar as a value (objects are related entities, handled by the caller).
pub fn value_from_json(v: &serde_json::Value) -> Result<Value, String> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Boolean(*b),
        serde_json::Value::Number(n) => Value::Decimal(decimal_from_json_number(&n.to_string())?),
        serde_json::Value::String(s) => {
            if let Some(d) = Date::parse(s) {
                Value::Date(d)
            } else if let Some(i) = Instant::parse_rfc3339(s) {
                Value::DateTime(i)
            } else {
                Value::Text(s.clone())
            }
        }
        serde_json::Value::Array(_) => return Err("lists are not attribute values".into()),
        serde_json::Value::Object(_) => return Err("an object is a related entity".into()),
    })
}

/// A JSON number's text (which may have an exponent, `1e20`, `1.5E-7`) as an exact
/// decimal.
pub fn decimal_from_json_number(text: &str) -> Result<Decimal, String> {
    let bad = || format!("the number {text} does not fit an exact decimal");
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (
            text.get(..i).ok_or_else(bad)?,
            text.get(i + 1..)
                .ok_or_else(bad)?
                .parse::<i32>()
                .map_err(|_| bad())?,
        ),
        None => (text, 0),
    };
    let m = Decimal::parse(mantissa).map_err(|_| bad())?;
    if exponent >= 0 {
        let factor = 10i128.checked_pow(exponent as u32).ok_or_else(bad)?;
        m.checked_mul(Decimal::new(factor, 0).ok_or_else(bad)?)
            .ok_or_else(bad)
    } else {
        let scale = m
            .scale()
            .checked_add(exponent.unsigned_abs())
            .ok_or_else(bad)?;
        Decimal::new(m.mantissa(), scale)
            .map(Decimal::normalized)
            .ok_or_else(bad)
    }
}

/// A value in the output form of `host-test eval`: exact decimals as JSON numbers (their
/// text), dates `YYYY-MM-DD`, datetimes RFC 3339 UTC with `Z`.
pub fn value_to_json_text(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Boolean(b) => b.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(t) => serde_json::Value::String(t.clone()).to_string(),
        Value::Date(d) => format!("\"{d}\""),
        Value::DateTime(i) => format!("\"{}\"", i.to_rfc3339()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_become_paths_and_strings_become_typed_values() {
        let json = serde_json::json!({
            "Code": "A1",
            "Class": {"Code": "H", "Group": {"Name": "G"}},
            "Start": "2024-06-01",
            "At": "2024-06-15T10:30:00+02:00",
            "Price": 12.5,
            "Flag": true,
            "Gone": null
        });
        let attrs = attributes_from_json(&json).unwrap();
        let get = |p: &[&str]| {
            attrs
                .iter()
                .find(|a| a.path == p)
                .map(|a| a.value.clone())
                .unwrap_or_else(|| panic!("{p:?}"))
        };
        assert_eq!(get(&["Class", "Group", "Name"]), Value::Text("G".into()));
        assert_eq!(
            get(&["Start"]),
            Value::Date(Date::parse("2024-06-01").unwrap())
        );
        assert_eq!(
            value_to_json_text(&get(&["At"])),
            "\"2024-06-15T08:30:00Z\""
        );
        assert_eq!(value_to_json_text(&get(&["Price"])), "12.5");
        assert_eq!(get(&["Flag"]), Value::Boolean(true));
        assert_eq!(get(&["Gone"]), Value::Null);
        assert!(attributes_from_json(&serde_json::json!([1])).is_err());
        assert!(attributes_from_json(&serde_json::json!({"L": [1]})).is_err());
    }

    #[test]
    fn json_numbers_with_exponents_are_exact() {
        for (text, want) in [
            ("1e3", "1000"),
            ("1.5E-7", "0.00000015"),
            ("-2.50", "-2.5"),
            ("0", "0"),
        ] {
            assert_eq!(
                decimal_from_json_number(text).unwrap().to_string(),
                want,
                "{text}"
            );
        }
        assert!(decimal_from_json_number("1e400").is_err());
        assert!(decimal_from_json_number("1e-400").is_err());
        assert!(decimal_from_json_number("1ex").is_err());
    }
}
