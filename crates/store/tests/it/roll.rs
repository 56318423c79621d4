//! The persons list and its key groups (issue 19 item 5), on SQLite and PostgreSQL: filters
//! combine, ages hold at the boundary (someone turning 60 on the day), a grid worker sees only
//! their grid, keyset paging returns every row once, and the export masks unless the role may
//! unmask.

use linli_core::registry::PersonInput;
use linli_core::{Role, Scope};
use linli_store::registry::roll::{self, RollFilter};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{date, node, op, register, tree};

/// The day the lists are taken on.
const ON: &str = "2026-12-07";

#[allow(clippy::too_many_arguments)]
async fn person(
    db: &Db,
    at: i64,
    name: &str,
    category: &str,
    born: &str,
    address: Option<&str>,
    phone: Option<&str>,
    tags: &[&str],
) -> i64 {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    let input = PersonInput {
        name,
        category: Some(category),
        birth_date: Some(born),
        address,
        phone,
        tags: &tags,
        ..Default::default()
    };
    register(db, &op(), at, &input).await.unwrap().0.id
}

fn names(r: &roll::Roll) -> Vec<&str> {
    r.items.iter().map(|x| x.name.as_str()).collect()
}

fn fields(e: StoreError) -> Vec<String> {
    match e {
        StoreError::Invalid(es) => es.into_iter().map(|e| e.field).collect(),
        other => panic!("not a field error: {other:?}"),
    }
}

both_backends!(
    filters_combine_and_ages_hold_at_the_boundary,
    |db: Db| async move {
        let t = tree(&db).await;
        let on = date(ON);
        let alone = ["独居老人"];
        person(
            &db,
            t.grid_a.id,
            "张一",
            "registered",
            "1950-01-01",
            Some("1栋1单元101室"),
            None,
            &alone,
        )
        .await;
        // Turns 60 on the day; the next turns 60 the day after.
        let wang = person(
            &db,
            t.grid_a.id,
            "王五",
            "floating",
            "1966-12-07",
            Some("2栋1单元201室"),
            None,
            &alone,
        )
        .await;
        let zhao = person(
            &db,
            t.grid_a.id,
            "赵六",
            "registered",
            "1966-12-08",
            Some("2栋1单元202室"),
            None,
            &alone,
        )
        .await;
        person(
            &db,
            t.grid_a.id,
            "李四",
            "registered",
            "1940-03-03",
            Some("1栋1单元102室"),
            None,
            &[],
        )
        .await;
        person(
            &db,
            t.grid_b.id,
            "钱七",
            "floating",
            "1945-05-05",
            None,
            None,
            &["独居老人", "低保"],
        )
        .await;
        let gone = person(
            &db,
            t.grid_b.id,
            "孙八",
            "registered",
            "1930-01-01",
            None,
            None,
            &alone,
        )
        .await;
        let patch = linli_store::registry::PersonPatch {
            state: Some("moved_out".into()),
            moved_out_on: Some("2026-01-01".into()),
            moved_to: Some("昆明".into()),
            ..Default::default()
        };
        linli_store::registry::update(&db, &op(), gone, &patch, 1)
            .await
            .unwrap();

        let list = |f: RollFilter| {
            let db = db.clone();
            async move { roll::list(&db, &op(), &f, None, None, on).await }
        };
        let base = RollFilter {
            node_id: Some(t.community.id),
            tags: vec!["独居老人".into()],
            min_age: Some("60".into()),
            ..Default::default()
        };
        let r = list(base.clone()).await.unwrap();
        assert_eq!(names(&r), ["钱七", "王五", "张一"]);
        assert_eq!(r.total, 3);
        assert_eq!(r.next, None);
        let w = r.items.iter().find(|x| x.id == wang).unwrap();
        assert_eq!(w.age, Some(60));
        assert_eq!(w.address.as_deref(), Some("2栋1单元201室"));
        assert_eq!(r.items[0].tags, ["独居老人", "低保"]);

        let floating = RollFilter {
            residence: Some("floating".into()),
            ..base.clone()
        };
        assert_eq!(
            names(&list(floating.clone()).await.unwrap()),
            ["钱七", "王五"]
        );
        // The Chinese name of a residence type is read too.
        let zh = RollFilter {
            residence: Some("流动人口".into()),
            ..base.clone()
        };
        assert_eq!(list(zh).await.unwrap().total, 2);
        let building = RollFilter {
            building: Some("2栋".into()),
            ..floating
        };
        assert_eq!(names(&list(building).await.unwrap()), ["王五"]);
        // Both tags: only 钱七 carries 低保 as well.
        let both = RollFilter {
            tags: vec!["独居老人".into(), "低保".into()],
            ..base.clone()
        };
        assert_eq!(names(&list(both).await.unwrap()), ["钱七"]);
        // At most 59: the one turning 60 tomorrow, not the one turning 60 today.
        let young = RollFilter {
            min_age: None,
            max_age: Some("59".into()),
            ..base.clone()
        };
        let r = list(young).await.unwrap();
        assert_eq!(r.items.iter().map(|x| x.id).collect::<Vec<_>>(), [zhao]);
        assert_eq!(r.items[0].age, Some(59));
        let exactly = RollFilter {
            max_age: Some("60".into()),
            ..base.clone()
        };
        assert_eq!(names(&list(exactly).await.unwrap()), ["王五"]);
        // The moved-out person only when every state is asked for.
        let all = RollFilter {
            state: Some("all".into()),
            ..base.clone()
        };
        assert_eq!(list(all).await.unwrap().total, 4);
        let moved = RollFilter {
            state: Some("moved_out".into()),
            ..base.clone()
        };
        assert_eq!(names(&list(moved).await.unwrap()), ["孙八"]);
        // A grid node narrows; q reads a key group's name, pinyin initials and names.
        let grid = RollFilter {
            node_id: Some(t.grid_b.id),
            ..base.clone()
        };
        assert_eq!(names(&list(grid).await.unwrap()), ["钱七"]);
        let q = |s: &str| RollFilter {
            node_id: Some(t.community.id),
            q: Some(s.into()),
            ..Default::default()
        };
        assert_eq!(list(q("独居老人")).await.unwrap().total, 4);
        assert_eq!(names(&list(q("zy")).await.unwrap()), ["张一"]);
        assert_eq!(names(&list(q("李")).await.unwrap()), ["李四"]);
        // Nothing but the node: every active person there.
        let everyone = RollFilter {
            node_id: Some(t.district.id),
            ..Default::default()
        };
        assert_eq!(list(everyone).await.unwrap().total, 5);

        // Bad filters name their fields and none is half applied.
        let bad = RollFilter {
            tags: vec!["外星人".into()],
            residence: Some("martian".into()),
            min_age: Some("70".into()),
            max_age: Some("60".into()),
            state: Some("gone".into()),
            building: Some("三号楼大院".into()),
            ..Default::default()
        };
        let mut f = fields(list(bad).await.unwrap_err());
        f.sort();
        assert_eq!(f, ["building", "min_age", "residence", "state", "tag"]);
        let bad_age = RollFilter {
            min_age: Some("sixty".into()),
            ..Default::default()
        };
        assert_eq!(fields(list(bad_age).await.unwrap_err()), ["min_age"]);
    }
);

both_backends!(a_grid_worker_sees_only_their_grid, |db: Db| async move {
    let t = tree(&db).await;
    let on = date(ON);
    person(
        &db,
        t.grid_a.id,
        "张一",
        "registered",
        "1950-01-01",
        None,
        None,
        &["独居老人"],
    )
    .await;
    let b = person(
        &db,
        t.grid_b.id,
        "钱七",
        "floating",
        "1945-05-05",
        None,
        None,
        &["独居老人"],
    )
    .await;
    let f = RollFilter {
        tags: vec!["独居老人".into()],
        ..Default::default()
    };
    // Without a node: the worker's grid only.
    let r = roll::list(&db, &t.worker_a(), &f, None, None, on)
        .await
        .unwrap();
    assert_eq!((names(&r), r.total), (vec!["张一"], 1));
    // The community above the grid is not theirs to list.
    let up = RollFilter {
        node_id: Some(t.community.id),
        ..f.clone()
    };
    assert!(matches!(
        roll::list(&db, &t.worker_a(), &up, None, None, on).await,
        Err(StoreError::NotFound)
    ));
    // Another grid is not found, and a cursor from there is refused.
    let other = RollFilter {
        node_id: Some(t.grid_b.id),
        ..f.clone()
    };
    assert!(matches!(
        roll::list(&db, &t.worker_a(), &other, None, None, on).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        fields(
            roll::list(&db, &t.worker_a(), &f, Some(b), None, on)
                .await
                .unwrap_err()
        ),
        ["after"]
    );
    // A scope without roots sees nothing.
    let none = Scope::for_user(99, "nobody", Role::GridWorker, vec![]);
    let r = roll::list(&db, &none, &f, None, None, on).await.unwrap();
    assert_eq!((r.items.len(), r.total), (0, 0));
    // A grid worker may not export clear numbers; staff over the community may.
    assert!(matches!(
        roll::export(&db, &t.worker_a(), &f, true, on).await,
        Err(StoreError::Forbidden(_))
    ));
    let (_, masked) = roll::export(&db, &t.worker_a(), &f, false, on)
        .await
        .unwrap();
    assert_eq!(masked.len(), 1);
});

both_backends!(cursor_paging_returns_every_row_once, |db: Db| async move {
    let t = tree(&db).await;
    let on = date(ON);
    let building = node(&db, Some(t.grid_a.id), "building", "3栋", None).await;
    let mut ids = Vec::new();
    // Same names (same pinyin) are ordered by id; a building node is a node like any other.
    for (i, name) in ["王芳", "王芳", "王芳", "李娜", "阿布", "张伟", "周敏"]
        .iter()
        .enumerate()
    {
        let at = if i % 2 == 0 { building.id } else { t.grid_b.id };
        ids.push(
            person(
                &db,
                at,
                name,
                "resident",
                "1980-01-01",
                None,
                Some("13612348609"),
                &[],
            )
            .await,
        );
    }
    let f = RollFilter {
        node_id: Some(t.district.id),
        ..Default::default()
    };
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let r = roll::list(&db, &op(), &f, after, Some(2), on)
            .await
            .unwrap();
        assert_eq!(r.total, 7);
        assert!(r.items.len() <= 2);
        seen.extend(r.items.iter().map(|x| x.id));
        pages += 1;
        match r.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    assert_eq!(pages, 4);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "{seen:?}");
    ids.sort();
    assert_eq!(sorted, ids);
    // A bare search answers in the search's order, counting what it found.
    let s = roll::search(&db, &op(), "王芳", None, on).await.unwrap();
    assert_eq!((s.items.len(), s.total, s.next), (3, 3, None));
    assert!(s.items.iter().all(|x| x.name == "王芳" && x.age.is_some()));
    // The building node lists its own.
    let here = RollFilter {
        node_id: Some(building.id),
        ..Default::default()
    };
    let r = roll::list(&db, &op(), &here, None, None, on).await.unwrap();
    assert_eq!(r.total, 4);
    // Phones masked in the list; clear in the operator's unmasked export only.
    assert_eq!(r.items[0].phone_masked.as_deref(), Some("136****8609"));
    let (_, rows) = roll::export(&db, &op(), &here, true, on).await.unwrap();
    assert_eq!(rows[0].phone.as_deref(), Some("13612348609"));
    let (_, rows) = roll::export(&db, &op(), &here, false, on).await.unwrap();
    assert_eq!(rows[0].phone.as_deref(), Some("136****8609"));
});
