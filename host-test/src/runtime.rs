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
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker, ResourceAny, ResourceTable};
use wasmtime::{Config, Engine, ResourceLimiter, Store, Trap};
use wasmtime_wasi::{
    Deterministic, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView,
};

use crate::bindings::{
    AccessToken, Configuration, Header, HttpRequest, Instant, Member, OauthError, Problem,
    RecordChange, RenderContext, RenderError, RunMode, Sample, Strategy, Value, Verdict,
    WebhookProvider, WebhookProviderPre,
};
use crate::error::HostError;
use crate::limits::{EPOCH_TICK, Limits};
use crate::size::WireSize;

/// The interfaces a component may import, by prefix. Everything else (filesystem,
/// sockets, HTTP) is refused at load: the component is sans-I/O by contract.
pub const ALLOWED_IMPORTS: &[&str] = &[
    "wasi:cli/",
    "wasi:io/",
    "wasi:clocks/",
    "wasi:random/",
    "connect:webhook/",
];

/// The most table elements an instance may grow to: Rust components use one small
/// function table; 10,000 is far above it.
const MAX_TABLE_ELEMENTS: usize = 10_000;

/// Per-store state: a WASI context granting nothing, and the memory limiter.
pub struct State {
    wasi: WasiCtx,
    table: ResourceTable,
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

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl crate::bindings::connect::webhook::types::Host for State {}
impl crate::bindings::connect::webhook::config::Host for State {}

impl crate::bindings::connect::webhook::zone::Host for State {
    fn utc_offset(&mut self, name: String, at: Instant) -> Result<i32, String> {
        crate::zones::utc_offset(&name, at)
    }
}

/// A wall clock stopped at the epoch: the component must take time from the call's
/// context, and a fixed clock makes any accidental use visible and reproducible.
struct FixedWallClock;

impl HostWallClock for FixedWallClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

/// A monotonic clock that never advances, for the same reason.
struct FixedMonotonicClock;

impl HostMonotonicClock for FixedMonotonicClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// A WASI context that grants nothing: no stdio, environment, arguments, preopened
/// directories or network; fixed clocks and fixed-seed randomness.
fn sandbox() -> WasiCtx {
    WasiCtx::builder()
        .wall_clock(FixedWallClock)
        .monotonic_clock(FixedMonotonicClock)
        .secure_random(Deterministic::new(vec![0x5a, 0x17, 0xc3, 0x8e]))
        .insecure_random(Deterministic::new(vec![0x21, 0x9d, 0x4f, 0xb0]))
        .insecure_random_seed(0)
        .allow_tcp(false)
        .allow_udp(false)
        .allow_ip_name_lookup(false)
        .socket_addr_check(|_, _| Box::pin(async { false }))
        .build()
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
        Runtime::from_file(Path::new(crate::COMPONENT_WASM), limits)
    }

    /// Load a component from a file. The compiled artefact is cached beside the file
    /// (`<file>.<hash>.cwasm`): compiling takes 100 ms to seconds, loading the cache a
    /// few milliseconds, and every CLI run would otherwise pay the compile.
    pub fn from_file(path: &Path, limits: Limits) -> Result<Runtime, HostError> {
        let bytes = std::fs::read(path)
            .map_err(|e| HostError::Load(format!("cannot read {}: {e}", path.display())))?;
        let engine = engine()?;
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
        let engine = engine()?;
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
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(|e| HostError::Load(format!("cannot link WASI: {e:#}")))?;
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
        let mut store = Store::new(
            &self.engine,
            State {
                wasi: sandbox(),
                table: ResourceTable::new(),
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
            limits,
            poisoned: false,
        };
        instance.prepare_call();
        let bindings = self
            .pre
            .instantiate(&mut instance.store)
            .map_err(|e| instance.classify(e))?;
        instance.bindings = Some(bindings);
        Ok(instance)
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

    /// Preview a cron text's next fire times, in a fresh instance.
    pub fn cron_preview(
        &self,
        cron: &str,
        time_zone: Option<&str>,
        after: Instant,
        count: u32,
    ) -> Result<Vec<Instant>, HostError> {
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

fn engine() -> Result<Engine, HostError> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.consume_fuel(true);
    config.epoch_interruption(true);
    Engine::new(&config).map_err(|e| HostError::Load(format!("cannot create the engine: {e:#}")))
}

/// Refuse a component that imports anything outside [`ALLOWED_IMPORTS`].
pub fn check_imports(engine: &Engine, component: &Component) -> Result<(), HostError> {
    for (name, _) in component.component_type().imports(engine) {
        if !ALLOWED_IMPORTS.iter().any(|p| name.starts_with(p)) {
            return Err(HostError::ImportNotAllowed(name.to_string()));
        }
    }
    Ok(())
}

/// One sandboxed instance of the component.
pub struct Instance {
    store: Store<State>,
    bindings: Option<WebhookProvider>,
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
        let size = expression.len() + sample.wire_size() + context.wire_size();
        self.call(
            size,
            |v: &Result<Value, Problem>| v.as_ref().map_or(0, |v| v.wire_size()),
            |store, b| {
                b.connect_webhook_provider()
                    .call_evaluate(store, expression, sample, context)
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
    ) -> Result<Vec<Instant>, HostError> {
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
pub struct Session {
    instance: Instance,
    plan: ResourceAny,
}

/// The output size of a list of requests.
fn requests_size(r: &Result<Vec<HttpRequest>, RenderError>) -> usize {
    r.as_ref().map_or(0, |v| v.wire_size())
}

impl Session {
    /// Warnings found while compiling.
    pub fn warnings(&mut self) -> Result<Vec<Problem>, HostError> {
        let plan = self.plan;
        self.instance.call(
            0,
            |_| 0,
            |store, b| {
                b.connect_webhook_provider()
                    .plan()
                    .call_warnings(store, plan)
            },
        )
    }

    /// Fuel left after the last call.
    pub fn fuel_left(&self) -> u64 {
        self.instance.fuel_left()
    }

    /// Record changes to requests.
    pub fn on_changes(
        &mut self,
        changes: &[RecordChange],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        let plan = self.plan;
        self.instance
            .call(
                changes.wire_size() + context.wire_size(),
                requests_size,
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_on_changes(store, plan, changes, context)
                },
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
        let plan = self.plan;
        self.instance
            .call(
                members.wire_size() + context.wire_size(),
                requests_size,
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_on_demand(store, plan, mode, members, context)
                },
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
        let plan = self.plan;
        self.instance
            .call(
                schedule.len() + members.wire_size() + context.wire_size(),
                requests_size,
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_on_schedule(store, plan, schedule, members, context)
                },
            )?
            .map_err(HostError::Render)
    }

    /// The next fire time of a schedule strictly after `after`.
    pub fn next_fire(
        &mut self,
        schedule: &str,
        after: Instant,
    ) -> Result<Option<Instant>, HostError> {
        let plan = self.plan;
        self.instance
            .call(
                schedule.len(),
                |_| 0,
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_next_fire(store, plan, schedule, after)
                },
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
        let plan = self.plan;
        self.instance
            .call(
                schedule.len(),
                |_| 0,
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_preview(store, plan, schedule, after, count)
                },
            )?
            .map_err(HostError::Render)
    }

    /// The OAuth token request.
    pub fn token_request(&mut self) -> Result<HttpRequest, HostError> {
        let plan = self.plan;
        self.instance
            .call(
                0,
                |r: &Result<HttpRequest, RenderError>| r.as_ref().map_or(0, |r| r.wire_size()),
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_token_request(store, plan)
                },
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
        let plan = self.plan;
        self.instance.call(
            body.len(),
            |_| 0,
            |store, b| {
                b.connect_webhook_provider()
                    .plan()
                    .call_accept_token(store, plan, status, body, now)
            },
        )
    }

    /// What to do with a response.
    pub fn classify(
        &mut self,
        status: u16,
        headers: &[Header],
        now: Instant,
    ) -> Result<Verdict, HostError> {
        let plan = self.plan;
        self.instance.call(
            headers.wire_size(),
            |_| 0,
            |store, b| {
                b.connect_webhook_provider()
                    .plan()
                    .call_classify(store, plan, status, headers, now)
            },
        )
    }

    /// Re-sign a request for a new attempt.
    pub fn sign(&mut self, request: &HttpRequest, now: Instant) -> Result<HttpRequest, HostError> {
        let plan = self.plan;
        self.instance
            .call(
                request.wire_size(),
                |r: &Result<HttpRequest, RenderError>| r.as_ref().map_or(0, |r| r.wire_size()),
                |store, b| {
                    b.connect_webhook_provider()
                        .plan()
                        .call_sign(store, plan, request, now)
                },
            )?
            .map_err(HostError::Render)
    }
}
