//! The epidemic dashboard rolled up the tree, on SQLite and on PostgreSQL with a fixed `today`:
//! a parent's figures are the sum of its children's plus its own direct records, and the
//! dashboard of a node outside the caller's jurisdiction is not found.

use linli_core::kernel::clock::parse_date;
use linli_core::{Role, Scope};
use linli_store::epidemic::dashboard::{self, Figures};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{exec, high_risk_area, node, op, screened};

fn sum(rows: &[Figures]) -> Figures {
    rows.iter().fold(Figures::default(), |a, f| Figures {
        arrivals_today: a.arrivals_today + f.arrivals_today,
        centralized_quarantine: a.centralized_quarantine + f.centralized_quarantine,
        home_quarantine: a.home_quarantine + f.home_quarantine,
        health_monitoring: a.health_monitoring + f.health_monitoring,
        fevers_open: a.fevers_open + f.fevers_open,
        overdue_open: a.overdue_open + f.overdue_open,
        releases_due: a.releases_due + f.releases_due,
    })
}

both_backends!(
    a_parent_is_the_sum_of_its_children_and_its_direct_records,
    |db: Db| async move {
        let d = node(&db, None, "district", "香格里拉市", Some("533401")).await;
        let street = node(&db, Some(d.id), "street", "建塘镇", Some("533401100")).await;
        let community = node(
            &db,
            Some(street.id),
            "community",
            "里布嘎社区",
            Some("533401100003"),
        )
        .await;
        let grid_a = node(&db, Some(community.id), "grid", "甲网格", None).await;
        let grid_b = node(&db, Some(community.id), "grid", "乙网格", None).await;
        let _empty = node(&db, Some(community.id), "grid", "丙网格", None).await;
        high_risk_area(&db).await;

        // Grid A: two arrivals today (one with a fever), one yesterday now due for release.
        screened(
            &db,
            &grid_a,
            "张三",
            "53340119850312001",
            "2022-07-02",
            true,
        )
        .await;
        let a2 = screened(
            &db,
            &grid_a,
            "李四",
            "53340119900101002",
            "2022-07-02",
            false,
        )
        .await;
        let a3 = screened(
            &db,
            &grid_a,
            "王五",
            "53340119900101003",
            "2022-07-01",
            false,
        )
        .await;
        exec(
            &db,
            "UPDATE observation SET measure = 'home_quarantine' WHERE id = $1",
            a2,
        )
        .await;
        exec(
            &db,
            "UPDATE observation SET until_on = '2022-07-02' WHERE id = $1",
            a3,
        )
        .await;
        // Grid B: one arrival today under health monitoring, with an overdue alert; one released.
        let b1 = screened(
            &db,
            &grid_b,
            "赵六",
            "53340119900101004",
            "2022-07-02",
            false,
        )
        .await;
        let b2 = screened(
            &db,
            &grid_b,
            "钱七",
            "53340119900101005",
            "2022-07-01",
            false,
        )
        .await;
        exec(
            &db,
            "UPDATE observation SET measure = 'health_monitoring' WHERE id = $1",
            b1,
        )
        .await;
        exec(
            &db,
            "UPDATE observation SET released_on = '2022-07-02', released_by = 'x' WHERE id = $1",
            b2,
        )
        .await;
        exec(
            &db,
            "INSERT INTO alert (kind, person_id, observation_id, district_id, node_path, raised_at, detail, slot_key) \
             SELECT 'overdue', person_id, id, district_id, node_path, 0, '逾期', '2022-07-02#1' FROM observation WHERE id = $1",
            b1,
        )
        .await;
        // On the community itself (no grid): one arrival today with a fever.
        screened(
            &db,
            &community,
            "孙八",
            "53340119900101006",
            "2022-07-02",
            true,
        )
        .await;

        let today = parse_date("d", "2022-07-02").unwrap();
        let dash = dashboard::epidemic_dashboard(&db, &op(), community.id, today)
            .await
            .unwrap();
        assert_eq!(dash.today, "2022-07-02");
        assert_eq!(dash.children.len(), 3);
        let rows: Vec<Figures> = dash.children.iter().map(|c| c.figures).collect();
        let mut all = rows.clone();
        all.push(dash.direct);
        assert_eq!(dash.total, sum(&all), "the node is the sum of its rows");

        let a = dash.children[0].figures;
        assert_eq!(dash.children[0].node_id, grid_a.id);
        assert_eq!(a.arrivals_today, 2);
        assert_eq!(a.home_quarantine, 1);
        assert_eq!(a.under_observation(), 3);
        assert_eq!(a.fevers_open, 1);
        assert_eq!(a.releases_due, 1);
        let b = dash.children[1].figures;
        assert_eq!(b.arrivals_today, 1);
        assert_eq!(b.health_monitoring, 1);
        assert_eq!(b.under_observation(), 1, "the released one is not counted");
        assert_eq!(b.overdue_open, 1);
        assert_eq!(dash.children[2].figures, Figures::default());
        assert_eq!(dash.direct.arrivals_today, 1);
        assert_eq!(dash.direct.fevers_open, 1);
        assert_eq!(dash.total.arrivals_today, 4);
        assert_eq!(dash.total.under_observation(), 5);

        // One level up: the street's single child carries the community's whole total.
        let up = dashboard::epidemic_dashboard(&db, &op(), street.id, today)
            .await
            .unwrap();
        assert_eq!(up.total, dash.total);
        assert_eq!(up.children.len(), 1);
        assert_eq!(up.children[0].figures, dash.total);
        assert_eq!(up.direct, Figures::default());

        // Another day: arrivals of that day only; open observations do not depend on the day.
        let next = dashboard::epidemic_dashboard(
            &db,
            &op(),
            community.id,
            parse_date("d", "2022-07-03").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(next.total.arrivals_today, 0);
        assert_eq!(next.total.under_observation(), 5);

        // A grid worker sees their grid, and nothing else exists for them.
        let worker_b = Scope::for_user(12, "worker_b", Role::GridWorker, vec![grid_b.path.clone()]);
        let own = dashboard::epidemic_dashboard(&db, &worker_b, grid_b.id, today)
            .await
            .unwrap();
        assert_eq!(own.total, b);
        for outside in [grid_a.id, community.id, street.id, 999_999] {
            assert!(matches!(
                dashboard::epidemic_dashboard(&db, &worker_b, outside, today).await,
                Err(StoreError::NotFound)
            ));
        }
    }
);
