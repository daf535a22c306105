//! `host-test serve` as a process, for the tests that run it (`serve.rs`,
//! `platform_token.rs`): the command on a directory's definitions and outbox, a running
//! server read from its stdout, and one HTTP/1.1 call at a time to its API.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

/// Write `v` to `path`, pretty.
pub fn write_json(path: &Path, v: &Json) {
    std::fs::write(path, serde_json::to_vec_pretty(v).unwrap()).unwrap();
}

/// `host-test serve` on the `outbox.sqlite` in `dir` and its definitions: the directory
/// `defs/` when there is one (`serve.rs` writes one), else `config.json` and
/// `strategy.json`.
pub fn serve_command(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_host-test"));
    cmd.arg("serve");
    if dir.join("defs").is_dir() {
        cmd.arg("--definitions").arg(dir.join("defs"));
    } else if dir.join("config.json").exists() {
        cmd.arg("--config")
            .arg(dir.join("config.json"))
            .arg("--strategy")
            .arg(dir.join("strategy.json"));
    }
    cmd.arg("--outbox").arg(dir.join("outbox.sqlite"));
    cmd
}

/// A `serve` process.
pub struct Serve {
    /// The process.
    pub child: Child,
    /// Where its API listens.
    pub addr: SocketAddr,
    /// What it printed on stdout, so far.
    pub lines: Arc<Mutex<Vec<String>>>,
    /// What it printed on stderr, so far.
    pub errors: Arc<Mutex<String>>,
}

impl Serve {
    pub fn start(dir: &Path, extra: &[&str]) -> Serve {
        Serve::try_start(dir, extra).unwrap_or_else(|e| panic!("serve did not start: {e}"))
    }

    pub fn try_start(dir: &Path, extra: &[&str]) -> Result<Serve, String> {
        Serve::try_start_env(dir, extra, &[])
    }

    /// `try_start` with these environment variables set; on a free loopback port unless
    /// `extra` gives `--listen`.
    pub fn try_start_env(
        dir: &Path,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Serve, String> {
        let mut cmd = serve_command(dir);
        cmd.envs(env.iter().copied());
        Serve::spawn(cmd, dir, extra)
    }

    /// Start `cmd` (a `host-test serve` command of the caller's: another outbox, say),
    /// logging into `dir`, with `extra`; on a free loopback port unless `extra` gives
    /// `--listen`.
    pub fn spawn(mut cmd: Command, dir: &Path, extra: &[&str]) -> Result<Serve, String> {
        if !extra.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.args(["--allow-http", "--allow-host", "127.0.0.1"])
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
        let (status, _, body) = self.call_with(method, target, body, &[]);
        (status, serde_json::from_str(&body).unwrap_or(Json::Null))
    }

    /// One HTTP/1.1 request with more header lines (`name: value`); the status, the
    /// head and the body.
    pub fn call_with(
        &self,
        method: &str,
        target: &str,
        body: &[u8],
        headers: &[&str],
    ) -> (u16, String, String) {
        let mut s = TcpStream::connect(self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
        let head = format!(
            "{method} {target} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n{extra}connection: close\r\n\r\n",
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
        (status, head.to_string(), body.to_string())
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

    /// Kill it; everything it printed, stdout's lines and stderr.
    pub fn output(mut self) -> (Vec<String>, String) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        let done = wait_until(Duration::from_secs(10), || {
            Arc::strong_count(&self.errors) == 1 && Arc::strong_count(&self.lines) == 1
        });
        assert!(done, "the output threads did not finish");
        let lines = self.lines.lock().unwrap().clone();
        let errors = self.errors.lock().unwrap().clone();
        (lines, errors)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small runtime for the tests' receivers.
pub fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Whether `done` came true within `limit` (polled every 10 ms).
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
