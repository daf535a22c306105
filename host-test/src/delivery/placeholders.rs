//! What a stored request holds in place of a secret: the delivery engine renders for the
//! outbox with these, and puts the real values back at each attempt, so no access token
//! and no secret query value is ever written to disk.

/// The access token the host renders with when it renders for the outbox, and so the
/// `Authorization` value stored; each attempt replaces it with the current token.
pub const TOKEN_PLACEHOLDER: &str = "token-added-at-each-attempt";

/// The value stored in place of a secret-looking query parameter's (`api_key`, `token`,
/// ...); each attempt puts the configuration's value back.
pub const QUERY_PLACEHOLDER: &str = "query-value-added-at-each-attempt";
