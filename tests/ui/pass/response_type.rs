use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

mod stripe {
    /// What Stripe answers.
    #[derive(serde::Deserialize)]
    pub struct PaymentIntent {
        pub id: String,
    }
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/v1/payment_intents", response = stripe::PaymentIntent)]
pub struct Pay {
    pub amount: u32,
}

fn main() {
    let declared = <Pay as buildamp::Webhook>::target().response.as_ref().unwrap();
    assert_eq!(declared.name, "stripe::PaymentIntent");
    assert!((declared.parse)(br#"{"id": "pi_1"}"#).is_ok());
    assert!((declared.parse)(br#"{"id": 1}"#).unwrap_err().starts_with("at id:"));
}
