//! The scheduler on a simulated clock: exact fire instants across daylight-saving changes
//! in two zones through the real component, forward and backward clock jumps, early
//! wakes, per-fire errors, and paging into the sink.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::OnceLock;

use host_test::bindings::{HttpMethod, HttpRequest, Member, RenderContext, RenderError};
use host_test::scheduler::{
    Event, Fire, FireErrorKind, MemberStore, MemoryMembers, PAGE_MEMBERS, Plan, Scheduler,
    SimClock, Sink, id_seed, page_size,
};
use host_test::{HostError, Limits, Runtime, formats, time::instant};
use jiff::{SignedDuration, Timestamp};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// One runtime for the whole file: loading the component takes seconds in a debug build.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(Limits::default()).expect("the component loads"))
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const STRATEGY: &str = "Customers on two clocks";
const QUARTER: &str = "Quarter-hourly";
const NIGHTLY: &str = "Nightly New York";

/// The two-zone strategy (`*/15 * * * *` UTC and `0 2 * * *` America/New_York), compiled
/// by the component, loaded with the members file, firing after `since`.
fn two_zones(since: Timestamp) -> Scheduler {
    let config = formats::read_configuration(&data("no-oauth.config.json")).unwrap();
    let strategy = formats::read_strategy(&data("two-zones.strategy.json")).unwrap();
    let session = runtime().session(&config, &strategy).unwrap();
    let members = MemoryMembers(formats::read_members(&data("members.json")).unwrap());
    let mut s = Scheduler::new();
    s.add(&strategy, Box::new(session), Box::new(members), since)
        .unwrap();
    s
}

/// Collects what reaches the sink.
#[derive(Default)]
struct Collect(Vec<(String, String, Timestamp, Vec<HttpRequest>)>);

impl Sink for Collect {
    fn deliver(&mut self, strategy: &str, schedule: &str, fire: Timestamp, r: Vec<HttpRequest>) {
        self.0.push((strategy.into(), schedule.into(), fire, r));
    }
}

/// Run the scheduler on `clock` until `until`; return every fire. Every fire must render
/// and reach the sink: each delivery is checked to carry every member, rendered at the
/// fire instant.
fn run(s: &mut Scheduler, clock: &mut SimClock, until: Timestamp) -> Vec<Fire> {
    let mut sink = Collect::default();
    let mut fires = Vec::new();
    s.run(clock, &mut sink, Some(until), &mut |e| match e {
        Event::Fired { fire, .. } => fires.push(fire),
        Event::FireFailed { error, .. } => panic!("unexpected failure: {error}"),
        Event::ScheduleFailed(e) => panic!("unexpected failure: {e}"),
    });
    let members = formats::read_members(&data("members.json")).unwrap().len();
    assert_eq!(sink.0.len(), fires.len(), "one delivery per fire");
    for ((strategy, schedule, at, requests), fire) in sink.0.iter().zip(&fires) {
        assert_eq!(
            (strategy.as_str(), schedule.as_str(), *at),
            (fire.strategy.as_str(), fire.schedule.as_str(), fire.at)
        );
        let carried: usize = requests.iter().map(|r| r.member_codes.len()).sum();
        assert_eq!(
            carried, members,
            "every member is sent (the schedules have no filter)"
        );
        for r in requests {
            let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["SentAt"], at.to_string(), "NOW is the fire instant");
        }
    }
    fires
}

fn instants(fires: &[Fire], schedule: &str) -> Vec<Timestamp> {
    fires
        .iter()
        .filter(|f| f.schedule == schedule)
        .map(|f| f.at)
        .collect()
}

/// Every quarter hour in `(from, to]`, computed without the component.
fn quarters(from: Timestamp, to: Timestamp) -> Vec<Timestamp> {
    let mut s = from.as_second().div_euclid(900) * 900 + 900;
    let mut out = Vec::new();
    while s <= to.as_second() {
        out.push(Timestamp::from_second(s).unwrap());
        s += 900;
    }
    out
}

#[test]
fn two_zones_fire_at_exactly_the_right_instants_across_spring_forward() {
    let since = t("2016-03-12T00:00:00Z");
    let until = t("2016-03-14T12:00:00Z");
    let mut s = two_zones(since);
    let mut clock = SimClock::new(since);
    let fires = run(&mut s, &mut clock, until);
    assert_eq!(instants(&fires, QUARTER), quarters(since, until));
    assert_eq!(instants(&fires, QUARTER).len(), 240);
    // 02:00 EST, then 02:00 does not exist (03:00 EDT, the first instant after the gap),
    // then 02:00 EDT.
    assert_eq!(
        instants(&fires, NIGHTLY),
        [
            t("2016-03-12T07:00:00Z"),
            t("2016-03-13T07:00:00Z"),
            t("2016-03-14T06:00:00Z")
        ]
    );
    assert!(fires.iter().all(|f| f.strategy == STRATEGY));
    // Events come in time order.
    assert!(fires.windows(2).all(|w| w[0].at <= w[1].at));
    assert_eq!(
        s.last_fired(STRATEGY, NIGHTLY),
        Some(t("2016-03-14T06:00:00Z"))
    );
}

#[test]
fn a_fixed_time_fires_once_across_fall_back() {
    let since = t("2016-11-05T00:00:00Z");
    let until = t("2016-11-07T12:00:00Z");
    let mut s = two_zones(since);
    let mut clock = SimClock::new(since);
    let fires = run(&mut s, &mut clock, until);
    assert_eq!(instants(&fires, QUARTER), quarters(since, until));
    assert_eq!(
        instants(&fires, NIGHTLY),
        [
            t("2016-11-05T06:00:00Z"),
            t("2016-11-06T07:00:00Z"),
            t("2016-11-07T07:00:00Z")
        ]
    );
}

#[test]
fn early_wakes_change_nothing() {
    let since = t("2016-03-12T20:00:00Z");
    let until = t("2016-03-13T10:00:00Z");
    let mut exact = SimClock::new(since);
    let expected = run(&mut two_zones(since), &mut exact, until);
    let mut early = SimClock::new(since).waking_every(SignedDuration::from_mins(7));
    let got = run(&mut two_zones(since), &mut early, until);
    assert_eq!(got, expected);
    assert!(early.wakes() > exact.wakes() * 2, "{} wakes", early.wakes());
}

#[test]
fn a_forward_jump_fires_each_missed_schedule_once_at_its_latest_instant() {
    let since = t("2016-03-12T00:00:00Z");
    let mut s = two_zones(since);
    let mut clock = SimClock::new(since);
    let before = run(&mut s, &mut clock, t("2016-03-12T10:00:00Z"));
    assert_eq!(before.last().unwrap().at, t("2016-03-12T10:00:00Z"));

    // The clock jumps two days ahead, over 192 quarter hours and two nightly runs.
    clock.set(t("2016-03-14T10:07:00Z"));
    let after = run(&mut s, &mut clock, t("2016-03-14T11:00:00Z"));
    assert_eq!(
        after[..2],
        [
            Fire {
                strategy: STRATEGY.into(),
                schedule: QUARTER.into(),
                at: t("2016-03-14T10:00:00Z"),
                skipped_earlier: true,
            },
            Fire {
                strategy: STRATEGY.into(),
                schedule: NIGHTLY.into(),
                at: t("2016-03-14T06:00:00Z"),
                skipped_earlier: true,
            },
        ]
    );
    // Then it continues from now, with no stale fire.
    assert_eq!(
        instants(&after[2..], QUARTER),
        quarters(t("2016-03-14T10:07:00Z"), t("2016-03-14T11:00:00Z"))
    );
    assert!(instants(&after[2..], NIGHTLY).is_empty());
}

#[test]
fn due_marks_dropped_fires_after_a_jump() {
    let since = t("2016-03-12T00:00:00Z");
    let mut s = two_zones(since);
    // Fires are strictly after `since`: 00:15 and 00:30 have passed; 00:30 fires.
    let (fires, errors) = s.due(t("2016-03-12T00:35:00Z"));
    assert!(errors.is_empty());
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].at, t("2016-03-12T00:30:00Z"));
    assert!(fires[0].skipped_earlier, "00:15 was dropped");
    let (fires, _) = s.due(t("2016-03-12T00:45:00Z"));
    assert_eq!(fires.len(), 1);
    assert_eq!(fires[0].at, t("2016-03-12T00:45:00Z"));
    assert!(!fires[0].skipped_earlier);
    // Deciding again at the same time fires nothing.
    assert!(s.due(t("2016-03-12T00:45:00Z")).0.is_empty());
    assert_eq!(s.next_wake(), Some(t("2016-03-12T01:00:00Z")));
}

#[test]
fn a_backward_jump_does_not_fire_again_what_already_fired() {
    let since = t("2016-03-12T00:00:00Z");
    let mut s = two_zones(since);
    let mut clock = SimClock::new(since);
    let before = run(&mut s, &mut clock, t("2016-03-12T10:00:00Z"));
    assert_eq!(instants(&before, QUARTER).len(), 40);
    // The clock is set back an hour; the schedules recompute from the new now but
    // nothing at or before a schedule's last fire runs again.
    clock.set(t("2016-03-12T09:00:00Z"));
    let after = run(&mut s, &mut clock, t("2016-03-12T11:00:00Z"));
    assert_eq!(
        instants(&after, QUARTER),
        quarters(t("2016-03-12T10:00:00Z"), t("2016-03-12T11:00:00Z"))
    );
    assert!(instants(&after, NIGHTLY).is_empty());
    assert_eq!(
        s.last_fired(STRATEGY, QUARTER),
        Some(t("2016-03-12T11:00:00Z"))
    );
}

#[test]
fn a_strategy_name_is_loaded_once() {
    let config = formats::read_configuration(&data("no-oauth.config.json")).unwrap();
    let strategy = formats::read_strategy(&data("two-zones.strategy.json")).unwrap();
    let mut s = Scheduler::new();
    let since = t("2016-01-01T00:00:00Z");
    for expect_ok in [true, false] {
        let session = runtime().session(&config, &strategy).unwrap();
        let r = s.add(
            &strategy,
            Box::new(session),
            Box::new(MemoryMembers::default()),
            since,
        );
        assert_eq!(r.is_ok(), expect_ok, "{r:?}");
    }
}

// ---- paging and the sink, on a stand-in plan that renders one request per batch ----

/// What the stand-in plan saw: schedule, member codes and context of each call.
type Calls = Rc<RefCell<Vec<(String, Vec<String>, RenderContext)>>>;

/// Fires every hour; renders one request per `batch` members; fails on `fail_page`.
struct Hourly {
    batch: usize,
    fail_page: Option<usize>,
    calls: Calls,
}

impl Plan for Hourly {
    fn next_fire(&mut self, _: &str, after: Timestamp) -> Result<Option<Timestamp>, HostError> {
        let s = after.as_second().div_euclid(3600) * 3600 + 3600;
        Ok(Some(Timestamp::from_second(s).unwrap()))
    }

    fn on_schedule(
        &mut self,
        schedule: &str,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        let codes: Vec<String> = members.iter().map(|m| m.code.clone()).collect();
        let page = self.calls.borrow().len();
        self.calls
            .borrow_mut()
            .push((schedule.into(), codes.clone(), context.clone()));
        if self.fail_page == Some(page) {
            return Err(HostError::Render(RenderError::Unsupported(
                "on-schedule".into(),
            )));
        }
        Ok(codes
            .chunks(self.batch)
            .enumerate()
            .map(|(i, chunk)| HttpRequest {
                method: HttpMethod::Post,
                url: "https://example.test/".into(),
                headers: vec![],
                body: vec![],
                member_codes: chunk.to_vec(),
                delivery_id: format!("{}-{i}", context.id_seed),
            })
            .collect())
    }
}

fn member(i: usize) -> Member {
    Member {
        code: format!("M{i:05}"),
        attributes: vec![],
    }
}

/// A strategy with one schedule, batch size `batch`, and `n` members.
fn paged(batch: u32, n: usize, fail_page: Option<usize>) -> (Scheduler, Calls) {
    let mut strategy = formats::read_strategy(&data("two-zones.strategy.json")).unwrap();
    strategy.run_options.batch_size = batch;
    strategy.schedules.truncate(1);
    let calls = Calls::default();
    let plan = Hourly {
        batch: batch as usize,
        fail_page,
        calls: calls.clone(),
    };
    let members = MemoryMembers((0..n).map(member).collect());
    let mut s = Scheduler::new();
    s.add(
        &strategy,
        Box::new(plan),
        Box::new(members),
        t("2024-01-01T00:00:00Z"),
    )
    .unwrap();
    (s, calls)
}

#[test]
fn a_fire_pages_every_member_through_on_schedule_into_the_sink() {
    let (mut s, calls) = paged(50, 2 * PAGE_MEMBERS + 50, None);
    let mut sink = Collect::default();
    let (fires, _) = s.due(t("2024-01-01T01:00:00Z"));
    let (pages, requests) = s.run_fire(&fires[0], &mut sink).unwrap();
    assert_eq!((pages, requests), (3, 41));
    let calls = calls.borrow();
    let sizes: Vec<usize> = calls.iter().map(|c| c.1.len()).collect();
    assert_eq!(sizes, [PAGE_MEMBERS, PAGE_MEMBERS, 50]);
    // Every member once, in order.
    let codes: Vec<String> = calls.iter().flat_map(|c| c.1.clone()).collect();
    assert_eq!(
        codes,
        (0..2 * PAGE_MEMBERS + 50)
            .map(|i| member(i).code)
            .collect::<Vec<_>>()
    );
    // The context: now is the fire, no tokens, a seed per page from the fire.
    let at = t("2024-01-01T01:00:00Z");
    for (page, (schedule, _, ctx)) in calls.iter().enumerate() {
        assert_eq!(schedule, QUARTER);
        assert_eq!(instant::to_timestamp(ctx.now), Some(at));
        assert_eq!(ctx.access_token, None);
        assert_eq!(ctx.platform_token, None);
        assert_eq!(ctx.id_seed, id_seed(STRATEGY, QUARTER, at, page as u64));
    }
    // The sink got each page's requests, tagged with the fire.
    assert_eq!(sink.0.len(), 3);
    assert!(
        sink.0
            .iter()
            .all(|d| d.0 == STRATEGY && d.1 == QUARTER && d.2 == at)
    );
    assert_eq!(sink.0.iter().map(|d| d.3.len()).sum::<usize>(), 41);
}

#[test]
fn a_rerun_of_the_same_fire_renders_the_same_seeds() {
    let fire = Fire {
        strategy: STRATEGY.into(),
        schedule: QUARTER.into(),
        at: t("2024-01-01T05:00:00Z"),
        skipped_earlier: false,
    };
    let mut seeds = Vec::new();
    for _ in 0..2 {
        let (mut s, calls) = paged(10, 25, None);
        s.run_fire(&fire, &mut Collect::default()).unwrap();
        seeds.push(
            calls
                .borrow()
                .iter()
                .map(|c| c.2.id_seed)
                .collect::<Vec<_>>(),
        );
    }
    assert_eq!(seeds[0], seeds[1]);
}

#[test]
fn a_batch_larger_than_a_page_makes_the_page_one_batch() {
    let (mut s, calls) = paged(10_000, 10_001, None);
    assert_eq!(page_size(10_000), 10_000);
    let (fires, _) = s.due(t("2024-01-01T01:00:00Z"));
    assert_eq!(
        s.run_fire(&fires[0], &mut Collect::default()).unwrap(),
        (2, 2)
    );
    let sizes: Vec<usize> = calls.borrow().iter().map(|c| c.1.len()).collect();
    assert_eq!(sizes, [10_000, 1]);
}

/// A store that ignores the page size it is asked for.
struct Greedy(usize);

impl MemberStore for Greedy {
    fn page(&mut self, _: &str, start: usize, _size: usize) -> Result<Vec<Member>, String> {
        Ok((start..self.0).map(member).collect())
    }
}

#[test]
fn a_store_returning_more_than_a_page_is_refused() {
    let mut strategy = formats::read_strategy(&data("two-zones.strategy.json")).unwrap();
    strategy.schedules.truncate(1);
    let calls = Calls::default();
    let plan = Hourly {
        batch: 50,
        fail_page: None,
        calls: calls.clone(),
    };
    let mut s = Scheduler::new();
    s.add(
        &strategy,
        Box::new(plan),
        Box::new(Greedy(PAGE_MEMBERS + 1)),
        t("2024-01-01T00:00:00Z"),
    )
    .unwrap();
    let (fires, _) = s.due(t("2024-01-01T01:00:00Z"));
    let e = s.run_fire(&fires[0], &mut Collect::default()).unwrap_err();
    assert!(
        matches!(
            e.kind,
            FireErrorKind::PageTooLarge {
                asked: 1_000,
                got: 1_001,
                ..
            }
        ),
        "{e}"
    );
    assert!(calls.borrow().is_empty(), "nothing is rendered");
}

#[test]
fn a_failing_page_stops_its_fire_and_the_scheduler_goes_on() {
    let (mut s, calls) = paged(50, 2 * PAGE_MEMBERS + 50, Some(1));
    let mut sink = Collect::default();
    let mut events = Vec::new();
    let clock = SimClock::new(t("2024-01-01T00:00:00Z"));
    s.run(
        &clock,
        &mut sink,
        Some(t("2024-01-01T02:00:00Z")),
        &mut |e| events.push(e),
    );
    assert_eq!(events.len(), 2);
    match &events[0] {
        Event::FireFailed { error: e, .. } => {
            assert!(matches!(
                e.kind,
                FireErrorKind::Render {
                    start: 1_000,
                    len: 1_000,
                    ..
                }
            ));
            let text = e.to_string();
            assert!(
                text.contains("fire at 2024-01-01T01:00:00Z: members 1000 to 1999 were not sent: on-schedule is not supported"),
                "{text}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The first page was delivered, the third never rendered; the next fire ran whole.
    assert!(matches!(
        &events[1],
        Event::Fired {
            pages: 3,
            requests: 41,
            ..
        }
    ));
    assert_eq!(calls.borrow().len(), 2 + 3);
    assert_eq!(sink.0.len(), 1 + 3);
}

/// Hourly for every schedule but `broken`, whose next fire time cannot be computed.
struct OneBroken {
    inner: Hourly,
    broken: &'static str,
}

impl Plan for OneBroken {
    fn next_fire(&mut self, name: &str, after: Timestamp) -> Result<Option<Timestamp>, HostError> {
        if name == self.broken {
            return Err(HostError::Render(RenderError::TimeZone(
                "unknown time zone \"Mars/Olympus\"".into(),
            )));
        }
        self.inner.next_fire(name, after)
    }

    fn on_schedule(
        &mut self,
        name: &str,
        members: &[Member],
        context: &RenderContext,
    ) -> Result<Vec<HttpRequest>, HostError> {
        self.inner.on_schedule(name, members, context)
    }
}

#[test]
fn a_schedule_without_a_next_fire_is_reported_once_and_the_others_go_on() {
    let strategy = formats::read_strategy(&data("two-zones.strategy.json")).unwrap();
    let plan = OneBroken {
        inner: Hourly {
            batch: 50,
            fail_page: None,
            calls: Calls::default(),
        },
        broken: NIGHTLY,
    };
    let mut s = Scheduler::new();
    let since = t("2024-01-01T00:00:00Z");
    s.add(
        &strategy,
        Box::new(plan),
        Box::new(MemoryMembers((0..3).map(member).collect())),
        since,
    )
    .unwrap();
    let mut events = Vec::new();
    s.run(
        &SimClock::new(since),
        &mut Collect::default(),
        Some(t("2024-01-01T03:00:00Z")),
        &mut |e| events.push(e),
    );
    let failed: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::ScheduleFailed(e) => Some(e.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(
        failed,
        [format!(
            "strategy {STRATEGY:?}, schedule {NIGHTLY:?}: cannot compute the next fire time, so the schedule is stopped: time zone: unknown time zone \"Mars/Olympus\""
        )]
    );
    let fired = events
        .iter()
        .filter(|e| matches!(e, Event::Fired { fire, .. } if fire.schedule == QUARTER))
        .count();
    assert_eq!(fired, 3);
}
