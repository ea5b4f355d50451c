//! What the app builds its screens from: the configuration (answered offline from the stored
//! copy) and the actions that stand for a record now.

use crate::support::*;
use serde_json::{json, Value};
use wasm_bindgen_test::wasm_bindgen_test;

/// `GET /offgrid/actions` for a task: the answer's actions by name.
async fn actions_of(rt: &offgrid::web::runtime::Runtime, sys_id: &str) -> Vec<Value> {
    let (s, body) = call(
        rt,
        "GET",
        &format!("/offgrid/actions?table=wm_task&sys_id={sys_id}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    body["actions"].as_array().cloned().unwrap()
}

/// A file's bytes as the runtime answers them.
async fn file(rt: &offgrid::web::runtime::Runtime, path: &str) -> (u16, Vec<u8>, web_sys::Headers) {
    let request = web_sys::Request::new_with_str(&format!("{ORIGIN}{path}")).unwrap();
    let response = rt.handle(request).await;
    let buffer = wasm_bindgen_futures::JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap();
    (
        response.status(),
        js_sys::Uint8Array::new(&buffer).to_vec(),
        response.headers(),
    )
}

fn named<'a>(actions: &'a [Value], name: &str) -> &'a Value {
    actions
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no action {name} in {actions:?}"))
}

#[wasm_bindgen_test]
async fn offline_the_configuration_is_the_stored_copy_in_the_instances_shape_from_the_cache() {
    let (rt, prefix) = signed_in().await;
    let (s, online, headers) = call_with_headers(&rt, "GET", "/api/offgrid/config", None).await;
    assert_eq!(s, 200, "{online}");
    assert_eq!(headers.get("X-Offgrid-Source").unwrap(), None);
    assert!(online["actions"].as_array().is_some_and(|a| !a.is_empty()));

    rt.network().force(Some(false));
    let (s, offline, headers) = call_with_headers(&rt, "GET", "/api/offgrid/config", None).await;
    assert_eq!(s, 200, "{offline}");
    assert_eq!(
        headers.get("X-Offgrid-Source").unwrap().as_deref(),
        Some("cache")
    );
    assert_eq!(offline, online, "the same answer as the instance's");
    rt.network().force(None);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn the_actions_of_a_record_say_which_apply_to_the_local_record_and_which_run_offline() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task = task("assigned", 3).await;
    let task_id = id(&task);

    let online = actions_of(&rt, &task_id).await;
    let accept = named(&online, "accept_task");
    assert_eq!(
        (&accept["applies"], &accept["available"], &accept["reason"]),
        (&json!(true), &json!(true), &Value::Null)
    );
    assert_eq!(accept["label"], "Accept");
    assert_eq!(
        accept["inputs"][0]["name"], "note",
        "the form's inputs come along"
    );
    let start = named(&online, "start_work");
    assert_eq!(
        (&start["applies"], &start["available"]),
        (&json!(false), &json!(false))
    );
    let reassign = named(&online, "reassign");
    assert_eq!(reassign["applies"], false, "the dispatcher's, not beth's");
    assert!(
        reassign["reason"].as_str().unwrap().contains("dispatcher"),
        "{reassign}"
    );
    let escalate = named(&online, "escalate_task");
    assert_eq!(
        (&escalate["applies"], &escalate["available"]),
        (&json!(true), &json!(true))
    );

    // Offline: an online-only action still applies, but cannot run now, and says why; the
    // conditions are checked on the local record, which an offline action changed.
    rt.network().force(Some(false));
    let (s, body) = act(&rt, "accept_task", &task_id, json!({})).await;
    assert_eq!(s, 202, "{body}");
    let offline = actions_of(&rt, &task_id).await;
    let escalate = named(&offline, "escalate_task");
    assert_eq!(
        (&escalate["applies"], &escalate["available"]),
        (&json!(true), &json!(false))
    );
    assert!(
        escalate["reason"]
            .as_str()
            .unwrap()
            .contains("not available offline"),
        "{escalate}"
    );
    assert_eq!(
        named(&offline, "accept_task")["applies"],
        false,
        "accepted locally"
    );
    let start = named(&offline, "start_work");
    assert_eq!(
        (&start["applies"], &start["available"]),
        (&json!(true), &json!(true))
    );
    assert_eq!(
        instance_record("wm_task", &task_id).await["state"],
        "assigned",
        "the instance is unchanged"
    );
    rt.network().force(None);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn the_actions_of_a_record_the_device_and_instance_lack_are_404_and_a_missing_parameter_400()
{
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    rt.network().force(Some(false));
    let missing = "0123456789abcdef0123456789abcdef";
    let (s, body) = call(
        &rt,
        "GET",
        &format!("/offgrid/actions?table=wm_task&sys_id={missing}"),
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (s, body) = call(
        &rt,
        "GET",
        &format!("/offgrid/actions?sys_id={missing}"),
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (400, Some("bad_request")),
        "{body}"
    );
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("table is missing"));
    let (s, body) = call(
        &rt,
        "GET",
        &format!("/offgrid/actions?table=nope&sys_id={missing}"),
        None,
    )
    .await;
    assert_eq!(
        (s, body["error"]["code"].as_str()),
        (404, Some("unknown_table")),
        "{body}"
    );
    rt.network().force(None);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_work_note_and_a_photo_added_offline_are_read_from_the_cache_bytes_included_and_sync_as_the_same_records(
) {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 4).await);
    let journal = format!(
        "/api/now/table/sys_journal_field?sysparm_query=name=wm_task^element_id={task_id}^ORDERBYDESCsys_created_on"
    );
    let attachments = format!(
        "/api/now/table/sys_attachment?sysparm_query=table_name=wm_task^table_sys_id={task_id}"
    );
    rt.network().force(Some(false));
    let (s, body) = act(
        &rt,
        "add_work_note",
        &task_id,
        json!({"note": "valve replaced"}),
    )
    .await;
    assert_eq!(s, 202, "{body}");
    let png = unique_png();
    let hash = sha256_hex(&png);
    let (s, body) = act(
        &rt,
        "attach_photo",
        &task_id,
        photo_input(&png, &hash, png.len()),
    )
    .await;
    assert_eq!(s, 202, "{body}");

    let (s, notes, headers) = call_with_headers(&rt, "GET", &journal, None).await;
    assert_eq!(s, 200, "{notes}");
    assert_eq!(
        headers.get("X-Offgrid-Source").unwrap().as_deref(),
        Some("cache")
    );
    let notes = notes["result"].as_array().unwrap().clone();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(
        (&notes[0]["element"], &notes[0]["value"]),
        (&json!("work_notes"), &json!("valve replaced"))
    );
    let (s, files) = call(&rt, "GET", &attachments, None).await;
    assert_eq!(s, 200, "{files}");
    let files = files["result"].as_array().unwrap().clone();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0]["hash"], json!(hash));
    // Its bytes come from the device, with the instance's headers.
    let file_path = format!("/api/now/attachment/{}/file", id(&files[0]));
    let (s, bytes, headers) = file(&rt, &file_path).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, png, "the photo's own bytes");
    assert_eq!(
        headers.get("Content-Type").unwrap().as_deref(),
        Some("image/png")
    );
    assert!(headers
        .get("Content-Disposition")
        .unwrap()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(
        headers.get("X-Offgrid-Source").unwrap().as_deref(),
        Some("cache")
    );

    // Synced, the instance holds them under the ids the device showed.
    rt.network().force(None);
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 2, "{report}");
    let (s, on_instance) = instance("admin", "GET", &journal, None).await;
    assert_eq!(s, 200, "{on_instance}");
    assert_eq!(
        on_instance["result"][0]["sys_id"], notes[0]["sys_id"],
        "{on_instance}"
    );
    assert_eq!(on_instance["result"][0]["value"], "valve replaced");
    let (_, on_instance) = instance("admin", "GET", &attachments, None).await;
    assert_eq!(
        on_instance["result"][0]["sys_id"], files[0]["sys_id"],
        "{on_instance}"
    );
    // A file the device does not keep comes from the instance.
    let (s, _, headers) = file(
        &rt,
        "/api/now/attachment/0123456789abcdef0123456789abcdef/file",
    )
    .await;
    assert_eq!(s, 404);
    assert_eq!(headers.get("X-Offgrid-Source").unwrap(), None);
    finish(rt, &prefix).await;
}

/// `create_incident` run offline from a form with no record: the answer and the new
/// incident's id.
async fn create_incident_offline(
    rt: &offgrid::web::runtime::Runtime,
    title: &str,
) -> (Value, String) {
    let inputs = json!({"short_description": title, "priority": "2",
                        "description": "Water under the pump"});
    let (s, body) = call(
        rt,
        "POST",
        "/api/offgrid/actions/create_incident",
        Some(json!({"table": "incident", "inputs": inputs})),
    )
    .await;
    assert_eq!(s, 202, "{body}");
    let created = id(&body["result"]);
    (body, created)
}

#[wasm_bindgen_test]
async fn an_incident_created_offline_is_listed_from_the_cache_at_once_and_syncs_as_one_record_under_its_id(
) {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    rt.network().force(Some(false));
    // The "New incident" form's actions: the table's record-less ones, none of its others.
    let (s, body) = call(&rt, "GET", "/offgrid/actions?table=incident", None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["sys_id"], Value::Null);
    let names: Vec<&str> = body["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["create_incident"]);
    let create = &body["actions"][0];
    assert_eq!(
        (&create["applies"], &create["available"], &create["reason"]),
        (&json!(true), &json!(true), &Value::Null)
    );

    let title = format!("Leak-{}", &offgrid::record::new_uuid()[..8]);
    let (body, created) = create_incident_offline(&rt, &title).await;
    let entry_id = body["outbox_id"].as_str().unwrap().to_string();
    assert_eq!(
        created,
        offgrid::record::derived_sys_id(&entry_id, 1),
        "the id the instance will give it"
    );
    assert_eq!(body["result"]["assigned_to"], USER);
    let list = format!("/api/now/table/incident?sysparm_query=short_description={title}");
    let (s, listed, headers) = call_with_headers(&rt, "GET", &list, None).await;
    assert_eq!(s, 200, "{listed}");
    assert_eq!(
        headers.get("X-Offgrid-Source").unwrap().as_deref(),
        Some("cache")
    );
    assert_eq!(
        ids(&listed),
        std::slice::from_ref(&created),
        "listed at once, offline"
    );
    let entries = outbox(&rt).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            entries[0]["id"].as_str(),
            entries[0]["action"].as_str(),
            entries[0]["table"].as_str(),
            entries[0]["sys_id"].as_str(),
            entries[0]["state"].as_str()
        ),
        (
            Some(entry_id.as_str()),
            Some("create_incident"),
            Some("incident"),
            Some(created.as_str()),
            Some("pending")
        )
    );
    let (s, _) = instance(
        "admin",
        "GET",
        &format!("/api/now/table/incident/{created}"),
        None,
    )
    .await;
    assert_eq!(s, 404, "the instance is unchanged until the sync");

    rt.network().force(None);
    let report = sync(&rt).await;
    assert_eq!(report["applied"], 1, "{report}");
    assert!(outbox(&rt).await.is_empty());
    let incident = instance_record("incident", &created).await;
    assert_eq!(
        (&incident["short_description"], &incident["description"]),
        (&json!(title), &json!("Water under the pump"))
    );
    let (s, found) = instance("admin", "GET", &list, None).await;
    assert_eq!(s, 200, "{found}");
    assert_eq!(ids(&found), [created], "one incident on the instance");
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn deleting_the_entry_of_an_incident_created_offline_removes_the_incident_from_the_device() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    rt.network().force(Some(false));
    let title = format!("Spill-{}", &offgrid::record::new_uuid()[..8]);
    let (body, created) = create_incident_offline(&rt, &title).await;
    let entry_id = body["outbox_id"].as_str().unwrap().to_string();
    let (s, body) = call(&rt, "DELETE", &format!("/offgrid/outbox/{entry_id}"), None).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = call(
        &rt,
        "GET",
        &format!("/api/now/table/incident/{created}"),
        None,
    )
    .await;
    assert_eq!(s, 404, "{body}");
    rt.network().force(None);
    finish(rt, &prefix).await;
}
