// The expansion names everything by absolute path: it compiles in a crate that imports nothing
// and shadows the prelude names generated code might lean on.
#![no_implicit_prelude]

#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Duration;
#[allow(dead_code)]
mod target {}
#[allow(dead_code)]
mod inventory {}

#[derive(::serde::Serialize, ::serde::Deserialize, ::buildamp::BuildAmpWebhook)]
#[target(url = "https://api.example.com/notify", auth = "Bearer {API_KEY}", rate_limit = "10/s", max_concurrency = 2, idempotency_header = "Idempotency-Key")]
pub struct Notify {
    pub message: ::std::string::String,
}

fn main() {
    let target = <Notify as ::buildamp::Webhook>::target();
    ::std::assert_eq!(target.max_concurrency, ::std::option::Option::Some(2));
}
