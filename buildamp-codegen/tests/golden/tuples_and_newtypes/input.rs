//! Tuples up to three, unit, newtype structs (their inner type), tuple structs (a tuple) and unit
//! structs (`null`).
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserId(pub String);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point(pub f64, pub f64);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Marker;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/shapes")]
pub struct Drawing {
    pub owner: UserId,
    pub origin: Point,
    pub marker: Marker,
    pub pair: (String, i32),
    pub triple: (bool, char, Vec<UserId>),
    pub nothing: (),
}
