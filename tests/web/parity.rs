//! Parity: one list of requests, good and bad, answered by the worker online (passed to the
//! instance) and offline (from the cache, with the same records), and the answers compared.
//!
//! Compared: the status, the error code and detail, the body and `X-Total-Count`. Not compared,
//! because the contract lets them differ: `X-Offgrid-Source`, an action queued offline
//! answering `202` with `outbox_id` and `state` where the live one answers `200`, and the time
//! stamps the clock sets while the test runs. Two runs of an action are two invocations, so the
//! records an action creates get different `sys_id`s; those ids are not compared either. Error
//! messages are shown, not compared: offline cannot always phrase the instance's.

use crate::support::*;
use offgrid::record::{is_valid_sys_id, new_sys_id, Timestamp};
use offgrid::web::runtime::Runtime;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

/// beth.anglin's offline scope of `wm_task`: list queries stay inside it, so the cache can
/// answer them.
const TASKS: &str = "assigned_to=javascript:gs.getUserName()^state!=closed_complete^state!=closed_incomplete^state!=cancelled";
/// beth.anglin's offline scope of `incident`.
const INCIDENTS: &str = "assigned_to=javascript:gs.getUserName()^state!=closed";

/// Fields an action sets from the clock.
const CLOCK_FIELDS: [&str; 4] = ["sys_created_on", "sys_updated_on", "work_start", "work_end"];

/// Differences shown per request: a list's records could make hundreds.
const MAX_SHOWN: usize = 12;

/// One request of the list.
struct Case {
    /// What it checks, named in the report.
    what: &'static str,
    method: &'static str,
    path: String,
    body: Option<Value>,
    /// The online answer must list at least one record, or the case compares nothing.
    records: bool,
    /// Why the two sides answer differently where offline cannot know; the difference must
    /// then exist.
    expect_differs: Option<&'static str>,
}

impl Case {
    /// `GET path`, with no expectation on the answer.
    fn get(what: &'static str, path: String) -> Self {
        Case {
            what,
            method: "GET",
            path,
            body: None,
            records: false,
            expect_differs: None,
        }
    }

    /// A list of `table` with the encoded `query` and further `params`, expected not empty.
    fn list(what: &'static str, table: &str, query: &str, params: &str) -> Self {
        let query = String::from(js_sys::encode_uri_component(query));
        Case {
            records: true,
            ..Case::get(
                what,
                format!("/api/now/table/{table}?sysparm_query={query}{params}"),
            )
        }
    }

    /// A list of beth's tasks that also meet `condition`.
    fn tasks(what: &'static str, condition: &str) -> Self {
        Case::list(what, "wm_task", &format!("{TASKS}^{condition}"), "")
    }

    /// All of beth's tasks, with further `params`.
    fn paged(what: &'static str, params: &str) -> Self {
        Case::list(what, "wm_task", &format!("{TASKS}^ORDERBYnumber"), params)
    }

    /// No expectation on the number of records: an empty page, or an error.
    fn may_be_empty(self) -> Self {
        Case {
            records: false,
            ..self
        }
    }

    /// Offline cannot answer like the instance, for the reason given.
    fn differs(self, why: &'static str) -> Self {
        Case {
            expect_differs: Some(why),
            ..self
        }
    }

    /// Action `action` on beth's task `sys_id` with `inputs`.
    fn act(what: &'static str, action: &str, sys_id: &str, inputs: Value) -> Self {
        Case {
            what,
            method: "POST",
            path: format!("/api/offgrid/actions/{action}"),
            body: Some(json!({"table": "wm_task", "sys_id": sys_id, "inputs": inputs})),
            records: false,
            expect_differs: None,
        }
    }

    fn is_action(&self) -> bool {
        self.method == "POST"
    }
}

/// One side's answer.
#[derive(Debug)]
struct Answer {
    status: u16,
    body: Value,
    total: Option<String>,
    source: Option<String>,
}

impl Answer {
    fn summary(&self) -> String {
        let error = &self.body["error"];
        if error.is_object() {
            format!(
                "{} {} detail={} message={}",
                self.status, error["code"], error["detail"], error["message"]
            )
        } else {
            format!("{} X-Total-Count={:?}", self.status, self.total)
        }
    }
}

async fn ask(rt: &Runtime, case: &Case) -> Answer {
    let (status, body, headers) =
        call_with_headers(rt, case.method, &case.path, case.body.clone()).await;
    Answer {
        status,
        body,
        total: headers.get("X-Total-Count").unwrap(),
        source: headers.get("X-Offgrid-Source").unwrap(),
    }
}

/// The records of beth's tasks in `state`, by number, as the instance has them now.
async fn beths_tasks(state: &str, count: usize) -> Vec<String> {
    let mut out = Vec::new();
    for n in 0..count {
        let record = task(state, n).await;
        assert!(
            record.is_object(),
            "beth has {count} tasks in state {state}"
        );
        out.push(id(&record));
    }
    out
}

#[wasm_bindgen_test]
async fn the_worker_answers_alike_online_and_offline() {
    let (rt, prefix) = signed_in().await;
    // NSAMEAS needs a task changed by someone other than its creator, whatever ran before.
    let changed = id(&task("assigned", 0).await);
    let path = format!("/api/now/table/wm_task/{changed}");
    let (status, body) = instance("admin", "PATCH", &path, Some(json!({"priority": 2}))).await;
    assert_eq!(status, 200, "{body}");
    download(&rt).await;
    let started = rt.clock().now();
    // Each action that succeeds gets a task no other case touches.
    let assigned = beths_tasks("assigned", 6).await;
    let accepted = beths_tasks("accepted", 1).await;
    let in_progress = beths_tasks("work_in_progress", 2).await;
    // The refused actions' task: refusals change nothing, so they share it.
    let refused = &assigned[1];
    let open_incidents = format!("assigned_to={USER}^state!=closed^ORDERBYnumber");
    let path = format!("/api/now/table/incident?sysparm_query={open_incidents}&sysparm_limit=1");
    let (status, incidents) = instance("admin", "GET", &path, None).await;
    assert_eq!(status, 200, "{incidents}");
    let incident = id(&incidents["result"][0]);
    let path =
        "/api/now/table/wm_task?sysparm_query=assigned_to=abel.tuter^ORDERBYnumber&sysparm_limit=1";
    let (status, abels) = instance("admin", "GET", path, None).await;
    assert_eq!(status, 200, "{abels}");
    let abels = id(&abels["result"][0]);
    let png = unique_png();
    let hash = sha256_hex(&png);

    let photo = photo_input(&png, &hash, png.len());
    let wrong_hash = photo_input(&png, &sha256_hex(b"another file"), png.len());
    let wrong_size = photo_input(&png, &hash, png.len() + 1);
    let unknown = new_sys_id();
    let cases = [
        // List queries, one operator family each, inside beth's scope (which is itself
        // javascript:gs.getUserName(), = and !=).
        Case::list("beth's scope", "wm_task", TASKS, ""),
        Case::tasks("=", "priority=1"),
        Case::tasks("!=", "priority!=1^ORDERBYnumber"),
        Case::tasks("<", "priority<3"),
        Case::tasks("<=", "priority<=2^ORDERBYnumber"),
        Case::tasks(">", "priority>2"),
        Case::tasks(">=", "window_start>=2000-01-01 00:00:00"),
        Case::tasks("LIKE", "short_descriptionLIKEfibre^ORDERBYDESCnumber"),
        Case::tasks("NOTLIKE", "short_descriptionNOTLIKEpump"),
        Case::tasks("NOT LIKE", "descriptionNOT LIKEHarbour"),
        Case::tasks("STARTSWITH", "short_descriptionSTARTSWITHRepair"),
        Case::tasks("ENDSWITH", "numberENDSWITH7"),
        Case::tasks(
            "IN",
            "stateINassigned,accepted^ORDERBYpriority^ORDERBYnumber",
        ),
        Case::tasks("NOT IN", "stateNOT INassigned,accepted"),
        Case::tasks("ISEMPTY", "work_startISEMPTY"),
        Case::tasks("ISNOTEMPTY", "work_startISNOTEMPTY"),
        Case::tasks("BETWEEN", "priorityBETWEEN2@3"),
        Case::tasks("ANYTHING", "locationANYTHING"),
        Case::tasks("EMPTYSTRING", "close_notesEMPTYSTRING"),
        Case::tasks("SAMEAS", "sys_created_bySAMEASsys_updated_by"),
        Case::tasks("NSAMEAS", "sys_created_byNSAMEASsys_updated_by"),
        Case::tasks("^OR", "priority=1^ORpriority=4^ORDERBYwindow_start"),
        Case::tasks("^NQ", &format!("priority=1^NQ{TASKS}^state=accepted")),
        Case::tasks(
            "ORDERBYDESC, then ORDERBY",
            "ORDERBYDESCpriority^ORDERBYnumber",
        ),
        Case::list(
            "incidents",
            "incident",
            &format!("{INCIDENTS}^ORDERBYnumber"),
            "",
        ),
        // Paging and field selection.
        Case::paged("a page", "&sysparm_limit=5&sysparm_offset=10"),
        Case::paged("a page past the end", "&sysparm_offset=100000").may_be_empty(),
        Case::paged("no records asked for", "&sysparm_limit=0").may_be_empty(),
        Case::paged("chosen fields", "&sysparm_fields=number,state,priority"),
        Case::paged(
            "chosen fields, one unknown",
            "&sysparm_fields=number,nope&sysparm_limit=3",
        ),
        // Records by id.
        Case::get("a task by id", format!("/api/now/table/wm_task/{refused}")),
        Case::get(
            "an incident by id",
            format!("/api/now/table/incident/{incident}"),
        ),
        Case::get(
            "an unknown record",
            format!("/api/now/table/wm_task/{unknown}"),
        ),
        // Reads follow the roles: beth reads only her scope, online too.
        Case::get(
            "a task outside the scope",
            format!("/api/now/table/wm_task/{abels}"),
        ),
        Case::get("an unknown table", "/api/now/table/no_such_table".into()),
        // What the app builds its screens from.
        Case::get("the configuration", "/api/offgrid/config".into()),
        Case::get(
            "an unknown table's record",
            format!("/api/now/table/nope/{refused}"),
        ),
        // Malformed queries and bad paging.
        Case::tasks("an unknown operator", "stateFOOassigned").may_be_empty(),
        Case::tasks("an operator not evaluated", "stateINSTANCEOFtask").may_be_empty(),
        Case::tasks("an empty field name", "=assigned").may_be_empty(),
        Case::tasks("a dangling ^OR", "priority=1^OR").may_be_empty(),
        Case::tasks("ORDERBY with no field", "ORDERBY").may_be_empty(),
        Case::tasks("an unknown dynamic value", "caller_id=javascript:gs.nope()").may_be_empty(),
        Case::paged("a limit that is not a number", "&sysparm_limit=abc").may_be_empty(),
        Case::paged("a negative limit", "&sysparm_limit=-1").may_be_empty(),
        Case::paged("an offset that is not a number", "&sysparm_offset=x").may_be_empty(),
        // Actions refused: nothing changes on either side.
        Case::act("no required input", "add_work_note", refused, json!({})),
        Case::act(
            "a wrong input type",
            "add_work_note",
            refused,
            json!({"note": ["a"]}),
        ),
        Case::act(
            "a choice not offered",
            "report_incident",
            refused,
            json!({"urgency": "9"}),
        ),
        Case::act(
            "a file that is text",
            "attach_photo",
            refused,
            json!({"photo": "a.png"}),
        ),
        Case::act(
            "bytes not matching their hash",
            "attach_photo",
            refused,
            wrong_hash,
        ),
        Case::act(
            "bytes not matching their size",
            "attach_photo",
            refused,
            wrong_size,
        ),
        Case::act(
            "a condition that does not hold",
            "start_work",
            refused,
            json!({}),
        ),
        Case::act(
            "a failing validation step",
            "close_complete",
            &in_progress[1],
            json!({"close_notes": "n/a"}),
        ),
        Case::act("an unknown action", "no_such_action", refused, json!({})),
        Case::act("an unknown record", "accept_task", &unknown, json!({})),
        // accept_task works on wm_task, sent with an incident.
        Case {
            body: Some(json!({"table": "incident", "sys_id": incident, "inputs": {}})),
            ..Case::act("the wrong table", "accept_task", refused, json!({}))
        },
        Case::act(
            "an online-only action",
            "reassign",
            &assigned[5],
            json!({"assigned_to": "abel.tuter"}),
        )
        .differs(
            "reassign is online only and the dispatcher's: offline refuses it (409 \
             unavailable_offline), the instance refuses beth (403 forbidden)",
        ),
        // delete_draft is the dispatcher's: beth is refused alike, and nothing is queued.
        Case::act(
            "an action of another role",
            "delete_draft",
            refused,
            json!({}),
        ),
        // Actions that succeed: queued offline first (the instance does not change), then
        // live on the same record.
        Case::act(
            "accept",
            "accept_task",
            &assigned[0],
            json!({"note": "on my way"}),
        ),
        Case::act(
            "start work (sets work_start)",
            "start_work",
            &accepted[0],
            json!({}),
        ),
        Case::act(
            "a work note",
            "add_work_note",
            &assigned[2],
            json!({"note": "parity"}),
        ),
        Case::act(
            "close",
            "close_complete",
            &in_progress[0],
            json!({"close_notes": "fuse"}),
        ),
        Case::act(
            "an incident (created)",
            "report_incident",
            &assigned[4],
            json!({"urgency": "2"}),
        ),
        Case::act("a photo", "attach_photo", &assigned[3], photo),
    ];
    assert!(cases.len() >= 40, "the list has {} requests", cases.len());

    let mut differences = Vec::new();
    for case in &cases {
        // Offline first: an action queued offline leaves the instance as it was, so the live
        // run starts from the same record.
        rt.network().force(Some(false));
        let offline = ask(&rt, case).await;
        if let Some(entry) = offline.body["outbox_id"].as_str() {
            // Nor may the worker hold a change of the record the live run would have to wait
            // for: the queued entry goes, and the cached record is the instance's again.
            let path = format!("/offgrid/outbox/{entry}");
            let (status, body) = call(&rt, "DELETE", &path, None).await;
            assert_eq!(status, 200, "{body}");
        }
        rt.network().force(None);
        let online = ask(&rt, case).await;
        let mut found = differences_of(case, &online, &offline, started);
        if found.len() > MAX_SHOWN {
            let more = found.len() - MAX_SHOWN;
            found.truncate(MAX_SHOWN);
            found.push(format!("... and {more} more"));
        }
        let request = format!("{} {}: {}", case.method, case.path, case.what);
        match (case.expect_differs, found.is_empty()) {
            (None, true) | (Some(_), false) => {}
            (None, false) => differences.push(format!(
                "{request}\n    online:  {}\n    offline: {}\n    {}",
                online.summary(),
                offline.summary(),
                found.join("\n    ")
            )),
            (Some(why), true) => differences.push(format!(
                "{request}\n    expected to differ ({why}), but both answered {}",
                online.summary()
            )),
        }
    }
    finish(rt, &prefix).await;
    assert!(
        differences.is_empty(),
        "{} of {} requests are answered differently online and offline:\n\n{}",
        differences.len(),
        cases.len(),
        differences.join("\n\n")
    );
}

/// Every way `offline` differs from `online` that the contract does not allow.
fn differences_of(
    case: &Case,
    online: &Answer,
    offline: &Answer,
    started: Timestamp,
) -> Vec<String> {
    let mut found = Vec::new();
    if case.records && online.body["result"].as_array().is_none_or(Vec::is_empty) {
        found.push("online lists no records: the case compares nothing".to_string());
    }
    if online.source.is_some() {
        found.push(format!("online X-Offgrid-Source: {:?}", online.source));
    }
    let mut offline_status = offline.status;
    let mut offline_body = offline.body.clone();
    if case.is_action() && (200..300).contains(&online.status) {
        // Queued offline: 202 with the entry's id and state, where live answers 200.
        let queued = offline.status == 202
            && offline_body["outbox_id"].is_string()
            && offline_body["state"] == "pending";
        if queued {
            offline_status = online.status;
            if let Some(body) = offline_body.as_object_mut() {
                body.remove("outbox_id");
                body.remove("state");
            }
        } else if (200..300).contains(&offline.status) {
            found.push(
                "offline did not queue the action (202 with outbox_id and state pending)"
                    .to_string(),
            );
        }
    } else if !case.is_action()
        && offline.status == 200
        && offline.source.as_deref() != Some("cache")
    {
        found.push(format!(
            "offline X-Offgrid-Source: {:?}, not \"cache\"",
            offline.source
        ));
    }
    if online.status != offline_status {
        found.push(format!("status: {} vs {}", online.status, offline.status));
    }
    if online.total != offline.total {
        found.push(format!(
            "X-Total-Count: {:?} vs {:?}",
            online.total, offline.total
        ));
    }
    let mut online_body = online.body.clone();
    for body in [&mut online_body, &mut offline_body] {
        if let Some(error) = body.get_mut("error").and_then(Value::as_object_mut) {
            error.remove("message");
        }
        if case.is_action() {
            unclock(body, started);
            forget_new_ids(body);
        }
    }
    body_differences(&online_body, &offline_body, "", &mut found);
    found
}

/// Time stamps set from the clock since the test started become `<now>`: the two sides run at
/// different moments.
fn unclock(value: &mut Value, started: Timestamp) {
    match value {
        Value::Object(map) => {
            for (field, value) in map.iter_mut() {
                let set_now = value
                    .as_str()
                    .and_then(|t| Timestamp::parse(t).ok())
                    .is_some_and(|t| t >= started);
                if CLOCK_FIELDS.contains(&field.as_str()) && set_now {
                    *value = json!("<now>");
                } else {
                    unclock(value, started);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| unclock(v, started)),
        _ => {}
    }
}

/// The `sys_id`s of the records an action created become `<new>`: each invocation makes its
/// own.
fn forget_new_ids(body: &mut Value) {
    let Some(body) = body.as_object_mut() else {
        return;
    };
    for (field, value) in body.iter_mut() {
        let records: Vec<&mut Value> = match (field.as_str(), value) {
            ("created", Value::Array(items)) => items
                .iter_mut()
                .filter_map(|c| c.get_mut("record"))
                .collect(),
            ("attachments", Value::Array(items)) => items.iter_mut().collect(),
            _ => continue,
        };
        for record in records {
            if let Some(sys_id) = record.get_mut("sys_id") {
                if sys_id.as_str().is_some_and(is_valid_sys_id) {
                    *sys_id = json!("<new>");
                }
            }
        }
    }
}

/// Every place where `online` and `offline` differ, as a JSON pointer and both values.
fn body_differences(online: &Value, offline: &Value, at: &str, out: &mut Vec<String>) {
    match (online, offline) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let here = format!("{at}/{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => body_differences(x, y, &here, out),
                    (x, y) => out.push(format!("body at {here}: {} vs {}", shown(x), shown(y))),
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                body_differences(x, y, &format!("{at}/{i}"), out);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            let ids = |items: &[Value]| -> Vec<String> {
                items
                    .iter()
                    .filter_map(|r| r["sys_id"].as_str().map(str::to_string))
                    .collect()
            };
            let (a_ids, b_ids) = (ids(a), ids(b));
            let only = |these: &[String], those: &[String]| -> Vec<String> {
                these
                    .iter()
                    .filter(|id| !those.contains(id))
                    .cloned()
                    .collect()
            };
            out.push(format!(
                "body at {at}: {} items vs {}; sys_ids only online: {}, only offline: {}",
                a.len(),
                b.len(),
                shown(Some(&json!(only(&a_ids, &b_ids)))),
                shown(Some(&json!(only(&b_ids, &a_ids)))),
            ))
        }
        _ if online == offline => {}
        _ => out.push(format!(
            "body at {}: {} vs {}",
            if at.is_empty() { "/" } else { at },
            shown(Some(online)),
            shown(Some(offline))
        )),
    }
}

/// A value for the report, shortened: a list's records make long lines.
fn shown(value: Option<&Value>) -> String {
    let text = value.map_or("(absent)".to_string(), Value::to_string);
    if text.chars().count() > 300 {
        format!("{}...", text.chars().take(300).collect::<String>())
    } else {
        text
    }
}
