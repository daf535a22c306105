//! What a stored request holds in place of a secret: the delivery engine renders for the
//! outbox with these, and puts the real values back at each attempt, so no access token
//! and no secret query value is ever written to disk.

/// The access token the host renders with when it renders for the outbox, and so the
/// `Authorization` value stored; each attempt replaces it with the current token.
pub const TOKEN_PLACEHOLDER: &str = "token-added-at-each-attempt";

/// The value stored in place of a secret-looking query parameter's (`api_key`, `token`,
/// ...); each attempt puts the configuration's value back.
pub const QUERY_PLACEHOLDER: &str = "query-value-added-at-each-attempt";

/// The platform token the host renders with, padded to a token's length
/// ([`crate::delivery::platform_token::placeholder`]); each attempt puts a token minted for
/// it in its place, so no platform token is ever stored and none is stale when sent.
pub const PLATFORM_TOKEN_PLACEHOLDER: &str = "platform-token-added-at-each-attempt";

/// The body key under which the component writes the platform token (the component's
/// `PLATFORM_TOKEN_KEY`, README "What a request looks like").
pub const PLATFORM_TOKEN_KEY: &str = "PlatformToken";
