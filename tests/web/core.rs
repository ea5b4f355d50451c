//! The pure core on wasm32: the same behaviour as natively, with the browser's random source.
//! Included by each environment's test binary (service worker, page).

use offgrid::record::{is_valid_sys_id, new_sys_id, new_uuid, Record, Timestamp};
use serde_json::json;
use wasm_bindgen_test::wasm_bindgen_test;

#[wasm_bindgen_test]
fn sys_ids_come_from_the_browsers_random_source() {
    let ids: Vec<String> = (0..100).map(|_| new_sys_id()).collect();
    assert!(ids.iter().all(|id| is_valid_sys_id(id)));
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(new_uuid().len(), 36);
}

#[wasm_bindgen_test]
fn timestamps_format_without_a_system_clock() {
    let t = Timestamp::parse("2026-11-22 23:59:59").unwrap();
    assert_eq!(t.plus(1).to_string(), "2026-11-23 00:00:00");
    let mut r = Record::from_value(json!({"sys_mod_count": 1})).unwrap();
    r.stamp_update("beth.anglin", t);
    assert_eq!(r.mod_count(), 2);
}
