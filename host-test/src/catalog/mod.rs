//! The definitions one `serve` runs: service configurations, and the integration
//! strategies bound to them, each compiled by the component, versioned, and stored in the
//! outbox so that a restart comes back with them.
//!
//! - **Binding.** A strategy names its configuration (`"configuration"`); one
//!   configuration serves any number of strategies, and its headers, query, OAuth and
//!   signing secrets apply to all of them. Every strategy bound to an entity sees that
//!   entity's changes ([`Catalog::for_entity`]).
//! - **Changes never break what works.** A new definition is compiled, with everything
//!   it touches (a configuration with each of its strategies), before anything is
//!   replaced; a definition with problems is refused with every located problem, and the
//!   one in force keeps running.
//! - **Versions.** Each stored definition has a version, 1 for the first; each delivery
//!   records the version of the strategy that rendered it. A change takes effect for new
//!   work: deliveries already in the outbox are not rendered again, and are attempted with
//!   the strategy's engine as it is now (a rotated secret applies to them).
//! - **Deletion.** A deleted strategy renders nothing more, and its engine stays until its
//!   pending deliveries have finished. A configuration is deleted only when no strategy
//!   uses it.
//! - **At rest.** The outbox keeps each definition with its secrets sealed
//!   ([`crate::catalog::seal`]); the API shows them redacted.

pub mod seal;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use serde_json::{Value as Json, json};

use crate::catalog::seal::{SealKey, redacted};
use crate::contract::bindings::{self as b, Configuration, Strategy};
use crate::delivery::deliver::Deliverer;
use crate::delivery::plugin::SessionPlugin;
use crate::formats::{self as j, ConfigurationJson, DeliveryJson, FormatError, StrategyJson};
use crate::limits::MAX_DEFINITION_FILE_BYTES;
use crate::outbox::dispatch::Deliverers;
use crate::outbox::{Kind, Outbox, OutboxError};
use crate::sandbox::error::HostError;
use crate::sandbox::runtime::Runtime;

pub use crate::limits::MAX_DEFINITIONS;

/// The file names a definitions directory holds: `NAME.config.json` for a configuration,
/// `NAME.strategy.json` for a strategy (as `examples/` names them).
pub const CONFIG_SUFFIX: &str = ".config.json";
/// See [`CONFIG_SUFFIX`].
pub const STRATEGY_SUFFIX: &str = ".strategy.json";

/// Makes the delivery engine of a strategy from its configuration and its session: the
/// CLI's options (HTTP client, log, retry policy) live in the closure.
pub type EngineFactory =
    Arc<dyn Fn(&Configuration, &Strategy, Arc<SessionPlugin>) -> Deliverer + Send + Sync>;

/// A problem with a definition: where (the file or the API call), the key path, what is
/// wrong, and the line and column when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Located {
    /// The file, or the API call (`PUT /strategies/X`).
    pub source: String,
    /// The key path inside it (`run-options.batch-size`); empty for the whole.
    pub path: String,
    /// What is wrong and what would be right.
    pub message: String,
    /// Line, 1-based, when known.
    pub line: Option<u32>,
    /// Column, 1-based, when known.
    pub column: Option<u32>,
}

impl Located {
    fn new(source: &str, path: &str, message: impl Into<String>) -> Located {
        Located {
            source: source.to_string(),
            path: path.to_string(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// A problem the component found.
    fn of_problem(source: &str, p: &b::Problem) -> Located {
        Located {
            source: source.to_string(),
            path: p.path.clone(),
            message: p.message.clone(),
            line: p.span.as_ref().map(|s| s.line),
            column: p.span.as_ref().map(|s| s.column),
        }
    }

    /// A JSON format error: its key path, line and column.
    pub fn of_format(source: &str, e: &FormatError) -> Located {
        let text = &e.0;
        let (path, message) = match text.strip_prefix("at ").and_then(|t| t.split_once(": ")) {
            Some((path, rest)) => (path, rest),
            None => ("", text.as_str()),
        };
        let located = |key: &str| {
            message
                .rsplit_once(key)
                .and_then(|(_, n)| n.split(|c: char| !c.is_ascii_digit()).next())
                .and_then(|n| n.parse::<u32>().ok())
        };
        Located {
            source: source.to_string(),
            path: path.to_string(),
            message: message.to_string(),
            line: located(" line "),
            column: located(" column "),
        }
    }

    /// As the API shows it.
    pub fn to_json(&self) -> Json {
        let mut p = json!({ "source": self.source, "path": self.path, "message": self.message });
        if let (Some(l), Some(c)) = (self.line, self.column) {
            p["line"] = json!(l);
            p["column"] = json!(c);
        }
        p
    }
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "error: {}", self.source)?;
        if !self.path.is_empty() {
            write!(f, ": {}", self.path)?;
        }
        if let (Some(l), Some(c)) = (self.line, self.column) {
            write!(f, " (line {l}, column {c})")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Why a change to the catalog was refused.
#[derive(Debug)]
pub enum Refused {
    /// The definition, or what it touches, has problems (422).
    Invalid(Vec<Located>),
    /// No such definition (404).
    NotFound(String),
    /// It is in use (a configuration strategies are bound to) or over a limit (409).
    Conflict(String),
    /// The outbox or the sandbox failed (503).
    Unavailable(String),
}

impl From<OutboxError> for Refused {
    fn from(e: OutboxError) -> Refused {
        Refused::Unavailable(e.to_string())
    }
}

/// A configuration in force.
#[derive(Clone)]
pub struct ConfigurationEntry {
    /// Its version.
    pub version: i64,
    /// As the component takes it.
    pub config: Configuration,
    /// As it was given (the file format), secrets included: in memory only.
    pub json: Json,
    /// The host's delivery settings in it (retry schedule, endpoint limits).
    pub delivery: DeliveryJson,
}

/// A strategy in force, compiled and bound to its configuration.
pub struct Bound {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: i64,
    /// The configuration it sends through.
    pub configuration: String,
    /// As the component takes it.
    pub strategy: Strategy,
    /// Its compiled session, for rendering changes and on-demand runs.
    pub plugin: Arc<SessionPlugin>,
    /// Its delivery engine.
    pub deliverer: Arc<Deliverer>,
    /// As it was given, secrets included: in memory only.
    pub json: Json,
}

/// What a change did, for whoever follows the catalog (the scheduler).
#[derive(Clone)]
pub enum Change {
    /// A strategy was defined or redefined (its configuration may have changed).
    Put(Arc<Bound>, Box<Configuration>),
    /// A strategy was deleted.
    Deleted(String),
}

/// A listener told of every change, in order.
pub type Listener = Box<dyn Fn(Change) + Send + Sync>;

#[derive(Default)]
struct State {
    configurations: BTreeMap<String, ConfigurationEntry>,
    strategies: BTreeMap<String, Arc<Bound>>,
    /// Engines of deleted strategies, kept for their pending deliveries.
    retired: BTreeMap<String, Arc<Deliverer>>,
}

impl State {
    /// Room for one more definition, unless it replaces one (`replaces`): a serve holds
    /// at most [`MAX_DEFINITIONS`].
    fn room_for(&self, replaces: bool) -> Result<(), Refused> {
        if replaces || self.strategies.len() + self.configurations.len() < MAX_DEFINITIONS {
            return Ok(());
        }
        Err(Refused::Conflict(format!(
            "this serve holds {MAX_DEFINITIONS} definitions, its most; delete one first"
        )))
    }
}

/// A definition read from a file or an API body.
#[derive(Clone, Debug)]
pub struct Definition {
    /// Configuration or strategy.
    pub kind: Kind,
    /// Where it came from, for problems.
    pub source: String,
    /// Its JSON.
    pub json: Json,
}

/// The definitions in force.
pub struct Catalog {
    runtime: Arc<Runtime>,
    outbox: Arc<Outbox>,
    key: SealKey,
    engine: EngineFactory,
    state: RwLock<State>,
    listener: RwLock<Option<Listener>>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.read();
        f.debug_struct("Catalog")
            .field(
                "configurations",
                &s.configurations.keys().collect::<Vec<_>>(),
            )
            .field("strategies", &s.strategies.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// Read every `*.config.json` and `*.strategy.json` in `dir`, in name order: what could
/// be read, and a problem for every file that could not (to be reported together with
/// the problems [`Catalog::start`] finds in the rest).
pub fn read_dir(dir: &Path) -> (Vec<Definition>, Vec<Located>) {
    let source = dir.display().to_string();
    let entries = std::fs::read_dir(dir).map_err(|e| {
        vec![Located::new(
            &source,
            "",
            format!("cannot read the directory: {e}"),
        )]
    });
    let entries = match entries {
        Ok(e) => e,
        Err(problems) => return (Vec::new(), problems),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let kind = if name.ends_with(CONFIG_SUFFIX) {
            Kind::Configuration
        } else if name.ends_with(STRATEGY_SUFFIX) {
            Kind::Strategy
        } else {
            continue;
        };
        match read_file(kind, &path) {
            Ok(d) => out.push(d),
            Err(p) => problems.push(p),
        }
    }
    if out.is_empty() && problems.is_empty() {
        problems.push(Located::new(
            &source,
            "",
            format!(
                "holds no definitions; put each configuration in NAME{CONFIG_SUFFIX} and each strategy in NAME{STRATEGY_SUFFIX}"
            ),
        ));
    }
    (out, problems)
}

/// Read one definition file (within [`MAX_DEFINITION_FILE_BYTES`]) as `kind`; a file
/// that cannot be read or parsed is a problem located in it.
pub fn read_file(kind: Kind, path: &Path) -> Result<Definition, Located> {
    let source = path.display().to_string();
    j::read_capped::<Json>(path, MAX_DEFINITION_FILE_BYTES)
        .map(|json| Definition {
            kind,
            source: source.clone(),
            json,
        })
        .map_err(|e| {
            // The error names the file in front; the problem's source already does.
            let text = e.0.strip_prefix(&format!("{source}: ")).unwrap_or(&e.0);
            Located::of_format(&source, &FormatError(text.to_string()))
        })
}

/// A configuration's JSON in the component's terms, and its name.
fn configuration_of(d: &Definition) -> Result<(String, Configuration), Located> {
    let parsed: ConfigurationJson =
        j::from_json(d.json.clone()).map_err(|e| Located::of_format(&d.source, &e))?;
    let config = parsed
        .into_wit()
        .map_err(|e| Located::of_format(&d.source, &e))?;
    Ok((config.name.clone(), config))
}

/// The delivery settings of a configuration's JSON, already checked by
/// [`configuration_of`] (so the default only stands in for what was left out).
fn delivery_of(json: &Json) -> DeliveryJson {
    json.get("delivery")
        .and_then(|d| j::from_json(d.clone()).ok())
        .unwrap_or_default()
}

/// A strategy's JSON in the component's terms, and the configuration it names.
fn strategy_of(d: &Definition) -> Result<(Strategy, Option<String>), Located> {
    let parsed: StrategyJson =
        j::from_json(d.json.clone()).map_err(|e| Located::of_format(&d.source, &e))?;
    let configuration = parsed.configuration.clone();
    let strategy = parsed
        .into_wit()
        .map_err(|e| Located::of_format(&d.source, &e))?;
    Ok((strategy, configuration))
}

impl Catalog {
    /// An empty catalog over `outbox`, sealing with `key`, compiling with `runtime`,
    /// making engines with `engine`.
    pub fn new(
        runtime: Arc<Runtime>,
        outbox: Arc<Outbox>,
        key: SealKey,
        engine: EngineFactory,
    ) -> Catalog {
        Catalog {
            runtime,
            outbox,
            key,
            engine,
            state: RwLock::new(State::default()),
            listener: RwLock::new(None),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Tell `listener` of every change from now on.
    pub fn listen(&self, listener: Listener) {
        *self.listener.write().unwrap_or_else(|p| p.into_inner()) = Some(listener);
    }

    fn tell(&self, change: Change) {
        if let Some(l) = self
            .listener
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            l(change);
        }
    }

    /// Start: the definitions stored in the outbox, then `given` (files) over them, as
    /// one change: a given definition that differs from the stored one becomes its next
    /// version. Every problem of every definition is reported together; nothing starts
    /// with any.
    ///
    /// `unread` are the problems of the files that could not be read: they are reported
    /// with the rest, and nothing starts.
    pub fn start(
        &self,
        given: Vec<Definition>,
        unread: Vec<Located>,
        now_ms: i64,
    ) -> Result<(), Vec<Located>> {
        let unavailable = |e: String| vec![Located::new("outbox", "", e)];
        let mut stored = Vec::new();
        for s in self
            .outbox
            .definitions()
            .map_err(|e| unavailable(e.to_string()))?
        {
            let source = format!(
                "the outbox's {} {:?} (version {})",
                s.kind.word(),
                s.name,
                s.version
            );
            let json: Json = serde_json::from_str(&s.body)
                .map_err(|e| unavailable(format!("{source}: not JSON: {e}")))?;
            let json = self.key.opened(s.kind, &json).map_err(unavailable)?;
            stored.push((
                s.version,
                Definition {
                    kind: s.kind,
                    source,
                    json,
                },
            ));
        }
        let mut defs: BTreeMap<(Kind, String), (Option<i64>, Definition)> = BTreeMap::new();
        let mut problems = unread;
        let name_of = |d: &Definition| -> Result<String, Located> {
            match d.kind {
                Kind::Configuration => configuration_of(d).map(|(n, _)| n),
                Kind::Strategy => strategy_of(d).map(|(s, _)| s.name),
            }
        };
        for (version, d) in stored {
            match name_of(&d) {
                Ok(name) => {
                    defs.insert((d.kind, name), (Some(version), d));
                }
                Err(p) => problems.push(p),
            }
        }
        let mut seen_given: BTreeMap<(Kind, String), String> = BTreeMap::new();
        for d in given {
            match name_of(&d) {
                Ok(name) => {
                    let key = (d.kind, name.clone());
                    if let Some(first) = seen_given.insert(key.clone(), d.source.clone()) {
                        problems.push(Located::new(
                            &d.source,
                            "name",
                            format!(
                                "{name:?} is also the name of {first}; each {} needs a name of its own",
                                d.kind.word()
                            ),
                        ));
                        continue;
                    }
                    // The stored version stands when the file says the same; else the
                    // file's becomes the next version.
                    let same = defs.get(&key).is_some_and(|(_, old)| old.json == d.json);
                    if !same {
                        defs.insert(key, (None, d));
                    }
                }
                Err(p) => problems.push(p),
            }
        }
        if defs.len() > MAX_DEFINITIONS {
            problems.push(Located::new(
                "serve",
                "",
                format!(
                    "{} definitions; one serve holds at most {MAX_DEFINITIONS} (run another serve for the rest)",
                    defs.len()
                ),
            ));
        }
        // Compile every strategy with its configuration.
        let configurations: BTreeMap<String, (Option<i64>, Definition, Configuration)> = defs
            .iter()
            .filter(|((k, _), _)| *k == Kind::Configuration)
            .filter_map(|((_, name), (v, d))| match configuration_of(d) {
                Ok((_, c)) => Some((name.clone(), (*v, d.clone(), c))),
                Err(p) => {
                    problems.push(p);
                    None
                }
            })
            .collect();
        let only_configuration = (configurations.len() == 1)
            .then(|| configurations.keys().next().cloned())
            .flatten();
        let mut compiled = Vec::new();
        for ((kind, _), (version, d)) in &defs {
            if *kind != Kind::Strategy {
                continue;
            }
            match self.compile_strategy(d, &configurations, only_configuration.as_deref()) {
                Ok(bound) => compiled.push((*version, d.clone(), bound)),
                Err(mut p) => problems.append(&mut p),
            }
        }
        if !problems.is_empty() {
            // A configuration's problem is found once for each of its strategies.
            let mut seen = std::collections::HashSet::new();
            problems.retain(|p| seen.insert(p.to_string()));
            return Err(problems);
        }
        // Store what is new, then put it all in force.
        let store = |kind: Kind, name: &str, d: &Definition| -> Result<i64, Vec<Located>> {
            let body = self.key.sealed(kind, &d.json).to_string();
            self.outbox
                .put_definition(kind, name, &body, now_ms)
                .map_err(|e| unavailable(e.to_string()))
        };
        let mut state = State::default();
        for (name, (version, d, config)) in configurations {
            let version = match version {
                Some(v) => v,
                None => store(Kind::Configuration, &name, &d)?,
            };
            state.configurations.insert(
                name,
                ConfigurationEntry {
                    version,
                    config,
                    delivery: delivery_of(&d.json),
                    json: d.json,
                },
            );
        }
        for (version, d, (strategy, configuration, session)) in compiled {
            let version = match version {
                Some(v) => v,
                None => store(Kind::Strategy, &strategy.name, &d)?,
            };
            let entry = &state.configurations[&configuration];
            let (config, delivery) = (entry.config.clone(), entry.delivery.clone());
            let bound = self.bind(
                strategy,
                configuration,
                version,
                session,
                d.json,
                (&config, &delivery),
            );
            state.strategies.insert(bound.name.clone(), bound);
        }
        *self.write() = state;
        Ok(())
    }

    /// Compile a strategy definition with the configuration it names (or the only one,
    /// when it names none and there is one): the strategy, its configuration's name and
    /// its session.
    fn compile_strategy(
        &self,
        d: &Definition,
        configurations: &BTreeMap<String, (Option<i64>, Definition, Configuration)>,
        only: Option<&str>,
    ) -> Result<(Strategy, String, crate::sandbox::runtime::Session), Vec<Located>> {
        let (strategy, named) = strategy_of(d).map_err(|p| vec![p])?;
        let name = match (named, only) {
            (Some(n), _) => n,
            (None, Some(only)) => only.to_string(),
            (None, None) => {
                return Err(vec![Located::new(
                    &d.source,
                    "configuration",
                    format!(
                        "the strategy names no configuration, and there are {}; add \"configuration\": \"<name>\" naming one of: {}",
                        configurations.len(),
                        names(configurations.keys())
                    ),
                )]);
            }
        };
        let Some((_, config_def, config)) = configurations.get(&name) else {
            return Err(vec![Located::new(
                &d.source,
                "configuration",
                format!(
                    "no configuration is named {name:?}; the configurations are: {}",
                    names(configurations.keys())
                ),
            )]);
        };
        let session = self.session(&d.source, &config_def.source, config, &strategy)?;
        Ok((strategy, name, session))
    }

    /// Compile `strategy` with `config`: a problem under `configuration.` is the
    /// configuration's (from `config_source`), every other the strategy's (`source`).
    fn session(
        &self,
        source: &str,
        config_source: &str,
        config: &Configuration,
        strategy: &Strategy,
    ) -> Result<crate::sandbox::runtime::Session, Vec<Located>> {
        self.runtime.session(config, strategy).map_err(|e| match e {
            HostError::Invalid(ps) => ps
                .iter()
                .filter(|p| p.severity == b::Severity::Error)
                .map(|p| {
                    let from = if p.path.starts_with("configuration") {
                        config_source
                    } else {
                        source
                    };
                    Located::of_problem(from, p)
                })
                .collect(),
            other => vec![Located::new(source, "", other.to_string())],
        })
    }

    fn bind(
        &self,
        strategy: Strategy,
        configuration: String,
        version: i64,
        session: crate::sandbox::runtime::Session,
        json: Json,
        (config, delivery): (&Configuration, &DeliveryJson),
    ) -> Arc<Bound> {
        let plugin = Arc::new(SessionPlugin::new(session));
        let deliverer =
            Arc::new((self.engine)(config, &strategy, plugin.clone()).settings(delivery));
        Arc::new(Bound {
            name: strategy.name.clone(),
            version,
            configuration,
            strategy,
            plugin,
            deliverer,
            json,
        })
    }

    /// Define or redefine the strategy `name` from `json` (from `source`, for problems).
    /// Compiled first; refused with every problem, the one in force untouched.
    pub fn put_strategy(
        &self,
        name: &str,
        source: &str,
        json: Json,
        now_ms: i64,
    ) -> Result<Arc<Bound>, Refused> {
        let d = Definition {
            kind: Kind::Strategy,
            source: source.to_string(),
            json,
        };
        let (strategy, named) = strategy_of(&d).map_err(|p| Refused::Invalid(vec![p]))?;
        if strategy.name != name {
            return Err(Refused::Invalid(vec![Located::new(
                source,
                "name",
                format!(
                    "the body names the strategy {:?}, the path {name:?}; make them the same (a rename is a DELETE and a PUT)",
                    strategy.name
                ),
            )]));
        }
        let Some(configuration) = named else {
            return Err(Refused::Invalid(vec![Located::new(
                source,
                "configuration",
                "name the configuration the strategy sends through: \"configuration\": \"<name>\"",
            )]));
        };
        let (config, delivery) = {
            let s = self.read();
            s.room_for(s.strategies.contains_key(name))?;
            match s.configurations.get(&configuration) {
                Some(c) => (c.config.clone(), c.delivery.clone()),
                None => {
                    return Err(Refused::Invalid(vec![Located::new(
                        source,
                        "configuration",
                        format!(
                            "no configuration is named {configuration:?}; the configurations are: {}",
                            names(s.configurations.keys())
                        ),
                    )]));
                }
            }
        };
        let config_source = format!("the configuration {configuration:?}");
        let session = self
            .session(source, &config_source, &config, &strategy)
            .map_err(Refused::Invalid)?;
        let body = self.key.sealed(Kind::Strategy, &d.json).to_string();
        let version = self
            .outbox
            .put_definition(Kind::Strategy, name, &body, now_ms)?;
        let bound = self.bind(
            strategy,
            configuration,
            version,
            session,
            d.json,
            (&config, &delivery),
        );
        {
            let mut s = self.write();
            s.retired.remove(name);
            s.strategies.insert(name.to_string(), bound.clone());
        }
        self.tell(Change::Put(bound.clone(), Box::new(config)));
        Ok(bound)
    }

    /// Define or redefine the configuration `name`: compiled with every strategy bound to
    /// it first, all or nothing. Returns its version.
    pub fn put_configuration(
        &self,
        name: &str,
        source: &str,
        json: Json,
        now_ms: i64,
    ) -> Result<i64, Refused> {
        let d = Definition {
            kind: Kind::Configuration,
            source: source.to_string(),
            json,
        };
        let (named, config) = configuration_of(&d).map_err(|p| Refused::Invalid(vec![p]))?;
        if named != name {
            return Err(Refused::Invalid(vec![Located::new(
                source,
                "name",
                format!(
                    "the body names the configuration {named:?}, the path {name:?}; make them the same"
                ),
            )]));
        }
        // Check the configuration alone (with an inert strategy) and with each strategy
        // bound to it; keep the sessions to swap in.
        let bound: Vec<Arc<Bound>> = {
            let s = self.read();
            s.room_for(s.configurations.contains_key(name))?;
            s.strategies
                .values()
                .filter(|b| b.configuration == name)
                .cloned()
                .collect()
        };
        let mut problems = Vec::new();
        let mut sessions = Vec::new();
        if bound.is_empty()
            && let Err(mut p) = self.session(source, source, &config, &probe_strategy())
        {
            p.retain(|p| !p.path.starts_with("strategy"));
            problems.append(&mut p);
        }
        for b in &bound {
            let with = format!("the strategy {:?} (with this configuration)", b.name);
            match self.session(&with, source, &config, &b.strategy) {
                Ok(session) => sessions.push((b.clone(), session)),
                Err(mut p) => problems.append(&mut p),
            }
        }
        if !problems.is_empty() {
            let mut seen = std::collections::HashSet::new();
            problems.retain(|p| seen.insert(p.to_string()));
            return Err(Refused::Invalid(problems));
        }
        let body = self.key.sealed(Kind::Configuration, &d.json).to_string();
        let version = self
            .outbox
            .put_definition(Kind::Configuration, name, &body, now_ms)?;
        let delivery = delivery_of(&d.json);
        let rebound: Vec<Arc<Bound>> = sessions
            .into_iter()
            .map(|(b, session)| {
                self.bind(
                    b.strategy.clone(),
                    b.configuration.clone(),
                    b.version,
                    session,
                    b.json.clone(),
                    (&config, &delivery),
                )
            })
            .collect();
        {
            let mut s = self.write();
            s.configurations.insert(
                name.to_string(),
                ConfigurationEntry {
                    version,
                    config: config.clone(),
                    delivery: delivery_of(&d.json),
                    json: d.json,
                },
            );
            for b in &rebound {
                s.strategies.insert(b.name.clone(), b.clone());
            }
        }
        for b in rebound {
            self.tell(Change::Put(b, Box::new(config.clone())));
        }
        Ok(version)
    }

    /// Delete the strategy `name`: it renders nothing more; its pending deliveries finish
    /// with its engine. Returns how many were pending.
    pub fn delete_strategy(&self, name: &str, now_ms: i64) -> Result<u64, Refused> {
        if !self.read().strategies.contains_key(name) {
            return Err(Refused::NotFound(format!("no strategy is named {name:?}")));
        }
        self.outbox
            .delete_definition(Kind::Strategy, name, now_ms)?;
        let pending = self.outbox.pending_of(name)?;
        {
            let mut s = self.write();
            if let Some(b) = s.strategies.remove(name) {
                s.retired.insert(name.to_string(), b.deliverer.clone());
            }
        }
        self.tell(Change::Deleted(name.to_string()));
        Ok(pending)
    }

    /// Delete the configuration `name`, when no strategy uses it.
    pub fn delete_configuration(&self, name: &str, now_ms: i64) -> Result<(), Refused> {
        {
            let s = self.read();
            if !s.configurations.contains_key(name) {
                return Err(Refused::NotFound(format!(
                    "no configuration is named {name:?}"
                )));
            }
            let users: Vec<&String> = s
                .strategies
                .values()
                .filter(|b| b.configuration == name)
                .map(|b| &b.name)
                .collect();
            if !users.is_empty() {
                return Err(Refused::Conflict(format!(
                    "the configuration {name:?} is used by the strategies {}; delete them or bind them to another configuration first",
                    names(users.into_iter())
                )));
            }
        }
        self.outbox
            .delete_definition(Kind::Configuration, name, now_ms)?;
        self.write().configurations.remove(name);
        Ok(())
    }

    /// The strategies bound to `entity`, in name order.
    pub fn for_entity(&self, entity: &str) -> Vec<Arc<Bound>> {
        self.read()
            .strategies
            .values()
            .filter(|b| b.strategy.entity == entity)
            .cloned()
            .collect()
    }

    /// The strategy `name`.
    pub fn strategy(&self, name: &str) -> Option<Arc<Bound>> {
        self.read().strategies.get(name).cloned()
    }

    /// Every strategy in force, in name order.
    pub fn strategies(&self) -> Vec<Arc<Bound>> {
        self.read().strategies.values().cloned().collect()
    }

    /// The configuration `name`.
    pub fn configuration(&self, name: &str) -> Option<ConfigurationEntry> {
        self.read().configurations.get(name).cloned()
    }

    /// Every configuration in force, with its name, in name order.
    pub fn configurations(&self) -> Vec<(String, ConfigurationEntry)> {
        self.read()
            .configurations
            .iter()
            .map(|(n, c)| (n.clone(), c.clone()))
            .collect()
    }

    /// A strategy as the API shows it: its definition with secrets redacted.
    pub fn strategy_json(b: &Bound) -> Json {
        json!({
            "name": b.name,
            "version": b.version,
            "configuration": b.configuration,
            "entity": b.strategy.entity,
            "schedules": b.strategy.schedules.iter().map(|s| s.name.clone()).collect::<Vec<_>>(),
            "definition": redacted(Kind::Strategy, &b.json),
        })
    }

    /// A configuration as the API shows it, secrets redacted, with the strategies bound
    /// to it.
    pub fn configuration_json(&self, name: &str, c: &ConfigurationEntry) -> Json {
        let strategies: Vec<String> = self
            .read()
            .strategies
            .values()
            .filter(|b| b.configuration == name)
            .map(|b| b.name.clone())
            .collect();
        json!({
            "name": name,
            "version": c.version,
            "strategies": strategies,
            "definition": redacted(Kind::Configuration, &c.json),
        })
    }
}

impl Deliverers for Catalog {
    fn get(&self, strategy: &str) -> Option<Arc<Deliverer>> {
        let s = self.read();
        if strategy.is_empty() {
            // A version-1 outbox's deliveries: the one strategy, when there is one.
            return (s.strategies.len() == 1)
                .then(|| s.strategies.values().next().map(|b| b.deliverer.clone()))
                .flatten();
        }
        s.strategies
            .get(strategy)
            .map(|b| b.deliverer.clone())
            .or_else(|| s.retired.get(strategy).cloned())
    }

    fn all(&self) -> Vec<Arc<Deliverer>> {
        let s = self.read();
        s.strategies
            .values()
            .map(|b| b.deliverer.clone())
            .chain(s.retired.values().cloned())
            .collect()
    }
}

/// Names for a message: `"a", "b"`, or `(none)`.
fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<String> = names.map(|n| format!("{n:?}")).collect();
    if list.is_empty() {
        "(none)".to_string()
    } else {
        list.join(", ")
    }
}

/// A strategy with nothing in it, to compile a configuration no strategy uses yet: the
/// component checks a configuration only together with a strategy.
fn probe_strategy() -> Strategy {
    Strategy {
        name: "configuration check".into(),
        entity: "Entity".into(),
        headers: Vec::new(),
        body: Vec::new(),
        records: Vec::new(),
        run_options: b::RunOptions {
            run_as_user: "svc".into(),
            batch_size: 1,
            sync_enabled: false,
            sync_record_limit: 1,
            async_enabled: true,
            added: b::Trigger {
                enabled: false,
                filter: None,
            },
            updated: b::Trigger {
                enabled: false,
                filter: None,
            },
            deleted: b::Trigger {
                enabled: false,
                filter: None,
            },
        },
        schedules: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The limit obeyed and violated: a new definition past [`MAX_DEFINITIONS`] is
    /// refused, one that replaces a definition is not.
    #[test]
    fn a_serve_holds_at_most_max_definitions() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../examples/customer.config.json");
        let config = j::read_configuration(&path).unwrap();
        let mut state = State::default();
        for i in 0..MAX_DEFINITIONS {
            assert!(state.room_for(false).is_ok(), "refused at {i}");
            state.configurations.insert(
                format!("c{i}"),
                ConfigurationEntry {
                    version: 1,
                    config: config.clone(),
                    json: Json::Null,
                    delivery: DeliveryJson::default(),
                },
            );
        }
        match state.room_for(false) {
            Err(Refused::Conflict(m)) => assert!(m.contains("256 definitions"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
        assert!(state.room_for(true).is_ok());
    }
}
