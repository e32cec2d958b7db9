//! The webhook models, one file a family. The code generator reads every file in `webhooks/`.

pub mod custom_webhooks;
pub mod email_webhooks;
pub mod file_webhooks;
pub mod messaging_webhooks;
pub mod payment_webhooks;
