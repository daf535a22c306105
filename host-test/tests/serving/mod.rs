//! What the serve tests (`serve.rs`, `serve_postgres.rs`) send: the definitions, the
//! changes, and a hash to vary a receiver's answers by delivery id.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{Value as Json, json};

use super::serve_process::write_json;

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// A configuration posting to `url`, signed, no OAuth.
pub fn config(url: &str) -> Json {
    json!({
        "name": "serve test",
        "webhook-url": url,
        "include-platform-token": false,
        "headers": [],
        "query": [],
        "signing-secrets": [SECRET],
        "max-body-bytes": 262144
    })
}

/// A strategy sending each change of a Customer on its own (batch size 1).
pub fn strategy(batch_size: u32) -> Json {
    json!({
        "name": "Customers out",
        "entity": "Customer",
        "body": [{ "key": "Entity", "text": "Customer" }],
        "records": [
            { "key": "Code", "expression": "[Code]" },
            { "key": "Name", "expression": "[Name]" },
            { "key": "Status", "expression": "[Status]" },
            { "key": "Notes", "expression": "[Notes]" }
        ],
        "run-options": {
            "run-as-user": "svc-sync",
            "batch-size": batch_size,
            "sync-enabled": true,
            "sync-record-limit": 20,
            "async-enabled": true,
            "added": { "enabled": true },
            "updated": { "enabled": true },
            "deleted": { "enabled": true }
        }
    })
}

/// An `updated` change of `code` to version `v`.
pub fn change(code: &str, v: usize, notes: &str) -> Json {
    json!({
        "event-id": format!("evt-{code}-{v}"),
        "kind": "updated",
        "entity": "Customer",
        "code": code,
        "new": { "Code": code, "Name": format!("{code} v{v}"), "Status": "Active", "Notes": notes },
        "prior": { "Code": code, "Name": format!("{code} v{}", v.saturating_sub(1)), "Status": "Active", "Notes": notes },
        "changed-by": "alice",
        "at": "2026-11-30T10:00:00Z"
    })
}

/// Write a definitions directory `defs/` in `dir`: the configuration `config` and each
/// strategy, bound to it, as `NAME.config.json` and `NAME.strategy.json`.
pub fn definitions(dir: &Path, config: &Json, strategies: &[Json]) {
    let defs = dir.join("defs");
    std::fs::create_dir_all(&defs).unwrap();
    write_json(&defs.join("shared.config.json"), config);
    for (i, st) in strategies.iter().enumerate() {
        let mut st = st.clone();
        st["configuration"] = config["name"].clone();
        write_json(&defs.join(format!("s{i}.strategy.json")), &st);
    }
}

/// `strategy(batch_size)` under another name.
pub fn named(name: &str, batch_size: u32) -> Json {
    let mut s = strategy(batch_size);
    s["name"] = json!(name);
    s
}

pub fn small_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
