//! Storing a downloaded cache feed, decided once for every store: records are staged in
//! batches, a deletion is staged after the records before it (so the order of the feed
//! holds), a full feed that answers an incremental download starts the staging over from
//! empty, and progress is reported after every batch. Nothing here swaps the staged cache in:
//! the caller does that only once [`stage`] returned the feed's summary, so a failed download
//! leaves the previous cache as it was.
//!
//! The web layer reads the feed with `fetch` and stages into IndexedDB; tests use memory.

use crate::feed::{FeedLine, FeedSummary};
use crate::record::Record;

/// Records written to the staging area per write.
pub const BATCH: usize = 500;

// The browser's futures (IndexedDB, fetch) are not `Send` and the service worker runs on one
// thread, so the traits deliberately promise no `Send` futures.
/// A feed being read, batch of lines by batch of lines.
#[allow(async_fn_in_trait)]
pub trait FeedSource {
    /// Why reading failed.
    type Error;
    /// The next lines; `None` when the stream ended.
    async fn next_lines(&mut self) -> Result<Option<Vec<FeedLine>>, Self::Error>;
    /// `(done, total)`: lines received and the total announced.
    fn progress(&self) -> (u64, u64);
    /// The stream ended: whether it was a complete feed, and what it announced.
    fn finish(self) -> Result<FeedSummary, Self::Error>;
}

/// Where a download is staged until it is complete.
#[allow(async_fn_in_trait)]
pub trait FeedStaging {
    /// Why a write failed.
    type Error;
    /// Empties the staging area: the instance sent everything, not changes.
    async fn start_over(&mut self) -> Result<(), Self::Error>;
    /// Stages records as `(table, record)`. It may return before they are stored, so the next
    /// batch is decoded while they are written; [`FeedStaging::written`] waits for them.
    async fn put_batch(&mut self, records: &[(String, Record)]) -> Result<(), Self::Error>;
    /// Waits until every batch put so far is stored.
    async fn written(&mut self) -> Result<(), Self::Error>;
    /// Stages the removal of a record.
    async fn delete(&mut self, table: &str, sys_id: &str) -> Result<(), Self::Error>;
    /// Hears how far the download is, after every batch.
    async fn progress(&mut self, done: u64, total: u64);
}

/// Stages every line of `source` into `staging` and returns what the complete feed announced.
/// `incremental`: the download asked for changes since a watermark, so `staging` started as
/// a copy of the cache, and a full answer must start it over.
pub async fn stage<S, T, E>(
    mut source: S,
    staging: &mut T,
    incremental: bool,
) -> Result<FeedSummary, E>
where
    S: FeedSource,
    T: FeedStaging,
    E: From<S::Error> + From<T::Error>,
{
    let mut batch: Vec<(String, Record)> = Vec::new();
    while let Some(lines) = source.next_lines().await? {
        for line in lines {
            match line {
                FeedLine::Header { full: true, .. } if incremental => staging.start_over().await?,
                FeedLine::Record { table, record } => batch.push((table, record)),
                FeedLine::Delete { table, sys_id } => {
                    flush(staging, &mut batch).await?;
                    staging.delete(&table, &sys_id).await?;
                }
                FeedLine::Header { .. } | FeedLine::End { .. } => {}
            }
        }
        if batch.len() >= BATCH {
            flush(staging, &mut batch).await?;
            let (done, total) = source.progress();
            staging.progress(done, total).await;
        }
    }
    flush(staging, &mut batch).await?;
    staging.written().await?;
    Ok(source.finish()?)
}

async fn flush<T: FeedStaging>(
    staging: &mut T,
    batch: &mut Vec<(String, Record)>,
) -> Result<(), T::Error> {
    if !batch.is_empty() {
        staging.put_batch(batch).await?;
        batch.clear();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::{encode_line, FeedDecoder, FeedError};
    use futures::executor::block_on;
    use serde_json::json;

    /// A feed already in memory, handed out `per_read` lines at a time.
    struct Lines {
        decoder: FeedDecoder,
        chunks: Vec<Vec<u8>>,
    }

    impl Lines {
        fn new(lines: &[FeedLine], per_read: usize) -> Self {
            let chunks = lines
                .chunks(per_read)
                .map(|c| c.iter().map(encode_line).collect::<String>().into_bytes())
                .rev()
                .collect();
            Self {
                decoder: FeedDecoder::new(),
                chunks,
            }
        }
    }

    impl FeedSource for Lines {
        type Error = FeedError;
        async fn next_lines(&mut self) -> Result<Option<Vec<FeedLine>>, FeedError> {
            match self.chunks.pop() {
                Some(chunk) => self.decoder.push(&chunk).map(Some),
                None => Ok(None),
            }
        }
        fn progress(&self) -> (u64, u64) {
            self.decoder.progress()
        }
        fn finish(self) -> Result<FeedSummary, FeedError> {
            self.decoder.finish()
        }
    }

    /// What was staged, in order.
    #[derive(Default)]
    struct Log {
        ops: Vec<String>,
        progress: Vec<(u64, u64)>,
    }

    impl FeedStaging for Log {
        type Error = FeedError;
        async fn start_over(&mut self) -> Result<(), FeedError> {
            self.ops.push("start over".into());
            Ok(())
        }
        async fn put_batch(&mut self, records: &[(String, Record)]) -> Result<(), FeedError> {
            self.ops.push(format!("put {}", records.len()));
            Ok(())
        }
        async fn written(&mut self) -> Result<(), FeedError> {
            self.ops.push("written".into());
            Ok(())
        }
        async fn delete(&mut self, table: &str, sys_id: &str) -> Result<(), FeedError> {
            self.ops.push(format!("delete {table} {sys_id}"));
            Ok(())
        }
        async fn progress(&mut self, done: u64, total: u64) {
            self.progress.push((done, total));
        }
    }

    fn record(n: usize) -> FeedLine {
        FeedLine::Record {
            table: "wm_task".into(),
            record: Record::from_value(json!({"sys_id": format!("{n:032x}")})).unwrap(),
        }
    }

    fn feed(full: bool, body: Vec<FeedLine>) -> Vec<FeedLine> {
        let count = body.len() as u64;
        let mut lines = vec![FeedLine::Header {
            total: count,
            watermark: "9".into(),
            full,
        }];
        lines.extend(body);
        lines.push(FeedLine::End {
            count,
            watermark: "9".into(),
        });
        lines
    }

    fn run(
        lines: &[FeedLine],
        per_read: usize,
        incremental: bool,
    ) -> (Result<FeedSummary, FeedError>, Log) {
        let mut log = Log::default();
        let result = block_on(stage(Lines::new(lines, per_read), &mut log, incremental));
        (result, log)
    }

    #[test]
    fn records_are_staged_in_batches_with_progress_after_each_and_written_before_the_end() {
        let body: Vec<FeedLine> = (0..1200).map(record).collect();
        // Reads of 501 lines: the header and 500 records, then 501 records, then the rest.
        let (summary, log) = run(&feed(true, body), 501, false);
        let summary = summary.unwrap();
        assert_eq!((summary.count, summary.total), (1200, 1200));
        assert_eq!(log.ops, ["put 500", "put 501", "put 199", "written"]);
        assert_eq!(log.progress, [(500, 1200), (1001, 1200)]);
    }

    #[test]
    fn a_deletion_is_staged_after_the_records_before_it() {
        let delete = FeedLine::Delete {
            table: "wm_task".into(),
            sys_id: "9".repeat(32),
        };
        let (summary, log) = run(&feed(false, vec![record(1), delete, record(2)]), 10, true);
        assert!(summary.is_ok(), "{summary:?}");
        let gone = format!("delete wm_task {}", "9".repeat(32));
        assert_eq!(log.ops, ["put 1", gone.as_str(), "put 1", "written"]);
    }

    #[test]
    fn a_full_answer_to_an_incremental_download_starts_the_staging_over() {
        let (_, log) = run(&feed(true, vec![record(1)]), 10, true);
        assert_eq!(log.ops, ["start over", "put 1", "written"]);
        let (_, log) = run(&feed(true, vec![record(1)]), 10, false);
        assert_eq!(log.ops, ["put 1", "written"]);
    }

    #[test]
    fn a_cut_feed_fails_after_staging_what_came() {
        let mut lines = feed(true, vec![record(1), record(2)]);
        lines.pop();
        let (summary, log) = run(&lines, 10, false);
        assert!(
            matches!(summary, Err(FeedError::Truncated { .. })),
            "{summary:?}"
        );
        assert_eq!(log.ops, ["put 2", "written"]);
    }
}
