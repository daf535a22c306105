//! Loading the component once and running sandboxed calls on it.
//!
//! One [`Engine`], one [`Linker`] and one `InstancePre` per [`Runtime`]: compiling the
//! component costs 100-200 ms, a fresh instance from the `InstancePre` only microseconds.
//! Each call gets a fresh fuel budget and epoch deadline; a call that traps poisons its
//! instance.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use wasmtime::component::{Component, HasSelf, Linker, ResourceAny};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ResourceLimiter, Store,
    Trap,
};

use crate::contract::bindings::exports::connect::webhook::provider;
use crate::contract::bindings::{
    AccessToken, Changes, Configuration, FireTimes, Header, HttpRequest, Instant, Member,
    OauthError, Page, PageSample, Problem, RecordChange, RenderContext, RenderError, RunMode,
    Sample, Strategy, Value, Verdict, WebhookProvider, WebhookProviderPre,
};
use crate::contract::records;
use crate::limits::{
    CORE_INSTANCES_PER_COMPONENT, EPOCH_TICK, Limits, MAX_MEMORY_BYTES, POOLED_INSTANCES,
};
use crate::sandbox::error::HostError;
use crate::sandbox::size::WireSize;

pub use crate::contract::bindings::CONTRACT_VERSION;

/// The path of the component built by this crate's `build.rs`.
pub const COMPONENT_WASM: &str = env!("WEBHOOK_PROVIDER_WASM");

/// The interfaces a component may import: the contract's own, of this host's version or a
/// version compatible with it ([`compatible`]).
/// `zone` is the only one with functions; the others only carry types. Anything else
/// (WASI, filesystem, sockets, HTTP) is refused at load: the component is sans-I/O by
/// contract.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "connect:webhook/types@0.2.0",
    "connect:webhook/config@0.2.0",
    "connect:webhook/page@0.2.0",
    "connect:webhook/zone@0.2.0",
];

/// The export a component of this host's contract version provides.
pub const PROVIDER_EXPORT: &str = "connect:webhook/provider@0.2.0";

/// Whether the versioned interface name `found` is compatible with `ours`: the same
/// interface at a semver-compatible version (the same major version; before 1.0, the same
/// minor), as the versioning rule in `wit/world.wit` promises and as wasmtime links
/// (its import and export lookups match `@0.2.x` to `@0.2.0`). A patch version may add
/// items, never change or remove one, so a 0.2.1 component runs on this 0.2.0 host.
pub fn compatible(found: &str, ours: &str) -> bool {
    let (Some((name, version)), Some((our_name, our_version))) =
        (found.split_once('@'), ours.split_once('@'))
    else {
        return found == ours;
    };
    let (Ok(v), Ok(o)) = (
        semver::Version::parse(version),
        semver::Version::parse(our_version),
    ) else {
        return false;
    };
    name == our_name
        && v.pre.is_empty()
        && v.major == o.major
        && (o.major > 0 || v.minor == o.minor)
}

use crate::limits::MAX_TABLE_ELEMENTS;

/// Per-store state: the memory limiter. The store grants nothing else: no WASI context
/// exists, so there is no clock, randomness, environment or file to reach.
pub struct State {
    limiter: MemoryLimiter,
}

/// Caps linear memory and remembers whether the cap was hit, so that the trap that
/// follows a refused `memory.grow` is reported as what it is.
struct MemoryLimiter {
    cap: usize,
    hit: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.cap {
            self.hit = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= MAX_TABLE_ELEMENTS)
    }
}

impl crate::contract::bindings::connect::webhook::types::Host for State {}
impl crate::contract::bindings::connect::webhook::config::Host for State {}
impl crate::contract::bindings::connect::webhook::page::Host for State {}

impl crate::contract::bindings::connect::webhook::zone::Host for State {
    fn utc_offset(&mut self, name: String, at: Instant) -> Result<i32, String> {
        crate::time::zones::utc_offset(&name, at)
    }
}

/// Ticks the engine's epoch every [`EPOCH_TICK`] until dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop, handle }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// How the engine runs guest code: the engine-wide choices, fixed when the component is
/// loaded. The default is both protections and the pooling allocator; BENCHMARKS.md
/// ("Sandbox") has what each costs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Count fuel: a deterministic bound on the work of one call (the same count on a
    /// loaded machine as on an idle one). Without it, only the epoch deadline bounds a
    /// runaway call, by wall-clock time.
    pub fuel: bool,
    /// Take fresh instances from wasmtime's pooling allocator (pre-reserved memory slots,
    /// copy-on-write initialisation) rather than allocating each one.
    pub pooling: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            fuel: true,
            pooling: true,
        }
    }
}

/// The loaded component: compile once per process, instantiate per session.
pub struct Runtime {
    engine: Engine,
    pre: WebhookProviderPre<State>,
    limits: Limits,
    _ticker: Ticker,
}

impl Runtime {
    /// Load the component this crate was built with.
    pub fn new(limits: Limits) -> Result<Runtime, HostError> {
        Runtime::from_file(Path::new(COMPONENT_WASM), limits)
    }

    /// Load a component from a file. The compiled artefact is cached beside the file
    /// (`<file>.<hash>.cwasm`): compiling takes 100 ms to seconds, loading the cache a
    /// few milliseconds, and every CLI run would otherwise pay the compile.
    pub fn from_file(path: &Path, limits: Limits) -> Result<Runtime, HostError> {
        Runtime::from_file_with(path, limits, EngineOptions::default())
    }

    /// Load a component from a file, with engine options other than the default.
    pub fn from_file_with(
        path: &Path,
        limits: Limits,
        options: EngineOptions,
    ) -> Result<Runtime, HostError> {
        let bytes = std::fs::read(path)
            .map_err(|e| HostError::Load(format!("cannot read {}: {e}", path.display())))?;
        let engine = engine(options)?;
        let cache = path.with_extension(format!("{:016x}.cwasm", fnv1a(&bytes)));
        // SAFETY: the cache file was written by `Component::serialize` of this very
        // code, beside the component, in a directory only the builder writes; wasmtime
        // refuses artefacts from another version or configuration, and on any error the
        // component is compiled afresh.
        let cached = unsafe { Component::deserialize_file(&engine, &cache) }.ok();
        let component = match cached {
            Some(c) => c,
            None => {
                let c = compile(&engine, &bytes)?;
                if let Ok(artefact) = c.serialize() {
                    let tmp = cache.with_extension(format!("tmp{}", std::process::id()));
                    if std::fs::write(&tmp, artefact).is_ok() {
                        let _ = std::fs::rename(&tmp, &cache);
                    }
                }
                c
            }
        };
        Runtime::from_component(engine, component, limits)
    }

    /// Load a component from its bytes (binary or WAT text), compiling it.
    pub fn from_bytes(bytes: &[u8], limits: Limits) -> Result<Runtime, HostError> {
        let engine = engine(EngineOptions::default())?;
        let component = compile(&engine, bytes)?;
        Runtime::from_component(engine, component, limits)
    }

    fn from_component(
        engine: Engine,
        component: Component,
        limits: Limits,
    ) -> Result<Runtime, HostError> {
        check_imports(&engine, &component)?;
        let mut linker = Linker::<State>::new(&engine);
        WebhookProvider::add_to_linker::<State, HasSelf<State>>(&mut linker, |s| s)
            .map_err(|e| HostError::Load(format!("cannot link the zone import: {e:#}")))?;
        let pre = linker
            .instantiate_pre(&component)
            .and_then(WebhookProviderPre::new)
            .map_err(|e| HostError::Load(format!("cannot prepare instances: {e:#}")))?;
        let ticker = Ticker::start(engine.clone());
        Ok(Runtime {
            engine,
            pre,
            limits,
            _ticker: ticker,
        })
    }

    /// The limits applied to every call.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A fresh, sandboxed instance under the runtime's limits.
    pub fn instantiate(&self) -> Result<Instance, HostError> {
        self.instantiate_with(self.limits.clone())
    }

    /// A fresh, sandboxed instance under other limits (one compiled component serves
    /// tenants with different budgets).
    pub fn instantiate_with(&self, limits: Limits) -> Result<Instance, HostError> {
        if limits.memory_bytes > MAX_MEMORY_BYTES {
            return Err(HostError::Load(format!(
                "a memory cap of {} bytes is more than the {MAX_MEMORY_BYTES} bytes an instance slot holds",
                limits.memory_bytes
            )));
        }
        new_instance(&self.pre, limits)
    }

    /// Compile a configuration and strategy in a fresh instance.
    pub fn session(
        &self,
        config: &Configuration,
        strategy: &Strategy,
    ) -> Result<Session, HostError> {
        self.instantiate()?.compile(config, strategy)
    }

    /// Evaluate an expression on a sample, in a fresh instance.
    pub fn evaluate(
        &self,
        expression: &str,
        sample: &Sample,
        context: &RenderContext,
    ) -> Result<Value, HostError> {
        self.instantiate()?.evaluate(expression, sample, context)
    }

    /// Preview a cron text's next fire times, with its warnings, in a fresh instance.
    pub fn cron_preview(
        &self,
        cron: &str,
        time_zone: Option<&str>,
        after: Instant,
        count: u32,
    ) -> Result<FireTimes, HostError> {
        self.instantiate()?
            .cron_preview(cron, time_zone, after, count)
    }
}

fn compile(engine: &Engine, bytes: &[u8]) -> Result<Component, HostError> {
    Component::new(engine, bytes)
        .map_err(|e| HostError::Load(format!("cannot compile the component: {e:#}")))
}

/// FNV-1a: a cache key for the component's bytes (not a security boundary).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn engine(options: EngineOptions) -> Result<Engine, HostError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(options.fuel);
    config.epoch_interruption(true);
    // For profiling guest code with `perf record` (BENCHMARKS.md, "Profiling"): wasmtime
    // writes /tmp/perf-<pid>.map naming each compiled guest function.
    if std::env::var_os("WEBHOOK_PROVIDER_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if options.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(POOLED_INSTANCES)
            .total_core_instances(POOLED_INSTANCES * CORE_INSTANCES_PER_COMPONENT)
            .total_memories(POOLED_INSTANCES)
            .total_tables(POOLED_INSTANCES * CORE_INSTANCES_PER_COMPONENT)
            .max_memory_size(MAX_MEMORY_BYTES);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    Engine::new(&config).map_err(|e| HostError::Load(format!("cannot create the engine: {e:#}")))
}

/// Refuse a component of another contract version (by the name of its export, before
/// linking, so the host says which version it found rather than a link failure), or one
/// that imports anything outside [`ALLOWED_IMPORTS`].
pub fn check_imports(engine: &Engine, component: &Component) -> Result<(), HostError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(n, _)| n.to_string()).collect();
    if !exports.iter().any(|n| compatible(n, PROVIDER_EXPORT)) {
        let found = exports
            .iter()
            .find(|n| n.starts_with("connect:webhook/provider"))
            .cloned();
        return Err(HostError::UnsupportedVersion {
            found,
            supported: CONTRACT_VERSION,
        });
    }
    for (name, _) in ty.imports(engine) {
        if !ALLOWED_IMPORTS.iter().any(|a| compatible(name, a)) {
            return Err(HostError::ImportNotAllowed(name.to_string()));
        }
    }
    Ok(())
}

/// A fresh, sandboxed instance of `pre` under `limits`.
fn new_instance(pre: &WebhookProviderPre<State>, limits: Limits) -> Result<Instance, HostError> {
    let mut store = Store::new(
        pre.engine(),
        State {
            limiter: MemoryLimiter {
                cap: limits.memory_bytes,
                hit: false,
            },
        },
    );
    store.limiter(|s| &mut s.limiter);
    store.epoch_deadline_trap();
    let mut instance = Instance {
        store,
        bindings: None,
        pre: pre.clone(),
        limits,
        poisoned: false,
    };
    instance.prepare_call();
    let bindings = pre
        .instantiate(&mut instance.store)
        .map_err(|e| instance.classify(e))?;
    instance.bindings = Some(bindings);
    Ok(instance)
}

/// One sandboxed instance of the component.
pub struct Instance {
    store: Store<State>,
    bindings: Option<WebhookProvider>,
    /// What the instance was made from, to make a fresh one after a trap.
    pre: WebhookProviderPre<State>,
    limits: Limits,
    poisoned: bool,
}

impl Instance {
    /// Fresh fuel and deadline for the next call.
    fn prepare_call(&mut self) {
        self.store.data_mut().limiter.hit = false;
        // Setting fuel only fails when fuel is not enabled, and the engine enables it.
        let _ = self.store.set_fuel(self.limits.fuel);
        let ticks = self
            .limits
            .deadline
            .as_nanos()
            .div_ceil(EPOCH_TICK.as_nanos());
        self.store
            .set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
    }

    /// Map a wasmtime error to the one typed error it stands for, and poison the instance.
    fn classify(&mut self, e: wasmtime::Error) -> HostError {
        self.poisoned = true;
        if self.store.data().limiter.hit {
            return HostError::MemoryLimit {
                limit: self.limits.memory_bytes,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => HostError::OutOfFuel {
                fuel: self.limits.fuel,
            },
            Some(Trap::Interrupt) => HostError::Deadline {
                limit: self.limits.deadline,
            },
            _ => HostError::Trap(format!("{e:#}")),
        }
    }

    /// Run one guest call under the limits: input cap before, output cap after.
    fn call<R>(
        &mut self,
        input_size: usize,
        output_size: impl FnOnce(&R) -> usize,
        f: impl FnOnce(&mut Store<State>, &WebhookProvider) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        if self.poisoned {
            return Err(HostError::Poisoned);
        }
        if input_size > self.limits.max_input_bytes {
            return Err(HostError::InputTooLarge {
                size: input_size,
                limit: self.limits.max_input_bytes,
            });
        }
        self.prepare_call();
        let Some(bindings) = self.bindings.as_ref() else {
            return Err(HostError::Poisoned);
        };
        let result = f(&mut self.store, bindings);
        let out = result.map_err(|e| self.classify(e))?;
        let size = output_size(&out);
        if size > self.limits.max_output_bytes {
            return Err(HostError::OutputTooLarge {
                size,
                limit: self.limits.max_output_bytes,
            });
        }
        Ok(out)
    }

    /// Fuel left after the last call: how much the last call used is `limits.fuel - this`.
    pub fn fuel_left(&self) -> u64 {
        self.store.get_fuel().unwrap_or(0)
    }

    /// Validate and compile a configuration and a strategy into a session.
    pub fn compile(
        mut self,
        config: &Configuration,
        strategy: &Strategy,
    ) -> Result<Session, HostError> {
        let size = config.wire_size() + strategy.wire_size();
        let plan = self.call(
            size,
            |_| 0,
            |store, b| {
                b.connect_webhook_provider()
                    .call_compile(store, config, strategy)
            },
        )?;
        match plan {
            Ok(plan) => Ok(Session {
                instance: self,
                plan,
                config: config.clone(),
                strategy: strategy.clone(),
            }),
            Err(problems) => Err(HostError::Invalid(problems)),
        }
    }

    /// Evaluate an expression on a sample.
    pub fn evaluate(
        &mut self,
        expression: &str,
        sample: &Sample,
        context: &RenderContext,
    ) -> Result<Value, HostError> {
        let mut builder = records::PageBuilder::default();
        let state = builder.member("", &sample.state);
        let prior = sample.prior.as_ref().map(|p| builder.member("", p));
        let page = builder.finish();
        let rows = PageSample { state, prior };
        let size = expression.len() + page.wire_size() + context.wire_size();
        self.call(
            size,
            |v: &Result<Value, Problem>| v.as_ref().map_or(0, |v| v.wire_size()),
            |store, b| {
                b.connect_webhook_provider()
                    .call_evaluate(store, expression, &page, rows, context)
            },
        )?
        .map_err(HostError::Problem)
    }

    /// Preview a cron text's next fire times.
    pub fn cron_preview(
        &mut self,
        cron: &str,
        time_zone: Option<&str>,
        after: Instant,
        count: u32,
    ) -> Result<FireTimes, HostError> {
        let size = cron.len() + time_zone.map_or(0, str::len);
        self.call(
            size,
            |_| 0,
            |store, b| {
                b.connect_webhook_provider()
                    .call_cron_preview(store, cron, time_zone, after, count)
            },
        )?
        .map_err(HostError::Invalid)
    }
}

/// An instance holding a compiled plan: compile once, render many.
///
/// A call that traps (fuel, deadline, memory, a bug) fails with its error and leaves the
/// instance unusable; the session's next call then runs on a fresh instance with the plan
/// compiled again, so one bad input never stops the calls after it.
pub struct Session {
    instance: Instance,
    plan: ResourceAny,
    config: Configuration,
    strategy: Strategy,
}

/// A problem in a page the host wrote, moved to the input it wrote it from.
fn relocated(e: HostError, locate: impl Fn(usize) -> Option<String>) -> HostError {
    match e {
        HostError::Render(RenderError::InvalidInput(mut p)) => {
            if let Some(path) = records::relocate(&p.path, locate) {
                p.path = path;
            }
            HostError::Render(RenderError::InvalidInput(p))
        }
        other => other,
    }
}

/// The output size of a list of requests.
fn requests_size(r: &Result<Vec<HttpRequest>, RenderError>) -> usize {
    r.as_ref().map_or(0, |v| v.wire_size())
}

impl Session {
    /// One call of the compiled plan's interface, on a live instance (a fresh one after a
    /// trap), with `input_size` and `output_size` held to the sandbox's caps.
    fn plan_call<R>(
        &mut self,
        input_size: usize,
        output_size: impl FnOnce(&R) -> usize,
        f: impl FnOnce(&mut Store<State>, provider::GuestPlan<'_>, ResourceAny) -> wasmtime::Result<R>,
    ) -> Result<R, HostError> {
        self.renew()?;
        let plan = self.plan;
        self.instance.call(input_size, output_size, |store, b| {
            f(store, b.connect_webhook_provider().plan(), plan)
        })
    }

    /// After a trap, a fresh instance with the plan compiled again.
    fn renew(&mut self) -> Result<(), HostError> {
        if !self.instance.poisoned {
            return Ok(());
        }
        let fresh = new_instance(&self.instance.pre, self.instance.limits.clone())?;
        let Session { instance, plan, .. } = fresh.compile(&self.config, &self.strategy)?;
        self.instance = instance;
        self.plan = plan;
        Ok(())
    }

    /// Whether the next call will first make a fresh instance (the last one trapped).
    pub fn needs_fresh_instance(&self) -> bool {
        self.instance.poisoned
    }

    /// Warnings found while compiling.
    pub fn warnings(&mut self) -> Result<Vec<Problem>, HostError> {
        self.plan_call(0, |_| 0, |store, p, plan| p.call_warnings(store, plan))
    }

    /// Fuel left after the last call.
    pub fn fuel_left(&self) -> u64 {
        self.instance.fuel_left()
    }

    /// Record changes to requests: writes the call's page and renders it.
    pub fn on_changes(
        &mut self,
        changes: &[RecordChange],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        let (page, over) = records::page_of_changes(changes);
        self.on_changes_page(&page, &over, context)
            .map_err(|e| relocated(e, |n| records::locate_cell(changes, n)))
    }

    /// Record changes over a page the host has already written.
    pub fn on_changes_page(
        &mut self,
        page: &Page,
        changes: &Changes,
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.plan_call(
            page.wire_size() + changes.wire_size() + context.wire_size(),
            requests_size,
            |store, p, plan| p.call_on_changes(store, plan, page, changes, context),
        )?
        .map_err(HostError::Render)
    }

    /// An on-demand run.
    pub fn on_demand(
        &mut self,
        mode: RunMode,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.on_demand_page(mode, &records::page_of_members(members), context)
            .map_err(|e| relocated(e, |n| records::locate_member_cell(members, n)))
    }

    /// An on-demand run over a page of members.
    pub fn on_demand_page(
        &mut self,
        mode: RunMode,
        members: &Page,
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.plan_call(
            members.wire_size() + context.wire_size(),
            requests_size,
            |store, p, plan| p.call_on_demand(store, plan, mode, members, context),
        )?
        .map_err(HostError::Render)
    }

    /// A scheduled run over one page of members.
    pub fn on_schedule(
        &mut self,
        schedule: &str,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.on_schedule_page(schedule, &records::page_of_members(members), context)
            .map_err(|e| relocated(e, |n| records::locate_member_cell(members, n)))
    }

    /// A scheduled run over a page the host has already written.
    pub fn on_schedule_page(
        &mut self,
        schedule: &str,
        members: &Page,
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.plan_call(
            schedule.len() + members.wire_size() + context.wire_size(),
            requests_size,
            |store, p, plan| p.call_on_schedule(store, plan, schedule, members, context),
        )?
        .map_err(HostError::Render)
    }

    /// The next fire time of a schedule strictly after `after`.
    pub fn next_fire(
        &mut self,
        schedule: &str,
        after: Instant,
    ) -> Result<Option<Instant>, HostError> {
        self.plan_call(
            schedule.len(),
            |_| 0,
            |store, p, plan| p.call_next_fire(store, plan, schedule, after),
        )?
        .map_err(HostError::Render)
    }

    /// The next `count` fire times of a schedule.
    pub fn preview(
        &mut self,
        schedule: &str,
        after: Instant,
        count: u32,
    ) -> Result<Vec<Instant>, HostError> {
        self.plan_call(
            schedule.len(),
            |_| 0,
            |store, p, plan| p.call_preview(store, plan, schedule, after, count),
        )?
        .map_err(HostError::Render)
    }

    /// The OAuth token request.
    pub fn token_request(&mut self) -> Result<HttpRequest, HostError> {
        self.plan_call(
            0,
            |r: &Result<HttpRequest, RenderError>| r.as_ref().map_or(0, |r| r.wire_size()),
            |store, p, plan| p.call_token_request(store, plan),
        )?
        .map_err(HostError::Render)
    }

    /// Parse a token response: the outer error is the host's, the inner the OAuth one.
    pub fn accept_token(
        &mut self,
        status: u16,
        body: &[u8],
        now: Instant,
    ) -> Result<Result<AccessToken, OauthError>, HostError> {
        self.plan_call(
            body.len(),
            |_| 0,
            |store, p, plan| p.call_accept_token(store, plan, status, body, now),
        )
    }

    /// What to do with a response.
    pub fn classify(
        &mut self,
        status: u16,
        headers: &[Header],
        now: Instant,
    ) -> Result<Verdict, HostError> {
        self.plan_call(
            headers.wire_size(),
            |_| 0,
            |store, p, plan| p.call_classify(store, plan, status, headers, now),
        )
    }

    /// Re-sign a request for a new attempt: the component answers the Standard Webhooks
    /// headers for the delivery id, body and `now`, and they replace the request's own.
    /// Only the id and the body cross the boundary.
    pub fn sign(&mut self, request: &HttpRequest, now: Instant) -> Result<HttpRequest, HostError> {
        let fresh = self.signature_headers(&request.delivery_id, &request.body, now)?;
        let mut signed = request.clone();
        if !fresh.is_empty() {
            signed
                .headers
                .retain(|h| !fresh.iter().any(|f| f.name.eq_ignore_ascii_case(&h.name)));
            signed.headers.extend(fresh);
        }
        Ok(signed)
    }

    /// The Standard Webhooks headers for an attempt at `now`: `webhook-id` and
    /// `webhook-timestamp`, and `webhook-signature` when the configuration has signing
    /// secrets.
    pub fn signature_headers(
        &mut self,
        delivery_id: &str,
        body: &[u8],
        now: Instant,
    ) -> Result<Vec<Header>, HostError> {
        self.plan_call(
            delivery_id.len() + body.len(),
            |r: &Result<Vec<Header>, RenderError>| r.as_ref().map_or(0, |h| h.wire_size()),
            |store, p, plan| p.call_sign(store, plan, delivery_id, body, now),
        )?
        .map_err(HostError::Render)
    }
}

#[cfg(test)]
mod version_tests {
    use super::*;

    #[test]
    fn compatible_versions_are_those_the_contract_promises() {
        let ours = PROVIDER_EXPORT;
        for found in [
            "connect:webhook/provider@0.2.0",
            "connect:webhook/provider@0.2.1",
            "connect:webhook/provider@0.2.17",
        ] {
            assert!(compatible(found, ours), "{found}");
        }
        for found in [
            "connect:webhook/provider@0.1.0",
            "connect:webhook/provider@0.3.0",
            "connect:webhook/provider@1.0.0",
            "connect:webhook/provider@0.2.1-rc1",
            "connect:webhook/provider",
            "connect:webhook/zone@0.2.0",
            "other:webhook/provider@0.2.0",
            "connect:webhook/provider@zero",
        ] {
            assert!(!compatible(found, ours), "{found}");
        }
        // After 1.0, the major version alone.
        assert!(compatible("a:b/c@1.4.0", "a:b/c@1.0.0"));
        assert!(!compatible("a:b/c@2.0.0", "a:b/c@1.0.0"));
    }
}
