//! A JSON payload checked as serde reads it into its Rust type (a webhook's payload, an event's
//! data), with the path of the field at fault: what the HTTP API answers a bad body with.

use std::any::Any;

/// A payload decoded from JSON into its Rust type, behind `Any`.
pub type AnyPayload = Box<dyn Any + Send + Sync>;

/// Why a JSON payload is not a valid value of its type: serde's message, and the path of the
/// field it is about (`personalizations[0].to`; empty for the payload as a whole).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PayloadError {
    /// The field's path.
    pub path: String,
    /// serde's message.
    pub message: String,
}

/// Decodes `json` into `T` as serde does, rejecting trailing input; the error names the field.
///
/// # Errors
/// serde's reason, with the path of the field it is about.
pub fn decode<T: serde::de::DeserializeOwned>(json: &[u8]) -> Result<T, PayloadError> {
    let mut deserializer = serde_json::Deserializer::from_slice(json);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
        let path = e.path().to_string();
        PayloadError {
            path: if path == "." { String::new() } else { path },
            message: e.into_inner().to_string(),
        }
    })?;
    deserializer.end().map_err(|e| PayloadError {
        path: String::new(),
        message: e.to_string(),
    })?;
    Ok(value)
}

/// [`decode`], boxed behind `Any` (for registrations, which know `T` only as a function).
pub(crate) fn decode_json<T: serde::de::DeserializeOwned + Send + Sync + 'static>(
    json: &[u8],
) -> Result<AnyPayload, PayloadError> {
    Ok(Box::new(decode::<T>(json)?))
}
