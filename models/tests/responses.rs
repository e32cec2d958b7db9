//! Each integration's answers, read from bodies shaped as the provider's API reference shows them
//! (its example objects, ids shortened, unknown fields kept to prove they are ignored), through the
//! same parser the executor uses for `#[target(response = ..., error = ...)]`. Each answer then
//! goes the way the HTTP API serves it to the Elm client: written back by serde, decoded by the
//! generated Elm decoder of this models folder, encoded by its encoder and read by serde into the
//! same value (the Elm side evaluated by `tests/support/elm_eval.rs`, as in the root crate).

use std::path::Path;
use std::sync::OnceLock;

use buildamp::Webhook;
use buildamp::target::parse_as;
use buildamp_codegen::elm::{self, schema::Schema};
use buildamp_models::*;
use serde_json::json;

#[path = "../../tests/support/elm_eval.rs"]
#[allow(unreachable_pub, dead_code)]
mod eval;

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let models = Path::new(env!("CARGO_MANIFEST_DIR"));
        elm::schema(&elm::model_files(models).unwrap()).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// `body` read as a `T`, after checking that the Elm client reads it back as the same value.
fn read<T>(body: serde_json::Value) -> T
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq + std::fmt::Debug,
{
    let value = parse_as::<T>(body.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let name = std::any::type_name::<T>().rsplit("::").next().unwrap();
    let served = serde_json::to_value(&value).unwrap();
    let elm = eval::decode(schema(), name, &served)
        .unwrap_or_else(|e| panic!("the Elm decoder of `{name}` rejects {served}: {e}"));
    let back: T = serde_json::from_value(eval::encode(schema(), name, &elm)).unwrap();
    assert_eq!(back, value, "`{name}` changed on its way through Elm");
    value
}

#[test]
fn every_provider_target_names_its_answer_and_its_refusal() {
    let named = |t: &buildamp::Target| (t.response.as_ref().map(|r| r.name), t.error.is_some());
    assert_eq!(
        named(StripePaymentIntent::target()),
        (Some("StripePaymentIntentResponse"), true)
    );
    assert_eq!(
        named(PayPalOrder::target()),
        (Some("PayPalOrderResponse"), true)
    );
    assert_eq!(
        named(SquarePayment::target()),
        (Some("SquarePaymentResponse"), true)
    );
    assert_eq!(
        named(TwilioSms::target()),
        (Some("TwilioMessageResponse"), true)
    );
    assert_eq!(
        named(ResendEmail::target()),
        (Some("ResendEmailResponse"), true)
    );
    // SendGrid answers 202 with no body: only its refusals have a shape.
    assert_eq!(named(SendGridEmail::target()), (None, true));
    assert_eq!(
        named(MailgunEmail::target()),
        (Some("MailgunResponse"), true)
    );
    assert_eq!(
        named(PostmarkEmail::target()),
        (Some("PostmarkResponse"), true)
    );
    assert_eq!(
        named(CloudinaryUpload::target()),
        (Some("CloudinaryUploadResponse"), true)
    );
    assert_eq!(
        named(ImageKitUpload::target()),
        (Some("ImageKitUploadResponse"), true)
    );
}

#[test]
fn stripe_answers_and_refusals() {
    let intent: StripePaymentIntentResponse = read(json!({
        "id": "pi_3MtwBw", "object": "payment_intent", "amount": 2000, "amount_capturable": 0,
        "amount_received": 0, "automatic_payment_methods": {"enabled": true},
        "client_secret": "pi_3MtwBw_secret_Yr", "capture_method": "automatic",
        "created": 1680800504, "currency": "usd", "customer": null, "description": null,
        "last_payment_error": null, "latest_charge": null, "livemode": false, "metadata": {},
        "next_action": null, "payment_method": null, "payment_method_types": ["card", "link"],
        "status": "requires_payment_method"
    }));
    assert_eq!(
        (intent.id.as_str(), intent.amount, intent.status),
        (
            "pi_3MtwBw",
            2000,
            StripePaymentIntentStatus::RequiresPaymentMethod
        )
    );
    assert_eq!(intent.payment_method_types, ["card", "link"]);
    assert_eq!(intent.customer, None);
    let refused: StripeError = read(json!({"error": {
        "code": "resource_missing", "doc_url": "https://stripe.com/docs/error-codes/resource-missing",
        "message": "No such customer: 'cus_123'", "param": "customer",
        "type": "invalid_request_error"
    }}));
    assert_eq!(refused.error.kind, "invalid_request_error");
    assert_eq!(refused.error.param.as_deref(), Some("customer"));
}

#[test]
fn a_paypal_order_says_where_the_buyer_approves_it() {
    let order: PayPalOrderResponse = read(json!({
        "id": "5O190127TN364715T", "status": "PAYER_ACTION_REQUIRED",
        "payment_source": {"paypal": {}},
        "links": [
            {"href": "https://api-m.paypal.com/v2/checkout/orders/5O190127TN364715T", "rel": "self", "method": "GET"},
            {"href": "https://www.paypal.com/checkoutnow?token=5O190127TN364715T", "rel": "payer-action", "method": "GET"}
        ]
    }));
    assert_eq!(order.status, PayPalOrderStatus::PayerActionRequired);
    assert_eq!(
        order.approval_url(),
        Some("https://www.paypal.com/checkoutnow?token=5O190127TN364715T")
    );
    let refused: PayPalError = read(json!({
        "name": "INVALID_REQUEST",
        "message": "Request is not well-formed, syntactically incorrect, or violates schema.",
        "debug_id": "b6b9a374802ea",
        "details": [{"field": "/purchase_units/0/amount/value", "value": "", "location": "body",
                     "issue": "MISSING_REQUIRED_PARAMETER",
                     "description": "A required field / parameter is missing."}]
    }));
    assert_eq!(refused.details[0].issue, "MISSING_REQUIRED_PARAMETER");
}

#[test]
fn square_answers_and_refusals() {
    let paid: SquarePaymentResponse = read(json!({"payment": {
        "id": "R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY", "created_at": "2021-10-13T19:34:33.524Z",
        "amount_money": {"amount": 1000, "currency": "USD"}, "status": "COMPLETED",
        "source_type": "CARD", "order_id": "pRsjRTgFWATl7so6Ri7fYSaQh8hZY",
        "receipt_url": "https://squareup.com/receipt/preview/R2B3Z8WMVt3EAmzYWLZvz7Y69EbZY"
    }}));
    assert_eq!(
        (
            paid.payment.status.as_str(),
            paid.payment.amount_money.amount
        ),
        ("COMPLETED", 1000)
    );
    let refused: SquareErrors = read(json!({"errors": [
        {"code": "CARD_DECLINED", "detail": "Card declined.", "category": "PAYMENT_METHOD_ERROR"}
    ]}));
    assert_eq!(refused.errors[0].code, "CARD_DECLINED");
}

#[test]
fn twilio_and_resend_answers_and_refusals() {
    let message: TwilioMessageResponse = read(json!({
        "account_sid": "ACaaaa", "api_version": "2010-04-01", "body": "Hi there",
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "direction": "outbound-api",
        "error_code": null, "error_message": null, "from": "+14155552345", "num_media": "0",
        "num_segments": "1", "price": null, "messaging_service_sid": "MGaaaa", "sid": "SMaaaa",
        "status": "queued", "subresource_uris": {"media": "/2010-04-01/Accounts/ACaaaa/Messages/SMaaaa/Media.json"},
        "to": "+14155552345", "uri": "/2010-04-01/Accounts/ACaaaa/Messages/SMaaaa.json"
    }));
    assert_eq!(
        (message.sid.as_str(), message.status),
        ("SMaaaa", TwilioMessageStatus::Queued)
    );
    assert_eq!(message.num_segments.as_deref(), Some("1"));
    // A status this model does not list still reads (through Elm too).
    let later: TwilioMessageResponse =
        read(json!({"sid": "SMbbbb", "status": "some_future_status", "to": "+14155552345"}));
    assert_eq!(later.status, TwilioMessageStatus::Unknown);
    let refused: TwilioError = read(json!({
        "code": 21211, "message": "The 'To' number +1555 is not a valid phone number.",
        "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400
    }));
    assert_eq!((refused.code, refused.status), (21211, 400));
    let sent: ResendEmailResponse = read(json!({"id": "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794"}));
    assert_eq!(sent.id, "49a3999c-0ce1-4ea6-ab68-afcd6dc2e794");
    let refused: ResendError = read(json!({
        "statusCode": 422, "message": "Invalid `from` field.", "name": "validation_error"
    }));
    assert_eq!(
        (refused.status_code, refused.name.as_str()),
        (Some(422), "validation_error")
    );
}

#[test]
fn email_answers_and_refusals() {
    let refused: SendGridErrors = read(json!({"errors": [{
        "message": "The from email does not contain a valid address.", "field": "from.email",
        "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html#message.from"
    }]}));
    assert_eq!(refused.errors[0].field.as_deref(), Some("from.email"));
    // A help of `null` reads as none.
    let refused: SendGridErrors =
        read(json!({"errors": [{"message": "m", "field": null, "help": null}]}));
    assert_eq!(refused.errors[0].help, None);
    let queued: MailgunResponse = read(json!({
        "id": "<20111114174239.25659.5817@samples.mailgun.org>", "message": "Queued. Thank you."
    }));
    assert!(queued.id.ends_with("@samples.mailgun.org>"));
    let refused: MailgunError = read(json!({"message": "'from' parameter is missing"}));
    assert_eq!(refused.message, "'from' parameter is missing");
    let accepted: PostmarkResponse = read(json!({
        "To": "receiver@example.com", "SubmittedAt": "2014-02-17T07:25:01.4178645-05:00",
        "MessageID": "0a129aee-e1cd-480d-b08d-4f48548ff48d", "ErrorCode": 0, "Message": "OK"
    }));
    assert_eq!(
        (accepted.error_code, accepted.message_id.as_deref()),
        (0, Some("0a129aee-e1cd-480d-b08d-4f48548ff48d"))
    );
    let refused: PostmarkResponse =
        read(json!({"ErrorCode": 300, "Message": "Invalid email request"}));
    assert_eq!((refused.error_code, refused.message_id), (300, None));
}

#[test]
fn file_answers_and_refusals() {
    let stored: CloudinaryUploadResponse = read(json!({
        "asset_id": "b5e6d2b39ba3e0869d67141ba7dba6cf", "public_id": "eneivicys42bq5f2jpn2",
        "version": 1570979139, "version_id": "98f52566f43d8e516a486958a45c1eb9",
        "signature": "abcdefghijklmnopqrstuvwxyz12345", "width": 1000, "height": 672,
        "format": "jpg", "resource_type": "image", "created_at": "2019-10-13T15:05:39Z",
        "tags": [], "bytes": 545, "type": "upload", "placeholder": false,
        "url": "http://res.cloudinary.com/demo/image/upload/v1570979139/eneivicys42bq5f2jpn2.jpg",
        "secure_url": "https://res.cloudinary.com/demo/image/upload/v1570979139/eneivicys42bq5f2jpn2.jpg",
        "asset_folder": "", "display_name": "sample", "original_filename": "sample"
    }));
    assert_eq!(
        (stored.width, stored.format.as_deref()),
        (Some(1000), Some("jpg"))
    );
    let refused: CloudinaryError = read(json!({"error": {"message": "Invalid image file"}}));
    assert_eq!(refused.error.message, "Invalid image file");
    let stored: ImageKitUploadResponse = read(json!({
        "fileId": "598821f949c0a938d57563bd", "name": "file1.jpg",
        "url": "https://ik.imagekit.io/your_imagekit_id/images/products/file1.jpg",
        "thumbnailUrl": "https://ik.imagekit.io/your_imagekit_id/tr:n-media_library_thumbnail/images/products/file1.jpg",
        "height": 300, "width": 200, "size": 83622, "filePath": "/images/products/file1.jpg",
        "tags": ["t-shirt", "round-neck", "sale2019"], "isPrivateFile": false,
        "customCoordinates": null, "fileType": "image"
    }));
    assert_eq!(
        (stored.file_path.as_str(), stored.size),
        ("/images/products/file1.jpg", 83622.0)
    );
    let refused: ImageKitError = read(json!({
        "message": "Your request contains invalid file.",
        "help": "For support kindly contact us at support@imagekit.io ."
    }));
    assert!(refused.help.is_some());
}
