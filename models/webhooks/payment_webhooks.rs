//! Payment providers.

use std::collections::BTreeMap;

use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

/// Stripe Create PaymentIntent (`POST /v1/payment_intents`), as Stripe's API reference defines it
/// for API version `2026-09-30.endive`, which the target pins with `Stripe-Version` (without it,
/// each field means what the account's default version says). Form-encoded in Stripe's bracket
/// convention (`metadata[order_id]=1`, `allowed_payment_method_types[0]=card`), Bearer secret
/// key, and an `Idempotency-Key` on every POST.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook/stripe", "https://api.stripe.com/v1/payment_intents"),
    method = "POST",
    auth = if_env!("DEVELOPMENT", "", "Bearer {STRIPE_SECRET_KEY}"),
    headers = { "Stripe-Version" = "2026-09-30.endive" },
    content_type = "application/x-www-form-urlencoded",
    idempotency_header = "Idempotency-Key",
    retry_policy = "exponential",
    timeout = "30s"
)]
pub struct StripePaymentIntent {
    /// The amount in the currency's smallest unit (cents). Stripe's limit is 8 digits, so `u32`
    /// holds every valid amount.
    pub amount: u32,
    /// A three-letter ISO code, lowercase.
    pub currency: String,
    /// The customer's id (`cus_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// Shown to the customer on receipts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where Stripe sends the receipt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_email: Option<String>,
    /// Your own key-value data, sent as `metadata[key]=value`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    /// Only these payment method types, those compatible with the currency, amount and customer
    /// (`allowed_payment_method_types[0]=card`). Since `2026-09-30.endive`, Stripe refuses the
    /// older `payment_method_types` (`payment_method_types_no_longer_supported`). Exclusive with
    /// `excluded_payment_method_types` and `automatic_payment_methods`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_payment_method_types: Vec<String>,
    /// Payment method types left out of those Stripe would offer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_payment_method_types: Vec<String>,
    /// Lets Stripe choose the payment methods, sent as `automatic_payment_methods[enabled]=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_payment_methods: Option<AutomaticPaymentMethods>,
}

/// Stripe's `automatic_payment_methods` parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutomaticPaymentMethods {
    /// Whether Stripe picks payment methods from the Dashboard settings.
    pub enabled: bool,
}

/// PayPal Orders v2 (`POST /v2/checkout/orders`), as PayPal's Orders v2 API definition
/// (`checkout_orders_v2.json`, developer.paypal.com/sdk/orders/v2) defines it: JSON on
/// `api-m.paypal.com`, Bearer access token, and `PayPal-Request-Id` so a retried create does not
/// make a second order. The checkout experience goes in
/// `payment_source.paypal.experience_context` (the definition marks `application_context`'s
/// fields deprecated in its favour).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://api-m.paypal.com/v2/checkout/orders",
    method = "POST",
    auth = "Bearer {PAYPAL_ACCESS_TOKEN}",
    idempotency_header = "PayPal-Request-Id",
    timeout = "60s"
)]
pub struct PayPalOrder {
    /// Capture at once, or authorize now and capture later.
    pub intent: PayPalIntent,
    /// What is bought (at least one unit).
    pub purchase_units: Vec<PayPalPurchaseUnit>,
    /// How the buyer pays, and the checkout experience.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_source: Option<PayPalPaymentSource>,
}

/// An order's `payment_source`: here, the buyer's PayPal wallet.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalPaymentSource {
    /// Pay with PayPal.
    pub paypal: PayPalWallet,
}

/// `payment_source.paypal`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalWallet {
    /// How PayPal's approval pages behave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experience_context: Option<PayPalExperienceContext>,
}

/// PayPal's `paypal_wallet_experience_context`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalExperienceContext {
    /// The name shown on PayPal's pages instead of the account's business name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand_name: Option<String>,
    /// The pages' language, as a BCP 47 tag (`en-US`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Where the shipping address comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_preference: Option<PayPalShippingPreference>,
    /// The page the buyer sees first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_page: Option<PayPalLandingPage>,
    /// Whether the last button says Continue or Pay Now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_action: Option<PayPalUserAction>,
    /// Whether only immediate payment methods are accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method_preference: Option<PayPalPaymentMethodPreference>,
    /// Where the buyer lands after approving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// Where the buyer lands after cancelling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
}

/// Where a PayPal order's shipping address comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalShippingPreference {
    /// `GET_FROM_FILE`: the buyer's address at PayPal (the default).
    GetFromFile,
    /// `NO_SHIPPING`: nothing is shipped.
    NoShipping,
    /// `SET_PROVIDED_ADDRESS`: the address in the order, unchangeable by the buyer.
    SetProvidedAddress,
}

/// The first page PayPal shows the buyer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalLandingPage {
    /// `LOGIN`.
    Login,
    /// `GUEST_CHECKOUT`: card entry without a PayPal account.
    GuestCheckout,
    /// `NO_PREFERENCE`: PayPal chooses.
    NoPreference,
}

/// The last button of PayPal's approval flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalUserAction {
    /// `CONTINUE`: the buyer confirms on your site afterwards.
    Continue,
    /// `PAY_NOW`: the buyer pays on PayPal's page.
    PayNow,
}

/// Which payment methods PayPal accepts for the order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalPaymentMethodPreference {
    /// `UNRESTRICTED`.
    Unrestricted,
    /// `IMMEDIATE_PAYMENT_REQUIRED`: no eCheck or other delayed methods.
    ImmediatePaymentRequired,
}

/// PayPal's order intent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalIntent {
    /// `CAPTURE`.
    Capture,
    /// `AUTHORIZE`.
    Authorize,
}

/// One purchase unit of a PayPal order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalPurchaseUnit {
    /// Your id for this unit; required when an order has several.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// The total.
    pub amount: PayPalAmount,
    /// What is bought.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Your own id, returned in PayPal's webhooks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_id: Option<String>,
    /// Your invoice number (unique per account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_id: Option<String>,
}

/// A PayPal amount: the value is a decimal string, never a float.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalAmount {
    /// A three-letter ISO code, uppercase.
    pub currency_code: String,
    /// The amount, such as `"10.00"`.
    pub value: String,
}

/// Square Create Payment (`POST /v2/payments`): JSON, Bearer token, a pinned `Square-Version`, and
/// the idempotency key Square requires in the body.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(
    url = "https://connect.squareup.com/v2/payments",
    method = "POST",
    auth = "Bearer {SQUARE_ACCESS_TOKEN}",
    headers = { "Square-Version" = "2024-01-18" }
)]
pub struct SquarePayment {
    /// The card nonce or card-on-file id.
    pub source_id: String,
    /// The amount to charge.
    pub amount_money: SquareAmount,
    /// Unique per payment; Square answers a repeat with the first payment (at most 45 chars).
    pub idempotency_key: String,
    /// The order this payment is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// Your reference (at most 40 chars).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    /// A note shown in the Square Dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `false` to authorize only, and complete later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub autocomplete: Option<bool>,
}

/// A Square amount in the currency's smallest unit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquareAmount {
    /// The amount in cents (`u32` holds up to 42,949,672.95).
    pub amount: u32,
    /// A three-letter ISO code, uppercase.
    pub currency: String,
}
