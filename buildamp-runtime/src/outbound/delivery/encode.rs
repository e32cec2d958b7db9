//! Payload encodings: JSON, form (nested maps in brackets; lists in Stripe's indexed brackets or as
//! Twilio's repeated keys; also used for query strings) and multipart. Every encoder reads the
//! stored JSON payload.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use crate::target::FormLists;

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

/// `key=value` pairs of a form or query string, nested maps in bracket notation
/// (`metadata[order_id]=1`), lists as `lists` says: indexed (`expand[0]=a`, `a[0][b]=c`) or the key
/// repeated (`MediaUrl=a&MediaUrl=b`; a list item that is itself a list or an object cannot be
/// written so, and is an error). `null` becomes `key=`; empty objects and arrays send nothing.
pub fn form_pairs(payload: &Value, lists: FormLists) -> Result<Vec<(String, String)>, EncodeError> {
    let Value::Object(map) = payload else {
        return Err(EncodeError(format!(
            "a form body needs a JSON object, not {}",
            kind(payload)
        )));
    };
    let mut pairs = Vec::new();
    for (key, value) in map {
        flatten(key.clone(), value, lists, &mut pairs)?;
    }
    Ok(pairs)
}

fn flatten(
    key: String,
    value: &Value,
    lists: FormLists,
    pairs: &mut Vec<(String, String)>,
) -> Result<(), EncodeError> {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                flatten(format!("{key}[{k}]"), v, lists, pairs)?;
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                match lists {
                    FormLists::Brackets => flatten(format!("{key}[{i}]"), v, lists, pairs)?,
                    FormLists::Repeat if v.is_array() || v.is_object() => {
                        return Err(EncodeError(format!(
                            "`{key}` holds {} in a list, which repeated keys (`form_lists = \"repeat\"`) cannot write: use `\"brackets\"`, or a list of plain values",
                            kind(v)
                        )));
                    }
                    FormLists::Repeat => flatten(key.clone(), v, lists, pairs)?,
                }
            }
        }
        Value::Null => pairs.push((key, String::new())),
        Value::Bool(b) => pairs.push((key, b.to_string())),
        Value::Number(n) => pairs.push((key, n.to_string())),
        Value::String(s) => pairs.push((key, s.clone())),
    }
    Ok(())
}

/// An `application/x-www-form-urlencoded` body, or a query string, lists written as `lists` says.
pub fn form(payload: &Value, lists: FormLists) -> Result<String, EncodeError> {
    Ok(form_pairs(payload, lists)?
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
                form(&input, FormLists::Brackets).unwrap(),
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
        let brackets = |v: &Value| form(v, FormLists::Brackets);
        assert_eq!(
            brackets(&payload).unwrap(),
            "metadata[order%20id]=a%20b%26c%3Dd&email=x%2By%40z.com"
        );
        assert_eq!(brackets(&serde_json::json!({"a": null})).unwrap(), "a=");
        assert!(brackets(&serde_json::json!([1])).is_err());
    }

    /// Twilio's Messages API defines `MediaUrl` as a list parameter sent as the key repeated, as
    /// its own clients do (`twilio-python`'s `serialize.map` over `MediaUrl`, and the API
    /// reference's curl example with one `--data-urlencode "MediaUrl=…"` per URL).
    #[test]
    fn repeated_keys_write_each_list_item_under_its_key() {
        let payload = serde_json::json!({
            "To": "+15558675310",
            "MediaUrl": ["https://c1.staticflickr.com/3/2899/14341091933_1e92e62d12_b.jpg", "https://demo.twilio.com/owl.png"],
        });
        assert_eq!(
            form(&payload, FormLists::Repeat).unwrap(),
            "To=%2B15558675310&MediaUrl=https%3A%2F%2Fc1.staticflickr.com%2F3%2F2899%2F14341091933_1e92e62d12_b.jpg&MediaUrl=https%3A%2F%2Fdemo.twilio.com%2Fowl.png"
        );
        // Nested maps keep their brackets; an empty list sends nothing.
        let nested = serde_json::json!({"a": {"b": [1, 2]}, "c": []});
        assert_eq!(form(&nested, FormLists::Repeat).unwrap(), "a[b]=1&a[b]=2");
        let error = form(&serde_json::json!({"a": [{"b": 1}]}), FormLists::Repeat).unwrap_err();
        assert!(error.0.contains("`a` holds an object in a list"), "{error}");
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
