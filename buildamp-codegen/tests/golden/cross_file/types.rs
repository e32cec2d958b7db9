//! Shared model types.
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Customer {
    pub email: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    pub sku: String,
    pub quantity: u16,
}

/// Declared but unused by any frontend webhook: not generated.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unused {
    pub huge: u64,
}
