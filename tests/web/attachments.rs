//! File inputs: photos kept as blobs offline, and files whose bytes do not match.

use crate::support::*;
use offgrid::web::idb::LocalDb;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::wasm_bindgen_test;
use web_sys::{Headers, Request, RequestCredentials, RequestInit, Response};

async fn blob_bytes(blob: &web_sys::Blob) -> Vec<u8> {
    let buffer = JsFuture::from(blob.array_buffer()).await.unwrap();
    js_sys::Uint8Array::new(&buffer).to_vec()
}

/// The bytes of a file on the instance, fetched as admin.
async fn instance_file(sys_id: &str) -> (u16, Vec<u8>) {
    let init = RequestInit::new();
    init.set_credentials(RequestCredentials::Omit);
    let headers = Headers::new().unwrap();
    let global = js_sys::global().unchecked_into::<web_sys::WorkerGlobalScope>();
    let token = global.btoa("admin:admin").unwrap();
    headers
        .set("Authorization", &format!("Basic {token}"))
        .unwrap();
    init.set_headers(&headers);
    let url = format!("{INSTANCE}/api/now/attachment/{sys_id}/file");
    let request = Request::new_with_str_and_init(&url, &init).unwrap();
    let response: Response = JsFuture::from(global.fetch_with_request(&request))
        .await
        .expect("the instance answers")
        .unchecked_into();
    let buffer = JsFuture::from(response.array_buffer().unwrap())
        .await
        .unwrap();
    (response.status(), js_sys::Uint8Array::new(&buffer).to_vec())
}

#[wasm_bindgen_test]
async fn a_photo_attached_offline_is_kept_as_a_blob_and_sent_with_its_entry() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let png = unique_png();
    let hash = sha256_hex(&png);
    rt.network().force(Some(false));

    let (s, body) = act(
        &rt,
        "attach_photo",
        &task_id,
        photo_input(&png, &hash, png.len()),
    )
    .await;
    assert_eq!(s, 202, "{body}");

    // The stored entry carries the file's metadata only; the bytes are a Blob by hash.
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    let stored = db.outbox_entries().await.unwrap();
    assert_eq!(stored.len(), 1);
    let file = &stored[0].inputs["photo"];
    assert_eq!(file["hash"], hash.as_str());
    assert_eq!(file["file_name"], "meter.png");
    assert_eq!(file["size_bytes"], png.len());
    assert!(
        file.get("data").is_none(),
        "no base64 in the outbox: {file}"
    );
    assert!(outbox(&rt).await[0]["inputs"]["photo"]
        .get("data")
        .is_none());
    let blob = db
        .get_blob(&hash)
        .await
        .unwrap()
        .expect("the photo's bytes");
    assert_eq!(blob.type_(), "image/png");
    assert_eq!(blob_bytes(&blob).await, png);

    rt.network().force(None);
    let done = sync(&rt).await;
    assert_eq!(done["applied"], 1, "{done}");
    let (s, list) = instance(
        "admin",
        "GET",
        &format!("/api/now/attachment?sysparm_query=table_sys_id={task_id}^hash={hash}"),
        None,
    )
    .await;
    assert_eq!(s, 200, "{list}");
    let attachments = list["result"].as_array().unwrap();
    assert_eq!(attachments.len(), 1, "{list}");
    let (s, bytes) = instance_file(&id(&attachments[0])).await;
    assert_eq!(s, 200);
    assert_eq!(bytes, png, "the instance has the same bytes");
    // Its entry is gone, and no other needs the photo.
    assert!(db.get_blob(&hash).await.unwrap().is_none());
    drop(db);
    finish(rt, &prefix).await;
}

#[wasm_bindgen_test]
async fn a_file_whose_bytes_do_not_match_what_it_announces_is_refused_and_nothing_stored() {
    let (rt, prefix) = signed_in().await;
    download(&rt).await;
    let task_id = id(&task("assigned", 0).await);
    let png = unique_png();
    let other = sha256_hex(b"some other file");
    rt.network().force(Some(false));

    for (announced, size) in [
        (other.clone(), png.len()),
        (sha256_hex(&png), png.len() + 1),
    ] {
        let (s, body) = act(
            &rt,
            "attach_photo",
            &task_id,
            photo_input(&png, &announced, size),
        )
        .await;
        assert_eq!(s, 422, "{body}");
        assert_eq!(body["error"]["code"], "invalid_inputs");
        let fault = body["error"]["detail"]["inputs"]["photo"]
            .as_str()
            .unwrap_or_default();
        assert!(fault.starts_with("Photo: "), "{body}");
    }
    assert!(outbox(&rt).await.is_empty(), "no entry");
    let db = LocalDb::open(&format!("{prefix}:{USER}")).await.unwrap();
    for hash in [other, sha256_hex(&png)] {
        assert!(db.get_blob(&hash).await.unwrap().is_none(), "no blob");
    }
    drop(db);
    finish(rt, &prefix).await;
}
