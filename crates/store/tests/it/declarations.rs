//! Self-declaration store tests (links, public submission, review queue, confirm and reject),
//! each on SQLite and on PostgreSQL.

use linli_core::epidemic::policy::{DivisionCode, Measure, RiskArea, RiskLevel};
use linli_core::kernel::clock::now_ms;
use linli_core::kernel::clock::parse_date;
use linli_core::registry::PersonInput;
use linli_core::Scope;
use linli_store::epidemic::declarations::{self, DeclarationInput};
use linli_store::infra::audit::{self, AuditFilter};
use linli_store::registry;
use linli_store::tree::Node;
use linli_store::{both_backends, epidemic, Db, Page, StoreError};

use crate::support::{count, id, node, op, register, tree};

struct World {
    district: Node,
    grid_a: Node,
    grid_b: Node,
    building_a: Node,
    worker_a: Scope,
    worker_b: Scope,
    official: Scope,
}

/// A community with two grids (a building under grid A), a worker on each grid, an official on
/// the community, and 武汉市洪山区 high-risk in July 2022.
async fn world(db: &Db) -> World {
    let t = tree(db).await;
    let building_a = node(db, Some(t.grid_a.id), "building", "甲1栋", None).await;
    epidemic::add_risk_area(
        db,
        &op(),
        &RiskArea::new(
            DivisionCode::parse("420111").unwrap(),
            Some("武汉市洪山区"),
            RiskLevel::High,
            parse_date("d", "2022-06-30").unwrap(),
            Some(parse_date("d", "2022-07-20").unwrap()),
        )
        .unwrap(),
        now_ms(),
    )
    .await
    .unwrap();
    World {
        worker_a: t.worker_a(),
        worker_b: t.worker_b(),
        official: t.official(),
        district: t.district,
        grid_a: t.grid_a,
        grid_b: t.grid_b,
        building_a,
    }
}

fn typed(name: &str, id_number: &str) -> DeclarationInput {
    DeclarationInput {
        name: name.into(),
        id_number: id_number.into(),
        phone: "13912345678".into(),
        address: "3栋2单元501室".into(),
        origin_code: "420111".into(),
        arrived_on: "2022-07-05".into(),
        purpose: "探亲".into(),
        symptoms: vec!["无".into()],
        temperature: "36.6".into(),
    }
}

async fn actions(db: &Db, prefix: &str) -> Vec<String> {
    audit::list(
        db,
        &op(),
        &AuditFilter {
            action_prefix: Some(prefix.into()),
            ..AuditFilter::default()
        },
        Page::new(Some(Page::MAX_LIMIT), None),
    )
    .await
    .unwrap()
    .into_iter()
    .map(|a| a.action)
    .collect()
}

both_backends!(
    links_are_per_node_unguessable_and_can_be_rotated_and_revoked,
    |db: Db| async move {
        let w = world(&db).await;
        let link = declarations::create_link(&db, &w.worker_a, w.grid_a.id, now_ms())
            .await
            .unwrap();
        // A short code a person can type off the poster, found again as typed.
        assert_eq!(link.token.len(), 10, "{}", link.token);
        assert!(link
            .token
            .bytes()
            .all(|b| linli_core::kernel::token::ALPHABET.contains(&b)));
        let as_typed = format!(
            "{}-{}",
            link.token[..5].to_ascii_lowercase(),
            &link.token[5..]
        );
        assert_eq!(
            declarations::link_for_token(&db, &as_typed)
                .await
                .unwrap()
                .id,
            link.id
        );
        assert_eq!(link.node_name, "甲网格");
        // One active link per node.
        let e = declarations::create_link(&db, &w.worker_a, w.grid_a.id, now_ms())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
        // Not above a community, not outside the scope, not by an official.
        let e = declarations::create_link(&db, &op(), w.district.id, now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "node_id"),
            "{e:?}"
        );
        assert!(matches!(
            declarations::create_link(&db, &w.worker_b, w.grid_a.id, now_ms()).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            declarations::create_link(&db, &w.official, w.grid_b.id, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));
        // Listed for its grid's worker only.
        assert_eq!(
            declarations::links(&db, &w.worker_a).await.unwrap().len(),
            1
        );
        assert!(declarations::links(&db, &w.worker_b)
            .await
            .unwrap()
            .is_empty());
        assert!(matches!(
            declarations::rotate_link(&db, &w.worker_b, link.id, now_ms()).await,
            Err(StoreError::NotFound)
        ));

        let public = declarations::link_for_token(&db, &link.token)
            .await
            .unwrap();
        assert_eq!(public.node_name, "甲网格");
        assert!(matches!(
            declarations::link_for_token(&db, "abc").await,
            Err(StoreError::NotFound)
        ));

        // Rotating: the old address is dead, the new one works, for the same node.
        let new = declarations::rotate_link(&db, &w.worker_a, link.id, now_ms())
            .await
            .unwrap();
        assert_ne!(new.token, link.token);
        assert_eq!(new.node_id, link.node_id);
        assert!(matches!(
            declarations::link_for_token(&db, &link.token).await,
            Err(StoreError::NotFound)
        ));
        let e = declarations::submit(
            &db,
            &link.token,
            &typed("张三", &id("53340119850312001")),
            None,
            now_ms(),
        )
        .await
        .unwrap_err();
        assert!(matches!(e, StoreError::NotFound), "{e:?}");
        declarations::link_for_token(&db, &new.token).await.unwrap();

        declarations::revoke_link(&db, &w.worker_a, new.id, now_ms())
            .await
            .unwrap();
        assert!(matches!(
            declarations::link_for_token(&db, &new.token).await,
            Err(StoreError::NotFound)
        ));
        assert!(declarations::links(&db, &w.worker_a)
            .await
            .unwrap()
            .is_empty());
        // A node may have a link again once its last one is revoked.
        declarations::create_link(&db, &w.worker_a, w.grid_a.id, now_ms())
            .await
            .unwrap();
        let logged = actions(&db, "declaration_link.").await;
        for a in [
            "declaration_link.create",
            "declaration_link.rotate",
            "declaration_link.revoke",
        ] {
            assert!(logged.iter().any(|l| l == a), "{a} audited: {logged:?}");
        }
    }
);

both_backends!(
    a_declaration_waits_in_its_grids_queue_and_is_confirmed_once,
    |db: Db| async move {
        let w = world(&db).await;
        let link = declarations::create_link(&db, &w.worker_a, w.grid_a.id, now_ms())
            .await
            .unwrap();
        let number = id("53340119850312001");

        // Bad input: every bad field named, nothing stored.
        let mut bad = typed("张三", "533401198503120019");
        bad.origin_code = "4201".into();
        bad.temperature = "98".into();
        bad.phone = String::new();
        let e = declarations::submit(&db, &link.token, &bad, Some("10.0.0.9"), now_ms())
            .await
            .unwrap_err();
        let StoreError::Invalid(errors) = e else {
            panic!("{e:?}")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        for f in ["id_number", "origin_code", "temperature", "phone"] {
            assert!(fields.contains(&f), "{f} reported: {fields:?}");
        }
        assert_eq!(count(&db, "declaration").await, 0);

        let receipt = declarations::submit(
            &db,
            &link.token,
            &typed("张三", &number),
            Some("10.0.0.9"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(receipt.reference.len(), 11);
        let pre = receipt.preliminary.clone().unwrap();
        assert_eq!(pre.measure, Measure::CentralizedQuarantine, "{pre:?}");
        assert!(
            pre.explanation.contains("湖北省武汉市洪山区"),
            "{}",
            pre.explanation
        );

        // The numbers are stored encrypted, not in clear.
        let raw: (Vec<u8>, String) =
            sqlx::query_as("SELECT id_cipher, id_last4 FROM declaration WHERE id = $1")
                .bind(receipt.id)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert!(!String::from_utf8_lossy(&raw.0).contains(&number));
        assert_eq!(raw.1, number[14..]);
        // Not registered, not screened yet.
        assert_eq!(count(&db, "person").await, 0);
        assert_eq!(count(&db, "arrival").await, 0);

        // Another grid's worker sees nothing and can do nothing.
        assert!(declarations::queue(&db, &w.worker_b)
            .await
            .unwrap()
            .is_empty());
        for r in [
            declarations::get(&db, &w.worker_b, receipt.id)
                .await
                .map(|_| ()),
            declarations::confirm(&db, &w.worker_b, receipt.id, None, now_ms())
                .await
                .map(|_| ()),
            declarations::reject(&db, &w.worker_b, receipt.id, "不是本网格", now_ms()).await,
        ] {
            assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
        }
        // An official reads it but does not review.
        assert_eq!(
            declarations::queue(&db, &w.official).await.unwrap().len(),
            1
        );
        assert!(matches!(
            declarations::confirm(&db, &w.official, receipt.id, None, now_ms()).await,
            Err(StoreError::Forbidden(_))
        ));

        let queue = declarations::queue(&db, &w.worker_a).await.unwrap();
        assert_eq!(queue.len(), 1);
        assert_eq!(queue[0].name, "张三");
        let masked = &queue[0].id_number_masked;
        assert!(
            masked.starts_with("533401") && masked.contains("********"),
            "{masked}"
        );
        assert!(masked.ends_with(&number[14..]) && !masked.contains(&number[6..14]));
        assert_eq!(queue[0].phone_masked.as_deref(), Some("139****5678"));
        assert_eq!(queue[0].status, "pending");
        let one = declarations::get(&db, &w.worker_a, receipt.id)
            .await
            .unwrap();
        assert!(one.matched.is_none() && !one.registered_elsewhere);

        // A node outside the declaration's is refused, and nothing happens.
        let e = declarations::confirm(&db, &w.worker_a, receipt.id, Some(w.grid_b.id), now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "node_id"),
            "{e:?}"
        );
        assert_eq!(
            declarations::get(&db, &w.worker_a, receipt.id)
                .await
                .unwrap()
                .status,
            "pending"
        );

        // Confirmed under the building below the grid: registered, classified, observed.
        let done = declarations::confirm(
            &db,
            &w.worker_a,
            receipt.id,
            Some(w.building_a.id),
            now_ms(),
        )
        .await
        .unwrap();
        assert!(!done.matched);
        let c = &done.arrival.classification;
        assert_eq!(c.measure, Measure::CentralizedQuarantine);
        assert!(
            c.explanation.contains("湖北省武汉市洪山区"),
            "{}",
            c.explanation
        );
        assert!(done.arrival.observation_id.is_some());
        let person = registry::get(&db, &w.worker_a, done.person_id)
            .await
            .unwrap();
        assert_eq!(person.node_id, w.building_a.id);
        assert_eq!(person.address.as_deref(), Some("3栋2单元501室"));
        let arrival: (String, String) =
            sqlx::query_as("SELECT source, status FROM arrival WHERE id = $1")
                .bind(done.arrival.id)
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(arrival, ("self".to_owned(), "confirmed".to_owned()));
        let after = declarations::get(&db, &w.worker_a, receipt.id)
            .await
            .unwrap();
        assert_eq!(after.status, "confirmed");
        assert_eq!(after.arrival_id, Some(done.arrival.id));
        assert!(declarations::queue(&db, &w.worker_a)
            .await
            .unwrap()
            .is_empty());

        // Confirming twice (or rejecting after) fails cleanly and records nothing more.
        for r in [
            declarations::confirm(&db, &w.worker_a, receipt.id, None, now_ms())
                .await
                .map(|_| ()),
            declarations::reject(&db, &w.worker_a, receipt.id, "重复", now_ms()).await,
        ] {
            assert!(matches!(r, Err(StoreError::Conflict { .. })), "{r:?}");
        }
        assert_eq!(count(&db, "arrival").await, 1);
        assert_eq!(count(&db, "person").await, 1);

        // The same person declares again: matched by ID number, not registered twice.
        let again = declarations::submit(&db, &link.token, &typed("张三", &number), None, now_ms())
            .await
            .unwrap();
        let seen = declarations::get(&db, &w.worker_a, again.id).await.unwrap();
        assert_eq!(seen.matched.as_ref().map(|m| m.id), Some(done.person_id));
        let second = declarations::confirm(&db, &w.worker_a, again.id, None, now_ms())
            .await
            .unwrap();
        assert!(second.matched);
        assert_eq!(second.person_id, done.person_id);
        assert_eq!(count(&db, "person").await, 1);
        // Already under observation from the first: no second one; the worker is told so.
        assert_eq!(second.arrival.observation_id, done.arrival.observation_id);
        assert_eq!(count(&db, "observation").await, 1);
        let told = &second.arrival.classification.explanation;
        assert!(
            told.contains("已在医学观察中") && told.contains("期满日仍为 2022-07-11"),
            "{told}"
        );

        // Rejected with a reason (a reason is required).
        let prank = declarations::submit(
            &db,
            &link.token,
            &typed("李四", &id("53340119900101002")),
            None,
            now_ms(),
        )
        .await
        .unwrap();
        let e = declarations::reject(&db, &w.worker_a, prank.id, "  ", now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid(ref v) if v[0].field == "reason"),
            "{e:?}"
        );
        declarations::reject(&db, &w.worker_a, prank.id, "经核实不在本小区居住", now_ms())
            .await
            .unwrap();
        let r = declarations::get(&db, &w.worker_a, prank.id).await.unwrap();
        assert_eq!(r.status, "rejected");
        assert_eq!(r.reject_reason.as_deref(), Some("经核实不在本小区居住"));
        assert_eq!(count(&db, "person").await, 1);

        let logged = actions(&db, "declaration.").await;
        for a in [
            "declaration.submit",
            "declaration.confirm",
            "declaration.reject",
        ] {
            assert!(logged.iter().any(|l| l == a), "{a} audited: {logged:?}");
        }
    }
);

both_backends!(
    an_id_registered_in_another_grid_is_refused_and_the_declaration_stays_pending,
    |db: Db| async move {
        let w = world(&db).await;
        let number = id("53340119700101999");
        register(
            &db,
            &op(),
            w.grid_b.id,
            &PersonInput {
                name: "乙秘密",
                id_number: Some(&number),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let link = declarations::create_link(&db, &w.worker_a, w.grid_a.id, now_ms())
            .await
            .unwrap();
        let r = declarations::submit(&db, &link.token, &typed("乙秘密", &number), None, now_ms())
            .await
            .unwrap();
        let seen = declarations::get(&db, &w.worker_a, r.id).await.unwrap();
        assert!(seen.matched.is_none());
        assert!(seen.registered_elsewhere);
        let e = declarations::confirm(&db, &w.worker_a, r.id, None, now_ms())
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Conflict { .. }), "{e:?}");
        assert_eq!(
            declarations::get(&db, &w.worker_a, r.id)
                .await
                .unwrap()
                .status,
            "pending",
            "given back to the queue"
        );
        assert_eq!(count(&db, "arrival").await, 0);
    }
);
