//! The models crate's root: model types in one file, webhooks in another.
pub mod types;
pub mod webhooks {
    pub mod orders;
}
