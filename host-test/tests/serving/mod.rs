//! `host-test serve` as a process for the tests: starting it, calling its API, the
//! definitions and changes they send, and a receiver to count what arrives.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::{Value as Json, json};

pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn write_json(path: &Path, v: &Json) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

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

/// A `serve` process.
pub struct Serve {
    pub child: Child,
    pub addr: SocketAddr,
    pub lines: Arc<Mutex<Vec<String>>>,
    /// What it printed on stderr so far.
    pub errors: Arc<Mutex<String>>,
}

impl Serve {
    /// Start `cmd` (a `host-test serve` command) on a free loopback port, logging into
    /// `dir`, with `extra` arguments; once it says where it listens.
    pub fn spawn(mut cmd: Command, dir: &Path, extra: &[&str]) -> Result<Serve, String> {
        cmd.args([
            "--listen",
            "127.0.0.1:0",
            "--allow-http",
            "--allow-host",
            "127.0.0.1",
        ])
        .arg("--log")
        .arg(dir.join(format!("log-{}.jsonl", Instant::now().elapsed().as_nanos())))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = cmd.spawn().map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().unwrap();
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let l = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(a) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(a.to_string());
                }
                l.lock().unwrap().push(line);
            }
        });
        let errors = Arc::new(Mutex::new(String::new()));
        let e = errors.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut e = e.lock().unwrap();
                e.push_str(&line);
                e.push('\n');
            }
        });
        match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(a) => Ok(Serve {
                child,
                addr: a.parse().unwrap(),
                lines,
                errors,
            }),
            Err(_) => {
                let _ = child.kill();
                let status = child.wait().map_err(|e| e.to_string())?;
                std::thread::sleep(Duration::from_millis(100));
                Err(format!(
                    "{status}; stdout: {:?}; stderr: {}",
                    lines.lock().unwrap(),
                    errors.lock().unwrap()
                ))
            }
        }
    }

    /// One HTTP/1.1 request; the status and the JSON body.
    pub fn call(&self, method: &str, target: &str, body: &[u8]) -> (u16, Json) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let text = String::from_utf8_lossy(&out);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, serde_json::from_str(body).unwrap_or(Json::Null))
    }

    pub fn post(&self, target: &str, body: &Json) -> (u16, Json) {
        self.call("POST", target, body.to_string().as_bytes())
    }

    pub fn get(&self, target: &str) -> (u16, Json) {
        self.call("GET", target, b"")
    }

    /// Resident and peak resident memory, in KiB.
    pub fn memory(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn ids(answer: &Json) -> Vec<String> {
    answer["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_str().unwrap().to_string())
        .collect()
}

pub fn wait_until(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    done()
}

pub fn small_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}
