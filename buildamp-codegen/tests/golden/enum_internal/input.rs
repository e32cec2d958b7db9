//! Internally tagged (`tag = "type"`): the tag sits beside the fields; a newtype variant holding a
//! struct merges the struct's fields.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Card {
    pub last4: String,
    pub exp_month: u8,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethod {
    Cash,
    Card(Card),
    BankTransfer {
        iban: String,
        reference: Option<String>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/pay")]
pub struct Payment {
    pub method: PaymentMethod,
    pub amount: u32,
}
