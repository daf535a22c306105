//! A PostgreSQL database of its own for each test, on the server `WEBHOOK_TEST_POSTGRES`
//! names (`.ci/postgres start` makes one; `.ci/run` does). Without it a test is skipped
//! with a message, except under `CI=true`, where it fails: CI must run these.
#![allow(dead_code)]

use std::path::PathBuf;

/// The variable that names the test server.
pub const URL_VARIABLE: &str = "WEBHOOK_TEST_POSTGRES";

/// The server's URL, or `None` (a message printed) when none is given outside CI.
pub fn server() -> Option<String> {
    match std::env::var(URL_VARIABLE) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => panic!(
            "{URL_VARIABLE} is not set: under CI=true the PostgreSQL outbox tests must run; start a server with `eval \"$(bash .ci/postgres start)\"` and export {URL_VARIABLE}"
        ),
        _ => {
            eprintln!(
                "skipped: {URL_VARIABLE} is not set (start a test server with `bash .ci/postgres start` and export what it prints)"
            );
            None
        }
    }
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map_or((url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(i) => &base[..after_scheme + i],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{database}?{q}"),
        None => format!("{base}/{database}"),
    }
}

/// Run SQL statements on the server's own database at `url`.
pub fn admin(url: &str, statements: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test server {url}: {e}"));
        let task = tokio::spawn(conn);
        for s in statements {
            client
                .batch_execute(s)
                .await
                .unwrap_or_else(|e| panic!("{s}: {e}"));
        }
        drop(client);
        let _ = task.await;
    });
}

/// A new, empty database named after `test` on the test server; its URL. `None` when the
/// test is skipped (see [`server`]).
pub fn database(test: &str) -> Option<String> {
    let url = server()?;
    let name = format!("t_{test}");
    assert!(name.len() <= 63, "database name {name:?} is too long");
    admin(
        &url,
        &[
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ],
    );
    Some(with_database(&url, &name))
}

/// A PostgreSQL server of the test's own (`.ci/postgres start`), to restart and stop;
/// stopped and removed when dropped.
pub struct OwnServer {
    pub url: String,
    dir: String,
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.ci/postgres")
}

impl OwnServer {
    /// Start one, or `None` when the tests are skipped (see [`server`]).
    pub fn start() -> Option<OwnServer> {
        server()?;
        let out = std::process::Command::new("bash")
            .arg(script())
            .arg("start")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let field = |key: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{key}=")))
                .unwrap_or_else(|| panic!("no {key} in {text}"))
                .to_string()
        };
        Some(OwnServer {
            url: field(URL_VARIABLE),
            dir: field("WEBHOOK_TEST_POSTGRES_DIR"),
        })
    }

    /// Stop the server and start it again on its port (fast shutdown: connections cut).
    pub fn restart(&self) {
        let out = std::process::Command::new("bash")
            .arg(script())
            .args(["restart", &self.dir])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

impl Drop for OwnServer {
    fn drop(&mut self) {
        let _ = std::process::Command::new("bash")
            .arg(script())
            .args(["stop", &self.dir])
            .output();
    }
}
