//! The JSON file formats of the CLI: configuration, strategy, records, members and
//! changes, and the JSON output of values and requests.
//!
//! Keys are the WIT names (kebab-case), so a problem's path (`strategy.run-options.batch-size`)
//! reads straight into the file. Unknown keys are refused, and a parse error names the key
//! path, line and column.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Map, Number, Value as Json};

use crate::contract::bindings as b;
use crate::limits::{MAX_DATA_FILE_BYTES, MAX_DEFINITION_FILE_BYTES};
use crate::time::instant;

mod delivery;
pub use delivery::{BreakerJson, DeliveryJson, ExponentialJson, RetryJson, Wait, show};

/// A read or parse failure, with the file and where in it.
#[derive(Debug)]
pub struct FormatError(pub String);

impl std::fmt::Display for FormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FormatError {}

/// Read and parse a JSON data file (changes, members, a record) into `T`, naming the file,
/// key path, line and column on error; at most [`MAX_DATA_FILE_BYTES`].
pub fn read<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, FormatError> {
    read_capped(path, MAX_DATA_FILE_BYTES)
}

/// Read and parse a JSON file of at most `cap` bytes. The file is read through the cap, so
/// a larger one (or an endless one, such as `/dev/zero`) is refused having held no more
/// than `cap + 1` bytes.
pub fn read_capped<T: for<'de> Deserialize<'de>>(path: &Path, cap: u64) -> Result<T, FormatError> {
    use std::io::Read as _;
    let file = std::fs::File::open(path)
        .map_err(|e| FormatError(format!("{}: cannot read: {e}", path.display())))?;
    let mut bytes = Vec::new();
    file.take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| FormatError(format!("{}: cannot read: {e}", path.display())))?;
    if bytes.len() as u64 > cap {
        return Err(FormatError(format!(
            "{}: the file is larger than {cap} bytes, the most this host reads for it; split it",
            path.display()
        )));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        FormatError(format!(
            "{}: the file is not UTF-8 text (byte {} is not)",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse(&text).map_err(|e| FormatError(format!("{}: {}", path.display(), e.0)))
}

/// Parse JSON text into `T`, naming the key path, line and column on error. The text
/// must end where the document ends: anything but white space after it is an error.
pub fn parse<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, FormatError> {
    let de = &mut serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut *de).map_err(at_path)?;
    de.end().map_err(|e| {
        FormatError(format!(
            "the JSON document ends before the text does; remove what follows it ({e})"
        ))
    })?;
    Ok(value)
}

/// A JSON value already parsed (a definition the catalog holds) into `T`, naming the key
/// path on error, as [`parse`] does for text.
pub fn from_json<T: for<'de> Deserialize<'de>>(value: Json) -> Result<T, FormatError> {
    serde_path_to_error::deserialize(value).map_err(at_path)
}

/// A deserialisation error with the key path in front: `at PATH: what`.
fn at_path(e: serde_path_to_error::Error<serde_json::Error>) -> FormatError {
    let path = e.path().to_string();
    let inner = e.into_inner();
    FormatError(if path == "." {
        format!("{inner}")
    } else {
        format!("at {path}: {inner}")
    })
}

/// A header, query or body entry: a key with exactly one of `text` or `expression`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct FieldJson {
    /// The key.
    pub key: String,
    /// Fixed text.
    #[serde(default)]
    pub text: Option<String>,
    /// An expression.
    #[serde(default)]
    pub expression: Option<String>,
}

impl FieldJson {
    fn into_wit(self, path: &str) -> Result<b::Field, FormatError> {
        let value = match (self.text, self.expression) {
            (Some(t), None) => b::FieldValue::Text(t),
            (None, Some(e)) => b::FieldValue::Expression(e),
            _ => {
                return Err(FormatError(format!(
                    "at {path}: the entry {:?} needs exactly one of \"text\" or \"expression\"",
                    self.key
                )));
            }
        };
        Ok(b::Field {
            key: self.key,
            value,
        })
    }
}

fn fields(list: Vec<FieldJson>, path: &str) -> Result<Vec<b::Field>, FormatError> {
    list.into_iter()
        .enumerate()
        .map(|(i, f)| f.into_wit(&format!("{path}[{i}]")))
        .collect()
}

/// OAuth settings.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct OauthJson {
    /// Token endpoint.
    pub token_url: Option<String>,
    /// Client id.
    pub client_id: Option<String>,
    /// Client secret.
    pub client_secret: Option<String>,
    /// Scope.
    pub scope: Option<String>,
    /// `basic` (default) or `body`.
    #[serde(default)]
    pub client_auth: ClientAuthJson,
}

/// Client authentication.
#[derive(Deserialize, Debug, Clone, Copy, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClientAuthJson {
    /// HTTP Basic.
    #[default]
    Basic,
    /// In the body.
    Body,
}

/// A service configuration file.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ConfigurationJson {
    /// Display name.
    pub name: String,
    /// Webhook URL.
    pub webhook_url: String,
    /// Include the platform token.
    #[serde(default)]
    pub include_platform_token: bool,
    /// OAuth.
    #[serde(default)]
    pub oauth: OauthJson,
    /// Headers.
    #[serde(default)]
    pub headers: Vec<FieldJson>,
    /// Query string.
    #[serde(default)]
    pub query: Vec<FieldJson>,
    /// Signing secrets.
    #[serde(default)]
    pub signing_secrets: Vec<String>,
    /// Maximum body size.
    #[serde(default)]
    pub max_body_bytes: Option<u32>,
    /// How the host retries and protects the endpoint (the host's; not the component's).
    #[serde(default)]
    pub delivery: DeliveryJson,
}

impl ConfigurationJson {
    /// The WIT configuration.
    pub fn into_wit(self) -> Result<b::Configuration, FormatError> {
        self.into_parts().map(|(c, _)| c)
    }

    /// The WIT configuration and the host's delivery settings, checked.
    pub fn into_parts(self) -> Result<(b::Configuration, DeliveryJson), FormatError> {
        self.delivery.check()?;
        let delivery = self.delivery;
        let config = b::Configuration {
            name: self.name,
            webhook_url: self.webhook_url,
            include_platform_token: self.include_platform_token,
            oauth: b::OauthSettings {
                token_url: self.oauth.token_url,
                client_id: self.oauth.client_id,
                client_secret: self.oauth.client_secret,
                scope: self.oauth.scope,
                client_auth: match self.oauth.client_auth {
                    ClientAuthJson::Basic => b::ClientAuth::Basic,
                    ClientAuthJson::Body => b::ClientAuth::Body,
                },
            },
            headers: fields(self.headers, "headers")?,
            query: fields(self.query, "query")?,
            signing_secrets: self.signing_secrets,
            max_body_bytes: self.max_body_bytes,
        };
        Ok((config, delivery))
    }
}

/// A trigger.
#[derive(Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct TriggerJson {
    /// On or off.
    #[serde(default)]
    pub enabled: bool,
    /// Filter expression.
    #[serde(default)]
    pub filter: Option<String>,
}

/// A schedule.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ScheduleJson {
    /// Name.
    pub name: String,
    /// Cron text.
    pub cron: String,
    /// Filter expression.
    #[serde(default)]
    pub filter: Option<String>,
    /// IANA zone.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// Run options.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct RunOptionsJson {
    /// Run-as user.
    pub run_as_user: String,
    /// Records per request.
    pub batch_size: u32,
    /// Synchronous on-demand allowed.
    #[serde(default)]
    pub sync_enabled: bool,
    /// Synchronous record limit.
    #[serde(default)]
    pub sync_record_limit: u32,
    /// Asynchronous on-demand allowed.
    #[serde(default)]
    pub async_enabled: bool,
    /// Added trigger.
    #[serde(default)]
    pub added: TriggerJson,
    /// Updated trigger.
    #[serde(default)]
    pub updated: TriggerJson,
    /// Deleted trigger.
    #[serde(default)]
    pub deleted: TriggerJson,
}

/// An integration strategy file.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StrategyJson {
    /// Name.
    pub name: String,
    /// The name of the configuration it sends through. `serve` with many definitions
    /// needs it; a command given one configuration and one strategy does not.
    #[serde(default)]
    pub configuration: Option<String>,
    /// Entity.
    pub entity: String,
    /// Header overrides.
    #[serde(default)]
    pub headers: Vec<FieldJson>,
    /// Request Body.
    #[serde(default)]
    pub body: Vec<FieldJson>,
    /// Records mapping.
    #[serde(default)]
    pub records: Vec<FieldJson>,
    /// Run options.
    pub run_options: RunOptionsJson,
    /// Schedules.
    #[serde(default)]
    pub schedules: Vec<ScheduleJson>,
}

fn trigger(t: TriggerJson) -> b::Trigger {
    b::Trigger {
        enabled: t.enabled,
        filter: t.filter,
    }
}

impl StrategyJson {
    /// The WIT strategy.
    pub fn into_wit(self) -> Result<b::Strategy, FormatError> {
        let r = self.run_options;
        Ok(b::Strategy {
            name: self.name,
            entity: self.entity,
            headers: fields(self.headers, "headers")?,
            body: fields(self.body, "body")?,
            records: fields(self.records, "records")?,
            run_options: b::RunOptions {
                run_as_user: r.run_as_user,
                batch_size: r.batch_size,
                sync_enabled: r.sync_enabled,
                sync_record_limit: r.sync_record_limit,
                async_enabled: r.async_enabled,
                added: trigger(r.added),
                updated: trigger(r.updated),
                deleted: trigger(r.deleted),
            },
            schedules: self
                .schedules
                .into_iter()
                .map(|s| b::Schedule {
                    name: s.name,
                    cron: s.cron,
                    filter: s.filter,
                    time_zone: s.time_zone,
                })
                .collect(),
        })
    }
}

/// Read a configuration file.
pub fn read_configuration(path: &Path) -> Result<b::Configuration, FormatError> {
    read_capped::<ConfigurationJson>(path, MAX_DEFINITION_FILE_BYTES)?
        .into_wit()
        .map_err(|e| FormatError(format!("{}: {}", path.display(), e.0)))
}

/// Read a strategy file.
pub fn read_strategy(path: &Path) -> Result<b::Strategy, FormatError> {
    read_capped::<StrategyJson>(path, MAX_DEFINITION_FILE_BYTES)?
        .into_wit()
        .map_err(|e| FormatError(format!("{}: {}", path.display(), e.0)))
}

// ---- records ----

/// A record JSON object to attributes: names to values; nested objects are related
/// entities; `YYYY-MM-DD` strings are dates, RFC 3339 strings datetimes, numbers exact
/// decimals. `path` names the record in errors.
pub fn attributes(record: &Json, path: &str) -> Result<Vec<b::Attribute>, FormatError> {
    let Json::Object(map) = record else {
        return Err(FormatError(format!(
            "at {path}: a record must be a JSON object of attribute names to values"
        )));
    };
    let mut out = Vec::new();
    flatten(map, &mut Vec::new(), path, &mut out)?;
    Ok(out)
}

fn flatten(
    map: &Map<String, Json>,
    prefix: &mut Vec<String>,
    path: &str,
    out: &mut Vec<b::Attribute>,
) -> Result<(), FormatError> {
    for (k, v) in map {
        prefix.push(k.clone());
        match v {
            Json::Object(inner) => flatten(inner, prefix, path, out)?,
            other => out.push(b::Attribute {
                path: prefix.clone(),
                value: value(other)
                    .map_err(|why| FormatError(format!("at {path}.{}: {why}", prefix.join("."))))?,
            }),
        }
        prefix.pop();
    }
    Ok(())
}

/// One JSON scalar to a WIT value.
pub fn value(v: &Json) -> Result<b::Value, String> {
    Ok(match v {
        Json::Null => b::Value::Null,
        Json::Bool(x) => b::Value::Boolean(*x),
        Json::Number(n) => b::Value::Decimal(decimal_text(n)?),
        Json::String(s) => {
            if let Some(d) = parse_date(s) {
                b::Value::Date(d)
            } else if let Some(i) = instant::parse(s) {
                b::Value::Datetime(i)
            } else {
                b::Value::Text(s.clone())
            }
        }
        Json::Array(_) => {
            return Err("a list is not an attribute value; use text, a number, a boolean, a date, null, or an object for a related entity".into());
        }
        Json::Object(_) => unreachable!("objects are related entities, flattened by the caller"),
    })
}

/// A JSON number's exact text, which must be plain decimal notation within an exact
/// decimal's 38 significant digits: the component keeps numbers exact, so a number written
/// with an exponent (which the platform never writes, and which usually comes from a float
/// somewhere upstream) or beyond the exact range is refused, saying which.
fn decimal_text(n: &Number) -> Result<String, String> {
    let s = n.to_string();
    if s.contains(['e', 'E']) {
        return Err(format!(
            "the number {s} is written with an exponent; write it in plain decimal notation (1.5e3 as 1500), as the platform does"
        ));
    }
    let digits = s
        .trim_start_matches('-')
        .bytes()
        .filter(u8::is_ascii_digit)
        .skip_while(|&b| b == b'0')
        .count();
    if digits > MAX_DECIMAL_DIGITS {
        return Err(format!(
            "the number {s} has {digits} significant digits, beyond the exact range of {MAX_DECIMAL_DIGITS}; send it as text if it is an identifier"
        ));
    }
    Ok(s)
}

use crate::limits::MAX_DECIMAL_DIGITS;

fn parse_date(s: &str) -> Option<b::Date> {
    let d = jiff::civil::Date::strptime("%Y-%m-%d", s).ok()?;
    (s.len() == 10).then(|| b::Date {
        year: d.year() as i32,
        month: d.month() as u8,
        day: d.day() as u8,
    })
}

/// A member from a record object with a `Code` attribute.
pub fn member(record: &Json, path: &str) -> Result<b::Member, FormatError> {
    let code = record.get("Code").and_then(Json::as_str).ok_or_else(|| {
        FormatError(format!(
            "at {path}: a member needs a \"Code\" text attribute"
        ))
    })?;
    Ok(b::Member {
        code: code.to_string(),
        attributes: attributes(record, path)?,
    })
}

/// Read a members file: a JSON array of record objects, each with a `Code`.
pub fn read_members(path: &Path) -> Result<Vec<b::Member>, FormatError> {
    let list: Vec<Json> = read(path)?;
    list.iter()
        .enumerate()
        .map(|(i, r)| member(r, &format!("[{i}]")))
        .collect::<Result<_, _>>()
        .map_err(|e| FormatError(format!("{}: {}", path.display(), e.0)))
}

/// One record change in a changes file.
#[derive(Deserialize, Debug, Clone)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ChangeJson {
    /// Event id.
    pub event_id: String,
    /// `added`, `updated` or `deleted`.
    pub kind: KindJson,
    /// Entity.
    pub entity: String,
    /// Member code.
    pub code: String,
    /// New state (added, updated).
    #[serde(default)]
    pub new: Option<Json>,
    /// Prior state (updated, deleted).
    #[serde(default)]
    pub prior: Option<Json>,
    /// Who changed it.
    pub changed_by: String,
    /// When, RFC 3339.
    pub at: String,
}

/// A change kind.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
pub enum KindJson {
    /// Added.
    Added,
    /// Updated.
    Updated,
    /// Deleted.
    Deleted,
}

impl ChangeJson {
    /// The WIT record change; `path` names it in errors.
    pub fn into_wit(self, path: &str) -> Result<b::RecordChange, FormatError> {
        let state = |v: Option<Json>, which: &str| -> Result<Option<b::Member>, FormatError> {
            v.map(|r| {
                Ok(b::Member {
                    code: self.code.clone(),
                    attributes: attributes(&r, &format!("{path}.{which}"))?,
                })
            })
            .transpose()
        };
        let new_state = state(self.new.clone(), "new")?;
        let prior_state = state(self.prior.clone(), "prior")?;
        let kind = match self.kind {
            KindJson::Added => b::ChangeKind::Added,
            KindJson::Updated => b::ChangeKind::Updated,
            KindJson::Deleted => b::ChangeKind::Deleted,
        };
        let needs = match self.kind {
            KindJson::Added => (true, false),
            KindJson::Updated => (true, true),
            KindJson::Deleted => (false, true),
        };
        if needs.0 && new_state.is_none() {
            return Err(FormatError(format!(
                "at {path}: an {:?} change needs \"new\" (the record after the change)",
                self.kind
            )));
        }
        if needs.1 && prior_state.is_none() {
            return Err(FormatError(format!(
                "at {path}: an {:?} change needs \"prior\" (the record before the change)",
                self.kind
            )));
        }
        let at = instant::parse(&self.at).ok_or_else(|| {
            FormatError(format!(
                "at {path}.at: {:?} is not an RFC 3339 time in years 1 to 9999 with an offset of at most ±18:00, such as 2024-06-15T10:30:00Z",
                self.at
            ))
        })?;
        Ok(b::RecordChange {
            event_id: self.event_id,
            kind,
            entity: self.entity,
            code: self.code,
            new_state,
            prior_state,
            changed_by: self.changed_by,
            at,
        })
    }
}

/// Read a changes file: a JSON array of changes.
pub fn read_changes(path: &Path) -> Result<Vec<b::RecordChange>, FormatError> {
    let list: Vec<ChangeJson> = read(path)?;
    list.into_iter()
        .enumerate()
        .map(|(i, c)| c.into_wit(&format!("[{i}]")))
        .collect::<Result<_, _>>()
        .map_err(|e| FormatError(format!("{}: {}", path.display(), e.0)))
}

// ---- output ----

/// A value as JSON: decimals as JSON numbers with their exact text, dates `YYYY-MM-DD`,
/// datetimes RFC 3339 UTC with `Z`.
pub fn value_json(v: &b::Value) -> Json {
    match v {
        b::Value::Null => Json::Null,
        b::Value::Text(s) => Json::String(s.clone()),
        b::Value::Boolean(x) => Json::Bool(*x),
        b::Value::Decimal(d) => {
            serde_json::from_str::<Number>(d).map_or_else(|_| Json::String(d.clone()), Json::Number)
        }
        b::Value::Date(d) => Json::String(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        b::Value::Datetime(i) => Json::String(instant::rfc3339(*i)),
    }
}

/// A request as JSON for people: the body as JSON when it is JSON, else as text.
pub fn request_json(r: &b::HttpRequest) -> Json {
    let body = serde_json::from_slice::<Json>(&r.body)
        .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&r.body).into_owned()));
    serde_json::json!({
        "method": match r.method { b::HttpMethod::Get => "GET", b::HttpMethod::Post => "POST" },
        "url": r.url,
        "headers": r.headers.iter().map(|h| serde_json::json!([h.name, h.value])).collect::<Vec<_>>(),
        "body": body,
        "member-codes": r.member_codes,
        "delivery-id": r.delivery_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_keep_their_exact_decimal_text() {
        for (json, text) in [
            ("2294.99", "2294.99"),
            ("-0.10", "-0.10"),
            (
                "12345678901234567890.123456789",
                "12345678901234567890.123456789",
            ),
        ] {
            let n: Number = serde_json::from_str(json).unwrap();
            assert_eq!(decimal_text(&n).unwrap(), text, "{json}");
        }
        let max = format!("-0.{}", "9".repeat(MAX_DECIMAL_DIGITS));
        let n: Number = serde_json::from_str(&max).unwrap();
        assert_eq!(decimal_text(&n).unwrap(), max);
    }

    #[test]
    fn numbers_with_an_exponent_or_beyond_the_exact_range_are_refused_saying_which() {
        for json in ["1e3", "1.5E-3", "-2e+5"] {
            let n: Number = serde_json::from_str(json).unwrap();
            let e = decimal_text(&n).unwrap_err();
            assert!(
                e.contains("exponent") && e.contains("plain decimal"),
                "{json}: {e}"
            );
        }
        let big = "1".repeat(MAX_DECIMAL_DIGITS + 1);
        let n: Number = serde_json::from_str(&big).unwrap();
        let e = decimal_text(&n).unwrap_err();
        assert!(
            e.contains("39 significant digits") && e.contains("exact range"),
            "{e}"
        );
        let rec: Json = serde_json::from_str(r#"{"MSRP": 2.5e2}"#).unwrap();
        let e = attributes(&rec, "record").unwrap_err();
        assert!(
            e.0.contains("record.MSRP") && e.0.contains("exponent"),
            "{}",
            e.0
        );
    }

    #[test]
    fn records_flatten_related_entities_and_type_strings() {
        let rec: Json = serde_json::from_str(
            r#"{"Code":"A","Class":{"Code":"H","Group":{"Name":"G"}},"Start":"2024-06-01","At":"2024-06-15T10:30:00Z","On":true,"N":null}"#,
        )
        .unwrap();
        let attrs = attributes(&rec, "record").unwrap();
        let paths: Vec<String> = attrs.iter().map(|a| a.path.join(".")).collect();
        assert_eq!(
            paths,
            [
                "Code",
                "Class.Code",
                "Class.Group.Name",
                "Start",
                "At",
                "On",
                "N"
            ]
        );
        assert!(matches!(
            attrs[3].value,
            b::Value::Date(b::Date {
                year: 2024,
                month: 6,
                day: 1
            })
        ));
        assert!(matches!(attrs[4].value, b::Value::Datetime(_)));
        let bad: Json = serde_json::from_str(r#"{"Tags":["a"]}"#).unwrap();
        assert!(
            attributes(&bad, "record")
                .unwrap_err()
                .0
                .contains("record.Tags")
        );
    }

    #[test]
    fn instants_take_offsets_up_to_eighteen_hours() {
        assert!(instant::parse("2024-06-15T10:30:00Z").is_some());
        assert!(instant::parse("2024-06-15T10:30:00+18:00").is_some());
        assert!(instant::parse("2024-06-15T10:30:00-18:00").is_some());
        assert!(instant::parse("2024-06-15T10:30:00+18:01").is_none());
        assert!(instant::parse("2024-06-15T10:30:00+19:00").is_none());
        assert!(instant::parse("2024-06-15T10:30:00-25:59").is_none());
    }

    #[test]
    fn files_are_read_through_their_cap() {
        let dir = crate::scratch::Scratch::new("json", "caps");
        let path = dir.join("list.json");
        std::fs::write(&path, "[1, 2, 3]").unwrap();
        assert_eq!(read_capped::<Vec<u32>>(&path, 9).unwrap(), [1, 2, 3]);
        let e = read_capped::<Vec<u32>>(&path, 8).unwrap_err();
        assert!(e.0.contains("larger than 8 bytes"), "{}", e.0);
        // An endless file is refused after the cap, not read to the end.
        let e = read_configuration(Path::new("/dev/zero")).unwrap_err();
        assert!(
            e.0.contains(&format!("larger than {MAX_DEFINITION_FILE_BYTES} bytes")),
            "{}",
            e.0
        );
    }

    #[test]
    fn a_document_ends_where_its_json_ends() {
        assert_eq!(parse::<Vec<u32>>(" [1, 2]\n\t ").unwrap(), [1, 2]);
        for bad in ["[] x", "[1] [2]", "{} ,", "[]}"] {
            let e = parse::<Json>(bad).unwrap_err();
            assert!(e.0.contains("trailing characters"), "{bad}: {}", e.0);
            assert!(e.0.contains("line 1"), "{bad}: {}", e.0);
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_located() {
        let e =
            parse::<ConfigurationJson>(r#"{"name":"x","webhook-url":"https://a","hedaers":[]}"#)
                .unwrap_err();
        assert!(e.0.contains("hedaers"), "{}", e.0);
        let e = parse::<StrategyJson>(
            r#"{"name":"s","entity":"E","run-options":{"run-as-user":"u","batch-size":"ten"}}"#,
        )
        .unwrap_err();
        assert!(e.0.contains("run-options.batch-size"), "{}", e.0);
    }

    #[test]
    fn a_field_needs_exactly_one_value() {
        let f = FieldJson {
            key: "k".into(),
            text: Some("a".into()),
            expression: Some("b".into()),
        };
        assert!(
            f.into_wit("headers[0]")
                .unwrap_err()
                .0
                .contains("exactly one")
        );
    }
}
