//! The options several commands share: the definition files, delivery, retries, the sandbox.

use std::time::Duration;

use host_test::delivery::deliver::RetryPolicy;
use std::path::PathBuf;

use host_test::Limits;
use host_test::bindings as b;
use host_test::formats;

/// The configuration and strategy files that `validate`, `render` and `send` read.
#[derive(clap::Args)]
pub struct Pair {
    /// The service configuration (JSON).
    #[arg(long)]
    pub config: PathBuf,
    /// The integration strategy (JSON).
    #[arg(long)]
    pub strategy: PathBuf,
}

impl Pair {
    /// Read both files into the WIT types, naming the file and key of any error.
    pub fn load(&self) -> Result<(b::Configuration, b::Strategy), String> {
        Ok((
            formats::read_configuration(&self.config).map_err(|e| e.to_string())?,
            formats::read_strategy(&self.strategy).map_err(|e| e.to_string())?,
        ))
    }
}

/// The platform key file's name beside the outbox: `serve`'s default, and `send`'s
/// (beside `serve`'s default outbox), so both sign with the key `serve` publishes.
pub const PLATFORM_KEY_FILE: &str = "platform-key.json";

/// How `send` and `serve` retry: the same options. `send`, whose caller waits, retries
/// briefly by default (exponential backoff, about four minutes); `serve` retries on the
/// durable schedule (about 27.6 hours) unless one of these is given, and a configuration's
/// `delivery.retry` overrides either.
#[derive(clap::Args)]
pub struct RetryArgs {
    /// The first backoff's upper bound, in milliseconds [default: 2000].
    #[arg(long)]
    pub retry_base_ms: Option<u64>,
    /// The largest backoff upper bound, in milliseconds [default: 120000].
    #[arg(long)]
    pub retry_cap_ms: Option<u64>,
    /// Attempts per delivery, the first included [default: 8].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=host_test::limits::MOST_ATTEMPTS as i64))]
    pub max_attempts: Option<u32>,
}

impl RetryArgs {
    /// Exponential backoff from the options, each left out at the brief default.
    pub fn policy(&self) -> RetryPolicy {
        let base = self.retry_base_ms.map_or(
            host_test::delivery::deliver::RETRY_BASE,
            Duration::from_millis,
        );
        let cap = self.retry_cap_ms.map_or(
            host_test::delivery::deliver::RETRY_CAP,
            Duration::from_millis,
        );
        let attempts = self
            .max_attempts
            .unwrap_or(host_test::delivery::deliver::MAX_ATTEMPTS);
        RetryPolicy::exponential(base, cap, attempts)
    }

    /// `serve`'s: the durable schedule, unless an option was given.
    pub fn serve_policy(&self) -> RetryPolicy {
        match (self.retry_base_ms, self.retry_cap_ms, self.max_attempts) {
            (None, None, None) => RetryPolicy::durable(),
            _ => self.policy(),
        }
    }
}

/// The sandbox's limits per component call, for `serve`: the defaults are `limits.rs`'s,
/// and an operator tightens them to bound what one API call may cost.
#[derive(clap::Args)]
pub struct SandboxArgs {
    /// Fuel per component call (about one unit per wasm instruction); a call that needs
    /// more traps, answers 503, and the next call runs on a fresh instance.
    #[arg(long, default_value_t = host_test::limits::DEFAULT_FUEL,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub fuel: u64,
    /// Linear memory per component instance, in MiB (1 to 1024, the pooling slot's size).
    #[arg(long, default_value_t = (host_test::limits::DEFAULT_MEMORY_BYTES >> 20) as u64,
          value_parser = clap::value_parser!(u64).range(1..=(host_test::limits::MAX_MEMORY_BYTES >> 20) as u64))]
    pub memory_mib: u64,
}

impl SandboxArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            fuel: self.fuel,
            memory_bytes: (self.memory_mib as usize) << 20,
            ..Limits::default()
        }
    }
}

/// How `send` and `serve` deliver.
#[derive(clap::Args)]
pub struct DeliveryArgs {
    /// Allow plain http:// URLs (for loopback tests).
    #[arg(long)]
    pub allow_http: bool,
    /// Let this host through the SSRF guard although it resolves to a private,
    /// loopback or other internal address (repeatable).
    #[arg(long = "allow-host", value_name = "HOST", value_parser = allow_host)]
    pub allow_hosts: Vec<String>,
    /// Per-request timeout in seconds, at least 1 (a zero timeout would fail every
    /// request before it is sent).
    #[arg(long, default_value_t = host_test::delivery::http::DEFAULT_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    pub timeout: u64,
    /// Requests delivered at once, at least 1.
    #[arg(long, default_value_t = host_test::delivery::deliver::DEFAULT_CONCURRENCY,
          value_parser = at_least_one)]
    pub concurrency: usize,
    /// Write the delivery log (JSON lines) here instead of stderr.
    #[arg(long)]
    pub log: Option<PathBuf>,
}

impl DeliveryArgs {
    pub fn client(&self) -> host_test::delivery::http::HttpClient {
        host_test::delivery::http::HttpClient::new(host_test::delivery::http::ClientOptions {
            timeout: std::time::Duration::from_secs(self.timeout),
            allow_http: self.allow_http,
            allow_hosts: self.allow_hosts.clone(),
        })
    }

    pub fn log(&self) -> Result<host_test::delivery::log::DeliveryLog, String> {
        use host_test::delivery::log::DeliveryLog;
        Ok(match &self.log {
            Some(p) => DeliveryLog::to_writer(std::fs::File::create(p).map_err(|e| {
                format!(
                    "--log {}: cannot write the delivery log there: {e}; give a file in a writable directory",
                    p.display()
                )
            })?),
            None => DeliveryLog::to_writer(std::io::stderr()),
        })
    }
}

/// A count that must be at least one.
fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// An `--allow-host` value: a host name or an address, without a port. A `host:port` form
/// is refused with what to write instead: the guard allows a host on every port, and a
/// port that seemed to narrow it would not.
fn allow_host(text: &str) -> Result<String, String> {
    let bracketed = text.starts_with('[');
    let port = if bracketed {
        text.split_once("]:").map(|(_, p)| p)
    } else if text.matches(':').count() == 1 {
        text.split_once(':').map(|(_, p)| p)
    } else {
        None
    };
    if let Some(port) = port {
        let host = text.trim_end_matches(port).trim_end_matches(':');
        return Err(format!(
            "--allow-host takes a host or an address without a port ({port:?} here): write --allow-host {host}, which allows every port of it"
        ));
    }
    if text.trim().is_empty() {
        return Err("--allow-host needs a host name or an address".into());
    }
    Ok(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::allow_host;

    #[test]
    fn allow_host_takes_hosts_and_addresses_and_refuses_ports_with_what_to_write() {
        for ok in [
            "localhost",
            "127.0.0.1",
            "::1",
            "[::1]",
            "hooks.example.com",
        ] {
            assert_eq!(allow_host(ok).as_deref(), Ok(ok));
        }
        for (bad, host) in [
            ("localhost:8080", "localhost"),
            ("127.0.0.1:9", "127.0.0.1"),
            ("[::1]:443", "[::1]"),
        ] {
            let e = allow_host(bad).unwrap_err();
            assert!(e.contains(&format!("write --allow-host {host},")), "{e}");
        }
        assert!(allow_host(" ").is_err());
    }
}
