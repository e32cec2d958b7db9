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
    timeout = "30s",
    response = StripePaymentIntentResponse,
    error = StripeError
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
    url = if_env!("DEVELOPMENT", "http://localhost:4040/test-webhook/paypal", "https://api-m.paypal.com/v2/checkout/orders"),
    method = "POST",
    auth = if_env!("DEVELOPMENT", "", "Bearer {PAYPAL_ACCESS_TOKEN}"),
    idempotency_header = "PayPal-Request-Id",
    timeout = "60s",
    response = PayPalOrderResponse,
    error = PayPalError
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
    headers = { "Square-Version" = "2024-01-18" },
    response = SquarePaymentResponse,
    error = SquareErrors
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

/// Stripe's PaymentIntent object, the answer to `StripePaymentIntent`: the fields an app reads,
/// as Stripe's API reference defines them for `2026-09-30.endive` (others are ignored).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StripePaymentIntentResponse {
    /// `pi_...`.
    pub id: String,
    /// The amount intended to be collected, in the smallest unit (at most 8 digits, as sent).
    pub amount: u32,
    /// The amount received so far.
    #[serde(default)]
    pub amount_received: u32,
    /// A three-letter ISO code, lowercase.
    pub currency: String,
    /// Where the payment stands.
    pub status: StripePaymentIntentStatus,
    /// For confirming on the client (Stripe.js); never log it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The customer's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    /// The latest charge's id (`ch_...`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_charge: Option<String>,
    /// The payment method types Stripe computed for this intent.
    #[serde(default)]
    pub payment_method_types: Vec<String>,
    /// Your metadata, as sent.
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    /// When it was created (Unix seconds; `u32` holds them until 2106).
    pub created: u32,
    /// Whether it is a live-mode object.
    pub livemode: bool,
    /// Why the last payment attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_payment_error: Option<StripeErrorDetail>,
}

/// A PaymentIntent's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StripePaymentIntentStatus {
    /// Waiting for a payment method.
    RequiresPaymentMethod,
    /// Waiting for confirmation.
    RequiresConfirmation,
    /// The customer must act (3-D Secure, a redirect).
    RequiresAction,
    /// Being processed.
    Processing,
    /// Authorized; capture it to collect.
    RequiresCapture,
    /// Canceled.
    Canceled,
    /// Paid.
    Succeeded,
}

/// How Stripe refuses a request (`{"error": {...}}`), every API.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StripeError {
    /// The refusal.
    pub error: StripeErrorDetail,
}

/// Stripe's error object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StripeErrorDetail {
    /// `api_error`, `card_error`, `idempotency_error` or `invalid_request_error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A short code such as `card_declined` or `parameter_missing`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// A card issuer's reason, for card errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The parameter the error is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub param: Option<String>,
}

/// PayPal's order, the answer to `PayPalOrder` (Orders v2 definition, `order`): its id, status and
/// the links to act on it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalOrderResponse {
    /// The order's id.
    pub id: String,
    /// Where the order stands.
    pub status: PayPalOrderStatus,
    /// HATEOAS links: `self`, and where the buyer approves (`payer-action`, or `approve`).
    #[serde(default)]
    pub links: Vec<PayPalLink>,
}

impl PayPalOrderResponse {
    /// Where to send the buyer to approve the order: the `payer-action` link (an order created
    /// with `payment_source.paypal`), or the `approve` link.
    pub fn approval_url(&self) -> Option<&str> {
        ["payer-action", "approve"].iter().find_map(|rel| {
            self.links
                .iter()
                .find(|l| l.rel == *rel)
                .map(|l| l.href.as_str())
        })
    }
}

/// A PayPal order's `status`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayPalOrderStatus {
    /// `CREATED`.
    Created,
    /// `SAVED`.
    Saved,
    /// `APPROVED`: the buyer approved; capture or authorize it.
    Approved,
    /// `VOIDED`.
    Voided,
    /// `COMPLETED`.
    Completed,
    /// `PAYER_ACTION_REQUIRED`: send the buyer to the `payer-action` link.
    PayerActionRequired,
}

/// A link of a PayPal answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalLink {
    /// The URL.
    pub href: String,
    /// What it is for.
    pub rel: String,
    /// The HTTP method to use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

/// How PayPal refuses a request (its `error` definition).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalError {
    /// `INVALID_REQUEST`, `UNPROCESSABLE_ENTITY`, ...
    pub name: String,
    /// A message for people.
    pub message: String,
    /// PayPal's id of the call, for its support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub debug_id: Option<String>,
    /// What exactly is wrong.
    #[serde(default)]
    pub details: Vec<PayPalErrorDetail>,
}

/// One issue of a PayPal error.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayPalErrorDetail {
    /// The issue's code, such as `MISSING_REQUIRED_PARAMETER`.
    pub issue: String,
    /// The field, as a JSON pointer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Square's answer to `SquarePayment` (Payments API, `CreatePaymentResponse`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquarePaymentResponse {
    /// The payment.
    pub payment: SquarePaymentObject,
}

/// Square's `Payment` object: the fields an app reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquarePaymentObject {
    /// The payment's id.
    pub id: String,
    /// `APPROVED`, `PENDING`, `COMPLETED`, `CANCELED` or `FAILED`.
    pub status: String,
    /// What was charged.
    pub amount_money: SquareAmount,
    /// The order it pays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    /// The receipt's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_url: Option<String>,
}

/// How Square refuses a request (`{"errors": [...]}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquareErrors {
    /// Every problem.
    pub errors: Vec<SquareError>,
}

/// One of Square's errors.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SquareError {
    /// `PAYMENT_METHOD_ERROR`, `INVALID_REQUEST_ERROR`, ...
    pub category: String,
    /// `CARD_DECLINED`, `MISSING_REQUIRED_PARAMETER`, ...
    pub code: String,
    /// A message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The field it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}
