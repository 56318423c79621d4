//! Residents' requests, each on SQLite and on PostgreSQL: the lifecycle with its timeline
//! (return and reopen included), refused steps, deadlines and the overdue job under a chosen
//! clock, the job lease, whistles and their 30 minutes, the three rates on a fixed set, the
//! resident's status check, Open311 keys, and who sees what.

use linli_core::kernel::clock::now_ms;
use linli_core::kernel::labels::Labelled;
use linli_core::requests::{
    Action, CategoryRule, Channel, RequestDraft, RequestInput, Status, Target, WhistleState,
};
use linli_core::{Role, Scope};
use linli_store::requests::{self, InboxFilter, Open311Filter, View};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, Page, StoreError};

use crate::support::{audited, op, street_tree, Street};

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;
/// 2026-12-05T10:00:00+08:00.
const T0: i64 = 1_796_436_000_000;

struct World {
    street: Node,
    community_a: Node,
    community_b: Node,
    grid_a: Node,
    official: Scope,
    staff_a: Scope,
    staff_b: Scope,
    worker_a: Scope,
}

async fn world(db: &Db) -> World {
    let Street {
        street,
        community_a,
        community_b,
        grid_a,
        ..
    } = street_tree(db, None).await;
    World {
        official: Scope::for_user(1, "official", Role::Official, vec![street.path.clone()]),
        staff_a: Scope::for_user(2, "staff_a", Role::Staff, vec![community_a.path.clone()]),
        staff_b: Scope::for_user(3, "staff_b", Role::Staff, vec![community_b.path.clone()]),
        worker_a: Scope::for_user(4, "worker_a", Role::GridWorker, vec![grid_a.path.clone()]),
        street,
        community_a,
        community_b,
        grid_a,
    }
}

fn draft(description: &str, phone: Option<&str>) -> RequestDraft {
    RequestDraft::parse(&RequestInput {
        description,
        address: Some("3栋2单元"),
        reporter_name: Some("王阿姨"),
        reporter_phone: phone,
        ..Default::default()
    })
    .unwrap()
}

async fn hotline(
    db: &Db,
    scope: &Scope,
    node: &Node,
    category: &str,
    at: i64,
) -> requests::Request {
    requests::create(
        db,
        scope,
        node.id,
        category,
        Channel::Hotline,
        &draft("楼道灯坏了一周", Some("13612348609")),
        at,
    )
    .await
    .unwrap()
}

fn dispatch_to(node: &Node) -> Action {
    Action::Dispatch {
        target: Target::Node(node.id),
    }
}

/// `who` takes `action` on request `id` at `at`.
async fn step(
    db: &Db,
    who: &Scope,
    id: i64,
    action: Action,
    at: i64,
) -> Result<requests::Request, StoreError> {
    requests::transition(db, who, id, &action, at).await
}

fn resolve(outcome: &str) -> Action {
    Action::resolve_with(outcome).unwrap()
}

fn rate(rating: &str, comment: &str) -> Action {
    Action::rate_with(rating, comment).unwrap()
}

fn reopen(reason: &str) -> Action {
    Action::reopen_with(reason).unwrap()
}

fn close(note: &str) -> Action {
    Action::close_with(note).unwrap()
}

fn send_back(reason: &str) -> Action {
    Action::return_with(reason).unwrap()
}

async fn kinds(db: &Db, id: i64) -> Vec<String> {
    requests::timeline(db, &op(), id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind.as_str().to_owned())
        .collect()
}

both_backends!(the_lifecycle_with_return_and_reopen, |db: Db| async move {
    let w = world(&db).await;
    let r = hotline(&db, &w.official, &w.street, "general", T0).await;
    assert_eq!(r.status, Status::Received);
    assert_eq!(r.channel, Channel::Hotline);
    assert_eq!(r.reporter_phone_masked.as_deref(), Some("136****8609"));
    assert_eq!(r.respond_by, T0 + 24 * HOUR);
    assert_eq!(r.resolve_by, T0 + 7 * DAY);
    assert_eq!(r.tracking_number.len(), 14);
    assert!(r.tracking_number.starts_with("20261205"));

    // Dispatched to community B, which returns it: back to the street.
    let r = step(
        &db,
        &w.official,
        r.id,
        dispatch_to(&w.community_b),
        T0 + HOUR,
    )
    .await
    .unwrap();
    assert_eq!(
        (r.status, r.node_id),
        (Status::Dispatched, w.community_b.id)
    );
    requests::get(&db, &w.staff_b, r.id).await.unwrap();
    let r = step(
        &db,
        &w.staff_b,
        r.id,
        send_back("不在本社区"),
        T0 + 2 * HOUR,
    )
    .await
    .unwrap();
    assert_eq!((r.status, r.node_id), (Status::Returned, w.street.id));
    assert!(matches!(
        requests::get(&db, &w.staff_b, r.id).await,
        Err(StoreError::NotFound)
    ));

    // Dispatched again, to A: accepted (the response), worked, resolved.
    let r = step(
        &db,
        &w.official,
        r.id,
        dispatch_to(&w.community_a),
        T0 + 3 * HOUR,
    )
    .await
    .unwrap();
    let r = step(&db, &w.staff_a, r.id, Action::Accept, T0 + 4 * HOUR)
        .await
        .unwrap();
    assert_eq!(r.responded_at, Some(T0 + 4 * HOUR));
    assert_eq!(r.handler_user_id, Some(2));
    let r = step(&db, &w.staff_a, r.id, Action::Start, T0 + 5 * HOUR)
        .await
        .unwrap();
    let r = step(&db, &w.staff_a, r.id, resolve("更换了灯泡"), T0 + DAY)
        .await
        .unwrap();
    assert_eq!(r.status, Status::Resolved);
    assert_eq!(r.outcome.as_deref(), Some("更换了灯泡"));

    // The resident is not satisfied and staff reopen it: a fresh resolution deadline.
    let r = step(
        &db,
        &w.staff_a,
        r.id,
        rate("不满意", "灯还是不亮"),
        T0 + 2 * DAY,
    )
    .await
    .unwrap();
    assert_eq!(r.status, Status::Rated);
    let r = step(
        &db,
        &w.staff_a,
        r.id,
        reopen("居民反映仍未解决"),
        T0 + 3 * DAY,
    )
    .await
    .unwrap();
    assert_eq!(r.status, Status::Received);
    assert_eq!((r.rating, r.resolved_at), (None, None));
    assert_eq!(r.resolve_by, T0 + 3 * DAY + 7 * DAY);
    assert_eq!(
        r.responded_at,
        Some(T0 + 4 * HOUR),
        "the first response stays"
    );

    // Round two ends satisfied, which closes it.
    let r = step(&db, &w.staff_a, r.id, dispatch_to(&w.grid_a), T0 + 3 * DAY)
        .await
        .unwrap();
    let r = step(&db, &w.worker_a, r.id, Action::Accept, T0 + 3 * DAY + HOUR)
        .await
        .unwrap();
    let r = step(&db, &w.worker_a, r.id, resolve("更换了线路"), T0 + 4 * DAY)
        .await
        .unwrap();
    let r = step(&db, &w.staff_a, r.id, rate("satisfied", ""), T0 + 5 * DAY)
        .await
        .unwrap();
    assert_eq!(r.status, Status::Closed);
    assert_eq!(r.closed_at, Some(T0 + 5 * DAY));

    // The two rounds, each from intake (or reopening) to its rating.
    let rounds = [
        "received dispatched returned dispatched accepted started resolved rated",
        "reopened dispatched accepted resolved rated closed",
    ];
    assert_eq!(kinds(&db, r.id).await.join(" "), rounds.join(" "));
    let tl = requests::timeline(&db, &op(), r.id).await.unwrap();
    assert_eq!(tl[2].note.as_deref(), Some("不在本社区"));
    assert_eq!(tl[2].actor, "staff_b");
    assert_eq!(tl[6].note.as_deref(), Some("更换了灯泡"));
});

both_backends!(refused_steps_change_nothing, |db: Db| async move {
    let w = world(&db).await;
    let r = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    let before = kinds(&db, r.id).await;
    let e = step(&db, &w.staff_a, r.id, Action::Accept, T0 + 1)
        .await
        .unwrap_err();
    match e {
        StoreError::Invalid(errs) => {
            assert_eq!(errs[0].field, "action");
            assert_eq!(
                errs[0].message,
                "诉求当前为「已受理」，不能接单（只有「已派单」的诉求可以接单）"
            );
        }
        other => panic!("{other:?}"),
    }
    for action in [
        Action::resolve_with("x").unwrap(),
        Action::rate_with("satisfied", "").unwrap(),
        Action::close_with("").unwrap(),
        Action::reopen_with("x").unwrap(),
        Action::Start,
    ] {
        assert!(matches!(
            step(&db, &w.staff_a, r.id, action, T0 + 1).await,
            Err(StoreError::Invalid(_))
        ));
    }
    // Grid workers do not dispatch; nobody dispatches outside their jurisdiction.
    assert!(
        matches!(
            step(&db, &w.worker_a, r.id, dispatch_to(&w.grid_a), T0 + 1).await,
            Err(StoreError::NotFound)
        ),
        "the request sits on the community: the grid worker does not see it"
    );
    let e = step(&db, &w.staff_a, r.id, dispatch_to(&w.community_b), T0 + 1)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "node_id"),
        "{e:?}"
    );
    let e = step(
        &db,
        &w.staff_a,
        r.id,
        Action::Dispatch {
            target: Target::Department(999),
        },
        T0 + 1,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "department_id"),
        "{e:?}"
    );
    // A satisfied rating cannot be reopened.
    let r = step(&db, &w.staff_a, r.id, dispatch_to(&w.grid_a), T0 + 2)
        .await
        .unwrap();
    let r = step(&db, &w.worker_a, r.id, Action::Accept, T0 + 3)
        .await
        .unwrap();
    let e = step(&db, &w.worker_a, r.id, dispatch_to(&w.grid_a), T0 + 4)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
    let r = step(&db, &w.worker_a, r.id, resolve("已处理"), T0 + 5)
        .await
        .unwrap();
    let r = step(&db, &w.staff_a, r.id, rate("基本满意", ""), T0 + 6)
        .await
        .unwrap();
    let e = step(&db, &w.staff_a, r.id, reopen("再看看"), T0 + 7)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Invalid(ref errs) if errs[0].message.contains("不满意")),
        "{e:?}"
    );
    assert_eq!(
        kinds(&db, r.id).await.len(),
        before.len() + 5,
        "dispatched, accepted, resolved, rated, closed"
    );
    // Bad intake stores nothing: an unknown category, a node outside the caller's jurisdiction.
    for (at, category, field) in [
        (&w.community_a, "nope", "category"),
        (&w.community_b, "general", "node_id"),
    ] {
        let x = draft("x", None);
        let e = requests::create(&db, &w.staff_a, at.id, category, Channel::Hotline, &x, T0)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref errs) if errs[0].field == field),
            "{e:?}"
        );
    }
    let all = requests::list(
        &db,
        &op(),
        &InboxFilter::default(),
        Page::new(None, None),
        T0,
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 1);
});

both_backends!(deadlines_and_the_overdue_job, |db: Db| async move {
    let w = world(&db).await;
    let urgent = hotline(&db, &w.staff_a, &w.community_a, "emergency", T0).await;
    let general = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    let complex = hotline(&db, &w.staff_a, &w.community_a, "complex", T0).await;
    assert_eq!(urgent.respond_by, T0 + 2 * HOUR);
    assert_eq!(urgent.resolve_by, T0 + DAY);

    // Nothing is late at 2 h exactly.
    let run = requests::run_overdue(&db, T0 + 2 * HOUR).await.unwrap();
    assert_eq!(run, requests::OverdueRun::default());
    // One ms later the emergency's response is late, and its rule escalates it at once.
    let run = requests::run_overdue(&db, T0 + 2 * HOUR + 1).await.unwrap();
    assert_eq!(
        (run.response_overdue, run.resolution_overdue, run.escalated),
        (1, 0, 1)
    );
    let u = requests::get(&db, &op(), urgent.id).await.unwrap();
    assert_eq!(u.response_overdue_at, Some(T0 + 2 * HOUR + 1));
    assert_eq!(u.escalated_node_id, Some(w.street.id));
    assert_eq!(
        kinds(&db, urgent.id).await,
        ["received", "response_overdue", "escalated"]
    );
    let tl = requests::timeline(&db, &op(), urgent.id).await.unwrap();
    assert_eq!(tl[2].note.as_deref(), Some("已升级至建塘镇"));
    assert_eq!(tl[2].actor, "system");
    // Idempotent.
    assert_eq!(
        requests::run_overdue(&db, T0 + 3 * HOUR).await.unwrap(),
        requests::OverdueRun::default()
    );

    // The general request is accepted in time; after 7 days it is late to resolve and escalated.
    step(
        &db,
        &w.staff_a,
        general.id,
        dispatch_to(&w.grid_a),
        T0 + HOUR,
    )
    .await
    .unwrap();
    step(&db, &w.worker_a, general.id, Action::Accept, T0 + 2 * HOUR)
        .await
        .unwrap();
    let run = requests::run_overdue(&db, T0 + 7 * DAY + 1).await.unwrap();
    // urgent: resolution late (already escalated); general: resolution late + escalated;
    // complex: response late at 24 h, resolution not yet (15 days), never escalated.
    assert_eq!(
        (run.response_overdue, run.resolution_overdue, run.escalated),
        (1, 2, 1)
    );
    let g = requests::get(&db, &op(), general.id).await.unwrap();
    assert!(g.response_overdue_at.is_none());
    assert_eq!(g.resolution_overdue_at, Some(T0 + 7 * DAY + 1));
    assert!(g.escalated_at.is_some());
    let c = requests::get(&db, &op(), complex.id).await.unwrap();
    assert!(c.response_overdue_at.is_some() && c.escalated_at.is_none());
    assert!(c.response_late(T0 + 7 * DAY) && !c.resolution_late(T0 + 7 * DAY));

    // The inbox's overdue view at a chosen time.
    let overdue = |now| {
        let db = db.clone();
        let scope = w.staff_a.clone();
        async move {
            let f = InboxFilter {
                view: View::Overdue,
                ..Default::default()
            };
            let mut ids: Vec<i64> = requests::list(&db, &scope, &f, Page::new(None, None), now)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(overdue(T0 + HOUR).await, Vec::<i64>::new());
    assert_eq!(overdue(T0 + 3 * HOUR).await, vec![urgent.id]);
    assert_eq!(
        overdue(T0 + 8 * DAY).await,
        vec![urgent.id, general.id, complex.id]
    );
});

both_backends!(one_lease_holder_at_a_time, |db: Db| async move {
    let ttl = 60_000;
    assert!(requests::take_lease(&db, "job", "server-a", T0, ttl)
        .await
        .unwrap());
    assert!(!requests::take_lease(&db, "job", "server-b", T0 + 1, ttl)
        .await
        .unwrap());
    // The holder renews.
    assert!(
        requests::take_lease(&db, "job", "server-a", T0 + 30_000, ttl)
            .await
            .unwrap()
    );
    assert!(
        !requests::take_lease(&db, "job", "server-b", T0 + 60_000, ttl)
            .await
            .unwrap()
    );
    // Expired: the other takes it, and the first no longer has it.
    assert!(
        requests::take_lease(&db, "job", "server-b", T0 + 90_000, ttl)
            .await
            .unwrap()
    );
    assert!(
        !requests::take_lease(&db, "job", "server-a", T0 + 90_001, ttl)
            .await
            .unwrap()
    );
    // Another job's lease is separate.
    assert!(requests::take_lease(&db, "other", "server-a", T0, ttl)
        .await
        .unwrap());
    // Released by its holder only.
    requests::release_lease(&db, "job", "server-a")
        .await
        .unwrap();
    assert!(
        !requests::take_lease(&db, "job", "server-a", T0 + 90_002, ttl)
            .await
            .unwrap()
    );
    requests::release_lease(&db, "job", "server-b")
        .await
        .unwrap();
    assert!(
        requests::take_lease(&db, "job", "server-a", T0 + 90_003, ttl)
            .await
            .unwrap()
    );

    // Racing: of many takers at the same instant, exactly one wins.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            requests::take_lease(&db, "race", &format!("server-{i}"), T0, ttl)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);

    // The deadlines job runs only for the lease holder.
    assert!(requests::run_deadlines_job(&db, "server-a", T0, ttl)
        .await
        .unwrap()
        .is_some());
    assert!(requests::run_deadlines_job(&db, "server-b", T0 + 1, ttl)
        .await
        .unwrap()
        .is_none());
});

both_backends!(
    whistles_must_be_answered_in_thirty_minutes,
    |db: Db| async move {
        let w = world(&db).await;
        let water = requests::create_department(&db, &w.official, "水务所", T0)
            .await
            .unwrap();
        let city = requests::create_department(&db, &w.official, "城管执法队", T0)
            .await
            .unwrap();
        assert!(matches!(
            requests::create_department(&db, &w.staff_a, "派出所", T0).await,
            Err(StoreError::Forbidden(_))
        ));
        let r = hotline(&db, &w.official, &w.street, "complex", T0).await;
        assert!(matches!(
            requests::blow_whistle(&db, &w.worker_a, r.id, &[water.id], T0).await,
            Err(StoreError::NotFound)
        ));
        let ws = requests::blow_whistle(&db, &w.official, r.id, &[water.id, city.id], T0)
            .await
            .unwrap();
        assert_eq!(ws.len(), 2);
        assert!(ws
            .iter()
            .all(|x| x.due_at == T0 + 30 * 60_000 && x.state == WhistleState::Waiting));
        let e = requests::blow_whistle(&db, &w.official, r.id, &[water.id], T0 + 1)
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Conflict { ref field, .. } if field == "department_ids"),
            "{e:?}"
        );

        // The water office reports at 29 minutes; the city team does not.
        let ack = requests::acknowledge_whistle(
            &db,
            &w.official,
            ws[0].id,
            "已派人到场",
            T0 + 29 * 60_000,
        )
        .await
        .unwrap();
        assert_eq!(ack.state, WhistleState::OnTime);
        assert!(matches!(
            requests::acknowledge_whistle(&db, &w.official, ws[0].id, "再报", T0 + 29 * 60_000)
                .await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(
            requests::unanswered_whistles(&db, &w.official, T0 + 30 * 60_000)
                .await
                .unwrap()
                .is_empty()
        );
        let red = requests::unanswered_whistles(&db, &w.official, T0 + 31 * 60_000)
            .await
            .unwrap();
        assert_eq!(red.len(), 1);
        assert_eq!(red[0].department_name, "城管执法队");
        assert!(
            requests::unanswered_whistles(&db, &w.staff_b, T0 + 31 * 60_000)
                .await
                .unwrap()
                .is_empty()
        );
        let late =
            requests::acknowledge_whistle(&db, &w.official, ws[1].id, "已到场", T0 + 45 * 60_000)
                .await
                .unwrap();
        assert_eq!(late.state, WhistleState::Late);
        let e = requests::acknowledge_whistle(&db, &w.official, ws[1].id, " ", T0)
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            StoreError::Invalid(_) | StoreError::Conflict { .. }
        ));
        assert_eq!(
            kinds(&db, r.id).await,
            [
                "received",
                "whistled",
                "whistle_acknowledged",
                "whistle_acknowledged"
            ]
        );
    }
);

/// Walks a request through to the given end state at fixed times.
async fn walk(db: &Db, w: &World, accept_after: Option<i64>, end: &str) -> i64 {
    let r = hotline(db, &w.staff_a, &w.community_a, "general", T0).await;
    let Some(after) = accept_after else {
        return r.id;
    };
    step(db, &w.staff_a, r.id, dispatch_to(&w.grid_a), T0 + 1)
        .await
        .unwrap();
    step(db, &w.worker_a, r.id, Action::Accept, T0 + after)
        .await
        .unwrap();
    if end == "accepted" {
        return r.id;
    }
    step(db, &w.worker_a, r.id, resolve("已处理"), T0 + 2 * DAY)
        .await
        .unwrap();
    match end {
        "resolved" => {}
        "closed_unrated" => {
            step(db, &w.staff_a, r.id, close("联系不上"), T0 + 3 * DAY)
                .await
                .unwrap();
        }
        rating => {
            step(db, &w.staff_a, r.id, rate(rating, ""), T0 + 3 * DAY)
                .await
                .unwrap();
            if rating == "dissatisfied" {
                step(db, &w.staff_a, r.id, close("已解释"), T0 + 4 * DAY)
                    .await
                    .unwrap();
            }
        }
    }
    r.id
}

both_backends!(the_three_rates_on_a_fixed_set, |db: Db| async move {
    let w = world(&db).await;
    walk(&db, &w, Some(HOUR), "satisfied").await;
    walk(&db, &w, Some(2 * HOUR), "fairly_satisfied").await;
    walk(&db, &w, Some(30 * HOUR), "dissatisfied").await; // late response
    walk(&db, &w, Some(3 * HOUR), "closed_unrated").await;
    walk(&db, &w, Some(4 * HOUR), "resolved").await;
    walk(&db, &w, Some(40 * HOUR), "accepted").await; // late response
    walk(&db, &w, None, "").await;
    // One in community B, and one received the day after the period.
    hotline(&db, &w.staff_b, &w.community_b, "general", T0).await;
    hotline(&db, &w.staff_a, &w.community_a, "general", T0 + DAY).await;

    let day = linli_core::kernel::clock::parse_date("d", "2026-12-05").unwrap();
    let r = requests::rates(&db, &w.staff_a, w.community_a.id, day, day)
        .await
        .unwrap();
    assert_eq!(r.received, 7);
    assert_eq!(r.responded_on_time, 4);
    assert_eq!(r.closed, 4);
    assert_eq!(r.resolved, 3, "the closed 不满意 one is not resolved");
    assert_eq!(r.rated, 3);
    assert_eq!(r.satisfied, 2);
    assert_eq!(r.response_rate, Some(4.0 / 7.0));
    assert_eq!(r.resolution_rate, Some(0.75));
    assert_eq!(r.satisfaction_rate, Some(2.0 / 3.0));
    assert_eq!(
        r.median_response_ms,
        Some(7 * HOUR / 2),
        "median of 1,2,3,4,30,40 h"
    );
    assert_eq!(r.median_resolution_ms, Some(2 * DAY));

    // The street sees both communities; B's staff cannot ask about A.
    let street = requests::rates(&db, &w.official, w.street.id, day, day)
        .await
        .unwrap();
    assert_eq!(street.received, 8);
    let next = day.next_day().unwrap();
    let two_days = requests::rates(&db, &w.official, w.street.id, day, next)
        .await
        .unwrap();
    assert_eq!(two_days.received, 9);
    assert!(matches!(
        requests::rates(&db, &w.staff_b, w.community_a.id, day, day).await,
        Err(StoreError::NotFound)
    ));
    let e = requests::rates(&db, &w.official, w.street.id, next, day)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "to"));
});

both_backends!(each_community_sees_only_its_requests, |db: Db| async move {
    let w = world(&db).await;
    let a = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    let b = hotline(&db, &w.staff_b, &w.community_b, "general", T0).await;
    let all = |scope: Scope, view: View| {
        let db = db.clone();
        async move {
            requests::list(
                &db,
                &scope,
                &InboxFilter {
                    view,
                    ..Default::default()
                },
                Page::new(None, None),
                T0,
            )
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect::<Vec<_>>()
        }
    };
    assert_eq!(all(w.staff_a.clone(), View::All).await, vec![a.id]);
    assert_eq!(all(w.staff_b.clone(), View::All).await, vec![b.id]);
    assert_eq!(all(w.official.clone(), View::All).await, vec![b.id, a.id]);
    assert_eq!(all(w.worker_a.clone(), View::All).await, Vec::<i64>::new());
    assert_eq!(all(w.staff_a.clone(), View::Mine).await, vec![a.id]);
    assert_eq!(all(w.official.clone(), View::Mine).await, Vec::<i64>::new());
    assert_eq!(all(w.official.clone(), View::New).await, vec![b.id, a.id]);
    let nobody = Scope::for_user(9, "nobody", Role::Staff, vec![]);
    assert_eq!(all(nobody, View::All).await, Vec::<i64>::new());

    for e in [
        requests::get(&db, &w.staff_a, b.id).await.map(|_| ()),
        requests::timeline(&db, &w.staff_a, b.id).await.map(|_| ()),
        step(&db, &w.staff_a, b.id, dispatch_to(&w.grid_a), T0)
            .await
            .map(|_| ()),
        requests::whistles(&db, &w.staff_a, b.id, T0)
            .await
            .map(|_| ()),
        requests::unmask_phone(&db, &w.staff_a, b.id, None, now_ms())
            .await
            .map(|_| ()),
    ] {
        assert!(matches!(e, Err(StoreError::NotFound)), "{e:?}");
    }
    let f = InboxFilter {
        node_id: Some(w.community_b.id),
        ..Default::default()
    };
    assert!(matches!(
        requests::list(&db, &w.staff_a, &f, Page::new(None, None), T0).await,
        Err(StoreError::NotFound)
    ));
    // The grid worker sees it once it is dispatched to the grid; cannot unmask the phone.
    step(&db, &w.staff_a, a.id, dispatch_to(&w.grid_a), T0)
        .await
        .unwrap();
    assert_eq!(all(w.worker_a.clone(), View::New).await, vec![a.id]);
    assert!(matches!(
        requests::unmask_phone(&db, &w.worker_a, a.id, None, now_ms()).await,
        Err(StoreError::Forbidden(_))
    ));
    assert_eq!(
        requests::unmask_phone(&db, &w.staff_a, a.id, Some("10.0.0.1"), now_ms())
            .await
            .unwrap()
            .as_deref(),
        Some("13612348609")
    );
    let audit = audited(&db, "request.unmask").await;
    assert_eq!(audit.len(), 1);
});

both_backends!(
    a_resident_checks_and_rates_their_own_request,
    |db: Db| async move {
        let w = world(&db).await;
        let d = RequestDraft::parse(&RequestInput {
            description: "小区门口垃圾没人清",
            reporter_phone: Some("139 0000 1234"),
            phone_required: true,
            ..Default::default()
        })
        .unwrap();
        let n = requests::create_self_service(&db, w.community_a.id, "general", &d, T0)
            .await
            .unwrap();
        let v = requests::resident_status(&db, n.as_str(), "1234")
            .await
            .unwrap();
        assert_eq!(v.status, Status::Received);
        assert!(!v.can_rate);
        for (num, last4) in [(n.as_str(), "1235"), ("20261205000000", "1234")] {
            assert!(requests::resident_status(&db, num, last4).await.is_err());
        }
        let e = requests::resident_status(&db, n.as_str(), "12")
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "phone_last4"));
        let r = requests::list(
            &db,
            &w.staff_a,
            &InboxFilter::default(),
            Page::new(None, None),
            T0,
        )
        .await
        .unwrap();
        assert_eq!(r[0].channel, Channel::SelfService);
        assert_eq!(r[0].created_by, "居民");
        let id = r[0].id;
        let rate = Action::rate_with("满意", "很快").unwrap();
        assert!(matches!(
            requests::resident_rate(&db, n.as_str(), "1234", &rate, T0 + 1).await,
            Err(StoreError::Invalid(_))
        ));
        step(&db, &w.staff_a, id, dispatch_to(&w.grid_a), T0 + 1)
            .await
            .unwrap();
        step(&db, &w.worker_a, id, Action::Accept, T0 + 2)
            .await
            .unwrap();
        step(&db, &w.worker_a, id, resolve("已清运"), T0 + 3)
            .await
            .unwrap();
        let v = requests::resident_status(&db, n.as_str(), "1234")
            .await
            .unwrap();
        assert!(v.can_rate);
        assert_eq!(v.outcome.as_deref(), Some("已清运"));
        assert!(
            requests::resident_rate(&db, n.as_str(), "9999", &rate, T0 + 4)
                .await
                .is_err()
        );
        let v = requests::resident_rate(&db, n.as_str(), "1234", &rate, T0 + 4)
            .await
            .unwrap();
        assert_eq!(v.status, Status::Closed);
        let tl = requests::timeline(&db, &op(), id).await.unwrap();
        assert_eq!(tl[tl.len() - 2].actor, "居民");
        // A self-service request needs a phone.
        let e =
            requests::create_self_service(&db, w.community_a.id, "general", &draft("x", None), T0)
                .await
                .unwrap_err();
        assert!(matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "reporter_phone"));
    }
);

both_backends!(categories_are_versioned, |db: Db| async move {
    let w = world(&db).await;
    let cats = requests::categories(&db).await.unwrap();
    let codes: Vec<&str> = cats.iter().map(|c| c.rule.code.as_str()).collect();
    assert_eq!(codes, ["emergency", "utilities", "general", "complex"]);
    let old = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    let rule = CategoryRule::parse("general", "一般诉求", "", 12, 5, "never").unwrap();
    assert!(matches!(
        requests::save_category(&db, &w.official, &rule, true, T0).await,
        Err(StoreError::Forbidden(_))
    ));
    let v2 = requests::save_category(&db, &op(), &rule, true, T0)
        .await
        .unwrap();
    assert_eq!(v2.version, 2);
    let new = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    assert_eq!(new.resolve_by, T0 + 5 * DAY);
    assert_eq!(new.respond_by, T0 + 12 * HOUR);
    let old = requests::get(&db, &op(), old.id).await.unwrap();
    assert_eq!(
        old.resolve_by,
        T0 + 7 * DAY,
        "received requests keep their deadlines"
    );
    assert_eq!(
        requests::category_versions(&db, "general")
            .await
            .unwrap()
            .len(),
        2
    );
    // Retired: no longer offered.
    requests::save_category(&db, &op(), &rule, false, T0)
        .await
        .unwrap();
    assert_eq!(requests::categories(&db).await.unwrap().len(), 3);
    let e = requests::create(
        &db,
        &w.staff_a,
        w.community_a.id,
        "general",
        Channel::Hotline,
        &draft("x", None),
        T0,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, StoreError::Invalid(ref errs) if errs[0].field == "category"));
});

both_backends!(open311_keys_file_into_their_node, |db: Db| async move {
    let w = world(&db).await;
    assert!(matches!(
        requests::create_api_key(&db, &w.official, "12345热线", w.community_a.id, T0).await,
        Err(StoreError::Forbidden(_))
    ));
    let (key, secret) = requests::create_api_key(&db, &op(), "12345热线", w.community_a.id, T0)
        .await
        .unwrap();
    assert!(requests::api_key(&db, "wrong").await.unwrap().is_none());
    let found = requests::api_key(&db, &secret).await.unwrap().unwrap();
    assert_eq!((found.id, found.node_id), (key.id, w.community_a.id));
    let r = requests::create_open311(&db, &found, "utilities", &draft("停水了", None), T0)
        .await
        .unwrap();
    assert_eq!((r.channel, r.node_id), (Channel::Open311, w.community_a.id));
    assert_eq!(r.created_by, "open311:12345热线");
    hotline(&db, &w.staff_b, &w.community_b, "general", T0).await;
    let other = hotline(&db, &w.staff_a, &w.community_a, "general", T0 + HOUR).await;
    let ids = |v: Vec<requests::Request>| v.into_iter().map(|r| r.id).collect::<Vec<_>>();
    let list = |f: Open311Filter| {
        let db = db.clone();
        let key = found.clone();
        async move {
            requests::open311_list(&db, &key, &f, T0 + DAY)
                .await
                .unwrap()
        }
    };
    assert_eq!(
        ids(list(Open311Filter::default()).await),
        vec![other.id, r.id]
    );
    assert_eq!(
        ids(list(Open311Filter {
            service_codes: vec!["utilities".into()],
            ..Default::default()
        })
        .await),
        vec![r.id]
    );
    assert_eq!(
        ids(list(Open311Filter {
            ids: vec![r.tracking_number.clone()],
            status: Some("closed".into()),
            ..Default::default()
        })
        .await),
        vec![r.id],
        "ids override the other filters"
    );
    assert_eq!(
        ids(list(Open311Filter {
            status: Some("closed".into()),
            ..Default::default()
        })
        .await),
        Vec::<i64>::new()
    );
    assert_eq!(
        ids(list(Open311Filter {
            start: Some(T0 + 1),
            ..Default::default()
        })
        .await),
        vec![other.id]
    );
    assert_eq!(
        ids(list(Open311Filter {
            end: Some(T0),
            ..Default::default()
        })
        .await),
        vec![r.id]
    );
    assert_eq!(
        requests::open311_by_token(&db, &found, &r.open311_token)
            .await
            .unwrap()
            .id,
        r.id
    );
    assert!(requests::open311_by_token(&db, &found, "nope")
        .await
        .is_err());
});

// ---------------------------------------------------------------------------------------------
// Photos
// ---------------------------------------------------------------------------------------------

/// The smallest PNG's signature and header (the store reads the signature only).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

fn photo_field(e: &StoreError) -> bool {
    matches!(e, StoreError::Invalid(errs) if errs[0].field == "photo")
}

async fn count_requests(db: &Db) -> usize {
    requests::list(db, &op(), &InboxFilter::default(), Page::all(), T0)
        .await
        .unwrap()
        .len()
}

both_backends!(photos_are_sniffed_limited_and_scoped, |db: Db| async move {
    let w = world(&db).await;
    // A resident's PNG at intake: typed by its bytes.
    let tracking = requests::create_self_service_with_photo(
        &db,
        w.community_a.id,
        "general",
        &draft("路灯不亮", Some("13612348609")),
        Some(PNG),
        T0,
    )
    .await
    .unwrap();
    let all = requests::list(&db, &op(), &InboxFilter::default(), Page::all(), T0)
        .await
        .unwrap();
    let r = all
        .iter()
        .find(|r| r.tracking_number == tracking.as_str())
        .unwrap();
    assert!(r.has_photo);
    let p = requests::photo(&db, &w.staff_a, r.id).await.unwrap();
    assert_eq!(p.content_type, "image/png");
    assert_eq!(p.bytes, PNG);
    // Another community's staff: the photo is not there, like the request.
    assert!(matches!(
        requests::photo(&db, &w.staff_b, r.id).await,
        Err(StoreError::NotFound)
    ));
    // The street above sees it.
    requests::photo(&db, &w.official, r.id).await.unwrap();

    // A patrol report with a JPEG.
    let patrol = requests::create_with_photo(
        &db,
        &w.worker_a,
        w.grid_a.id,
        "general",
        Channel::Patrol,
        &draft("井盖缺失", None),
        Some(JPEG),
        T0,
    )
    .await
    .unwrap();
    assert!(patrol.has_photo);
    assert_eq!(
        requests::photo(&db, &w.worker_a, patrol.id)
            .await
            .unwrap()
            .content_type,
        "image/jpeg"
    );

    // A text file named .jpg, and a file over 5 MB: refused on `photo`, nothing stored.
    let before = count_requests(&db).await;
    let e = requests::create_self_service_with_photo(
        &db,
        w.community_a.id,
        "general",
        &draft("路灯不亮", Some("13612348609")),
        Some(b"just text, renamed photo.jpg"),
        T0,
    )
    .await
    .unwrap_err();
    assert!(photo_field(&e), "{e:?}");
    let mut big = JPEG.to_vec();
    big.resize(linli_core::requests::MAX_PHOTO_BYTES + 1, 0);
    let e = requests::create_with_photo(
        &db,
        &w.staff_a,
        w.community_a.id,
        "general",
        Channel::Hotline,
        &draft("路灯不亮", None),
        Some(&big),
        T0,
    )
    .await
    .unwrap_err();
    assert!(photo_field(&e), "{e:?}");
    assert_eq!(count_requests(&db).await, before);

    // Added later by the handling unit, once; not by another community.
    let plain = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
    assert!(!plain.has_photo);
    assert!(matches!(
        requests::photo(&db, &w.staff_a, plain.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        requests::attach_photo(&db, &w.staff_b, plain.id, PNG, T0 + HOUR).await,
        Err(StoreError::NotFound)
    ));
    let e = requests::attach_photo(&db, &w.staff_a, plain.id, b"%PDF-1.4", T0 + HOUR)
        .await
        .unwrap_err();
    assert!(photo_field(&e), "{e:?}");
    let done = requests::attach_photo(&db, &w.staff_a, plain.id, JPEG, T0 + HOUR)
        .await
        .unwrap();
    assert!(done.has_photo);
    assert!(kinds(&db, plain.id)
        .await
        .contains(&"photo_added".to_owned()));
    assert!(matches!(
        requests::attach_photo(&db, &w.staff_a, plain.id, PNG, T0 + HOUR).await,
        Err(StoreError::Conflict { ref field, .. }) if field == "photo"
    ));
    assert_eq!(
        requests::photo(&db, &w.staff_a, plain.id)
            .await
            .unwrap()
            .content_type,
        "image/jpeg"
    );
});

both_backends!(
    open311_public_view_is_redacted_and_follows_the_settings,
    |db: Db| async move {
        let w = world(&db).await;
        let a = hotline(&db, &w.staff_a, &w.community_a, "general", T0).await;
        let b = hotline(&db, &w.staff_b, &w.community_b, "utilities", T0 + HOUR).await;
        let public = |f: Open311Filter| {
            let db = db.clone();
            async move {
                requests::open311_public_list(&db, &f, T0 + DAY)
                    .await
                    .unwrap()
            }
        };
        let numbers = |v: &[requests::PublicRequest]| {
            v.iter()
                .map(|r| r.tracking_number.clone())
                .collect::<Vec<_>>()
        };

        // Default: every node is read, without descriptions, the address at building level.
        let all = public(Open311Filter::default()).await;
        assert_eq!(
            numbers(&all),
            vec![b.tracking_number.clone(), a.tracking_number.clone()]
        );
        let pa = &all[1];
        assert_eq!(pa.address.as_deref(), Some("3栋"), "no unit: {pa:?}");
        assert_eq!(pa.description, None);
        assert_eq!(
            (pa.category_code.as_str(), pa.status),
            ("general", a.status)
        );
        assert_eq!(pa.agency, w.community_a.name);
        let shown = format!("{all:?}");
        assert!(
            !shown.contains("王阿姨") && !shown.contains("8609") && !shown.contains("楼道灯"),
            "{shown}"
        );
        // The spec's filters apply as in the keyed view.
        let only = |f: Open311Filter| async { numbers(&public(f).await) };
        assert_eq!(
            only(Open311Filter {
                service_codes: vec!["utilities".into()],
                ..Default::default()
            })
            .await,
            vec![b.tracking_number.clone()]
        );
        assert_eq!(
            only(Open311Filter {
                status: Some("closed".into()),
                ..Default::default()
            })
            .await,
            Vec::<String>::new()
        );
        assert_eq!(
            only(Open311Filter {
                end: Some(T0 + 30 * 60_000),
                ..Default::default()
            })
            .await,
            vec![a.tracking_number.clone()]
        );

        // Who may change the settings: admins and the community's staff.
        for (who, node) in [(&w.official, &w.community_a), (&w.worker_a, &w.grid_a)] {
            assert!(matches!(
                requests::set_open311_setting(&db, who, node.id, false, false, T0).await,
                Err(StoreError::Forbidden(_))
            ));
        }
        assert!(matches!(
            requests::set_open311_setting(&db, &w.staff_b, w.community_a.id, false, false, T0)
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(public(Open311Filter::default()).await.len() == 2);

        // Community A publishes its descriptions: A's only.
        requests::set_open311_setting(&db, &w.staff_a, w.community_a.id, true, true, T0)
            .await
            .unwrap();
        let all = public(Open311Filter::default()).await;
        assert_eq!(all[1].description.as_deref(), Some("楼道灯坏了一周"));
        assert_eq!(all[0].description, None);
        let policy = requests::open311_policy_at(&db, &w.staff_a, w.grid_a.id)
            .await
            .unwrap();
        assert!(policy.public_read && policy.publish_descriptions);

        // Community A turns reading off: its requests are gone, also when asked for by number.
        requests::set_open311_setting(&db, &w.staff_a, w.community_a.id, false, true, T0 + 1)
            .await
            .unwrap();
        assert_eq!(
            numbers(&public(Open311Filter::default()).await),
            vec![b.tracking_number.clone()]
        );
        assert!(public(Open311Filter {
            ids: vec![a.tracking_number.clone()],
            ..Default::default()
        })
        .await
        .is_empty());

        // The street turns reading off: the stricter wins, community B publishes nothing either.
        requests::set_open311_setting(&db, &w.staff_b, w.community_b.id, true, true, T0 + 2)
            .await
            .unwrap();
        requests::set_open311_setting(&db, &op(), w.street.id, false, false, T0 + 3)
            .await
            .unwrap();
        assert!(public(Open311Filter::default()).await.is_empty());
        requests::set_open311_setting(&db, &op(), w.street.id, true, false, T0 + 4)
            .await
            .unwrap();
        let all = public(Open311Filter::default()).await;
        assert_eq!(numbers(&all), vec![b.tracking_number.clone()]);
        assert_eq!(all[0].description, None, "the street does not publish");

        // Each change is audited with the values before and after; the staff see their own.
        let entries = audited(&db, "request.public_setting").await;
        assert_eq!(entries.len(), 5);
        let settings = requests::open311_settings(&db, &w.staff_a).await.unwrap();
        assert_eq!(settings.len(), 1);
        assert!(!settings[0].public_read && settings[0].publish_descriptions);
        assert_eq!(settings[0].updated_by, "staff_a");

        // The keyed view is unchanged: full, reporter included, whatever the settings.
        let (_, secret) = requests::create_api_key(&db, &op(), "热线", w.community_a.id, T0)
            .await
            .unwrap();
        let key = requests::api_key(&db, &secret).await.unwrap().unwrap();
        let full = requests::open311_list(&db, &key, &Open311Filter::default(), T0 + DAY)
            .await
            .unwrap();
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].reporter_name.as_deref(), Some("王阿姨"));
        assert_eq!(full[0].description, "楼道灯坏了一周");
    }
);

both_backends!(
    the_inbox_searches_filters_counts_and_pages,
    |db: Db| async move {
        let w = world(&db).await;
        let create = |node: Node, category: &'static str, description: &'static str, at: i64| {
            let (db, scope) = (db.clone(), w.official.clone());
            async move {
                let d = RequestDraft::parse(&RequestInput {
                    description,
                    address: Some("幸福路8号"),
                    reporter_name: Some("赵大妈"),
                    reporter_phone: Some("13612348609"),
                    ..Default::default()
                })
                .unwrap();
                requests::create(&db, &scope, node.id, category, Channel::Hotline, &d, at)
                    .await
                    .unwrap()
            }
        };
        let lamp = create(w.community_a.clone(), "general", "楼道灯坏了", T0).await;
        let water = create(
            w.community_a.clone(),
            "emergency",
            "水管爆裂_漏水",
            T0 + DAY,
        )
        .await;
        let noise = create(
            w.community_b.clone(),
            "general",
            "夜间施工噪音",
            T0 + 2 * DAY,
        )
        .await;
        step(&db, &w.official, lamp.id, dispatch_to(&w.grid_a), T0 + HOUR)
            .await
            .unwrap();
        let ids = |f: InboxFilter, scope: Scope, page: (i64, i64)| {
            let db = db.clone();
            async move {
                let l = requests::inbox(&db, &scope, &f, page, T0 + 2 * DAY)
                    .await
                    .unwrap();
                (
                    l.total,
                    l.items.into_iter().map(|r| r.id).collect::<Vec<_>>(),
                )
            }
        };
        let all = InboxFilter::default();
        let official = w.official.clone();
        assert_eq!(
            ids(all.clone(), official.clone(), (50, 0)).await,
            (3, vec![noise.id, water.id, lamp.id])
        );
        // Paging: the count stays, the rows move on.
        assert_eq!(
            ids(all.clone(), official.clone(), (2, 0)).await,
            (3, vec![noise.id, water.id])
        );
        assert_eq!(
            ids(all.clone(), official.clone(), (2, 2)).await,
            (3, vec![lamp.id])
        );
        // The search: description, address, reporter, tracking number; a wildcard is literal.
        let q = |s: &str| InboxFilter {
            q: Some(s.to_owned()),
            ..Default::default()
        };
        assert_eq!(
            ids(q("施工"), official.clone(), (50, 0)).await,
            (1, vec![noise.id])
        );
        assert_eq!(
            ids(q("幸福路").clone(), official.clone(), (50, 0)).await.0,
            3
        );
        assert_eq!(ids(q("赵大妈"), official.clone(), (50, 0)).await.0, 3);
        assert_eq!(
            ids(q(&water.tracking_number), official.clone(), (50, 0)).await,
            (1, vec![water.id])
        );
        assert_eq!(
            ids(q("爆裂_"), official.clone(), (50, 0)).await,
            (1, vec![water.id])
        );
        assert_eq!(ids(q("灯_"), official.clone(), (50, 0)).await.0, 0);
        // Digits of the phone never match (it is encrypted); the whole number does, for those
        // who may see it unmasked, and not for a grid worker (who sees the lamp, sent to them).
        assert_eq!(ids(q("1361234"), official.clone(), (50, 0)).await.0, 0);
        assert_eq!(ids(q("13612348609"), official.clone(), (50, 0)).await.0, 3);
        assert_eq!(
            ids(q("13612348609"), w.staff_b.clone(), (50, 0)).await,
            (1, vec![noise.id])
        );
        assert_eq!(
            ids(all.clone(), w.worker_a.clone(), (50, 0)).await,
            (1, vec![lamp.id])
        );
        assert_eq!(
            ids(q("13612348609"), w.worker_a.clone(), (50, 0)).await.0,
            0
        );
        // Category, status, node and days received.
        let f = InboxFilter {
            category: Some("general".into()),
            ..Default::default()
        };
        assert_eq!(
            ids(f, official.clone(), (50, 0)).await,
            (2, vec![noise.id, lamp.id])
        );
        let f = InboxFilter {
            status: Some(Status::Dispatched),
            ..Default::default()
        };
        assert_eq!(ids(f, official.clone(), (50, 0)).await, (1, vec![lamp.id]));
        let f = InboxFilter {
            node_id: Some(w.community_a.id),
            ..Default::default()
        };
        assert_eq!(
            ids(f, official.clone(), (50, 0)).await,
            (2, vec![water.id, lamp.id])
        );
        let f = InboxFilter {
            received: (Some(T0 + HOUR), Some(T0 + 2 * DAY)),
            ..Default::default()
        };
        assert_eq!(ids(f, official.clone(), (50, 0)).await, (1, vec![water.id]));
        // The overdue view counts in SQL too: the emergency is late two days on.
        let f = InboxFilter {
            view: View::Overdue,
            ..Default::default()
        };
        assert!(ids(f, official.clone(), (50, 0))
            .await
            .1
            .contains(&water.id));
        // Scope: a community's staff count their own only; another community's node is refused.
        assert_eq!(
            ids(all.clone(), w.staff_b.clone(), (50, 0)).await,
            (1, vec![noise.id])
        );
        let f = InboxFilter {
            node_id: Some(w.community_a.id),
            ..Default::default()
        };
        assert!(matches!(
            requests::inbox(&db, &w.staff_b, &f, (50, 0), T0).await,
            Err(StoreError::NotFound)
        ));
    }
);

both_backends!(
    a_workers_todo_counts_pending_requests_in_the_grid,
    |db: Db| async move {
        let w = world(&db).await;
        // In the grid: one the worker took, one waiting, one resolved. Beside it: one in the
        // community (not the grid) and one in the other community.
        let taken = hotline(&db, &w.staff_a, &w.grid_a, "general", T0).await;
        let waiting = hotline(&db, &w.staff_a, &w.grid_a, "general", T0 + 1).await;
        let done = hotline(&db, &w.staff_a, &w.grid_a, "general", T0 + 2).await;
        let upstairs = hotline(&db, &w.staff_a, &w.community_a, "general", T0 + 3).await;
        hotline(&db, &w.staff_b, &w.community_b, "general", T0 + 4).await;
        for r in [&taken, &done] {
            step(&db, &w.staff_a, r.id, dispatch_to(&w.grid_a), T0 + 5)
                .await
                .unwrap();
        }
        step(&db, &w.worker_a, taken.id, Action::Accept, T0 + HOUR)
            .await
            .unwrap();
        step(&db, &w.worker_a, done.id, Action::Accept, T0 + HOUR)
            .await
            .unwrap();
        step(&db, &w.worker_a, done.id, resolve("已修好"), T0 + 2 * HOUR)
            .await
            .unwrap();

        let t = requests::todo(&db, &w.worker_a, w.grid_a.id, 5)
            .await
            .unwrap();
        assert_eq!((t.pending, t.mine), (2, 1));
        // The worker's own first, then the rest by deadline.
        let ids: Vec<i64> = t.first.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![taken.id, waiting.id]);
        let t = requests::todo(&db, &w.worker_a, w.grid_a.id, 1)
            .await
            .unwrap();
        assert_eq!((t.pending, t.first.len()), (2, 1));
        // The inbox's pending view lists the same two (newest first).
        let pending = requests::list(
            &db,
            &w.worker_a,
            &InboxFilter {
                node_id: Some(w.grid_a.id),
                view: "pending".parse().unwrap(),
                ..Default::default()
            },
            Page::new(None, None),
            T0 + 3 * HOUR,
        )
        .await
        .unwrap();
        let ids: Vec<i64> = pending.iter().map(|r| r.id).collect();
        assert_eq!(ids, vec![waiting.id, taken.id]);

        // Staff of the community: the grid's two and the community's own; none of them theirs.
        let t = requests::todo(&db, &w.staff_a, w.community_a.id, 10)
            .await
            .unwrap();
        assert_eq!((t.pending, t.mine), (3, 0));
        let mut ids: Vec<i64> = t.first.iter().map(|r| r.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, vec![taken.id, waiting.id, upstairs.id]);

        // Outside the caller's scope: not found, as everywhere.
        for node in [&w.community_a, &w.community_b] {
            assert!(matches!(
                requests::todo(&db, &w.worker_a, node.id, 5).await,
                Err(StoreError::NotFound)
            ));
        }
    }
);
