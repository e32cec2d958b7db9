//! Every scalar that maps exactly: strings, chars, bools, 32-bit and smaller integers, floats.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/scalars")]
pub struct Scalars {
    pub text: String,
    pub initial: char,
    pub flag: bool,
    pub tiny: i8,
    pub small: i16,
    pub int: i32,
    pub byte: u8,
    pub short: u16,
    pub count: u32,
    pub ratio: f32,
    pub amount: f64,
}
