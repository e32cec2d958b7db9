//! The generated Elm agrees with serde, both ways, for every golden case that generates: sample
//! values are serialized by serde, decoded by the Elm decoders, encoded again by the Elm encoders
//! and deserialized by serde into the same value. The Elm side runs in
//! `tests/support/elm_eval.rs`, which evaluates the very constructs the generator prints (the
//! golden files pin the printed text).
//!
//! The golden inputs are compiled here as Rust (`#[path]` modules), so the samples are real
//! values of the real types.

#![allow(missing_docs, unreachable_pub, dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::path::{Path, PathBuf};

use buildamp_codegen::elm::{self, schema::Schema};

#[path = "support/elm_eval.rs"]
mod eval;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

#[path = "../buildamp-codegen/tests/golden/answers/input.rs"]
mod answers;
#[path = "../buildamp-codegen/tests/golden/collections/input.rs"]
mod collections;
#[path = "../buildamp-codegen/tests/golden/cross_file/lib.rs"]
mod cross_file;
#[path = "../buildamp-codegen/tests/golden/defaults_and_skips/input.rs"]
mod defaults_and_skips;
#[path = "../buildamp-codegen/tests/golden/enum_adjacent/input.rs"]
mod enum_adjacent;
#[path = "../buildamp-codegen/tests/golden/enum_external/input.rs"]
mod enum_external;
#[path = "../buildamp-codegen/tests/golden/enum_internal/input.rs"]
mod enum_internal;
#[path = "../buildamp-codegen/tests/golden/enum_other/input.rs"]
mod enum_other;
#[path = "../buildamp-codegen/tests/golden/enum_untagged/input.rs"]
mod enum_untagged;
#[path = "../buildamp-codegen/tests/golden/flatten/input.rs"]
mod flatten;
#[path = "../buildamp-codegen/tests/golden/json_and_bytes/input.rs"]
mod json_and_bytes;
#[path = "../buildamp-codegen/tests/golden/many_fields/input.rs"]
mod many_fields;
#[path = "../buildamp-codegen/tests/golden/options/input.rs"]
mod options;
#[path = "../buildamp-codegen/tests/golden/primitives/input.rs"]
mod primitives;
#[path = "../buildamp-codegen/tests/golden/recursive/input.rs"]
mod recursive;
#[path = "../buildamp-codegen/tests/golden/renames/input.rs"]
mod renames;
#[path = "../buildamp-codegen/tests/golden/reserved_words/input.rs"]
mod reserved_words;
#[path = "../buildamp-codegen/tests/golden/server_only_excluded/input.rs"]
mod server_only_excluded;
#[path = "../buildamp-codegen/tests/golden/tuples_and_newtypes/input.rs"]
mod tuples_and_newtypes;

fn schema(case: &str) -> Schema {
    let dir: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("buildamp-codegen/tests/golden")
        .join(case);
    elm::schema(&elm::model_files(&dir).unwrap()).unwrap()
}

/// serde → Elm decoder → Elm encoder → serde: the same value. Returns (serde's JSON, Elm's JSON).
fn round_trip<T>(case: &str, rust_type: &str, value: &T) -> (Value, Value)
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let schema = schema(case);
    let serde_json = serde_json::to_value(value).unwrap();
    let elm_value = eval::decode(&schema, rust_type, &serde_json)
        .unwrap_or_else(|e| panic!("{case}: the Elm decoder rejects serde's {serde_json}: {e}"));
    let elm_json = eval::encode(&schema, rust_type, &elm_value);
    let back: T = serde_json::from_value(elm_json.clone())
        .unwrap_or_else(|e| panic!("{case}: serde rejects the Elm encoder's {elm_json}: {e}"));
    assert_eq!(&back, value, "{case}: the round trip changed the value");
    (serde_json, elm_json)
}

#[test]
fn primitives() {
    use primitives::Scalars;
    for value in [
        Scalars {
            text: "héllo \"world\"".into(),
            initial: 'é',
            flag: true,
            tiny: i8::MIN,
            small: i16::MAX,
            int: i32::MIN,
            byte: u8::MAX,
            short: u16::MAX,
            count: u32::MAX,
            ratio: 0.5,
            amount: -1.25e10,
        },
        Scalars {
            text: String::new(),
            initial: '\u{1F600}',
            flag: false,
            tiny: 0,
            small: 0,
            int: 0,
            byte: 0,
            short: 0,
            count: 0,
            ratio: 3.0,
            amount: 2.0,
        },
    ] {
        round_trip("primitives", "Scalars", &value);
    }
}

#[test]
fn options_absent_or_null_are_nothing() {
    use options::{Address, Profile};
    let full = Profile {
        nickname: Some("ada".into()),
        age: Some(36),
        scores: Some(vec![Some(1.5), None]),
        address: Some(Address {
            city: "London".into(),
            zip: None,
        }),
    };
    round_trip("options", "Profile", &full);
    let empty = Profile {
        nickname: None,
        age: None,
        scores: None,
        address: None,
    };
    let (serde, elm) = round_trip("options", "Profile", &empty);
    assert!(serde.get("age").is_none(), "serde skips it: {serde}");
    assert_eq!(
        elm["age"],
        Value::Null,
        "Elm sends null, which serde reads as None"
    );
    // Absent and null both decode to Nothing.
    let schema = schema("options");
    let absent = eval::decode(&schema, "Profile", &json!({"address": null})).unwrap();
    let null = eval::decode(
        &schema,
        "Profile",
        &json!({"nickname": null, "age": null, "scores": null, "address": null}),
    )
    .unwrap();
    assert_eq!(absent, null);
}

#[test]
fn collections() {
    use collections::Catalog;
    round_trip(
        "collections",
        "Catalog",
        &Catalog {
            names: vec!["a".into(), "b".into()],
            queue: VecDeque::from([3, 1, 2]),
            tags: BTreeSet::from(["x".into(), "y".into()]),
            seen: HashSet::from([-1, 7]),
            prices: BTreeMap::from([("tea".into(), 2.5), ("cake".into(), 4.0)]),
            stock: HashMap::from([("tea".into(), vec![1, 2]), ("none".into(), vec![])]),
            matrix: vec![vec![1, 2], vec![], vec![3]],
        },
    );
}

#[test]
fn tuples_and_newtypes() {
    use tuples_and_newtypes::{Drawing, Marker, Point, UserId};
    let (serde, _) = round_trip(
        "tuples_and_newtypes",
        "Drawing",
        &Drawing {
            owner: UserId("u-1".into()),
            origin: Point(1.5, -2.0),
            marker: Marker,
            pair: ("p".into(), 9),
            triple: (true, 'x', vec![UserId("u-2".into())]),
            nothing: (),
        },
    );
    assert_eq!(serde["owner"], "u-1");
    assert_eq!(serde["marker"], Value::Null);
}

#[test]
fn externally_tagged_enums() {
    use enum_external::{Order, Size, Speed};
    for (size, speed) in [
        (Size::Small, Speed::Small),
        (
            Size::Custom(42),
            Speed::Fast {
                kmh: 120,
                label: Some("zoom".into()),
            },
        ),
        (Size::Large, Speed::Between(1, 2)),
        (
            Size::Large,
            Speed::Fast {
                kmh: 1,
                label: None,
            },
        ),
    ] {
        round_trip(
            "enum_external",
            "Order",
            &Order {
                sizes: vec![size.clone(), Size::Small],
                size,
                speed,
            },
        );
    }
}

#[test]
fn internally_tagged_enums() {
    use enum_internal::{Card, Payment, PaymentMethod};
    for method in [
        PaymentMethod::Cash,
        PaymentMethod::Card(Card {
            last4: "4242".into(),
            exp_month: 12,
        }),
        PaymentMethod::BankTransfer {
            iban: "DE89".into(),
            reference: None,
        },
    ] {
        let (serde, _) = round_trip(
            "enum_internal",
            "Payment",
            &Payment {
                method,
                amount: 100,
            },
        );
        assert!(serde["method"]["type"].is_string());
    }
}

#[test]
fn adjacently_tagged_enums() {
    use enum_adjacent::{Block, Page};
    round_trip(
        "enum_adjacent",
        "Page",
        &Page {
            blocks: vec![
                Block::Divider,
                Block::Text("hi".into()),
                Block::Image {
                    url: "https://x/y.png".into(),
                    alt: Some("y".into()),
                },
                Block::Pair("k".into(), 3),
            ],
        },
    );
}

#[test]
fn untagged_enums_in_serdes_order() {
    use enum_untagged::{Recipient, Send};
    round_trip(
        "enum_untagged",
        "Send",
        &Send {
            to: vec![
                Recipient::Address("a@b.c".into()),
                Recipient::Named {
                    name: "Ada".into(),
                    email: "ada@b.c".into(),
                },
                Recipient::Pair("x".into(), "y".into()),
                Recipient::Nobody,
            ],
        },
    );
}

#[test]
fn renames_follow_each_direction() {
    use renames::{Event, Notify};
    for event in [
        Event::UserSignedUp {
            user_id: "u".into(),
            signed_up_at: "t".into(),
        },
        Event::UserLeft {
            user_id: "v".into(),
        },
    ] {
        let (serde, elm) = round_trip(
            "renames",
            "Notify",
            &Notify {
                message_id: "m".into(),
                trace: "t".into(),
                send_at: "now".into(),
                event,
            },
        );
        assert_eq!(serde["MessageId"], "m");
        assert_eq!(serde["X-Trace"], "t");
        // serde writes `sentAt` and reads `send_at`: the decoder reads one, the encoder writes the other.
        assert_eq!(serde["sentAt"], "now");
        assert_eq!(elm["send_at"], "now");
        assert!(elm.get("sentAt").is_none());
    }
}

#[test]
fn defaults_and_skips() {
    use defaults_and_skips::Settings;
    let bare = Settings {
        name: "n".into(),
        retries: 0,
        cache_only: 0,
        tags: vec![],
        note: String::new(),
        labels: BTreeMap::new(),
        archived: false,
    };
    let (serde, _) = round_trip("defaults_and_skips", "Settings", &bare);
    assert_eq!(serde, json!({"name": "n", "retries": 0}));
    let full = Settings {
        name: "n".into(),
        retries: 3,
        cache_only: 0,
        tags: vec!["a".into()],
        note: "x".into(),
        labels: BTreeMap::from([("k".into(), "v".into())]),
        archived: true,
    };
    round_trip("defaults_and_skips", "Settings", &full);
}

#[test]
fn flattened_structs() {
    use flatten::{Audit, Money, Refund};
    let (serde, elm) = round_trip(
        "flatten",
        "Refund",
        &Refund {
            id: "r".into(),
            money: Money {
                amount: 5,
                currency: "EUR".into(),
            },
            audit: Audit {
                created_by: "ops".into(),
                reason: Some("dup".into()),
            },
        },
    );
    assert_eq!(serde["currency"], "EUR");
    assert_eq!(elm["created_by"], "ops");
}

#[test]
fn recursive_types() {
    use recursive::{Category, Expr, Forest, Group, Tree};
    round_trip(
        "recursive",
        "Tree",
        &Tree {
            root: Category {
                name: "a".into(),
                children: vec![Category {
                    name: "b".into(),
                    children: vec![],
                }],
            },
            formula: Expr::Sum(vec![
                Expr::Number(1.0),
                Expr::Group(Box::new(Group {
                    label: "g".into(),
                    inner: Expr::Number(2.5),
                })),
            ]),
            forest: Forest(vec![Forest(vec![]), Forest(vec![Forest(vec![])])]),
        },
    );
}

#[test]
fn reserved_words_many_fields_json_and_bytes() {
    round_trip(
        "reserved_words",
        "Import",
        &reserved_words::Import {
            r#type: "t".into(),
            module: "m".into(),
            port: 80,
            r#in: vec!["x".into()],
            alias: None,
        },
    );
    round_trip(
        "many_fields",
        "Wide",
        &many_fields::Wide {
            f1: 1,
            f2: 2,
            f3: 3,
            f4: 4,
            f5: 5,
            f6: 6,
            f7: 7,
            f8: 8,
            f9: 9,
            f10: "ten".into(),
        },
    );
    let (serde, _) = round_trip(
        "json_and_bytes",
        "Upload",
        &json_and_bytes::Upload {
            metadata: json!({"nested": [1, "two", null, {"x": true}]}),
            extra: Some(json!(3.5)),
            bytes: vec![0, 127, 255],
        },
    );
    assert_eq!(serde["bytes"], json!([0, 127, 255]));
}

#[test]
fn a_serde_other_variant_round_trips_and_catches_what_serde_reads_into_it() {
    use enum_other::{MessageState, Track};
    for state in [
        MessageState::Queued,
        MessageState::Delivered,
        MessageState::Unknown,
    ] {
        round_trip("enum_other", "Track", &Track { state });
    }
    // A tag added later: serde reads it as `Unknown` and writes `"unknown"`, which Elm decodes.
    let later: Track = serde_json::from_value(json!({"state": "read"})).unwrap();
    let (served, _) = round_trip("enum_other", "Track", &later);
    assert_eq!(served, json!({"state": "unknown"}));
}

#[test]
fn declared_answers_round_trip_like_payloads() {
    use answers::{Receipt, ReceiptStatus, Refusal, RefusalDetail};
    for receipt in [
        Receipt {
            id: "r_1".into(),
            status: ReceiptStatus::RequiresAction,
            url: Some("https://pay.example/r_1".into()),
        },
        Receipt {
            id: String::new(),
            status: ReceiptStatus::Created,
            url: None,
        },
    ] {
        round_trip("answers", "Receipt", &receipt);
    }
    round_trip(
        "answers",
        "Refusal",
        &Refusal {
            error: RefusalDetail {
                code: "card_declined".into(),
                message: "Declined.".into(),
            },
        },
    );
}

#[test]
fn types_resolve_across_files() {
    use cross_file::types::{Customer, LineItem};
    use cross_file::webhooks::orders::OrderPlaced;
    round_trip(
        "cross_file",
        "OrderPlaced",
        &OrderPlaced {
            customer: Customer {
                email: "a@b.c".into(),
            },
            items: vec![LineItem {
                sku: "s".into(),
                quantity: 2,
            }],
        },
    );
    round_trip(
        "server_only_excluded",
        "PublicPing",
        &server_only_excluded::PublicPing { note: "n".into() },
    );
}

#[test]
fn decoders_reject_what_serde_would_not_write() {
    let schema = schema("enum_internal");
    for bad in [
        json!({"method": {"type": "cheque"}, "amount": 1}),
        json!({"method": {"type": "card"}, "amount": 1}),
        json!({"method": {"type": "cash"}, "amount": 1.5}),
        json!({"method": {"type": "cash"}}),
    ] {
        assert!(eval::decode(&schema, "Payment", &bad).is_err(), "{bad}");
    }
}
