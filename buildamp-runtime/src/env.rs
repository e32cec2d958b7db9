//! Where environment variables are read from: the process, or a map in tests.

use std::collections::{BTreeMap, HashMap};

/// A source of environment variables.
///
/// The runtime reads secrets and `{VAR}` placeholders at send time through this trait, so tests
/// can supply values without touching the process environment.
pub trait Env {
    /// The value of `name`, if set and valid Unicode.
    fn var(&self, name: &str) -> Option<String>;

    /// Whether `name` is set to a truthy value: anything but empty, `0`, `false`, `no` or `off`
    /// (case-insensitive). This is what `if_env!` tests.
    fn is_truthy(&self, name: &str) -> bool {
        self.var(name).is_some_and(|v| {
            let v = v.trim();
            !(v.is_empty()
                || ["0", "false", "no", "off"]
                    .iter()
                    .any(|f| v.eq_ignore_ascii_case(f)))
        })
    }
}

/// The process environment.
#[derive(Clone, Copy, Debug, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

impl Env for [(&str, &str)] {
    fn var(&self, name: &str) -> Option<String> {
        self.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

impl<const N: usize> Env for [(&str, &str); N] {
    fn var(&self, name: &str) -> Option<String> {
        self.as_slice().var(name)
    }
}
