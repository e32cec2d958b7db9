//! Secrets at rest: endpoints' signing secrets and credentials are sealed with an AEAD key from
//! the environment (`BUILDAMP_SECRET_KEY`) before they reach the database, and opened only to sign
//! or authenticate a request.
//!
//! The key variable holds one or more keys, `id:base64` separated by commas (a bare `base64` is
//! the key `default`). The first seals; every one opens, so keys rotate: put the new key first,
//! keep the old one after it for as long as values sealed with it are stored (nothing re-seals
//! stored values under the new key yet: a value is sealed anew when it is rotated). Each sealed value
//! names its key id (`v1:<id>:<base64 of nonce and ciphertext>`), and is bound to its owner (the
//! endpoint's id) as associated data, so a value copied to another row does not open.
//!
//! XChaCha20-Poly1305 with a random 24-byte nonce per value.

use std::fmt;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

/// The variable the keys are read from.
pub const SECRET_KEY_VAR: &str = "BUILDAMP_SECRET_KEY";

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A secret value in memory: `Debug` shows `Secret(***)` and there is no `Display`; read it with
/// [`Secret::expose`] only where it is used.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The keys that seal and open secrets. Never printed.
#[derive(Clone)]
pub struct SecretKeys {
    /// `(id, cipher)`, the sealing key first.
    keys: Vec<(String, XChaCha20Poly1305)>,
}

impl fmt::Debug for SecretKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("SecretKeys").field("ids", &ids).finish()
    }
}

/// Why secrets cannot be sealed or opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    /// The key variable is not set.
    #[error(
        "{SECRET_KEY_VAR} is not set: endpoints' secrets are stored encrypted with it. Generate a key with `buildamp secret-key` and set {SECRET_KEY_VAR} to it (keep it out of the database and of version control)"
    )]
    MissingKey,
    /// The key variable is malformed.
    #[error(
        "{SECRET_KEY_VAR} is not valid: {0} (expected `id:base64` of 32 bytes, several separated by commas; `buildamp secret-key` prints one)"
    )]
    BadKey(String),
    /// A sealed value names a key that is not configured.
    #[error(
        "a stored secret was sealed with key `{0}`, which {SECRET_KEY_VAR} does not hold: add that key back (after the current one) to open it"
    )]
    UnknownKey(String),
    /// A sealed value does not open with its key (altered, or copied from another owner).
    #[error(
        "a stored secret does not open with key `{0}`: it was altered, or belongs to another endpoint"
    )]
    Corrupt(String),
    /// The development key file could not be read or written.
    #[error("cannot use the development key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: String,
        /// What failed.
        reason: String,
    },
}

/// Where development tools keep a generated key when [`SECRET_KEY_VAR`] is unset (next to the
/// development database, `DatabaseUrl::DEVELOPMENT_DEFAULT`).
pub const DEVELOPMENT_KEY_FILE: &str = ".buildamp/secret-key";

impl SecretKeys {
    /// The keys in `value` (the variable's text).
    ///
    /// # Errors
    /// [`SecretError::BadKey`] saying what is wrong (never quoting the key).
    pub fn parse(value: &str) -> Result<Self, SecretError> {
        let mut keys = Vec::new();
        for (n, part) in value.split(',').map(str::trim).enumerate() {
            let (id, encoded) = part.split_once(':').unwrap_or(("default", part));
            if id.is_empty()
                || !id
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(SecretError::BadKey(format!(
                    "key {} has an id that is not letters, digits, `_` or `-`",
                    n + 1
                )));
            }
            let bytes = B64
                .decode(encoded)
                .map_err(|_| SecretError::BadKey(format!("key `{id}` is not base64")))?;
            let cipher = XChaCha20Poly1305::new_from_slice(&bytes).map_err(|_| {
                SecretError::BadKey(format!("key `{id}` is {} bytes, not 32", bytes.len()))
            })?;
            if keys.iter().any(|(k, _)| k == id) {
                return Err(SecretError::BadKey(format!("key id `{id}` is given twice")));
            }
            keys.push((id.to_owned(), cipher));
        }
        Ok(SecretKeys { keys })
    }

    /// The keys in the environment's [`SECRET_KEY_VAR`].
    ///
    /// # Errors
    /// The variable is unset or malformed.
    pub fn from_env(env: &(impl crate::env::Env + ?Sized)) -> Result<Self, SecretError> {
        Self::parse(&env.var(SECRET_KEY_VAR).ok_or(SecretError::MissingKey)?)
    }

    /// For development tools (the quickstart, the examples): [`SECRET_KEY_VAR`] when set, else a
    /// key generated once into [`DEVELOPMENT_KEY_FILE`] (readable by its owner only) and reused,
    /// so endpoints created in one run open in the next. The flag says whether the file was used.
    /// Apps never get this default: [`crate::RuntimeBuilder::build`] requires the variable.
    ///
    /// # Errors
    /// The variable is malformed, or the file cannot be read or written.
    pub fn from_env_or_development_file(
        env: &(impl crate::env::Env + ?Sized),
    ) -> Result<(Self, bool), SecretError> {
        if let Some(value) = env.var(SECRET_KEY_VAR) {
            return Ok((Self::parse(&value)?, false));
        }
        let path = std::path::Path::new(DEVELOPMENT_KEY_FILE);
        let file_error = |reason: String| SecretError::KeyFile {
            path: DEVELOPMENT_KEY_FILE.to_owned(),
            reason,
        };
        let value = match std::fs::read_to_string(path) {
            Ok(value) => value.trim().to_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Self::generate("dev").map_err(|e| file_error(e.to_string()))?;
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).map_err(|e| file_error(e.to_string()))?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(|e| file_error(e.to_string()))?;
                std::io::Write::write_all(&mut file, format!("{key}\n").as_bytes())
                    .map_err(|e| file_error(e.to_string()))?;
                key
            }
            Err(e) => return Err(file_error(e.to_string())),
        };
        Ok((Self::parse(&value)?, true))
    }

    /// A fresh key, `id:base64`, for [`SECRET_KEY_VAR`].
    ///
    /// # Errors
    /// The operating system's random source failed.
    pub fn generate(id: &str) -> Result<String, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(format!("{id}:{}", B64.encode(key)))
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        &self.keys[0].0
    }

    /// Seals `plain` for `owner`.
    ///
    /// # Panics
    /// When the operating system's random source fails.
    pub fn seal(&self, owner: &str, plain: &[u8]) -> String {
        let (id, cipher) = &self.keys[0];
        let mut nonce = [0u8; 24];
        getrandom::fill(&mut nonce).expect("the operating system's random source works");
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: owner.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 seals any message");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        format!("v1:{id}:{}", B64.encode(out))
    }

    /// Opens a value [`SecretKeys::seal`] made for `owner`.
    ///
    /// # Errors
    /// Its key is not configured, or it does not open (altered, or another owner's).
    pub fn open(&self, owner: &str, sealed: &str) -> Result<Vec<u8>, SecretError> {
        let mut parts = sealed.splitn(3, ':');
        let (Some("v1"), Some(id), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SecretError::Corrupt("?".into()));
        };
        let (_, cipher) = self
            .keys
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| SecretError::UnknownKey(id.to_owned()))?;
        let bytes = B64
            .decode(body)
            .map_err(|_| SecretError::Corrupt(id.to_owned()))?;
        if bytes.len() < 24 {
            return Err(SecretError::Corrupt(id.to_owned()));
        }
        let (nonce, ciphertext) = bytes.split_at(24);
        cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: owner.as_bytes(),
                },
            )
            .map_err(|_| SecretError::Corrupt(id.to_owned()))
    }

    /// The id of the key `sealed` names.
    pub fn key_id(sealed: &str) -> Option<&str> {
        sealed.strip_prefix("v1:")?.split(':').next()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_bound_to_the_owner() {
        let keys = SecretKeys::parse(&SecretKeys::generate("k1").unwrap()).unwrap();
        let sealed = keys.seal("ep_1", b"whsec_abc");
        assert!(sealed.starts_with("v1:k1:"));
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(keys.open("ep_1", &sealed).unwrap(), b"whsec_abc");
        assert_eq!(
            keys.open("ep_2", &sealed),
            Err(SecretError::Corrupt("k1".into()))
        );
        assert_ne!(
            keys.seal("ep_1", b"whsec_abc"),
            sealed,
            "a fresh nonce every time"
        );
    }

    #[test]
    fn rotation_opens_with_the_old_key_and_seals_with_the_new() {
        let old = SecretKeys::generate("k1").unwrap();
        let new = SecretKeys::generate("k2").unwrap();
        let sealed_old = SecretKeys::parse(&old).unwrap().seal("ep", b"s");
        let both = SecretKeys::parse(&format!("{new},{old}")).unwrap();
        assert_eq!(both.open("ep", &sealed_old).unwrap(), b"s");
        assert_eq!(SecretKeys::key_id(&both.seal("ep", b"s")), Some("k2"));
        let only_new = SecretKeys::parse(&new).unwrap();
        assert_eq!(
            only_new.open("ep", &sealed_old),
            Err(SecretError::UnknownKey("k1".into()))
        );
    }

    #[test]
    fn bad_keys_are_refused_without_quoting_them() {
        for (value, says) in [
            ("k1:c2hvcnQ=", "5 bytes, not 32"),
            ("k1:***", "not base64"),
            ("k 1:AAAA", "id that is not"),
        ] {
            let e = SecretKeys::parse(value).unwrap_err().to_string();
            assert!(e.contains(says), "{e}");
            assert!(!e.contains("c2hvcnQ="), "{e}");
        }
        let k = SecretKeys::generate("a").unwrap();
        assert!(
            SecretKeys::parse(&format!("{k},{k}"))
                .unwrap_err()
                .to_string()
                .contains("twice")
        );
        assert!(
            !format!("{:?}", SecretKeys::parse(&k).unwrap()).contains(k.split(':').nth(1).unwrap())
        );
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(***)");
    }
}
