//! A configured field, compiled: the key of a header, query parameter, Request Body or
//! Records entry, its value as fixed text or a parsed expression, and where it was
//! configured. The plan compiles each field once; rendering writes every request from them.

use crate::expr::Expr;

/// A field value ready to render: fixed text, or a parsed expression.
#[derive(Clone, Debug)]
pub enum Compiled {
    /// Sent verbatim.
    Text(String),
    /// Evaluated per request or per record.
    Expr(Expr),
}

/// A field with its key and compiled value, and the path it came from (for errors).
#[derive(Clone, Debug)]
pub struct CompiledField {
    /// The key.
    pub key: String,
    /// The value.
    pub value: Compiled,
    /// Where it was configured, such as `strategy.records[2].value`.
    pub path: String,
}
