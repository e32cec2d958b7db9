//! Payload encodings: JSON, form (Stripe's bracket convention, also used for query strings) and
//! multipart. Every encoder reads the stored JSON payload.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

/// Everything but RFC 3986's unreserved characters is escaped; space is `%20`, never `+`.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Keys keep their brackets readable, as Stripe's own clients send them.
const KEY: &AsciiSet = &VALUE.remove(b'[').remove(b']');

/// A payload that an encoding cannot represent.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct EncodeError(pub String);

/// `key=value` pairs of a form or query string, nested values in bracket notation:
/// `metadata[order_id]=1`, `expand[0]=a`, `a[0][b]=c`. `null` becomes `key=`; empty objects and
/// arrays send nothing.
pub fn form_pairs(payload: &Value) -> Result<Vec<(String, String)>, EncodeError> {
    let Value::Object(map) = payload else {
        return Err(EncodeError(format!(
            "a form body needs a JSON object, not {}",
            kind(payload)
        )));
    };
    let mut pairs = Vec::new();
    for (key, value) in map {
        flatten(key.clone(), value, &mut pairs);
    }
    Ok(pairs)
}

fn flatten(key: String, value: &Value, pairs: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(format!("{key}[{k}]"), v, pairs);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(format!("{key}[{i}]"), v, pairs);
            }
        }
        Value::Null => pairs.push((key, String::new())),
        Value::Bool(b) => pairs.push((key, b.to_string())),
        Value::Number(n) => pairs.push((key, n.to_string())),
        Value::String(s) => pairs.push((key, s.clone())),
    }
}

/// An `application/x-www-form-urlencoded` body, or a query string, in Stripe's convention.
pub fn form(payload: &Value) -> Result<String, EncodeError> {
    Ok(form_pairs(payload)?
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, KEY),
                utf8_percent_encode(v, VALUE)
            )
        })
        .collect::<Vec<_>>()
        .join("&"))
}

/// A `multipart/form-data` body: `file_fields` (byte arrays) become file parts named after the
/// field; arrays become repeated parts (Mailgun's `to`); nested objects are sent as JSON text;
/// `null` is omitted.
pub fn multipart(
    payload: &Value,
    file_fields: &[&str],
) -> Result<reqwest::multipart::Form, EncodeError> {
    let Value::Object(map) = payload else {
        return Err(EncodeError(format!(
            "a multipart body needs a JSON object, not {}",
            kind(payload)
        )));
    };
    let mut form = reqwest::multipart::Form::new();
    for (key, value) in map {
        if file_fields.contains(&key.as_str()) {
            if value.is_null() {
                continue;
            }
            let bytes = bytes(value).ok_or_else(|| {
                EncodeError(format!(
                    "file field `{key}` must hold bytes (an array of 0..=255)"
                ))
            })?;
            let part = reqwest::multipart::Part::bytes(bytes)
                .file_name(key.clone())
                .mime_str("application/octet-stream")
                .map_err(|e| EncodeError(e.to_string()))?;
            form = form.part(key.clone(), part);
            continue;
        }
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for v in values {
            if let Some(text) = text(v) {
                form = form.text(key.clone(), text);
            }
        }
    }
    Ok(form)
}

/// A part's text: strings as they are, scalars printed, objects and arrays as JSON, null omitted.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// The bytes of a `Vec<u8>` as serde_json writes it: an array of numbers 0..=255.
fn bytes(value: &Value) -> Option<Vec<u8>> {
    value
        .as_array()?
        .iter()
        .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripe's own client tests (`stripe-node`, `queryStringifyRequestData`), from
    /// `tests/vectors/stripe-form-encoding.json`. `"<undefined>"` stands for an absent value.
    #[test]
    fn stripe_form_vectors() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/stripe-form-encoding.json"
        );
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read the Stripe vectors at {path}: {e}"));
        let vectors: Vec<Value> = serde_json::from_str(&text).expect("vectors parse");
        assert!(!vectors.is_empty());
        for vector in vectors {
            let mut input = vector["input"].clone();
            input
                .as_object_mut()
                .unwrap()
                .retain(|_, v| v != &Value::String("<undefined>".into()));
            let expected = vector["expected"].as_str().unwrap();
            assert_eq!(
                form(&input).unwrap(),
                expected,
                "vector {}",
                vector["_name"]
            );
        }
    }

    #[test]
    fn form_escapes_values_but_not_key_brackets() {
        let payload =
            serde_json::json!({"metadata": {"order id": "a b&c=d"}, "email": "x+y@z.com"});
        assert_eq!(
            form(&payload).unwrap(),
            "metadata[order%20id]=a%20b%26c%3Dd&email=x%2By%40z.com"
        );
        assert_eq!(form(&serde_json::json!({"a": null})).unwrap(), "a=");
        assert!(form(&serde_json::json!([1])).is_err());
    }

    #[test]
    fn bytes_are_read_back_from_json_arrays() {
        assert_eq!(
            bytes(&serde_json::json!([0, 1, 255])),
            Some(vec![0, 1, 255])
        );
        assert_eq!(bytes(&serde_json::json!([256])), None);
        assert_eq!(bytes(&serde_json::json!("abc")), None);
    }
}
