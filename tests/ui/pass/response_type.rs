use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

mod stripe {
    /// What Stripe answers.
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct PaymentIntent {
        #[serde(alias = "intent_id")]
        pub id: String,
    }

    /// How Stripe refuses.
    #[derive(serde::Serialize, serde::Deserialize)]
    pub struct Refusal {
        pub error: String,
    }
}

#[derive(Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/v1/payment_intents", response = stripe::PaymentIntent,
         error = self::stripe::Refusal)]
pub struct Pay {
    pub amount: u32,
}

fn main() {
    let target = <Pay as buildamp::Webhook>::target();
    let declared = target.response.as_ref().unwrap();
    assert_eq!(declared.name, "stripe::PaymentIntent");
    // Read as serde reads it, written back as serde writes it.
    assert_eq!(
        (declared.read)(br#"{"intent_id": "pi_1"}"#).unwrap(),
        serde_json::json!({"id": "pi_1"})
    );
    assert!((declared.read)(br#"{"id": 1}"#).unwrap_err().starts_with("at id:"));
    let refusal = target.error.as_ref().unwrap();
    assert_eq!(refusal.name, "self::stripe::Refusal");
    assert!((refusal.read)(br#"{"error": "declined"}"#).is_ok());
}
