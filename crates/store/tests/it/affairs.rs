//! Notices and 居务公开 (issue 20 item 5): audiences and read receipts, the ledger's one-way
//! life (a published entry never changes; corrections link), attachments typed by their bytes,
//! scope, and the community's public page code. On SQLite and on PostgreSQL.

use linli_core::kernel::clock::{format_date, now_ms, today};
use linli_core::kernel::labels::Labelled;
use linli_core::participation::affairs::{EntryInput, MAX_ATTACHMENT_BYTES};
use linli_core::participation::notices::NoticeInput;
use linli_core::{Role, Scope};
use linli_store::accounts::{self, NewUser};
use linli_store::participation::affairs::{self, EntryFilter};
use linli_store::participation::notices::{self, NewNotice, NoticeFilter, NoticeState};
use linli_store::testing::node;
use linli_store::{both_backends, tree, Db, StoreError};

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

/// An account bound at `node` with `role`, and its scope.
async fn user(db: &Db, name: &str, display: &str, role: Role, node: &tree::Node) -> Scope {
    let u = accounts::create(
        db,
        &Scope::operator(),
        NewUser {
            username: name,
            display_name: Some(display),
            password: "correct horse battery",
            role: role.as_str(),
            node_ids: &[node.id],
        },
        now_ms(),
    )
    .await
    .unwrap();
    Scope::for_user(u.id, name, role, vec![node.path.clone()])
}

fn fields(e: StoreError) -> Vec<String> {
    match e {
        StoreError::Invalid(errs) => errs.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn notice<'a>(node_id: i64, title: &'a str, public: bool) -> NewNotice<'a> {
    NewNotice {
        node_id,
        building_id: None,
        tag: None,
        input: NoticeInput {
            title,
            body: "第一段\n\n第二段",
            valid_from: "2020-01-01",
            valid_until: "",
            public,
        },
    }
}

both_backends!(
    notices_reach_their_audience_and_count_receipts,
    |db: Db| async move {
        let district = node(&db, None, "district", "城关区", Some("110101")).await;
        let a = node(
            &db,
            Some(district.id),
            "community",
            "东门社区",
            Some("110101001001"),
        )
        .await;
        let grid = node(&db, Some(a.id), "grid", "第一网格", None).await;
        let b1 = node(&db, Some(a.id), "building", "1栋", None).await;
        let other = node(
            &db,
            Some(district.id),
            "community",
            "西门社区",
            Some("110101001002"),
        )
        .await;
        let staff = user(&db, "staff_a", "张敏", Role::Staff, &a).await;
        let worker = user(&db, "grid_a", "李强", Role::GridWorker, &grid).await;
        let keeper = user(&db, "b1_keeper", "王芳", Role::Staff, &b1).await;
        let stranger = user(&db, "staff_w", "赵磊", Role::Staff, &other).await;
        let now = now_ms();

        // Bad input names each field, and nothing is stored.
        let mut bad = notice(a.id, "", true);
        bad.input.valid_from = "2020-02-30";
        bad.tag = Some("不存在的人群");
        bad.building_id = Some(grid.id);
        let e = notices::create(&db, &staff, bad, now).await.unwrap_err();
        assert_eq!(fields(e), ["title", "valid_from", "building_id", "tag"]);
        // A grid worker cannot write at the community (it is outside their grid).
        assert!(matches!(
            notices::create(&db, &worker, notice(a.id, "停水", true), now).await,
            Err(StoreError::NotFound)
        ));

        let whole = notices::create(&db, &staff, notice(a.id, "停水通知", true), now)
            .await
            .unwrap();
        assert_eq!(whole.author, "张敏");
        assert!(whole.current);
        let mut narrow = notice(a.id, "1栋电梯检修", false);
        narrow.building_id = Some(b1.id);
        narrow.tag = Some("独居老人");
        let narrow = notices::create(&db, &staff, narrow, now).await.unwrap();
        assert_eq!(
            (narrow.audience_name.as_str(), narrow.tag.as_deref()),
            ("1栋", Some("独居老人"))
        );

        // The grid worker is in the whole community's audience, not in building 1's.
        let seen = notices::list(&db, &worker, &NoticeFilter::default(), (50, 0))
            .await
            .unwrap();
        let titles: Vec<&str> = seen.items.iter().map(|r| r.notice.title.as_str()).collect();
        assert_eq!(titles, ["停水通知"]);
        assert!(matches!(
            notices::get(&db, &worker, narrow.id).await,
            Err(StoreError::NotFound)
        ));
        // Another community sees neither, nor their readers.
        assert_eq!(
            notices::list(&db, &stranger, &NoticeFilter::default(), (50, 0))
                .await
                .unwrap()
                .total,
            0
        );
        assert!(matches!(
            notices::get(&db, &stranger, whole.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            notices::readers(&db, &stranger, whole.id).await,
            Err(StoreError::NotFound)
        ));
        // The audience's staff may read but not see receipts (the author's side does).
        assert!(matches!(
            notices::readers(&db, &worker, whole.id).await,
            Err(StoreError::NotFound)
        ));

        // Before anyone reads: the accounts inside the community but the author, all unread.
        let unread = notices::unread_by_node(&db, &staff, Some(a.id))
            .await
            .unwrap();
        let counts: Vec<(&str, i64)> = unread
            .iter()
            .map(|u| (u.node_name.as_str(), u.unread))
            .collect();
        assert_eq!(counts, [("第一网格", 1), ("1栋", 2)]);
        // The author opening their own notice is no receipt.
        notices::open(&db, &staff, whole.id, now).await.unwrap();

        // Opening leaves one receipt, however often.
        notices::open(&db, &worker, whole.id, now + 1000)
            .await
            .unwrap();
        notices::open(&db, &worker, whole.id, now + 2000)
            .await
            .unwrap();
        notices::open(&db, &keeper, narrow.id, now + 3000)
            .await
            .unwrap();
        let readers = notices::readers(&db, &staff, whole.id).await.unwrap();
        let r: Vec<(&str, Option<i64>)> = readers
            .iter()
            .map(|r| (r.name.as_str(), r.read_at))
            .collect();
        assert_eq!(r, [("李强", Some(now + 1000)), ("王芳", None)]);
        let readers = notices::readers(&db, &staff, narrow.id).await.unwrap();
        let r: Vec<(&str, Option<i64>)> = readers
            .iter()
            .map(|r| (r.name.as_str(), r.read_at))
            .collect();
        assert_eq!(r, [("王芳", Some(now + 3000))]);
        let listed = notices::list(&db, &staff, &NoticeFilter::default(), (50, 0))
            .await
            .unwrap();
        let reads: Vec<(&str, i64)> = listed
            .items
            .iter()
            .map(|r| (r.notice.title.as_str(), r.read))
            .collect();
        assert_eq!(reads, [("1栋电梯检修", 1), ("停水通知", 1)]);
        let unread = notices::unread_by_node(&db, &staff, None).await.unwrap();
        let counts: Vec<(&str, i64)> = unread
            .iter()
            .map(|u| (u.node_name.as_str(), u.unread))
            .collect();
        assert_eq!(counts, [("1栋", 1)]);

        // Public notices of the community (for its public page): only the public, current one.
        let public = notices::public_current(&db, &a.path).await.unwrap();
        assert_eq!(public.iter().map(|n| n.id).collect::<Vec<_>>(), [whole.id]);

        // Withdrawing keeps it in history, off the public page and the unread count.
        assert!(matches!(
            notices::withdraw(&db, &worker, whole.id, now).await,
            Err(StoreError::NotFound)
        ));
        let w = notices::withdraw(&db, &staff, whole.id, now + 4000)
            .await
            .unwrap();
        assert_eq!((w.withdrawn_at, w.current), (Some(now + 4000), false));
        assert!(matches!(
            notices::withdraw(&db, &staff, whole.id, now).await,
            Err(StoreError::Conflict { .. })
        ));
        assert!(notices::public_current(&db, &a.path)
            .await
            .unwrap()
            .is_empty());
        let by_state = |s| NoticeFilter {
            state: Some(s),
            ..Default::default()
        };
        let withdrawn = notices::list(&db, &staff, &by_state(NoticeState::Withdrawn), (50, 0))
            .await
            .unwrap();
        assert_eq!(withdrawn.items[0].notice.id, whole.id);
        let current = notices::list(&db, &staff, &by_state(NoticeState::Current), (50, 0))
            .await
            .unwrap();
        assert_eq!(
            current
                .items
                .iter()
                .map(|r| r.notice.id)
                .collect::<Vec<_>>(),
            [narrow.id]
        );
        // A notice that starts tomorrow is upcoming, not current.
        let tomorrow = format_date(today().next_day().unwrap());
        let mut later = notice(a.id, "下周停电", true);
        later.input.valid_from = &tomorrow;
        let later = notices::create(&db, &staff, later, now).await.unwrap();
        assert!(!later.current);
        assert_eq!(NoticeState::of(&later), NoticeState::Upcoming);
        let q = NoticeFilter {
            q: Some("停电".into()),
            ..Default::default()
        };
        assert_eq!(
            notices::list(&db, &staff, &q, (50, 0)).await.unwrap().total,
            1
        );
    }
);

fn entry<'a>(title: &'a str) -> EntryInput<'a> {
    EntryInput {
        category: "finance",
        title,
        body: "收入 12,000 元；支出 8,500 元。",
        period_from: "2026-07-01",
        period_until: "2026-09-30",
    }
}

both_backends!(
    a_published_entry_never_changes_and_corrections_link,
    |db: Db| async move {
        let district = node(&db, None, "district", "城关区", Some("110101")).await;
        let a = node(
            &db,
            Some(district.id),
            "community",
            "东门社区",
            Some("110101001001"),
        )
        .await;
        let grid = node(&db, Some(a.id), "grid", "第一网格", None).await;
        let other = node(
            &db,
            Some(district.id),
            "community",
            "西门社区",
            Some("110101001002"),
        )
        .await;
        let staff = user(&db, "staff_a", "张敏", Role::Staff, &a).await;
        let worker = user(&db, "grid_a", "李强", Role::GridWorker, &grid).await;
        let stranger = user(&db, "staff_w", "赵磊", Role::Staff, &other).await;
        let now = now_ms();

        // Only a community keeps a ledger; bad fields are all named.
        let e = affairs::create(&db, &staff, grid.id, entry("t"), None, now)
            .await
            .unwrap_err();
        assert_eq!(fields(e), ["node_id"]);
        let e = affairs::create(
            &db,
            &staff,
            a.id,
            EntryInput {
                category: "其他",
                title: "",
                ..entry("")
            },
            None,
            now,
        )
        .await
        .unwrap_err();
        assert_eq!(fields(e), ["category", "title"]);
        assert!(matches!(
            affairs::create(&db, &stranger, a.id, entry("t"), None, now).await,
            Err(StoreError::NotFound)
        ));

        let draft = affairs::create(&db, &staff, a.id, entry("第三季度财务收支"), None, now)
            .await
            .unwrap();
        assert_eq!(
            (draft.status.as_str(), draft.created_by.as_str()),
            ("draft", "张敏")
        );

        // Attachments: by their bytes, 5 MB, five per entry.
        let pdf = affairs::attach(&db, &staff, draft.id, "C:\\账目\\三季度.pdf", PDF, now)
            .await
            .unwrap();
        assert_eq!(
            (pdf.name.as_str(), pdf.content_type.as_str()),
            ("三季度.pdf", "application/pdf")
        );
        let gif = affairs::attach(&db, &staff, draft.id, "x.pdf", b"GIF89a....", now)
            .await
            .unwrap_err();
        assert_eq!(fields(gif), ["attachment"]);
        let mut big = PDF.to_vec();
        big.resize(MAX_ATTACHMENT_BYTES + 1, b' ');
        assert_eq!(
            fields(
                affairs::attach(&db, &staff, draft.id, "big.pdf", &big, now)
                    .await
                    .unwrap_err()
            ),
            ["attachment"]
        );
        for i in 0..4 {
            affairs::attach(&db, &staff, draft.id, &format!("p{i}.png"), PNG, now)
                .await
                .unwrap();
        }
        assert_eq!(
            fields(
                affairs::attach(&db, &staff, draft.id, "p5.png", PNG, now)
                    .await
                    .unwrap_err()
            ),
            ["attachment"]
        );
        let got = affairs::attachment(&db, &staff, draft.id, pdf.id)
            .await
            .unwrap();
        assert_eq!(got.bytes, PDF);
        assert!(matches!(
            affairs::attachment(&db, &stranger, draft.id, pdf.id).await,
            Err(StoreError::NotFound)
        ));
        // A grid worker sees the community's ledger only if it covers them: it does not.
        assert!(matches!(
            affairs::get(&db, &worker, draft.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            affairs::publish(&db, &stranger, draft.id, now).await,
            Err(StoreError::NotFound)
        ));

        let published = affairs::publish(&db, &staff, draft.id, now + 10)
            .await
            .unwrap();
        assert_eq!(published.status.as_str(), "published");
        assert_eq!(
            (published.published_at, published.published_by.as_deref()),
            (Some(now + 10), Some("张敏"))
        );
        assert_eq!(published.attachments.len(), 5);
        // Never again: no attachment, no second publication.
        assert_eq!(
            fields(
                affairs::attach(&db, &staff, draft.id, "late.pdf", PDF, now)
                    .await
                    .unwrap_err()
            ),
            ["status"]
        );
        assert_eq!(
            fields(
                affairs::publish(&db, &staff, draft.id, now)
                    .await
                    .unwrap_err()
            ),
            ["status"]
        );
        let again = affairs::get(&db, &staff, draft.id).await.unwrap();
        assert_eq!(
            (
                again.title.as_str(),
                again.attachments.len(),
                again.published_at
            ),
            ("第三季度财务收支", 5, Some(now + 10))
        );

        // A correction points to a published entry of the same community, never a draft.
        let other_draft = affairs::create(&db, &staff, a.id, entry("草稿"), None, now)
            .await
            .unwrap();
        let e = affairs::create(&db, &staff, a.id, entry("更正"), Some(other_draft.id), now)
            .await
            .unwrap_err();
        assert_eq!(fields(e), ["corrects_id"]);
        let fix = affairs::create(
            &db,
            &staff,
            a.id,
            entry("第三季度财务收支（更正）"),
            Some(draft.id),
            now,
        )
        .await
        .unwrap();
        assert_eq!(fix.corrects_title.as_deref(), Some("第三季度财务收支"));
        // Until the correction is published, the old entry is not marked.
        assert_eq!(
            affairs::get(&db, &staff, draft.id)
                .await
                .unwrap()
                .corrected_by_id,
            None
        );
        affairs::publish(&db, &staff, fix.id, now + 20)
            .await
            .unwrap();
        let old = affairs::get(&db, &staff, draft.id).await.unwrap();
        assert_eq!(
            (old.corrected_by_id, old.corrected_by_title.as_deref()),
            (Some(fix.id), Some("第三季度财务收支（更正）"))
        );

        // Lists: scope, status, category, period, words.
        let all = affairs::list(&db, &staff, &EntryFilter::default(), (50, 0))
            .await
            .unwrap();
        assert_eq!(
            all.items.iter().map(|e| e.id).collect::<Vec<_>>(),
            [fix.id, draft.id, other_draft.id]
        );
        assert_eq!(
            affairs::list(&db, &stranger, &EntryFilter::default(), (50, 0))
                .await
                .unwrap()
                .total,
            0
        );
        let f = EntryFilter {
            status: Some(linli_core::participation::affairs::EntryStatus::Draft),
            ..Default::default()
        };
        assert_eq!(
            affairs::list(&db, &staff, &f, (50, 0)).await.unwrap().total,
            1
        );
        let f = EntryFilter {
            category: Some(linli_core::participation::affairs::Category::Decision),
            ..Default::default()
        };
        assert_eq!(
            affairs::list(&db, &staff, &f, (50, 0)).await.unwrap().total,
            0
        );
        let f = EntryFilter {
            from: Some("2026-10-01".into()),
            ..Default::default()
        };
        assert_eq!(
            affairs::list(&db, &staff, &f, (50, 0)).await.unwrap().total,
            0
        );
        let f = EntryFilter {
            q: Some("更正".into()),
            ..Default::default()
        };
        assert_eq!(
            affairs::list(&db, &staff, &f, (50, 0)).await.unwrap().total,
            1
        );

        // Every step is in the audit log.
        let actions: Vec<String> =
            sqlx::query_scalar("SELECT action FROM audit WHERE entity = 'affair' ORDER BY id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(actions.iter().filter(|a| *a == "affair.publish").count(), 2);
        assert_eq!(actions.iter().filter(|a| *a == "affair.attach").count(), 5);
    }
);

both_backends!(
    the_public_page_shows_published_entries_of_its_code,
    |db: Db| async move {
        let district = node(&db, None, "district", "城关区", Some("110101")).await;
        let a = node(
            &db,
            Some(district.id),
            "community",
            "东门社区",
            Some("110101001001"),
        )
        .await;
        let grid = node(&db, Some(a.id), "grid", "第一网格", None).await;
        let other = node(
            &db,
            Some(district.id),
            "community",
            "西门社区",
            Some("110101001002"),
        )
        .await;
        let staff = user(&db, "staff_a", "张敏", Role::Staff, &a).await;
        let worker = user(&db, "grid_a", "李强", Role::GridWorker, &grid).await;
        let staff_w = user(&db, "staff_w", "赵磊", Role::Staff, &other).await;
        let now = now_ms();

        assert!(affairs::page_code(&db, &staff, a.id)
            .await
            .unwrap()
            .1
            .is_none());
        assert_eq!(
            fields(
                affairs::issue_page_code(&db, &staff, grid.id, now)
                    .await
                    .unwrap_err()
            ),
            ["node_id"]
        );
        assert!(matches!(
            affairs::issue_page_code(&db, &worker, a.id, now).await,
            Err(StoreError::NotFound)
        ));
        let first = affairs::issue_page_code(&db, &staff, a.id, now)
            .await
            .unwrap();
        assert_eq!(first.code.len(), 10);
        // Typed loosely: lower case and dashes are fine.
        let typed = format!("{}-{}", &first.code[..4].to_lowercase(), &first.code[4..]);
        let community = affairs::community_for_code(&db, &typed).await.unwrap();
        assert_eq!(
            (community.node_id, community.name.as_str()),
            (a.id, "东门社区")
        );

        let published = affairs::create(&db, &staff, a.id, entry("公开的"), None, now)
            .await
            .unwrap();
        let att = affairs::attach(&db, &staff, published.id, "a.pdf", PDF, now)
            .await
            .unwrap();
        affairs::publish(&db, &staff, published.id, now)
            .await
            .unwrap();
        let draft = affairs::create(&db, &staff, a.id, entry("草稿"), None, now)
            .await
            .unwrap();
        let draft_att = affairs::attach(&db, &staff, draft.id, "d.pdf", PDF, now)
            .await
            .unwrap();
        let theirs = affairs::create(&db, &staff_w, other.id, entry("西门"), None, now)
            .await
            .unwrap();
        let their_att = affairs::attach(&db, &staff_w, theirs.id, "w.pdf", PDF, now)
            .await
            .unwrap();
        affairs::publish(&db, &staff_w, theirs.id, now)
            .await
            .unwrap();

        let page = affairs::public_list(&db, &community, None, (20, 0))
            .await
            .unwrap();
        assert_eq!(
            page.items.iter().map(|e| e.id).collect::<Vec<_>>(),
            [published.id]
        );
        let finance = linli_core::participation::affairs::Category::Finance;
        assert_eq!(
            affairs::public_list(&db, &community, Some(finance), (20, 0))
                .await
                .unwrap()
                .total,
            1
        );
        let decision = linli_core::participation::affairs::Category::Decision;
        assert_eq!(
            affairs::public_list(&db, &community, Some(decision), (20, 0))
                .await
                .unwrap()
                .total,
            0
        );
        assert_eq!(
            affairs::public_attachment(&db, &community, published.id, att.id)
                .await
                .unwrap()
                .bytes,
            PDF
        );
        for (e, x) in [
            (draft.id, draft_att.id),
            (theirs.id, their_att.id),
            (published.id, draft_att.id),
        ] {
            assert!(matches!(
                affairs::public_attachment(&db, &community, e, x).await,
                Err(StoreError::NotFound)
            ));
        }

        // Replacing the code: the old one is gone at once, the new one works.
        let second = affairs::issue_page_code(&db, &staff, a.id, now + 1)
            .await
            .unwrap();
        assert_ne!(first.code, second.code);
        assert!(matches!(
            affairs::community_for_code(&db, &first.code).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            affairs::community_for_code(&db, &second.code)
                .await
                .unwrap()
                .node_id,
            a.id
        );
        assert!(matches!(
            affairs::community_for_code(&db, "not a code").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            affairs::page_code(&db, &staff, a.id)
                .await
                .unwrap()
                .1
                .unwrap()
                .code,
            second.code
        );
        let live: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM community_page WHERE replaced_at IS NULL")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert_eq!(live, 1);
    }
);
