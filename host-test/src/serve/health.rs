//! `GET /health`: liveness and readiness. Any answer means the process is alive; `200`
//! means it is ready, every check passed: the outbox takes a write (a probe row in its
//! `meta` table, no delivery touched) and the component instantiates (a fresh instance
//! from the pool, dropped at once). Otherwise `503`, naming each check that failed.

use std::sync::Arc;

use serde_json::{Map, Value as Json, json};

use crate::outbox::Outbox;
use crate::outbox::dispatch::now_ms;
use crate::sandbox::runtime::Runtime;
use crate::server::Reply;
use crate::time::clock::Clock;

/// One readiness check.
pub trait Check: Send + Sync {
    /// Its name in the answer (`outbox`, `component`).
    fn name(&self) -> &str;
    /// Passes, or says what is wrong.
    fn run(&self) -> Result<(), String>;
}

/// The outbox takes a write.
pub struct OutboxWritable {
    /// The outbox.
    pub outbox: Arc<Outbox>,
    /// The time the probe writes.
    pub clock: Arc<dyn Clock>,
}

impl Check for OutboxWritable {
    fn name(&self) -> &str {
        "outbox"
    }
    fn run(&self) -> Result<(), String> {
        self.outbox
            .probe_write(now_ms(self.clock.as_ref()))
            .map_err(|e| e.to_string())
    }
}

/// The component is loaded and a new instance of it starts.
pub struct ComponentInstantiable {
    /// The loaded component.
    pub runtime: Arc<Runtime>,
}

impl Check for ComponentInstantiable {
    fn name(&self) -> &str {
        "component"
    }
    fn run(&self) -> Result<(), String> {
        self.runtime
            .instantiate()
            .map(drop)
            .map_err(|e| format!("the component does not instantiate: {e}"))
    }
}

/// The checks `/health` runs, in order.
pub struct Health {
    checks: Vec<Arc<dyn Check>>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.checks.iter().map(|c| c.name()).collect();
        f.debug_struct("Health").field("checks", &names).finish()
    }
}

impl Health {
    /// `/health` running `checks`.
    pub fn new(checks: Vec<Arc<dyn Check>>) -> Health {
        Health { checks }
    }

    /// Run every check; `200` when all pass, `503` naming those that failed.
    pub fn answer(&self) -> Reply {
        let mut checks = Map::new();
        let mut failed = Vec::new();
        let mut problems = Vec::new();
        for c in &self.checks {
            let result = c.run();
            let entry = match &result {
                Ok(()) => json!({ "ok": true }),
                Err(e) => {
                    failed.push(c.name().to_string());
                    problems.push(json!({ "path": format!("checks.{}", c.name()), "message": e }));
                    json!({ "ok": false, "error": e })
                }
            };
            checks.insert(c.name().to_string(), entry);
        }
        let (status, body) = if failed.is_empty() {
            (200, json!({ "status": "ready", "checks": checks }))
        } else {
            (
                503,
                json!({
                    "status": "not ready",
                    "error": format!("not ready: the {} check(s) failed", failed.join(", ")),
                    "problems": problems,
                    "checks": Json::Object(checks),
                }),
            )
        };
        Reply::status(status, &body.to_string())
            .header("content-type", "application/json")
            .header("cache-control", "no-store")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(&'static str, Result<(), String>);

    impl Check for Fixed {
        fn name(&self) -> &str {
            self.0
        }
        fn run(&self) -> Result<(), String> {
            self.1.clone()
        }
    }

    fn body(r: &Reply) -> Json {
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn ready_when_every_check_passes_and_names_each() {
        let h = Health::new(vec![
            Arc::new(Fixed("outbox", Ok(()))),
            Arc::new(Fixed("component", Ok(()))),
        ]);
        let r = h.answer();
        assert_eq!(r.status, 200);
        assert_eq!(
            body(&r),
            json!({ "status": "ready", "checks": { "outbox": { "ok": true }, "component": { "ok": true } } })
        );
    }

    #[test]
    fn not_ready_names_the_failed_check_and_why() {
        let h = Health::new(vec![
            Arc::new(Fixed("outbox", Err("outbox x: disk full".into()))),
            Arc::new(Fixed("component", Ok(()))),
        ]);
        let r = h.answer();
        assert_eq!(r.status, 503);
        let b = body(&r);
        assert_eq!(b["checks"]["outbox"]["ok"], false, "{b}");
        assert_eq!(b["checks"]["outbox"]["error"], "outbox x: disk full", "{b}");
        assert_eq!(b["checks"]["component"]["ok"], true, "{b}");
        assert_eq!(b["problems"][0]["path"], "checks.outbox", "{b}");
        assert!(b["error"].as_str().unwrap().contains("outbox"), "{b}");
    }
    #[test]
    fn the_outbox_check_fails_when_the_outbox_takes_no_write() {
        let d = crate::scratch::Scratch::new("health", "outbox");
        let outbox = Arc::new(Outbox::open(&d.join("outbox.sqlite")).unwrap());
        let check = OutboxWritable {
            outbox: outbox.clone(),
            clock: Arc::new(crate::time::clock::SystemClock),
        };
        let h = Health::new(vec![Arc::new(check)]);
        assert_eq!(h.answer().status, 200);
        outbox.refuse_writes();
        let r = h.answer();
        assert_eq!(r.status, 503);
        let b = body(&r);
        let e = b["checks"]["outbox"]["error"].as_str().unwrap();
        assert!(
            e.contains("readiness probe") && e.contains("readonly"),
            "{b}"
        );
    }
}
