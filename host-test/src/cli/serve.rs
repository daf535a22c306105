//! `host-test serve`: the run-time API over the durable outbox, for every configuration
//! and strategy given or stored.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use host_test::bindings as b;
use host_test::formats;

use super::load;
use super::options::{DeliveryArgs, RetryArgs, SandboxArgs};
use super::tokio_runtime;

/// What `serve` takes.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub definitions: ServeDefinitions,
    /// The member store's starting content: a JSON array of records with a `Code`,
    /// as `ENTITY=FILE` (repeatable), or `FILE` when the strategies serve one entity.
    #[arg(long, value_name = "[ENTITY=]FILE")]
    pub members: Vec<String>,
    /// The outbox: a SQLite file, created when missing and resumed when present; or a
    /// PostgreSQL database (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`) that many
    /// `serve` processes share, its schema created or migrated at start.
    #[arg(long, default_value = host_test::outbox::DEFAULT_PATH, value_parser = parse_location)]
    pub outbox: host_test::outbox::Location,
    /// The key sealing the definitions' secrets in the outbox; made when missing.
    /// Default: `secrets.key` beside a SQLite outbox; with PostgreSQL it must be given,
    /// the same file for every host sharing the database.
    #[arg(long, value_name = "FILE")]
    pub secrets_key: Option<PathBuf>,
    /// The keys signing platform tokens (Ed25519, owner-only); made when missing.
    /// Default: `platform-key.json` beside a SQLite outbox, or beside `--secrets-key` with
    /// PostgreSQL.
    #[arg(long, value_name = "FILE")]
    pub platform_key: Option<PathBuf>,
    /// Rotate the platform key before serving: a new key signs, the old one stays in the
    /// JWKS until the tokens it signed have expired.
    #[arg(long)]
    pub rotate_platform_key: bool,
    /// The API's address (port 0 picks a free port): loopback, or any address once API
    /// tokens are given.
    #[arg(long, default_value = host_test::serve::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// A file of API tokens, one a line (blank lines and `#` comments skipped), each at
    /// least 16 characters; the API then asks for `Authorization: Bearer <token>` on every
    /// route but /health and /.well-known/jwks.json. The environment variable
    /// WEBHOOK_API_TOKEN adds one more.
    #[arg(long, value_name = "FILE")]
    pub api_tokens: Option<PathBuf>,
    #[command(flatten)]
    pub delivery: DeliveryArgs,
    #[command(flatten)]
    pub retry: RetryArgs,
    #[command(flatten)]
    pub sandbox: SandboxArgs,
}

/// What `serve` runs: one configuration and one strategy, or a directory of them; with
/// neither, the definitions the outbox holds.
#[derive(clap::Args)]
pub struct ServeDefinitions {
    /// A service configuration (JSON), with `--strategy`.
    #[arg(long, requires = "strategy", conflicts_with = "definitions")]
    pub config: Option<PathBuf>,
    /// An integration strategy (JSON), with `--config`.
    #[arg(long, requires = "config")]
    pub strategy: Option<PathBuf>,
    /// A directory of `NAME.config.json` and `NAME.strategy.json` files; each strategy
    /// names its configuration (`"configuration": "<name>"`).
    #[arg(long, value_name = "DIR")]
    pub definitions: Option<PathBuf>,
}

impl ServeDefinitions {
    /// The definitions given that could be read, and a problem for each that could not.
    fn read(
        &self,
    ) -> (
        Vec<host_test::catalog::Definition>,
        Vec<host_test::catalog::Located>,
    ) {
        use host_test::catalog::{read_dir, read_file};
        use host_test::outbox::Kind;
        if let Some(dir) = &self.definitions {
            return read_dir(dir);
        }
        let (Some(config), Some(strategy)) = (&self.config, &self.strategy) else {
            return (Vec::new(), Vec::new());
        };
        let (c, s) = (
            read_file(Kind::Configuration, config),
            read_file(Kind::Strategy, strategy),
        );
        match (c, s) {
            (Ok(c), Ok(mut s)) => {
                // Given together, the strategy sends through this configuration.
                if s.json.get("configuration").is_none()
                    && let (Some(obj), Some(name)) =
                        (s.json.as_object_mut(), c.json.get("name").cloned())
                {
                    obj.insert("configuration".into(), name);
                }
                (vec![c, s], Vec::new())
            }
            (c, s) => {
                let problems = [c.as_ref().err(), s.as_ref().err()]
                    .into_iter()
                    .flatten()
                    .cloned()
                    .collect();
                ([c.ok(), s.ok()].into_iter().flatten().collect(), problems)
            }
        }
    }
}

/// Run `serve`.
pub fn run(args: Args, component: Option<&Path>) -> Result<ExitCode, String> {
    use std::sync::Arc;

    use host_test::catalog::EngineFactory;
    use host_test::delivery::deliver::Deliverer;
    use host_test::delivery::oauth::TokenCache;
    use host_test::delivery::platform_key::PlatformKeys;
    use host_test::serve::{ServeOptions, StartError, start};
    use host_test::time::clock::SystemClock;

    let Args {
        definitions,
        members,
        outbox,
        secrets_key,
        platform_key,
        rotate_platform_key,
        listen,
        api_tokens,
        delivery,
        retry,
        sandbox,
    } = args;
    use host_test::outbox::Location;
    let secrets_key = match (secrets_key, &outbox) {
        (Some(key), _) => key,
        (None, Location::File(path)) => path.with_file_name("secrets.key"),
        (None, Location::Postgres(_)) => {
            return Err(format!(
                "--outbox {outbox}: a PostgreSQL outbox needs --secrets-key FILE, the same key file for every host sharing the database (each host unseals the definitions the others stored)"
            ));
        }
    };
    // Beside a SQLite outbox; with PostgreSQL beside the secrets key every host shares.
    let platform_key = platform_key.unwrap_or_else(|| match &outbox {
        Location::File(path) => path.with_file_name(super::options::PLATFORM_KEY_FILE),
        Location::Postgres(_) => secrets_key.with_file_name(super::options::PLATFORM_KEY_FILE),
    });
    // A claim outlives the longest attempt, so no live host's attempt is taken over.
    let lease = host_test::limits::lease_for(std::time::Duration::from_secs(delivery.timeout));
    let (policy, limits) = (retry.serve_policy(), sandbox.limits());

    let env_token = std::env::var(host_test::serve::auth::TOKEN_ENV).ok();
    let api_tokens =
        host_test::serve::ApiTokens::load(api_tokens.as_deref(), env_token.as_deref())?;
    drop(env_token);
    let (given, unread) = definitions.read();
    let members = read_members(&members, &given)?;
    let rt = Arc::new(load(component, limits).map_err(|e| e.to_string())?);
    let now = host_test::time::clock::Clock::now(&SystemClock).seconds;
    let platform_keys = Arc::new(if rotate_platform_key {
        PlatformKeys::rotate(&platform_key, now)?
    } else {
        PlatformKeys::load_or_create(&platform_key, now)?
    });
    let log = delivery.log()?;
    let tokio = tokio_runtime()?;
    let served = tokio.block_on(async {
        let log = Arc::new(log);
        let client = Arc::new(delivery.client());
        let tokens = Arc::new(TokenCache::default());
        let engine: EngineFactory = {
            let (log, keys) = (log.clone(), platform_keys.clone());
            Arc::new(move |config, strategy, plugin| {
                Deliverer::new(plugin, client.clone(), Arc::new(SystemClock))
                    .configure(config, &strategy.run_options.run_as_user, tokens.clone())
                    .platform_keys(keys.clone())
                    .log(log.clone())
                    .policy(policy.clone())
                    .without_dead_letter_list()
            })
        };
        let access = if api_tokens.is_empty() {
            "open (no API token), so on loopback only".to_string()
        } else {
            format!(
                "{} API token(s) asked for on every route but {}",
                api_tokens.len(),
                host_test::serve::auth::PUBLIC_ROUTES.join(" and ")
            )
        };
        let options = ServeOptions {
            listen,
            api_tokens,
            checks: Vec::new(),
            outbox: outbox.clone(),
            lease,
            secrets_key,
            definitions: given,
            unread,
            members,
            concurrency: delivery.concurrency,
            engine,
            clock: Arc::new(SystemClock),
            log,
            platform_keys: platform_keys.clone(),
        };
        let running = match start(rt, options).await {
            Ok(r) => r,
            Err(StartError::Definitions(problems)) => {
                for p in &problems {
                    eprintln!("{p}");
                }
                return Ok(false);
            }
            Err(e) => return Err(e.to_string()),
        };
        let strategies = running.service.catalog().strategies();
        out!(
            "serving {} strategy(ies): {}",
            strategies.len(),
            strategies
                .iter()
                .map(|b| format!("{:?} v{} ({:?} via {:?})", b.name, b.version, b.strategy.entity, b.configuration))
                .collect::<Vec<_>>()
                .join(", ")
        );
        let counts = running
            .service
            .dispatcher()
            .outbox()
            .counts()
            .map_err(|e| e.to_string())?;
        out!(
            "outbox {}: {} pending (resumed), {} delivered, {} dead",
            outbox,
            counts.pending,
            counts.delivered,
            counts.dead
        );
        let retired = platform_keys.retired_kids(now);
        out!(
            "platform key {}: kid {}{}",
            platform_key.display(),
            platform_keys.kid(),
            if retired.is_empty() {
                String::new()
            } else {
                format!("; still published: {}", retired.join(", "))
            }
        );
        out!("api: {access}");
        // Last: whoever waits for this line can call the API at once.
        out!("listening on http://{}", running.addr);
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| format!("cannot watch for SIGTERM: {e}"))?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let dispatcher = running.service.dispatcher();
        let grace = host_test::outbox::dispatch::SHUTDOWN_GRACE;
        out!(
            "stopping: waiting up to {} s for attempts in flight",
            grace.as_secs()
        );
        let left = dispatcher.stop(grace).await;
        let stats = dispatcher.stats();
        out!(
            "stopped: {} attempt(s), {} delivered, {} dead this run; {left} attempt(s) cut off in flight; pending deliveries stay in the outbox",
            stats.attempts, stats.delivered, stats.dead
        );
        Ok::<_, String>(true)
    });
    // Attempts still running (a DNS lookup, a slow receiver) are not waited for: their
    // deliveries are pending in the outbox and go again at the next start.
    tokio.shutdown_background();
    Ok(if served? {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `--outbox`: a `postgres://` URL or a file.
fn parse_location(text: &str) -> Result<host_test::outbox::Location, String> {
    Ok(host_test::outbox::Location::parse(text))
}

/// The member store's starting content from `--members [ENTITY=]FILE`: a file without an
/// entity belongs to the one entity the given strategies serve.
fn read_members(
    args: &[String],
    given: &[host_test::catalog::Definition],
) -> Result<Vec<(String, Vec<b::Member>)>, String> {
    let mut entities: Vec<&str> = given
        .iter()
        .filter(|d| d.kind == host_test::outbox::Kind::Strategy)
        .filter_map(|d| d.json.get("entity").and_then(serde_json::Value::as_str))
        .collect();
    entities.sort_unstable();
    entities.dedup();
    let mut out = Vec::new();
    for arg in args {
        let (entity, file) = match arg.split_once('=') {
            Some((e, f)) if !e.contains('/') => (e.to_string(), f),
            _ => match entities.as_slice() {
                [one] => (one.to_string(), arg.as_str()),
                _ => {
                    return Err(format!(
                        "--members {arg}: say which entity the members are of, as --members ENTITY=FILE (the strategies serve {})",
                        if entities.is_empty() {
                            "no entity yet".to_string()
                        } else {
                            entities.join(", ")
                        }
                    ));
                }
            },
        };
        let members =
            formats::read_members(std::path::Path::new(file)).map_err(|e| e.to_string())?;
        out.push((entity, members));
    }
    Ok(out)
}
