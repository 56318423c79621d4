//! Volunteer store tests (volunteers, teams, activities, sign-ups, hours, certificates, counts,
//! the public link, scope), each on SQLite and on PostgreSQL.

use linli_core::kernel::clock::{date_of, format_date, now_ms, DayRange};
use linli_core::participation::volunteers::{ActivityInput, HoursStatus, VolunteerState};
use linli_core::registry::PersonInput;
use linli_store::participation::volunteers::{
    self as vol, Activity, ActivityFilter, Source, VolunteerFilter, VolunteerInput, Who,
};
use linli_store::{both_backends, Db, StoreError};

use crate::support::{audited, field_of, op, register, tree, Tree};

const HOUR: i64 = 3_600_000;

/// A resident of grid A with a phone, as a volunteer with skills; the volunteer.
async fn resident_volunteer(db: &Db, t: &Tree, name: &str, phone: &str) -> vol::Volunteer {
    let input = PersonInput {
        name,
        phone: Some(phone),
        ..Default::default()
    };
    let (p, _) = register(db, &op(), t.grid_a.id, &input).await.unwrap();
    vol::create_volunteer(
        db,
        &t.worker_a(),
        &VolunteerInput {
            who: Who::Person(p.id),
            node_id: None,
            skills: vec![" 医 疗".into(), "医疗".into(), "驾驶".into()],
            availability: Some("周末全天"),
            weekdays: vec!["六".into(), "日".into()],
            team_ids: vec![],
        },
        now_ms(),
    )
    .await
    .unwrap()
}

/// An activity on grid A that started 2 hours ago and ends in an hour (3 hours long), asking
/// for one 医疗 and `anyone` more people of any skill.
async fn activity(db: &Db, t: &Tree, anyone: i64) -> Activity {
    let now = now_ms();
    vol::create_activity(
        db,
        &t.worker_a(),
        t.grid_a.id,
        &ActivityInput {
            title: "义诊进社区",
            place: Some("社区广场"),
            starts_at: Some(now - 2 * HOUR),
            ends_at: Some(now + HOUR),
            description: None,
            needs: vec![(Some("医疗"), 1), (None, anyone)],
        },
        now,
    )
    .await
    .unwrap()
}

both_backends!(
    volunteers_sign_up_once_fill_activities_and_serve_confirmed_hours,
    |db: Db| async move {
        let t = tree(&db).await;
        let w = t.worker_a();
        let li = resident_volunteer(&db, &t, "李医生", "13612348609").await;
        assert_eq!(li.skills, vec!["医疗", "驾驶"]);
        assert_eq!(li.weekdays, vec![6, 7]);
        assert_eq!(li.name, "李医生");
        assert_eq!(li.phone_masked.as_deref(), Some("136****8609"));
        assert_eq!(li.state, VolunteerState::Active);
        // A person is a volunteer once.
        let again = vol::create_volunteer(
            &db,
            &w,
            &VolunteerInput {
                who: Who::Person(li.person_id.unwrap()),
                node_id: None,
                skills: vec![],
                availability: None,
                weekdays: vec![],
                team_ids: vec![],
            },
            now_ms(),
        )
        .await
        .unwrap_err();
        assert_eq!(field_of(&again), "person_id");

        // A team led by 李医生, and an outside volunteer who joins it.
        let team = vol::create_team(
            &db,
            &w,
            t.grid_a.id,
            "甲网格志愿服务队",
            Some(li.id),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(team.leader_name.as_deref(), Some("李医生"));
        assert_eq!(team.members, 1);
        let wang = vol::create_volunteer(
            &db,
            &w,
            &VolunteerInput {
                who: Who::Outside {
                    name: "王师傅",
                    phone: "139 0887 1234",
                },
                node_id: Some(t.grid_a.id),
                skills: vec!["电工".into()],
                availability: None,
                weekdays: vec![],
                team_ids: vec![team.id],
            },
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(wang.teams.len(), 1);
        assert_eq!(wang.teams[0].name, "甲网格志愿服务队");
        let bad = vol::create_volunteer(
            &db,
            &w,
            &VolunteerInput {
                who: Who::Outside {
                    name: " ",
                    phone: "12",
                },
                node_id: Some(t.grid_a.id),
                skills: vec!["a/b".into()],
                availability: None,
                weekdays: vec![],
                team_ids: vec![],
            },
            now_ms(),
        )
        .await
        .unwrap_err();
        let StoreError::Invalid(errs) = bad else {
            panic!("{bad:?}")
        };
        let fields: Vec<_> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["skills", "name", "phone"]);

        // Lists filter by skill, team, state and words.
        let by = |f: VolunteerFilter| {
            let db = db.clone();
            let w = w.clone();
            let node = t.grid_a.id;
            async move {
                vol::volunteers(&db, &w, node, &f, (50, 0))
                    .await
                    .map(|l| l.items.into_iter().map(|v| v.name).collect::<Vec<_>>())
            }
        };
        assert_eq!(
            by(VolunteerFilter {
                skill: Some("医疗".into()),
                ..Default::default()
            })
            .await
            .unwrap(),
            ["李医生"]
        );
        assert_eq!(
            by(VolunteerFilter {
                team_id: Some(team.id),
                ..Default::default()
            })
            .await
            .unwrap()
            .len(),
            2
        );
        assert_eq!(
            by(VolunteerFilter {
                q: Some("1234".into()),
                ..Default::default()
            })
            .await
            .unwrap(),
            ["王师傅"]
        );

        // An activity for two: 李医生 fills the 医疗 need, 王师傅 the other; a third is refused.
        let a = activity(&db, &t, 1).await;
        assert_eq!(a.capacity(), 2);
        assert_eq!(a.length().halves(), 6);
        let s = vol::sign_up(&db, &w, a.id, li.id, now_ms()).await.unwrap();
        assert_eq!(s.skill.as_deref(), Some("医疗"));
        assert_eq!(s.source, Source::Staff);
        let twice = vol::sign_up(&db, &w, a.id, li.id, now_ms())
            .await
            .unwrap_err();
        assert!(
            matches!(&twice, StoreError::Conflict { field, .. } if field == "volunteer_id"),
            "{twice:?}"
        );
        vol::sign_up(&db, &w, a.id, wang.id, now_ms())
            .await
            .unwrap();
        let zhao = resident_volunteer(&db, &t, "赵阿姨", "13712345678").await;
        let full = vol::sign_up(&db, &w, a.id, zhao.id, now_ms())
            .await
            .unwrap_err();
        let StoreError::Invalid(errs) = &full else {
            panic!("{full:?}")
        };
        assert!(errs[0].message.contains("已满员"), "{}", errs[0].message);
        assert_eq!(vol::activity(&db, &w, a.id).await.unwrap().signed_up, 2);

        // Hours: more than none, in half hours, at most the activity's 3 hours.
        for bad in ["0", "3.5", "1.2", "两小时"] {
            let e = vol::confirm_hours(&db, &w, a.id, li.id, bad, now_ms())
                .await
                .unwrap_err();
            assert_eq!(field_of(&e), "hours", "{bad}");
        }
        let h = vol::confirm_hours(&db, &w, a.id, li.id, "2.5", now_ms())
            .await
            .unwrap();
        assert!(h.id > 0);
        assert_eq!(h.status, HoursStatus::Confirmed);
        assert_eq!(h.hours.halves(), 5);
        let final_ = vol::confirm_hours(&db, &w, a.id, li.id, "3", now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&final_), "hours");
        let absent = vol::mark_absent(&db, &w, a.id, wang.id, now_ms())
            .await
            .unwrap();
        assert_eq!(absent.attended, Some(false));
        let li_signup = vol::signup(&db, &w, a.id, li.id).await.unwrap();
        assert_eq!(li_signup.attended, Some(true));
        assert_eq!(li_signup.hours.unwrap().id, h.id);

        // Counts of the community this month; the certificate of 李医生.
        let c = vol::counts(&db, &w, t.grid_a.id, a.starts_at)
            .await
            .unwrap();
        assert_eq!(
            (c.active, c.pending, c.month_halves, c.month_activities),
            (3, 0, 5, 1)
        );
        let day = format_date(date_of(a.starts_at));
        let cert = vol::certificate(
            &db,
            &w,
            li.id,
            DayRange::parse(&day, &day).unwrap(),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(cert.total.display(), "2.5");
        assert_eq!(cert.community, "里布嘎社区");
        assert_eq!(cert.lines.len(), 1);
        assert_eq!(cert.lines[0].title, "义诊进社区");
        assert!(
            cert.number.starts_with(&format!("ZY{:06}-", li.id)),
            "{}",
            cert.number
        );
        let none = vol::certificate(
            &db,
            &w,
            wang.id,
            DayRange::parse(&day, &day).unwrap(),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(none.total.halves(), 0);

        // Leaving: a volunteer who left cannot sign up.
        let left = vol::set_state(
            &db,
            &w,
            zhao.id,
            VolunteerState::Left,
            Some("2020-02-01"),
            now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(left.left_on.as_deref(), Some("2020-02-01"));
        let b = activity(&db, &t, 5).await;
        let e = vol::sign_up(&db, &w, b.id, zhao.id, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), "volunteer_id");

        let actions: Vec<String> = audited(&db, "")
            .await
            .into_iter()
            .map(|a| a.action)
            .collect();
        for want in [
            "volunteer.create",
            "volunteer_team.create",
            "activity.create",
            "activity.signup",
            "hours.confirm",
            "volunteer.certificate",
            "volunteer.state",
        ] {
            assert!(actions.iter().any(|a| a == want), "{want} not audited");
        }
    }
);

both_backends!(
    the_public_link_signs_up_by_phone_and_takes_self_reported_hours,
    |db: Db| async move {
        let t = tree(&db).await;
        let w = t.worker_a();
        let li = resident_volunteer(&db, &t, "李医生", "13612348609").await;
        let a = activity(&db, &t, 1).await;
        let code = linli_core::kernel::token::grouped(&a.code).to_lowercase();
        let public = vol::by_code(&db, &code).await.unwrap();
        assert_eq!(
            (public.title.as_str(), public.community.as_str()),
            ("义诊进社区", "里布嘎社区")
        );
        assert!(matches!(
            vol::by_code(&db, "ZZZZZZZZZZ").await,
            Err(StoreError::NotFound)
        ));

        // A known phone signs 李医生 up (in any spelling); a new one makes a pending volunteer.
        let s = vol::sign_up_by_code(&db, &a.code, "李", "136-1234-8609", None, now_ms())
            .await
            .unwrap();
        assert!(s.known);
        let twice = vol::sign_up_by_code(&db, &a.code, "李", "13612348609", None, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&twice), "volunteer_id");
        let new = vol::sign_up_by_code(&db, &a.code, "钱同学", "15812345678", None, now_ms())
            .await
            .unwrap();
        assert!(!new.known);
        let pending = vol::volunteers(
            &db,
            &w,
            t.grid_a.id,
            &VolunteerFilter {
                state: Some(VolunteerState::Pending),
                ..Default::default()
            },
            (50, 0),
        )
        .await
        .unwrap();
        assert_eq!(pending.items.len(), 1);
        assert_eq!(pending.items[0].name, "钱同学");
        let qian = pending.items[0].id;
        let full = vol::sign_up_by_code(&db, &a.code, "孙", "15912345678", None, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&full), "activity");
        let bad = vol::sign_up_by_code(&db, &a.code, "", "1", None, now_ms())
            .await
            .unwrap_err();
        let StoreError::Invalid(errs) = bad else {
            panic!()
        };
        assert_eq!(errs.len(), 2);

        // Self-reported hours wait; they count once confirmed.
        let nobody = vol::report_hours_by_code(&db, &a.code, "13000000000", "2", None, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&nobody), "phone");
        let too_long = vol::report_hours_by_code(&db, &a.code, "13612348609", "4", None, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&too_long), "hours");
        let r = vol::report_hours_by_code(&db, &a.code, "13612348609", "2", None, now_ms())
            .await
            .unwrap();
        assert_eq!(
            (r.status, r.source, r.hours.halves()),
            (HoursStatus::Pending, Source::Link, 4)
        );
        let again = vol::report_hours_by_code(&db, &a.code, "13612348609", "2", None, now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&again), "hours");
        let c = vol::counts(&db, &w, t.grid_a.id, a.starts_at)
            .await
            .unwrap();
        assert_eq!((c.active, c.pending, c.month_halves), (1, 1, 0));
        let confirmed = vol::confirm_hours(&db, &w, a.id, li.id, "2", now_ms())
            .await
            .unwrap();
        assert_eq!(confirmed.id, r.id);
        assert_eq!(confirmed.status, HoursStatus::Confirmed);
        let c = vol::counts(&db, &w, t.grid_a.id, a.starts_at)
            .await
            .unwrap();
        assert_eq!(c.month_halves, 4);

        // Refused with a reason, then reported again.
        vol::report_hours_by_code(&db, &a.code, "15812345678", "3", None, now_ms())
            .await
            .unwrap();
        let e = vol::reject_hours(&db, &w, a.id, qian, " ", now_ms())
            .await
            .unwrap_err();
        assert_eq!(field_of(&e), "reason");
        let rejected = vol::reject_hours(&db, &w, a.id, qian, "当天未到场", now_ms())
            .await
            .unwrap();
        assert_eq!(rejected.status, HoursStatus::Rejected);
        assert_eq!(rejected.reason.as_deref(), Some("当天未到场"));
        let re = vol::report_hours_by_code(&db, &a.code, "15812345678", "1", None, now_ms())
            .await
            .unwrap();
        assert_eq!((re.id, re.status), (rejected.id, HoursStatus::Pending));
        let c = vol::counts(&db, &w, t.grid_a.id, a.starts_at)
            .await
            .unwrap();
        assert_eq!(c.month_halves, 4);

        // Staff confirm the pending volunteer.
        let v = vol::set_state(&db, &w, qian, VolunteerState::Active, None, now_ms())
            .await
            .unwrap();
        assert_eq!(v.state, VolunteerState::Active);
        assert!(!audited(&db, "hours.report").await.is_empty());
    }
);

both_backends!(another_grid_sees_and_changes_nothing, |db: Db| async move {
    let t = tree(&db).await;
    let li = resident_volunteer(&db, &t, "李医生", "13612348609").await;
    let a = activity(&db, &t, 1).await;
    let team = vol::create_team(&db, &t.worker_a(), t.grid_a.id, "甲队", None, now_ms())
        .await
        .unwrap();
    vol::sign_up(&db, &t.worker_a(), a.id, li.id, now_ms())
        .await
        .unwrap();
    let b = t.worker_b();
    let nf = |r: Result<(), StoreError>| assert!(matches!(r, Err(StoreError::NotFound)), "{r:?}");
    nf(vol::volunteer(&db, &b, li.id).await.map(|_| ()));
    nf(vol::activity(&db, &b, a.id).await.map(|_| ()));
    nf(vol::team(&db, &b, team.id).await.map(|_| ()));
    nf(vol::signups(&db, &b, a.id).await.map(|_| ()));
    nf(vol::service(&db, &b, li.id, (None, None)).await.map(|_| ()));
    nf(vol::confirm_hours(&db, &b, a.id, li.id, "1", now_ms())
        .await
        .map(|_| ()));
    nf(vol::reject_hours(&db, &b, a.id, li.id, "x", now_ms())
        .await
        .map(|_| ()));
    nf(vol::mark_absent(&db, &b, a.id, li.id, now_ms())
        .await
        .map(|_| ()));
    nf(
        vol::set_state(&db, &b, li.id, VolunteerState::Left, None, now_ms())
            .await
            .map(|_| ()),
    );
    nf(vol::add_member(&db, &b, team.id, li.id, now_ms())
        .await
        .map(|_| ()));
    nf(vol::counts(&db, &b, t.grid_a.id, now_ms())
        .await
        .map(|_| ()));
    let day = DayRange::parse("2020-01-01", "2030-01-01").unwrap();
    nf(vol::certificate(&db, &b, li.id, day, now_ms())
        .await
        .map(|_| ()));
    // Lists from the community hold only grid B's (none).
    let vs = vol::volunteers(&db, &b, t.grid_b.id, &VolunteerFilter::default(), (50, 0))
        .await
        .unwrap();
    assert_eq!(vs.total, 0);
    let acts = vol::activities(
        &db,
        &b,
        t.grid_b.id,
        &ActivityFilter::default(),
        now_ms(),
        (50, 0),
    )
    .await
    .unwrap();
    assert_eq!(acts.total, 0);
    assert!(vol::teams(&db, &b, t.grid_b.id).await.unwrap().is_empty());
    nf(
        vol::volunteers(&db, &b, t.grid_a.id, &VolunteerFilter::default(), (50, 0))
            .await
            .map(|_| ()),
    );
    // Signing up someone from grid A, or onto grid A's activity, is refused.
    let e = vol::sign_up(&db, &b, a.id, li.id, now_ms())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound), "{e:?}");
    let e = vol::create_activity(
        &db,
        &b,
        t.grid_a.id,
        &ActivityInput {
            title: "x",
            starts_at: Some(0),
            ends_at: Some(HOUR),
            needs: vec![(None, 1)],
            ..Default::default()
        },
        now_ms(),
    )
    .await
    .unwrap_err();
    assert_eq!(field_of(&e), "node_id");
    // An official reads but does not write.
    let o = t.official();
    assert_eq!(vol::activity(&db, &o, a.id).await.unwrap().signed_up, 1);
    let e = vol::confirm_hours(&db, &o, a.id, li.id, "1", now_ms())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Forbidden(_)), "{e:?}");
    // The community's list shows grid A's activity to the official.
    let acts = vol::activities(
        &db,
        &o,
        t.community.id,
        &ActivityFilter::default(),
        now_ms(),
        (50, 0),
    )
    .await
    .unwrap();
    assert_eq!(acts.items.len(), 1);
});
