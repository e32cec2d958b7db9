//! A webhook whose payload uses types declared in another model file.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

use super::super::types::{Customer, LineItem};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api.example.com/orders",
    auth = "Bearer {ORDERS_API_KEY}"
)]
pub struct OrderPlaced {
    pub customer: Customer,
    pub items: Vec<LineItem>,
}
