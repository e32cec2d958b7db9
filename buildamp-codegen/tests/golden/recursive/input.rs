//! Recursive types: records in a cycle become one-constructor custom types, decoded lazily; a
//! recursive newtype too.
use buildamp::BuildAmpWebhook;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Category {
    pub name: String,
    pub children: Vec<Category>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Expr {
    Number(f64),
    Sum(Vec<Expr>),
    Group(Box<Group>),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub label: String,
    pub inner: Expr,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Forest(pub Vec<Forest>);

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, BuildAmpWebhook)]
#[target(url = "https://api.example.com/tree")]
pub struct Tree {
    pub root: Category,
    pub formula: Expr,
    pub forest: Forest,
}
