//! The offline cache: downloads (staged, swapped in only when complete) and the Table API
//! answered from it with the instance's query semantics.

use super::http::{from_cache, json_response};
use super::network::{request_persistence, Network};
use super::{keys, Event, Events, Runtime, RuntimeError, Session, User};
use crate::api::action::ActionAnswer;
use crate::api::local::DownloadReport;
use crate::api::table::{known_table, ListParams, RecordAnswer, TOTAL_COUNT_HEADER};
use crate::api::ApiError;
use crate::download::{self, FeedStaging};
use crate::local;
use crate::policy;
use crate::record::Record;
use crate::web::idb::{CacheMeta, DbError, LocalDb, Staging};
use crate::web::transport::{response_text, FeedDownload};
use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use web_sys::{Request, Response};

/// A Table API request: `/api/now/table/{table}[/{sys_id}]`.
pub(super) struct TableRequest {
    pub table: String,
    pub sys_id: Option<String>,
    pub params: BTreeMap<String, String>,
}

impl Runtime {
    /// `POST /offgrid/cache/download`: downloads the cache (only the changes when one is
    /// present, unless `full`). The instance's configuration is fetched again first, so new
    /// action definitions, scopes and policy come with the data they apply to.
    pub(super) async fn download(&self, full: bool) -> Result<DownloadReport, RuntimeError> {
        let user = self.signed_in()?.user.clone();
        if !self.network.is_up() {
            return Err(RuntimeError::Offline("downloading the cache"));
        }
        if self.downloading.replace(true) {
            return Err(RuntimeError::Conflict {
                code: "download_running",
                message: "a download is already running; wait for it to finish".into(),
            });
        }
        let result = self.download_unlocked(user, full).await;
        self.downloading.set(false);
        result
    }

    async fn download_unlocked(
        &self,
        user: User,
        full: bool,
    ) -> Result<DownloadReport, RuntimeError> {
        self.sign_in(user).await?;
        let session = self.signed_in()?;
        let previous = session.db.cache_meta().await?;
        check_storage(&self.network, previous.as_ref()).await?;
        let since = previous
            .as_ref()
            .filter(|_| !full)
            .map(|m| m.watermark.clone());
        let feed = self.transport.download(since.as_deref()).await?;
        self.store_feed(&session, feed, since.is_some()).await
    }

    /// Stores a downloaded feed: staged by the core's rule ([`download::stage`]) and swapped
    /// in only when it is complete. Any fault leaves the previous cache as it was.
    async fn store_feed(
        &self,
        session: &Session,
        feed: FeedDownload,
        incremental: bool,
    ) -> Result<DownloadReport, RuntimeError> {
        let db = &session.db;
        let staging = if incremental {
            db.begin_incremental_staging().await?
        } else {
            db.begin_staging().await?
        };
        let mut sink = IdbStaging {
            db,
            staging,
            events: &self.events,
            marked: session.outbox().await?.marked(),
            marked_versions: Vec::new(),
        };
        let summary = download::stage::<_, _, RuntimeError>(feed, &mut sink, incremental).await?;
        let now = self.clock.now();
        let meta = CacheMeta {
            watermark: summary.watermark.clone(),
            downloaded_at: now,
            expires_at: session.policy.expires_at(now),
            records: summary.count,
        };
        db.swap_in(sink.staging, &meta).await?;
        self.events.send(Event::DownloadProgress {
            done: summary.count,
            total: summary.total,
        });
        db.put_meta(keys::LAST_DOWNLOAD, &now).await?;
        db.delete_meta(keys::SENT_WARNINGS).await?;
        db.delete_meta(keys::EXPIRED_NOTICE).await?;
        // The download brought the instance's versions; the user's unsynced changes go back
        // on top of them.
        self.reapply_local_changes(session, &sink.marked_versions)
            .await?;
        self.post_status().await;
        Ok(DownloadReport {
            full: summary.full,
            received: summary.count,
            total: summary.total,
            watermark: summary.watermark,
            downloaded_at: now,
            expires_at: meta.expires_at,
        })
    }

    /// Stores a feed the caller already has (a test's corrupt stream, say) exactly as a
    /// download's would be stored.
    #[cfg(feature = "test-hooks")]
    pub async fn store_feed_response(
        &self,
        response: &Response,
        incremental: bool,
    ) -> Result<DownloadReport, RuntimeError> {
        let session = self.signed_in()?;
        let feed = FeedDownload::from_response(response)?;
        self.store_feed(&session, feed, incremental).await
    }

    /// `GET /api/now/table/...`: the network when online and offline mode is off (refreshing
    /// the cached copies), else the cache.
    pub(super) async fn table_get(
        &self,
        request: &Request,
        path: &str,
        table: TableRequest,
    ) -> Result<Response, RuntimeError> {
        let session = self.session();
        let online = session.as_ref().is_none_or(|s| !s.offline_mode.get());
        if online && self.network.is_up() {
            match self.transport.forward(request, path).await {
                Ok(response) => return self.refreshed(session.as_deref(), response, &table).await,
                Err(e) if e.is_network() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let session = session.ok_or(RuntimeError::NotSignedIn)?;
        self.table_from_cache(&session, &table).await
    }

    /// The instance's answer, passed on; the records in it that the cache holds are updated
    /// on the way (whole records only, and not those with unsynced local changes).
    async fn refreshed(
        &self,
        session: Option<&Session>,
        response: Response,
        table: &TableRequest,
    ) -> Result<Response, RuntimeError> {
        let Some(session) = session else {
            return Ok(response);
        };
        if !response.ok()
            || table.params.contains_key("sysparm_fields")
            || session.db.cache_meta().await?.is_none()
        {
            return Ok(response);
        }
        let status = response.status();
        let total = response.headers().get("X-Total-Count").ok().flatten();
        let text = response_text(&response).await?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let records: Vec<Record> = match &body["result"] {
            Value::Array(items) => items
                .iter()
                .cloned()
                .filter_map(Record::from_value)
                .collect(),
            one @ Value::Object(_) => Record::from_value(one.clone()).into_iter().collect(),
            _ => Vec::new(),
        };
        let marked = session.outbox().await?.marked();
        let cached = session.db.cached_ids(&table.table).await?;
        let fresh = local::refresh_from_read(&table.table, records, &cached, &marked);
        if !fresh.is_empty() {
            session.db.put_records(&table.table, &fresh).await?;
        }
        let headers: Vec<(&str, String)> = total
            .map(|t| vec![("X-Total-Count", t)])
            .unwrap_or_default();
        Ok(json_response(status, &body, &headers))
    }

    /// A live action's answer on `table`'s record `sys_id`: the records it changed, created
    /// or deleted replace their cached copies, so the cache does not go stale while the user
    /// works online. Records with unsynced local changes keep the device's version.
    pub(super) async fn keep_fresh(
        &self,
        session: &Session,
        table: &str,
        sys_id: &str,
        answer: &Value,
    ) -> Result<(), RuntimeError> {
        if session.db.cache_meta().await?.is_none() {
            return Ok(());
        }
        // An answer that is not an action's changes nothing here; the app gets it as it is.
        let Ok(answer) = ActionAnswer::deserialize(answer) else {
            return Ok(());
        };
        let marked = session.outbox().await?.marked();
        let refresh = local::refresh_from_action(table, sys_id, &answer, &marked);
        for (table, sys_id) in &refresh.deletes {
            session.db.delete_record(table, sys_id).await?;
        }
        for (table, record) in refresh.puts {
            session.db.put_records(&table, &[record]).await?;
        }
        Ok(())
    }

    /// The Table API answered from the cache with the contract's own checks and paging (the
    /// same code the instance pages with), over the cached records in `sys_id` order, which a
    /// warm worker keeps decoded in memory with the indexes and orders of earlier reads.
    async fn table_from_cache(
        &self,
        session: &Session,
        request: &TableRequest,
    ) -> Result<Response, RuntimeError> {
        let source = from_cache();
        let table = request.table.as_str();
        known_table(table)?;
        if let Some(sys_id) = &request.sys_id {
            return match session.db.get_record(table, sys_id).await? {
                Some(result) => Ok(json_response(200, &RecordAnswer { result }, &[source])),
                None => Err(RuntimeError::NotCached {
                    table: request.table.clone(),
                    sys_id: sys_id.clone(),
                }),
            };
        }
        let params = ListParams::parse(|name| request.params.get(name).map(String::as_str))?;
        if !session.tables.contains(table) && !local::DEVICE_WRITTEN.contains(&table) {
            return Err(ApiError::not_cached(table).into());
        }
        let ctx = session.ctx();
        let records = session
            .db
            .live_table(table, &params.query.narrowing(&ctx))
            .await?
            .ok_or(RuntimeError::NoCache)?;
        let page = params.page_view(&records, &ctx);
        Ok(json_response(
            200,
            &page.body,
            &[source, (TOTAL_COUNT_HEADER, page.total.to_string())],
        ))
    }
}

/// A download staged into the inactive IndexedDB area, with progress posted to pages.
struct IdbStaging<'a> {
    db: &'a LocalDb,
    staging: Staging<'a>,
    events: &'a Events,
    /// The records with outbox entries, and the instance's versions of them the feed brought:
    /// the cache shows them with the entries replayed on top, so they are kept apart too.
    marked: BTreeSet<(String, String)>,
    marked_versions: Vec<(String, Record)>,
}

impl FeedStaging for IdbStaging<'_> {
    type Error = DbError;

    async fn start_over(&mut self) -> Result<(), DbError> {
        self.staging = self.db.begin_staging().await?;
        self.marked_versions.clear();
        Ok(())
    }

    async fn put_batch(&mut self, records: &[(String, Record)]) -> Result<(), DbError> {
        for (table, record) in records {
            let key = (
                table.clone(),
                record.sys_id().unwrap_or_default().to_string(),
            );
            if self.marked.contains(&key) {
                self.marked_versions.push((table.clone(), record.clone()));
            }
        }
        self.staging.put_batch(records).await
    }

    async fn written(&mut self) -> Result<(), DbError> {
        self.staging.written().await
    }

    async fn delete(&mut self, table: &str, sys_id: &str) -> Result<(), DbError> {
        self.staging.delete(table, sys_id).await
    }

    async fn progress(&mut self, done: u64, total: u64) {
        self.events.send(Event::DownloadProgress { done, total });
    }
}

/// Refuses a download when storage is short, before anything is touched; asks for persistent
/// storage so the browser keeps the cache and outbox under pressure.
async fn check_storage(
    network: &Network,
    previous: Option<&CacheMeta>,
) -> Result<(), RuntimeError> {
    // Whether persistence was granted changes nothing here; the status shows storage faults.
    let _ = request_persistence().await;
    let Some(estimate) = network.storage_estimate().await else {
        return Ok(());
    };
    let needed = policy::bytes_needed_for_download(previous.map_or(0, |m| m.records)) as f64;
    if estimate.free() < needed {
        return Err(RuntimeError::Quota {
            free_mb: estimate.free() / 1_048_576.0,
            needed_mb: needed / 1_048_576.0,
        });
    }
    Ok(())
}
