//! Lists counted and paged in SQL answer exactly what the core answers by judging every
//! record: two instances over one database, one of them started with `--judge-every-list`.

use crate::fixture::{Instance, User};
use offgrid::query::{Query, QueryContext};
use offgrid_server::storage::sqlite::Sqlite;
use offgrid_server::storage::{SqlPage, Storage};
use serde_json::{json, Value};

/// Enough demo records for pages at several offsets of every user's lists.
const RECORDS: u32 = 600;

/// One answer of a list: status, `X-Total-Count` and body.
async fn answer(user: &User, table: &str, query: &str, offset: usize, limit: usize) -> String {
    let response = user
        .client
        .get(user.url(&format!("/api/now/table/{table}")))
        .query(&[
            ("sysparm_query", query),
            ("sysparm_offset", &offset.to_string()),
            ("sysparm_limit", &limit.to_string()),
        ])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let total = response
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = response.json().await.unwrap();
    format!("{status} total {total:?} {body}")
}

/// Records whose order keys SQLite does not order as the core does (numbers, a boolean, an
/// empty string, a numeric text) in `incident`; ties, a missing and a null number in
/// `wm_task`, which SQL orders.
async fn add_awkward_records(admin: &User) {
    for number in [json!(5), json!(true), json!(""), json!("12"), json!(2.5)] {
        admin
            .insert(
                "incident",
                json!({"number": number, "state": "new", "assigned_to": "beth.anglin"}),
            )
            .await;
    }
    for number in [
        json!("WOT0001005"),
        json!("WOT0001005"),
        json!(null),
        json!("wot0"),
    ] {
        admin
            .insert(
                "wm_task",
                json!({"number": number, "state": "assigned", "assigned_to": "beth.anglin"}),
            )
            .await;
    }
    admin
        .insert(
            "wm_task",
            json!({"state": "assigned", "assigned_to": "beth.anglin", "short_description": "x"}),
        )
        .await;
}

#[tokio::test]
async fn lists_paged_in_sql_answer_what_judging_every_record_answers() {
    let by_sql = Instance::start_with(|c| c.records = RECORDS).await;
    add_awkward_records(&by_sql.login("admin").await).await;
    let db = by_sql.db.clone();
    let judged = Instance::start_with(|c| {
        c.records = RECORDS;
        c.db = db;
        c.judge_every_list = true;
    })
    .await;
    let queries = [
        "",
        "ORDERBYnumber",
        "ORDERBYDESCnumber",
        "state=assigned^ORDERBYnumber",
        "assigned_to=beth.anglin^state=assigned^ORDERBYnumber",
        "assigned_to=javascript:gs.getUserName()^stateINassigned,accepted^ORDERBYDESCnumber",
        "stateNOT INassigned,accepted^ORDERBYstate^ORDERBYDESCnumber",
        "state!=assigned^ORDERBYassigned_to^ORDERBYnumber",
        "assigned_to=abel.tuter^ORDERBYshort_description",
        "ORDERBYpriority",
        "ORDERBYuser_name",
        "state=assigned^priority<3^ORDERBYnumber",
        "state=assigned^ORstate=accepted^ORDERBYnumber",
        "short_descriptionLIKEpump^ORDERBYDESCnumber",
        "state=nothing_like_it",
    ];
    let pages = [(0, 50), (7, 5), (49, 3), (300, 50), (0, 10_000)];
    let mut compared = 0;
    for user in ["admin", "beth.anglin", "fred.luddy"] {
        let (a, b) = (by_sql.login(user).await, judged.login(user).await);
        for table in ["wm_task", "incident", "sys_user"] {
            for query in queries {
                for (offset, limit) in pages {
                    assert_eq!(
                        answer(&a, table, query, offset, limit).await,
                        answer(&b, table, query, offset, limit).await,
                        "{user} {table} {query} offset {offset} limit {limit}"
                    );
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, 3 * 3 * queries.len() * pages.len());
}

/// `page_by_sql` over the instance's database, as `ctx` with `scope` as the read rule.
fn sql_page(db: &std::path::Path, table: &str, query: &str, scope: &str) -> Option<SqlPage> {
    let ctx = QueryContext {
        user_name: "beth.anglin".into(),
        user_sys_id: String::new(),
    };
    let query = Query::parse(query).unwrap();
    let mut tests = query.field_tests(&ctx).unwrap();
    tests.extend(Query::parse(scope).unwrap().field_tests(&ctx).unwrap());
    let order: Vec<(&str, bool)> = query.order().collect();
    let sqlite = Sqlite::open(db).unwrap();
    let storage: &dyn Storage = &sqlite;
    storage
        .read(|tx| tx.page_by_sql(table, &tests, &order, 0, 50))
        .unwrap()
}

#[tokio::test]
async fn sql_pages_a_technicians_tasks_and_leaves_what_it_cannot_order_or_cover_to_the_core() {
    let instance = Instance::start_with(|c| c.records = RECORDS).await;
    let admin = instance.login("admin").await;
    add_awkward_records(&admin).await;
    let beth = instance.login("beth.anglin").await;
    let query = "assigned_to=beth.anglin^state=assigned^ORDERBYnumber";
    let all = beth.list("wm_task", query).await;
    let page = sql_page(
        &instance.db,
        "wm_task",
        query,
        offgrid_server::demo::TASK_SCOPE,
    )
    .expect("the technician's task list is paged in SQL");
    assert_eq!(page.total, all.len());
    let ids: Vec<&str> = all
        .iter()
        .take(50)
        .map(|r| r["sys_id"].as_str().unwrap())
        .collect();
    assert_eq!(page.sys_ids, ids);
    // Numbers, a boolean and empty or numeric texts in `number`: SQLite would order them
    // otherwise, so the core orders.
    assert_eq!(
        sql_page(
            &instance.db,
            "incident",
            "assigned_to=beth.anglin^ORDERBYnumber",
            offgrid_server::demo::INCIDENT_SCOPE,
        ),
        None
    );
    assert!(sql_page(
        &instance.db,
        "incident",
        "assigned_to=beth.anglin^ORDERBYstate",
        offgrid_server::demo::INCIDENT_SCOPE,
    )
    .is_some());
    // A field no index holds: counting and paging would read every record twice.
    assert_eq!(
        sql_page(
            &instance.db,
            "wm_task",
            "assigned_to=beth.anglin^ORDERBYshort_description",
            offgrid_server::demo::TASK_SCOPE,
        ),
        None
    );
}
