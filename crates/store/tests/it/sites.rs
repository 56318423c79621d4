//! Centralised quarantine sites: sites and rooms set up by whoever runs them, a room given by
//! itself to an arrival under centralised quarantine (a family together, strangers apart, none
//! free is no failure), occupancy night by night, check-out, moves, refusals (double booking, a
//! full room, nights outside the observation), release, and who sees whom.

use linli_core::epidemic::sites::{room_block, NewRoom, RoomNumber};
use linli_core::kernel::clock::day_start_ms;
use linli_core::{Role, Scope};
use linli_store::epidemic::sites::{self, SiteFilter, SiteInput};
use linli_store::epidemic::{self, ArrivalRecorded};
use linli_store::tree::Node;
use linli_store::{both_backends, Db, StoreError};

use crate::support::{arrival, count, date, field_of, high_risk_area, op, registered, street_tree};

/// Noon of a China date, as the store is told the time.
fn noon(d: &str) -> i64 {
    day_start_ms(date(d)) + 12 * 3_600_000
}

/// The site on `on` as `who` sees it at noon that day.
async fn day_at(db: &Db, who: &Scope, site: i64, on: &str) -> Result<sites::SiteDay, StoreError> {
    sites::site_day(db, who, site, date(on), noon(on)).await
}

/// `who` checks `stay` out on `on`, at noon that day.
async fn check_out_on(db: &Db, who: &Scope, stay: i64, on: &str) -> Result<(), StoreError> {
    sites::check_out(db, who, stay, date(on), noon(on)).await
}

fn scope(id: i64, name: &str, role: Role, node: &Node) -> Scope {
    Scope::for_user(id, name, role, vec![node.path.clone()])
}

/// `name` (registered at `at`, at `address`) arrives from 420111 on 2022-07-02, screened at
/// noon that day: 7 days of centralised quarantine under the 9th edition.
async fn arrives(
    db: &Db,
    at: &Node,
    name: &str,
    body: &str,
    address: Option<&str>,
) -> ArrivalRecorded {
    let person = registered(db, at, name, body, address).await;
    epidemic::record_arrival(
        db,
        &op(),
        arrival(person, "420111", "2022-07-02"),
        noon("2022-07-02"),
    )
    .await
    .unwrap()
}

fn room(floor: i64, number: &str, beds: i64) -> NewRoom {
    NewRoom::new(floor, RoomNumber::parse(number).unwrap(), beds).unwrap()
}

both_backends!(arrivals_get_rooms_night_by_night, |db: Db| async move {
    let s = street_tree(&db, None).await;
    high_risk_area(&db).await;
    let official = scope(20, "street_official", Role::Official, &s.street);
    let site = sites::create_site(
        &db,
        &official,
        s.street.id,
        &SiteInput {
            name: " 建塘宾馆 ",
            address: Some("建塘镇金龙街 8 号"),
            phone: Some("0887-8221234"),
            open: true,
        },
        noon("2022-07-01"),
    )
    .await
    .unwrap();
    assert_eq!(site.name, "建塘宾馆");
    // Two rooms of 2 beds and one of 1.
    let added = sites::add_rooms(
        &db,
        &official,
        site.id,
        &[room(2, "201", 2), room(2, "202", 2), room(2, "203", 1)],
        noon("2022-07-01"),
    )
    .await
    .unwrap();
    assert_eq!(added, 3);
    // A number the site has refuses the lot.
    let e = sites::add_rooms(
        &db,
        &official,
        site.id,
        &[room(3, "301", 1), room(2, "203", 1)],
        noon("2022-07-01"),
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), "number");
    assert_eq!(count(&db, "quarantine_room").await, 3);

    // A family (same dwelling, one household) shares 201; strangers get rooms of their own.
    let a = arrives(
        &db,
        &s.grid_a,
        "张一",
        "53340119800101001",
        Some("3栋2单元501室"),
    )
    .await;
    let b = arrives(
        &db,
        &s.grid_a,
        "张二",
        "53340119800101002",
        Some("3栋2单元501室"),
    )
    .await;
    let c = arrives(&db, &s.community_b, "李三", "53340119800101003", None).await;
    let d = arrives(&db, &s.community_a, "王四", "53340119800101004", None).await;
    let e = arrives(&db, &s.community_b, "赵五", "53340119800101005", None).await;
    let room_of = |r: &ArrivalRecorded| r.room.as_ref().map(|p| p.room.clone());
    assert_eq!(room_of(&a).as_deref(), Some("201"));
    assert_eq!(room_of(&b).as_deref(), Some("201"));
    assert_eq!(room_of(&c).as_deref(), Some("202"));
    assert_eq!(room_of(&d).as_deref(), Some("203"));
    // None free (202 has a bed, but strangers do not share): recorded all the same.
    assert!(e.room.is_none() && e.no_bed);
    assert!(e
        .classification
        .explanation
        .contains("暂无空床，请联系隔离点"));
    assert!(
        a.classification
            .explanation
            .contains("建塘宾馆 2 楼 201 室"),
        "{}",
        a.classification.explanation
    );
    let placed = a.room.clone().unwrap();
    assert_eq!(
        (placed.from.as_str(), placed.until.as_str()),
        ("2022-07-02", "2022-07-08")
    );
    // The observation's place names the room.
    let place: (Option<String>,) = sqlx::query_as("SELECT place FROM observation WHERE id = $1")
        .bind(a.observation_id.unwrap())
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(place.0.as_deref(), Some("建塘宾馆 2 楼 201 室"));

    // Occupancy by night: 4 of 5 beds through the 8th, none on the 9th.
    let beds = |on: &'static str, now: &'static str| {
        let db = db.clone();
        let official = official.clone();
        async move {
            sites::site_day(&db, &official, site.id, date(on), noon(now))
                .await
                .unwrap()
                .beds
        }
    };
    assert_eq!(beds("2022-07-02", "2022-07-02").await.occupied, 4);
    assert_eq!(beds("2022-07-02", "2022-07-02").await.free(), 1);
    assert_eq!(beds("2022-07-08", "2022-07-02").await.occupied, 4);
    assert_eq!(beds("2022-07-09", "2022-07-02").await.occupied, 0);
    assert_eq!(beds("2022-07-01", "2022-07-02").await.occupied, 0);

    // A room's beds: never fewer than the people it holds on any night ahead, within range, by
    // whoever runs the site only.
    let r201 = day_at(&db, &official, site.id, "2022-07-03")
        .await
        .unwrap()
        .rooms
        .iter()
        .find(|r| r.number == "201")
        .unwrap()
        .id;
    let refused = sites::set_room_beds(&db, &official, r201, 1, noon("2022-07-03"))
        .await
        .unwrap_err();
    match &refused {
        StoreError::Invalid(v) => assert_eq!(
            (v[0].field.as_str(), v[0].message.as_str()),
            ("beds", "2022-07-03 该房间住有 2 人，床位不能少于 2")
        ),
        other => panic!("{other:?}"),
    }
    let refused = sites::set_room_beds(&db, &official, r201, 0, noon("2022-07-03"))
        .await
        .unwrap_err();
    assert_eq!(field_of(&refused), "beds");
    let worker = scope(31, "worker_a", Role::GridWorker, &s.grid_a);
    assert!(matches!(
        sites::set_room_beds(&db, &worker, r201, 3, noon("2022-07-03")).await,
        Err(StoreError::Forbidden(_))
    ));
    sites::set_room_beds(&db, &official, r201, 3, noon("2022-07-03"))
        .await
        .unwrap();
    assert_eq!(beds("2022-07-03", "2022-07-03").await.total, 6);
    sites::set_room_beds(&db, &official, r201, 2, noon("2022-07-03"))
        .await
        .unwrap();
    assert_eq!(beds("2022-07-03", "2022-07-03").await.total, 5);

    // Check-out on the 4th: the night of the 4th is taken, the 5th is free.
    let day = day_at(&db, &official, site.id, "2022-07-02").await.unwrap();
    let stay_of = |number: &str| {
        day.rooms
            .iter()
            .find(|r| r.number == number)
            .unwrap()
            .occupants
            .clone()
    };
    let c_stay = stay_of("202")[0].stay_id;
    check_out_on(&db, &official, c_stay, "2022-07-04")
        .await
        .unwrap();
    assert_eq!(beds("2022-07-04", "2022-07-04").await.occupied, 4);
    assert_eq!(beds("2022-07-05", "2022-07-04").await.occupied, 3);
    // Checked out once only.
    let again = check_out_on(&db, &official, c_stay, "2022-07-04")
        .await
        .unwrap_err();
    assert_eq!(field_of(&again), "stay_id");

    // By hand: 203 is full, 张一 already has a room, 202 takes 赵五 from today.
    let e_obs = e.observation_id.unwrap();
    let rooms = day_at(&db, &official, site.id, "2022-07-05")
        .await
        .unwrap()
        .rooms;
    let id_of = |n: &str| rooms.iter().find(|r| r.number == n).unwrap().id;
    let full = sites::assign(&db, &official, e_obs, id_of("203"), noon("2022-07-05"))
        .await
        .unwrap_err();
    assert_eq!(field_of(&full), "room_id", "{full:?}");
    let twice = sites::assign(
        &db,
        &official,
        a.observation_id.unwrap(),
        id_of("202"),
        noon("2022-07-05"),
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&twice), "person_id", "{twice:?}");
    let after = sites::assign(&db, &official, e_obs, id_of("202"), noon("2022-07-20"))
        .await
        .unwrap_err();
    assert_eq!(
        field_of(&after),
        "observation_id",
        "no centralised nights left"
    );
    let e_room = sites::assign(&db, &official, e_obs, id_of("202"), noon("2022-07-05"))
        .await
        .unwrap();
    assert_eq!(
        (e_room.room.as_str(), e_room.from.as_str()),
        ("202", "2022-07-05")
    );

    // 张二 moves to 202 on the 6th: 201 keeps one bed from the 6th.
    let b_stay = stay_of("201")
        .iter()
        .find(|o| o.person_name.as_deref() == Some("张二"))
        .unwrap()
        .stay_id;
    let moved = sites::move_stay(&db, &official, b_stay, id_of("202"), noon("2022-07-06"))
        .await
        .unwrap();
    assert_eq!(
        (moved.from.as_str(), moved.until.as_str()),
        ("2022-07-06", "2022-07-08")
    );
    let day6 = day_at(&db, &official, site.id, "2022-07-06").await.unwrap();
    let in_room = |n: &str| {
        let mut names: Vec<String> = day6
            .rooms
            .iter()
            .find(|r| r.number == n)
            .unwrap()
            .occupants
            .iter()
            .filter_map(|o| o.person_name.clone())
            .collect();
        names.sort();
        names
    };
    assert_eq!(in_room("201"), ["张一"]);
    assert_eq!(in_room("202"), ["张二", "赵五"]);
    // 202 is full now: nobody else moves in.
    let d_stay = stay_of("203")[0].stay_id;
    let e2 = sites::move_stay(&db, &official, d_stay, id_of("202"), noon("2022-07-06"))
        .await
        .unwrap_err();
    assert_eq!(field_of(&e2), "room_id");

    // The release checks the stay out on its day.
    epidemic::release(
        &db,
        &op(),
        &[a.observation_id.unwrap()],
        date("2022-07-08"),
        noon("2022-07-08"),
    )
    .await
    .unwrap();
    let left: (Option<String>,) =
        sqlx::query_as("SELECT left_on FROM quarantine_stay WHERE observation_id = $1")
            .bind(a.observation_id.unwrap())
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(left.0.as_deref(), Some("2022-07-08"));

    // Every change is in the audit log.
    let audited: (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM audit WHERE action LIKE 'quarantine_%'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    // site + rooms + 4 automatic rooms + two changes of beds + check-out + assign + move
    assert_eq!(audited.0, 11);
});

both_backends!(
    a_site_names_only_the_people_of_the_viewers_jurisdiction,
    |db: Db| async move {
        let s = street_tree(&db, None).await;
        high_risk_area(&db).await;
        let official = scope(20, "street_official", Role::Official, &s.street);
        let staff_a = scope(21, "staff_a", Role::Staff, &s.community_a);
        let worker_a = scope(22, "worker_a", Role::GridWorker, &s.grid_a);
        let worker_b = scope(23, "worker_b", Role::GridWorker, &s.community_b);
        let other_street = crate::support::node(
            &db,
            Some(s.district.id),
            "street",
            "金江镇",
            Some("533401101"),
        )
        .await;
        let stranger = scope(24, "stranger", Role::Staff, &other_street);
        let empty = Scope::for_user(25, "nobody", Role::Staff, vec![]);
        let input = |name| SiteInput {
            name,
            address: None,
            phone: None,
            open: true,
        };
        // A grid worker sets up nothing; community staff do not run the street's site.
        let e = sites::create_site(
            &db,
            &worker_a,
            s.grid_a.id,
            &input("网格点"),
            noon("2022-07-01"),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
        let site = sites::create_site(
            &db,
            &official,
            s.street.id,
            &input("建塘宾馆"),
            noon("2022-07-01"),
        )
        .await
        .unwrap();
        let block = room_block((2, 3), (1, 2), 1).unwrap();
        let e = sites::add_rooms(&db, &staff_a, site.id, &block, noon("2022-07-01"))
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
        sites::add_rooms(&db, &official, site.id, &block, noon("2022-07-01"))
            .await
            .unwrap();
        let own = sites::create_site(
            &db,
            &staff_a,
            s.community_a.id,
            &input("里布嘎社区点"),
            noon("2022-07-01"),
        )
        .await
        .unwrap();
        // A community's own site is nearer to its people than the street's: it fills first.
        sites::add_rooms(
            &db,
            &staff_a,
            own.id,
            &[room(1, "101", 1)],
            noon("2022-07-01"),
        )
        .await
        .unwrap();
        let a = arrives(&db, &s.grid_a, "张一", "53340119800101001", None).await;
        assert_eq!(a.room.as_ref().unwrap().site_name, "里布嘎社区点");
        let a2 = arrives(&db, &s.grid_a, "张二", "53340119800101002", None).await;
        assert_eq!(a2.room.as_ref().unwrap().site_name, "建塘宾馆");
        let b = arrives(&db, &s.community_b, "李三", "53340119800101003", None).await;
        assert_eq!(b.room.as_ref().unwrap().site_name, "建塘宾馆");

        let names = |scope: Scope| {
            let db = db.clone();
            async move {
                let day = day_at(&db, &scope, site.id, "2022-07-03").await?;
                let mut seen: Vec<String> = day
                    .rooms
                    .iter()
                    .flat_map(|r| r.occupants.iter())
                    .map(|o| match (&o.person_name, o.person_id) {
                        (Some(n), Some(_)) => n.clone(),
                        (None, None) => "辖区外".to_owned(),
                        _ => panic!("a name without its id or an id without its name"),
                    })
                    .collect();
                seen.sort();
                Ok::<_, StoreError>((seen, day.beds.occupied, day.can_manage))
            }
        };
        assert_eq!(
            names(official.clone()).await.unwrap(),
            (vec!["张二".to_owned(), "李三".to_owned()], 2, true)
        );
        assert_eq!(
            names(worker_a.clone()).await.unwrap(),
            (vec!["张二".to_owned(), "辖区外".to_owned()], 2, false)
        );
        assert_eq!(
            names(worker_b.clone()).await.unwrap(),
            (vec!["李三".to_owned(), "辖区外".to_owned()], 2, false)
        );
        // Another street's staff, and a scope without roots, see no site at all.
        assert!(matches!(
            names(stranger.clone()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            names(empty.clone()).await,
            Err(StoreError::NotFound)
        ));

        // Lists: a grid worker sees the sites above them; community B's worker not A's own.
        let list = |scope: Scope, filter: SiteFilter| {
            let db = db.clone();
            async move {
                let page = sites::sites(
                    &db,
                    &scope,
                    &filter,
                    date("2022-07-03"),
                    noon("2022-07-03"),
                    50,
                    0,
                )
                .await?;
                Ok::<_, StoreError>(
                    page.items
                        .iter()
                        .map(|s| (s.site.name.clone(), s.beds.total, s.beds.occupied))
                        .collect::<Vec<_>>(),
                )
            }
        };
        let all = SiteFilter::default();
        assert_eq!(
            list(worker_a.clone(), all.clone()).await.unwrap(),
            [
                ("建塘宾馆".to_owned(), 4, 2),
                ("里布嘎社区点".to_owned(), 1, 1)
            ]
        );
        assert_eq!(
            list(worker_b.clone(), all.clone()).await.unwrap(),
            [("建塘宾馆".to_owned(), 4, 2)]
        );
        assert!(list(stranger.clone(), all.clone())
            .await
            .unwrap()
            .is_empty());
        assert!(list(empty.clone(), all.clone()).await.unwrap().is_empty());
        // Filters: a free bed, a name, closed ones, a node.
        let with_free = SiteFilter {
            with_free: true,
            ..Default::default()
        };
        assert_eq!(list(official.clone(), with_free).await.unwrap().len(), 1);
        let named = SiteFilter {
            q: Some("宾馆".into()),
            ..Default::default()
        };
        assert_eq!(list(official.clone(), named).await.unwrap().len(), 1);
        let on_b = SiteFilter {
            node_id: Some(s.community_b.id),
            ..Default::default()
        };
        assert_eq!(list(official.clone(), on_b.clone()).await.unwrap().len(), 1);
        assert!(matches!(
            list(worker_a.clone(), on_b).await,
            Err(StoreError::NotFound)
        ));
        let beds = sites::beds_serving(
            &db,
            &worker_a,
            s.grid_a.id,
            date("2022-07-03"),
            noon("2022-07-03"),
        )
        .await
        .unwrap();
        assert_eq!((beds.total, beds.free()), (5, 2));

        // A closed site takes nobody.
        sites::update_site(
            &db,
            &official,
            site.id,
            &SiteInput {
                open: false,
                ..input("建塘宾馆")
            },
            noon("2022-07-03"),
        )
        .await
        .unwrap();
        let c = arrives(&db, &s.community_b, "赵五", "53340119800101005", None).await;
        assert!(c.no_bed);
        let closed = SiteFilter {
            open: Some(false),
            ..Default::default()
        };
        assert_eq!(list(official.clone(), closed).await.unwrap().len(), 1);

        // Worker A can neither move nor check out, even their own grid's person.
        let stay = a2.room.as_ref().unwrap().stay_id;
        let e = check_out_on(&db, &worker_a, stay, "2022-07-03")
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
        // Another street's staff cannot tell the stay exists.
        let e = check_out_on(&db, &stranger, stay, "2022-07-03")
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
    }
);
