//! The offline cache feed: NDJSON streamed from one read transaction.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query as Params, State};
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use offgrid::feed::{write_line, FeedLineRef};
use offgrid::query::{Query, QueryContext};
use std::collections::HashMap;
use tokio::sync::mpsc;

use super::config::tables;
use crate::auth::CurrentUser;
use crate::error::{ApiError, HttpError};
use crate::routes::params;
use crate::storage::{Storage, StorageError, Tx};
use crate::AppState;

/// Lines of the feed are sent in chunks of about this size.
const CHUNK_BYTES: usize = 64 * 1024;

/// `GET /api/offgrid/cache[?since=W]`: the user's offline cache as NDJSON, streamed from one
/// read transaction (a consistent snapshot) without holding the whole feed in memory.
pub async fn cache(
    State(state): State<AppState>,
    user: CurrentUser,
    query: Result<Params<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, HttpError> {
    let params = params(query)?;
    let since = params
        .get("since")
        .map(|w| {
            w.trim().parse::<i64>().ok().filter(|w| *w >= 0).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "since must be a watermark from an earlier feed (a non-negative integer), not {w:?}"
                ))
            })
        })
        .transpose()?;
    let (sender, receiver) = mpsc::channel::<Result<Bytes, std::io::Error>>(8);
    let storage = state.storage.clone();
    let ctx = user.ctx();
    tokio::task::spawn_blocking(move || {
        let mut feed = Feed {
            sender,
            buffer: Vec::new(),
            gone: false,
        };
        if let Err(e) = write_feed(&*storage, &ctx, since, &mut feed) {
            // The stream ends without its end line: the client sees an incomplete download.
            let _ = feed.sender.blocking_send(Err(std::io::Error::other(e.0)));
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    Ok((
        [(CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(stream),
    )
        .into_response())
}

struct Feed {
    sender: mpsc::Sender<Result<Bytes, std::io::Error>>,
    buffer: Vec<u8>,
    /// The client went away: stop reading.
    gone: bool,
}

impl Feed {
    fn line(&mut self, line: FeedLineRef<'_>) {
        write_line(&mut self.buffer, &line);
        if self.buffer.len() >= CHUNK_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.buffer.is_empty() || self.gone {
            return;
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        self.gone = self.sender.blocking_send(Ok(chunk)).is_err();
    }
}

fn write_feed(
    storage: &dyn Storage,
    ctx: &QueryContext,
    since: Option<i64>,
    feed: &mut Feed,
) -> Result<(), StorageError> {
    storage.read(|tx| {
        // Read first, so the snapshot and the watermark agree.
        let watermark = tx.watermark()?;
        // A watermark from the future comes from another database: start over.
        let since = since.filter(|s| *s <= watermark);
        let full = since.is_none();
        let after = since.unwrap_or(-1);
        let mut scopes = Vec::new();
        for (table, text) in tables(tx)? {
            let text = text.as_str().unwrap_or_default();
            let query = Query::parse(text).map_err(|e| {
                StorageError(format!(
                    "the offline scope of {table} is not a valid query: {e}"
                ))
            })?;
            scopes.push((table, query));
        }
        // The header announces every line the end line will count: records, and for an
        // incremental feed the deletions too (the device checks the two agree). So the
        // deletions are found first: records changed out of the scope and records deleted,
        // named only when the user could have seen them.
        let mut total = 0u64;
        let mut deletions: Vec<Vec<String>> = Vec::with_capacity(scopes.len());
        for (table, query) in &scopes {
            let mut changed_away = Vec::new();
            tx.scan(table, after, &mut |record| {
                if query.matches(&record, ctx) {
                    total += 1;
                } else if !full {
                    changed_away.push(record.sys_id().unwrap_or_default().to_string());
                }
                true
            })?;
            if !full {
                tx.tombstones(table, after, &mut |sys_id| changed_away.push(sys_id))?;
            }
            let mut gone = Vec::new();
            for sys_id in changed_away {
                if could_have_seen(tx, table, &sys_id, after, query, ctx)? {
                    gone.push(sys_id);
                }
            }
            total += gone.len() as u64;
            deletions.push(gone);
        }
        let watermark = watermark.to_string();
        feed.line(FeedLineRef::Header {
            total,
            watermark: &watermark,
            full,
        });
        let mut count = 0u64;
        for ((table, query), gone) in scopes.iter().zip(&deletions) {
            tx.scan(table, after, &mut |record| {
                if query.matches(&record, ctx) {
                    count += 1;
                    feed.line(FeedLineRef::Record {
                        table,
                        record: &record,
                    });
                }
                !feed.gone
            })?;
            for sys_id in gone {
                count += 1;
                feed.line(FeedLineRef::Delete { table, sys_id });
            }
        }
        feed.line(FeedLineRef::End {
            count,
            watermark: &watermark,
        });
        feed.flush();
        Ok(())
    })
}

/// Whether the user could have seen a record that has left their scope or been deleted since
/// `since`: some version of it since then was in the scope. A deletion line names only such
/// records, so the feed never tells a user the ids of records they could not read. Changes that
/// predate the change log are not known: those are named, as before the log existed.
fn could_have_seen(
    tx: &dyn Tx,
    table: &str,
    sys_id: &str,
    since: i64,
    query: &Query,
    ctx: &QueryContext,
) -> Result<bool, StorageError> {
    let mut seen = false;
    let known = tx.versions_since(table, sys_id, since, &mut |version| {
        seen |= query.matches(&version, ctx);
    })?;
    Ok(seen || !known)
}
