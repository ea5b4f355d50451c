//! [`Storage`] over SQLite (WAL mode): one writer connection, and reader connections that
//! read a consistent snapshot while the writer goes on (a file database only; an in-memory
//! database exists only in its one connection, so there everything shares it).

use super::{Mode, Session, SqlPage, Storage, StorageError, Tx};
use offgrid::query::{FieldTest, NUMBER_CHARS};
use offgrid::record::{Record, Timestamp};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    table_name TEXT NOT NULL,
    sys_id TEXT NOT NULL,
    data TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    PRIMARY KEY (table_name, sys_id)
);
CREATE INDEX IF NOT EXISTS records_by_change ON records (table_name, change_seq);
CREATE INDEX IF NOT EXISTS records_by_state_number
    ON records (table_name, json_extract(data, '$.state'), json_extract(data, '$.number'), sys_id);
CREATE INDEX IF NOT EXISTS records_by_assignee_state_number
    ON records (table_name, json_extract(data, '$.assigned_to'), json_extract(data, '$.state'),
                json_extract(data, '$.number'), sys_id);
CREATE TABLE IF NOT EXISTS tombstones (
    table_name TEXT NOT NULL,
    sys_id TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    PRIMARY KEY (table_name, sys_id)
);
CREATE TABLE IF NOT EXISTS record_log (
    change_seq INTEGER PRIMARY KEY,
    table_name TEXT NOT NULL,
    sys_id TEXT NOT NULL,
    before TEXT
);
CREATE INDEX IF NOT EXISTS record_log_by_record ON record_log (table_name, sys_id, change_seq);
CREATE TABLE IF NOT EXISTS counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO counter (id, value) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS attachment_data (sys_id TEXT PRIMARY KEY, bytes BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sync_answers (
    user_name TEXT NOT NULL,
    entry_id TEXT NOT NULL,
    result TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (user_name, entry_id)
);
CREATE TABLE IF NOT EXISTS session_tokens (
    token_hash TEXT PRIMARY KEY,
    user_name TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS credentials (
    user_name TEXT PRIMARY KEY,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS config (key TEXT PRIMARY KEY, value TEXT NOT NULL);
";

/// The fields with an index on their value (in [`SCHEMA`]): a list narrowed by one of them
/// reads only the rows that have one of the asked values. The device indexes the same two.
/// Both indexes also hold the number and the `sys_id`, the assignee's the state too, so that
/// the app's lists (a user's tasks, or everyone's, in a state by number) are counted and paged
/// from an index alone ([`Tx::page_by_sql`]).
const INDEXED_FIELDS: [&str; 2] = ["state", "assigned_to"];

/// The fields the assignee's index holds (the state's holds some of them): a list that tests
/// and orders by only these is counted and paged without reading a record.
const COVERED_FIELDS: [&str; 3] = ["assigned_to", "state", "number"];

/// SQLite storage.
pub struct Sqlite {
    writer: Mutex<Connection>,
    /// Idle reader connections; empty and unused for an in-memory database.
    readers: Option<Mutex<Vec<Connection>>>,
    path: std::path::PathBuf,
}

fn err(e: impl std::fmt::Display) -> StorageError {
    StorageError(e.to_string())
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves SQLite consistent (the transaction rolls back
    // when dropped), so the poisoned connection stays usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Brings a database made by an older instance up to [`SCHEMA`], keeping its data.
fn migrate(conn: &Connection) -> Result<(), StorageError> {
    // Before answers were kept per user, `sync_results` was keyed by the entry id alone.
    let old: bool = conn
        .query_row(
            "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'sync_results'",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    // Sessions were kept by their plain token, without expiry: they end (users sign in again).
    // The state's and the assignee's indexes held that field alone; their successors begin
    // with it.
    conn.execute_batch(
        "DROP TABLE IF EXISTS sessions; DROP INDEX IF EXISTS records_by_assigned_to;
         DROP INDEX IF EXISTS records_by_state",
    )
    .map_err(err)?;
    if old {
        conn.execute_batch(
            "BEGIN;
             INSERT OR IGNORE INTO sync_answers (user_name, entry_id, result, applied_at)
                 SELECT user_name, entry_id, result, applied_at FROM sync_results;
             DROP TABLE sync_results;
             COMMIT;",
        )
        .map_err(err)?;
    }
    Ok(())
}

impl Sqlite {
    /// Opens (creating when missing) the database at `path`; `:memory:` for one in memory.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let in_memory = path.as_os_str() == ":memory:";
        if !in_memory {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| err(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        migrate(&conn)?;
        Ok(Self {
            writer: Mutex::new(conn),
            readers: (!in_memory).then(|| Mutex::new(Vec::new())),
            path: path.to_path_buf(),
        })
    }

    fn reader(&self) -> Result<Connection, StorageError> {
        if let Some(conn) = self.readers.as_ref().and_then(|r| lock(r).pop()) {
            return Ok(conn);
        }
        let conn = Connection::open(&self.path).map_err(err)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(err)?;
        Ok(conn)
    }
}

impl Storage for Sqlite {
    fn transaction(
        &self,
        mode: Mode,
        work: &mut dyn FnMut(&mut dyn Tx) -> bool,
    ) -> Result<(), StorageError> {
        match (mode, &self.readers) {
            (Mode::Read, Some(readers)) => {
                let mut conn = self.reader()?;
                let result = run(&mut conn, TransactionBehavior::Deferred, false, work);
                if result.is_ok() {
                    lock(readers).push(conn);
                }
                result
            }
            (Mode::Read, None) => run(
                &mut lock(&self.writer),
                TransactionBehavior::Deferred,
                false,
                work,
            ),
            (Mode::Write, _) => run(
                &mut lock(&self.writer),
                TransactionBehavior::Immediate,
                true,
                work,
            ),
        }
    }
}

fn run(
    conn: &mut Connection,
    behavior: TransactionBehavior,
    may_commit: bool,
    work: &mut dyn FnMut(&mut dyn Tx) -> bool,
) -> Result<(), StorageError> {
    let tx = conn.transaction_with_behavior(behavior).map_err(err)?;
    let mut stx = SqliteTx { tx };
    let commit = work(&mut stx);
    if commit && may_commit {
        stx.tx.commit().map_err(err)
    } else {
        stx.tx.rollback().map_err(err)
    }
}

struct SqliteTx<'c> {
    tx: Transaction<'c>,
}

impl SqliteTx<'_> {
    fn next_seq(&mut self) -> Result<i64, StorageError> {
        self.tx
            .query_row(
                "UPDATE counter SET value = value + 1 WHERE id = 1 RETURNING value",
                [],
                |r| r.get(0),
            )
            .map_err(err)
    }

    /// Logs change `seq` of a record with the version it replaces (none for an insert), so
    /// the incremental feed knows whether a user could have seen a record it no longer shows.
    fn log(&mut self, seq: i64, table: &str, sys_id: &str) -> Result<(), StorageError> {
        self.tx
            .prepare_cached(
                "INSERT INTO record_log (change_seq, table_name, sys_id, before)
                 SELECT ?1, ?2, ?3, (SELECT data FROM records WHERE table_name = ?2 AND sys_id = ?3)",
            )
            .and_then(|mut s| s.execute(params![seq, table, sys_id]))
            .map(drop)
            .map_err(err)
    }
}

/// The JSON path of a top-level field, as SQL text: `$.state`, or `$."a.b"` for a name with a
/// dot (a field of that name, not a nested one). `None` for a name the query grammar would
/// not give, so nothing unexpected reaches the SQL text.
fn json_path(field: &str) -> Option<String> {
    let mut chars = field.chars();
    let first = chars.next()?;
    let fits = (first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    match (fits, field.contains('.')) {
        (false, _) => None,
        (true, false) => Some(format!("$.{field}")),
        (true, true) => Some(format!("$.\"{field}\"")),
    }
}

/// A GLOB class of one character no number's text holds ([`NUMBER_CHARS`]), `-` last so
/// that it stands for itself.
fn word_char() -> String {
    let chars: String = NUMBER_CHARS.chars().filter(|c| *c != '-').collect();
    format!("[^{chars}-]")
}

fn parse_record(data: &str) -> Result<Record, StorageError> {
    serde_json::from_str(data).map_err(|e| err(format!("a stored record is not JSON: {e}")))
}

impl Tx for SqliteTx<'_> {
    fn get(&self, table: &str, sys_id: &str) -> Result<Option<Record>, StorageError> {
        let data: Option<String> = self
            .tx
            .prepare_cached("SELECT data FROM records WHERE table_name = ?1 AND sys_id = ?2")
            .and_then(|mut s| s.query_row(params![table, sys_id], |r| r.get(0)).optional())
            .map_err(err)?;
        data.as_deref().map(parse_record).transpose()
    }

    fn put(&mut self, table: &str, record: &Record) -> Result<(), StorageError> {
        let sys_id = record
            .sys_id()
            .ok_or_else(|| err("a record without sys_id cannot be stored"))?;
        let seq = self.next_seq()?;
        self.log(seq, table, sys_id)?;
        let data = serde_json::to_string(record).map_err(err)?;
        self.tx
            .prepare_cached(
                "INSERT INTO records (table_name, sys_id, data, change_seq) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (table_name, sys_id) DO UPDATE SET data = ?3, change_seq = ?4",
            )
            .and_then(|mut s| s.execute(params![table, sys_id, data, seq]))
            .map_err(err)?;
        self.tx
            .prepare_cached("DELETE FROM tombstones WHERE table_name = ?1 AND sys_id = ?2")
            .and_then(|mut s| s.execute(params![table, sys_id]))
            .map_err(err)?;
        Ok(())
    }

    fn delete(&mut self, table: &str, sys_id: &str) -> Result<bool, StorageError> {
        if self.get(table, sys_id)?.is_none() {
            return Ok(false);
        }
        let seq = self.next_seq()?;
        self.log(seq, table, sys_id)?;
        let gone = self
            .tx
            .prepare_cached("DELETE FROM records WHERE table_name = ?1 AND sys_id = ?2")
            .and_then(|mut s| s.execute(params![table, sys_id]))
            .map_err(err)?;
        if gone == 0 {
            return Ok(false);
        }
        self.tx
            .prepare_cached(
                "INSERT OR REPLACE INTO tombstones (table_name, sys_id, change_seq) VALUES (?1, ?2, ?3)",
            )
            .and_then(|mut s| s.execute(params![table, sys_id, seq]))
            .map_err(err)?;
        Ok(true)
    }

    fn scan(
        &self,
        table: &str,
        since: i64,
        each: &mut dyn FnMut(Record) -> bool,
    ) -> Result<(), StorageError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT data FROM records WHERE table_name = ?1 AND change_seq > ?2
                 ORDER BY sys_id",
            )
            .map_err(err)?;
        let mut rows = stmt.query(params![table, since]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let data: String = row.get(0).map_err(err)?;
            if !each(parse_record(&data)?) {
                break;
            }
        }
        Ok(())
    }

    fn scan_narrowed(
        &self,
        table: &str,
        narrowing: &[(String, Vec<String>)],
        fields: Option<&BTreeSet<String>>,
        each: &mut dyn FnMut(Record) -> bool,
    ) -> Result<(), StorageError> {
        // `->` gives a field's JSON text (`"a"`, `2`, `null`), so its value comes back as
        // stored; NULL when the field is missing. A name that has no path reads whole rows.
        let light = fields.and_then(|fields| {
            fields
                .iter()
                .map(|f| json_path(f).map(|path| (f.as_str(), path)))
                .collect::<Option<Vec<_>>>()
        });
        let columns = match &light {
            Some(paths) => paths
                .iter()
                .map(|(_, path)| format!("data -> '{path}'"))
                .collect::<Vec<_>>()
                .join(", "),
            None => "data".to_string(),
        };
        let mut sql = format!("SELECT {columns} FROM records WHERE table_name = ?");
        let mut values = vec![table];
        let mut indexed = false;
        for (field, texts) in narrowing {
            let Some(path) = json_path(field) else {
                continue;
            };
            // The path is written out, not bound, so the expression is the one an index has
            // and the planner can use it.
            let marks = vec!["?"; texts.len()].join(", ");
            sql.push_str(&format!(" AND json_extract(data, '{path}') IN ({marks})"));
            values.extend(texts.iter().map(String::as_str));
            indexed |= INDEXED_FIELDS.contains(&field.as_str());
        }
        // Without statistics SQLite prefers the primary key, which gives `sys_id` order
        // without sorting, to a field's index, which finds far fewer rows; `+sys_id` takes
        // that preference away where such an index applies.
        sql.push_str(if indexed {
            " ORDER BY +sys_id"
        } else {
            " ORDER BY sys_id"
        });
        let mut stmt = self.tx.prepare_cached(&sql).map_err(err)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(values))
            .map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            let record = match &light {
                None => parse_record(&row.get::<_, String>(0).map_err(err)?)?,
                Some(paths) => {
                    let mut record = Record::new();
                    for (i, (field, _)) in paths.iter().enumerate() {
                        if let Some(text) = row.get::<_, Option<String>>(i).map_err(err)? {
                            let value = serde_json::from_str(&text)
                                .map_err(|e| err(format!("a stored field is not JSON: {e}")))?;
                            record.0.insert(field.to_string(), value);
                        }
                    }
                    record
                }
            };
            if !each(record) {
                break;
            }
        }
        Ok(())
    }

    fn page_by_sql(
        &self,
        table: &str,
        tests: &[FieldTest],
        order: &[(&str, bool)],
        offset: usize,
        limit: usize,
    ) -> Result<Option<SqlPage>, StorageError> {
        // Counting and paging a list read its records twice where no index covers it, which
        // is slower than the caller reading each narrowed record once.
        let covered = tests
            .iter()
            .map(|t| t.field.as_str())
            .chain(order.iter().map(|(field, _)| *field))
            .all(|field| COVERED_FIELDS.contains(&field));
        if !covered {
            return Ok(None);
        }
        // `json_extract` gives a string field as its text and NULL for a missing or null one,
        // written out (not bound) as the indexes have it, so they apply and cover.
        let key =
            |field: &str| json_path(field).map(|path| format!("json_extract(data, '{path}')"));
        let mut filter = "table_name = ?".to_string();
        let mut values = vec![SqlValue::Text(table.to_string())];
        let mut indexed = false;
        for test in tests {
            let Some(key) = key(&test.field) else {
                return Ok(None);
            };
            let marks = vec!["?"; test.texts.len()].join(", ");
            // Each text is a non-empty one only a string can have, so a number, boolean or
            // NULL never equals one and binary `IN` is the evaluator's equality.
            filter.push_str(&if test.negated {
                format!(" AND NOT coalesce({key} IN ({marks}), 0)")
            } else {
                indexed |= INDEXED_FIELDS.contains(&test.field.as_str());
                format!(" AND {key} IN ({marks})")
            });
            values.extend(test.texts.iter().cloned().map(SqlValue::Text));
        }
        let Some(keys) = order
            .iter()
            .map(|(field, _)| key(field))
            .collect::<Option<Vec<_>>>()
        else {
            return Ok(None);
        };
        // SQLite orders NULL first, then text by its bytes (code points): the core's order for
        // keys that are missing or null (empty), or texts with a character no number has (and
        // not an object's or array's JSON). Any other key makes the order the core's alone.
        let word = word_char();
        let odd = keys
            .iter()
            .map(|k| {
                format!(
                    "NOT ({k} IS NULL OR (typeof({k}) = 'text' AND {k} GLOB '*{word}*' \
                     AND {k} NOT GLOB '[{{[]*'))"
                )
            })
            .reduce(|a, b| format!("{a} OR {b}"))
            .unwrap_or_else(|| "0".to_string());
        let (total, odd): (i64, i64) = self
            .tx
            .prepare_cached(&format!(
                "SELECT count(*), count(*) FILTER (WHERE {odd}) FROM records WHERE {filter}"
            ))
            .and_then(|mut s| {
                s.query_row(rusqlite::params_from_iter(&values), |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
            })
            .map_err(err)?;
        if odd > 0 {
            return Ok(None);
        }
        // Ties fall to `sys_id`, the order the core's stable sort keeps them in. `+sys_id`
        // alone keeps the planner on a field's index (see `scan_narrowed`).
        let tie = if indexed && keys.is_empty() {
            "+sys_id"
        } else {
            "sys_id"
        };
        let order_by = keys
            .iter()
            .zip(order)
            .map(|(k, (_, descending))| {
                if *descending {
                    format!("{k} DESC")
                } else {
                    k.clone()
                }
            })
            .chain([tie.to_string()])
            .collect::<Vec<_>>()
            .join(", ");
        let count = |n: usize| SqlValue::Integer(i64::try_from(n).unwrap_or(i64::MAX));
        values.extend([count(limit), count(offset)]);
        let mut stmt = self
            .tx
            .prepare_cached(&format!(
                "SELECT sys_id FROM records WHERE {filter} ORDER BY {order_by} LIMIT ? OFFSET ?"
            ))
            .map_err(err)?;
        let sys_ids = stmt
            .query_map(rusqlite::params_from_iter(&values), |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(err)?;
        Ok(Some(SqlPage {
            total: usize::try_from(total).unwrap_or_default(),
            sys_ids,
        }))
    }

    fn tombstones(
        &self,
        table: &str,
        since: i64,
        each: &mut dyn FnMut(String),
    ) -> Result<(), StorageError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT sys_id FROM tombstones WHERE table_name = ?1 AND change_seq > ?2
                 ORDER BY change_seq",
            )
            .map_err(err)?;
        let mut rows = stmt.query(params![table, since]).map_err(err)?;
        while let Some(row) = rows.next().map_err(err)? {
            each(row.get(0).map_err(err)?);
        }
        Ok(())
    }

    fn versions_since(
        &self,
        table: &str,
        sys_id: &str,
        since: i64,
        each: &mut dyn FnMut(Record),
    ) -> Result<bool, StorageError> {
        let mut stmt = self
            .tx
            .prepare_cached(
                "SELECT before FROM record_log
                 WHERE table_name = ?1 AND sys_id = ?2 AND change_seq > ?3 ORDER BY change_seq",
            )
            .map_err(err)?;
        let mut rows = stmt.query(params![table, sys_id, since]).map_err(err)?;
        let mut known = false;
        while let Some(row) = rows.next().map_err(err)? {
            known = true;
            let before: Option<String> = row.get(0).map_err(err)?;
            if let Some(before) = before {
                each(parse_record(&before)?);
            }
        }
        Ok(known)
    }

    fn watermark(&self) -> Result<i64, StorageError> {
        self.tx
            .query_row("SELECT value FROM counter WHERE id = 1", [], |r| r.get(0))
            .map_err(err)
    }

    fn is_empty(&self) -> Result<bool, StorageError> {
        self.tx
            .query_row("SELECT NOT EXISTS (SELECT 1 FROM records)", [], |r| {
                r.get(0)
            })
            .map_err(err)
    }

    fn put_bytes(&mut self, sys_id: &str, bytes: &[u8]) -> Result<(), StorageError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO attachment_data (sys_id, bytes) VALUES (?1, ?2)",
                params![sys_id, bytes],
            )
            .map(drop)
            .map_err(err)
    }

    fn bytes(&self, sys_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        self.tx
            .query_row(
                "SELECT bytes FROM attachment_data WHERE sys_id = ?1",
                params![sys_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)
    }

    fn sync_result(&self, user: &str, entry_id: &str) -> Result<Option<Value>, StorageError> {
        let text: Option<String> = self
            .tx
            .query_row(
                "SELECT result FROM sync_answers WHERE user_name = ?1 AND entry_id = ?2",
                params![user, entry_id],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        text.map(|t| serde_json::from_str(&t).map_err(err))
            .transpose()
    }

    fn put_sync_result(
        &mut self,
        entry_id: &str,
        user: &str,
        result: &Value,
        now: Timestamp,
    ) -> Result<(), StorageError> {
        self.tx
            .execute(
                "INSERT INTO sync_answers (entry_id, user_name, result, applied_at)
                 VALUES (?1, ?2, ?3, ?4)",
                params![entry_id, user, result.to_string(), now.to_string()],
            )
            .map(drop)
            .map_err(err)
    }

    fn session(&self, token_hash: &str) -> Result<Option<Session>, StorageError> {
        self.tx
            .query_row(
                "SELECT user_name, created_at, last_seen FROM session_tokens WHERE token_hash = ?1",
                params![token_hash],
                |r| {
                    Ok(Session {
                        user_name: r.get(0)?,
                        created_at: r.get(1)?,
                        last_seen: r.get(2)?,
                    })
                },
            )
            .optional()
            .map_err(err)
    }

    fn put_session(&mut self, token_hash: &str, user: &str, now: i64) -> Result<(), StorageError> {
        self.tx
            .execute(
                "INSERT INTO session_tokens (token_hash, user_name, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?3)",
                params![token_hash, user, now],
            )
            .map(drop)
            .map_err(err)
    }

    fn touch_session(&mut self, token_hash: &str, now: i64) -> Result<(), StorageError> {
        self.tx
            .execute(
                "UPDATE session_tokens SET last_seen = ?2 WHERE token_hash = ?1",
                params![token_hash, now],
            )
            .map(drop)
            .map_err(err)
    }

    fn delete_session(&mut self, token_hash: &str) -> Result<(), StorageError> {
        self.tx
            .execute(
                "DELETE FROM session_tokens WHERE token_hash = ?1",
                params![token_hash],
            )
            .map(drop)
            .map_err(err)
    }

    fn credentials(&self, user: &str) -> Result<Option<(String, String)>, StorageError> {
        self.tx
            .query_row(
                "SELECT salt, hash FROM credentials WHERE user_name = ?1",
                params![user],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(err)
    }

    fn put_credentials(&mut self, user: &str, salt: &str, hash: &str) -> Result<(), StorageError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO credentials (user_name, salt, hash) VALUES (?1, ?2, ?3)",
                params![user, salt, hash],
            )
            .map(drop)
            .map_err(err)
    }

    fn config(&self, key: &str) -> Result<Option<Value>, StorageError> {
        let text: Option<String> = self
            .tx
            .query_row(
                "SELECT value FROM config WHERE key = ?1",
                params![key],
                |r| r.get(0),
            )
            .optional()
            .map_err(err)?;
        text.map(|t| serde_json::from_str(&t).map_err(err))
            .transpose()
    }

    fn put_config(&mut self, key: &str, value: &Value) -> Result<(), StorageError> {
        self.tx
            .execute(
                "INSERT OR REPLACE INTO config (key, value) VALUES (?1, ?2)",
                params![key, value.to_string()],
            )
            .map(drop)
            .map_err(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Storage;

    #[test]
    fn a_database_with_answers_keyed_by_entry_id_alone_keeps_them_under_their_user() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        let old = Connection::open(&path).unwrap();
        old.execute_batch(
            "CREATE TABLE sync_results (entry_id TEXT PRIMARY KEY, user_name TEXT NOT NULL,
                                        result TEXT NOT NULL, applied_at TEXT NOT NULL);
             INSERT INTO sync_results VALUES ('e1', 'beth.anglin', '{\"status\":\"applied\"}',
                                              '2026-11-20 08:00:00');",
        )
        .unwrap();
        drop(old);
        let db = Sqlite::open(&path).unwrap();
        let storage: &dyn Storage = &db;
        let (hers, his) = storage
            .read(|tx| {
                Ok::<_, StorageError>((
                    tx.sync_result("beth.anglin", "e1")?,
                    tx.sync_result("abel.tuter", "e1")?,
                ))
            })
            .unwrap();
        assert_eq!(hers, Some(serde_json::json!({"status": "applied"})));
        assert_eq!(his, None);
        drop(db);
        Sqlite::open(&path).expect("opens again once migrated");
    }
}
