//! Two webhook types with one name would make `webhook_type` ambiguous: the start-up check says
//! which types clash. (Its own test binary, so the clash does not leak into other tests.)

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// Billing's webhooks.
pub mod billing {
    use super::*;

    /// A receipt sent by billing.
    #[derive(Serialize, Deserialize, BuildAmpWebhook)]
    #[target(url = "https://billing.example.com/receipts")]
    pub struct Receipt {
        /// The order.
        pub order: String,
    }
}

/// Shipping's webhooks.
pub mod shipping {
    use super::*;

    /// A receipt sent by shipping, with the same name.
    #[derive(Serialize, Deserialize, BuildAmpWebhook)]
    #[target(url = "https://shipping.example.com/receipts")]
    pub struct Receipt {
        /// The parcel.
        pub parcel: String,
    }
}

#[test]
fn startup_check_names_both_types_of_a_clashing_name() {
    let err = buildamp::registry::check(&[] as &[(&str, &str)]).unwrap_err();
    let [(name, types)] = err.duplicates.as_slice() else {
        panic!("expected one clash, got {:?}", err.duplicates)
    };
    assert_eq!(*name, "Receipt");
    assert_eq!(
        types,
        &[
            "registry_duplicates::billing::Receipt",
            "registry_duplicates::shipping::Receipt"
        ]
    );
    assert!(err.missing_env_vars.is_empty());
    assert!(err.to_string().contains("rename one of the structs"));
}
