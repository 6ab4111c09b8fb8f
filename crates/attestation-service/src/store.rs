//! Persistent state: challenges and the audit record, in SQLite or PostgreSQL through sqlx.
//!
//! Queries are plain strings (no compile-time checking, so no database is needed to build) and
//! use `$n` placeholders, which both backends accept. Every write is a single statement, so
//! SQLite's busy timeout covers contention and no transaction can deadlock on lock upgrade.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Row};

/// Why the database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot connect to the database `{url}`: {source}")]
    Connect { url: String, source: sqlx::Error },
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("cannot create the directory for the SQLite database {path}: {source}")]
    Directory {
        path: String,
        source: std::io::Error,
    },
}

/// Which backend a database string selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh challenge.
#[derive(Clone, Debug)]
pub struct Challenge {
    pub id: String,
    pub nonce: [u8; 32],
    pub expires_at_ms: i64,
}

/// What consuming a challenge found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Consumed {
    /// It existed and was unused; it is now used. The caller still checks expiry.
    Fresh { nonce: [u8; 32], expires_at_ms: i64 },
    /// It exists but an earlier request already consumed it.
    AlreadyUsed,
    /// No such challenge.
    Unknown,
}

/// One audit row, as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NewAttempt {
    pub time_ms: i64,
    pub challenge_id: Option<String>,
    pub platform: Option<String>,
    pub measurement: Option<String>,
    pub policy_hash: Option<String>,
    pub key_hash: Option<String>,
    pub debug: Option<bool>,
    pub tcb_status: Option<String>,
    pub accepted: bool,
    pub check: Option<String>,
    pub reason: Option<String>,
    pub serial: Option<String>,
    pub not_after_ms: Option<i64>,
}

/// One audit row, as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub record: NewAttempt,
}

/// Filter and page of an audit query.
#[derive(Clone, Debug, Default)]
pub struct AttemptQuery {
    /// Rows with an id greater than this (keyset paging).
    pub after: Option<i64>,
    pub limit: u32,
    pub accepted: Option<bool>,
    pub platform: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects (creating an SQLite file if needed) and applies pending migrations.
    pub async fn open(database: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if database.starts_with("postgres://")
            || database.starts_with("postgresql://")
        {
            (Backend::Postgres, database.to_string())
        } else if database.starts_with("sqlite:") {
            (Backend::Sqlite, database.to_string())
        } else {
            if let Some(parent) = Path::new(database).parent() {
                if !parent.as_os_str().is_empty() {
                    std::fs::create_dir_all(parent).map_err(|source| StoreError::Directory {
                        path: database.to_string(),
                        source,
                    })?;
                }
            }
            (Backend::Sqlite, format!("sqlite://{database}?mode=rwc"))
        };
        let connect_err = |source| StoreError::Connect {
            url: redact(&url),
            source,
        };
        let options = AnyConnectOptions::from_str(&url).map_err(connect_err)?;
        let pool = AnyPoolOptions::new()
            // SQLite serialises writers anyway; a few connections let reads overlap.
            .max_connections(match backend {
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(10))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // An acknowledged audit row must survive power loss, WAL or not.
                        sqlx::query("PRAGMA synchronous = FULL")
                            .execute(&mut *conn)
                            .await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(connect_err)?;
        if backend == Backend::Sqlite {
            // WAL lets readers proceed while one writer commits; it is a property of the file,
            // so setting it once suffices.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
        }
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        tracing::info!(database = %redact(&url), ?backend, "database ready");
        Ok(Store { pool, backend })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn insert_challenge(
        &self,
        challenge: &Challenge,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO challenges (id, nonce, created_at_ms, expires_at_ms) VALUES ($1, $2, $3, $4)",
        )
        .bind(&challenge.id)
        .bind(hex::encode(challenge.nonce))
        .bind(now_ms)
        .bind(challenge.expires_at_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Marks a challenge used and returns its nonce, in one statement: of two concurrent
    /// requests for the same challenge, exactly one sees it fresh.
    pub async fn consume_challenge(&self, id: &str, now_ms: i64) -> Result<Consumed, StoreError> {
        let row = sqlx::query(
            "UPDATE challenges SET used_at_ms = $1 WHERE id = $2 AND used_at_ms IS NULL \
             RETURNING nonce, expires_at_ms",
        )
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(row) = row {
            let nonce_hex: String = row.try_get("nonce")?;
            let nonce = hex::decode(&nonce_hex)
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok())
                .ok_or_else(|| {
                    sqlx::Error::Decode(format!("stored nonce of challenge {id} is corrupt").into())
                })?;
            return Ok(Consumed::Fresh {
                nonce,
                expires_at_ms: row.try_get("expires_at_ms")?,
            });
        }
        let exists = sqlx::query("SELECT 1 AS one FROM challenges WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(if exists.is_some() {
            Consumed::AlreadyUsed
        } else {
            Consumed::Unknown
        })
    }

    /// Forgets challenges that expired before `before_ms`; afterwards they count as unknown.
    pub async fn purge_challenges(&self, before_ms: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM challenges WHERE expires_at_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Appends an audit row and returns its id.
    pub async fn record_attempt(&self, a: &NewAttempt) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO attempts (time_ms, challenge_id, platform, measurement, policy_hash, \
             key_hash, debug, tcb_status, outcome, check_name, reason, serial, not_after_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
        )
        .bind(a.time_ms)
        .bind(a.challenge_id.as_deref())
        .bind(a.platform.as_deref())
        .bind(a.measurement.as_deref())
        .bind(a.policy_hash.as_deref())
        .bind(a.key_hash.as_deref())
        .bind(a.debug.map(i64::from))
        .bind(a.tcb_status.as_deref())
        .bind(if a.accepted { "accepted" } else { "refused" })
        .bind(a.check.as_deref())
        .bind(a.reason.as_deref())
        .bind(a.serial.as_deref())
        .bind(a.not_after_ms)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.try_get("id")?)
    }

    /// A page of the audit record, oldest first.
    pub async fn list_attempts(&self, q: &AttemptQuery) -> Result<Vec<Attempt>, StoreError> {
        // Filters are bound, never spliced; absent ones are neutralised in SQL.
        let rows = sqlx::query(
            "SELECT id, time_ms, challenge_id, platform, measurement, policy_hash, key_hash, \
             debug, tcb_status, outcome, check_name, reason, serial, not_after_ms \
             FROM attempts WHERE id > $1 AND ($2 = '' OR outcome = $3) \
             AND ($4 = '' OR platform = $5) ORDER BY id LIMIT $6",
        )
        .bind(q.after.unwrap_or(0))
        .bind(outcome_filter(q.accepted))
        .bind(outcome_filter(q.accepted))
        .bind(q.platform.clone().unwrap_or_default())
        .bind(q.platform.clone().unwrap_or_default())
        .bind(i64::from(q.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(attempt_from_row).collect()
    }

    /// Number of audit rows, by outcome.
    pub async fn count_attempts(&self, accepted: Option<bool>) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM attempts WHERE ($1 = '' OR outcome = $2)")
            .bind(outcome_filter(accepted))
            .bind(outcome_filter(accepted))
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("n")?)
    }
}

fn outcome_filter(accepted: Option<bool>) -> &'static str {
    match accepted {
        None => "",
        Some(true) => "accepted",
        Some(false) => "refused",
    }
}

fn attempt_from_row(row: &sqlx::any::AnyRow) -> Result<Attempt, StoreError> {
    let outcome: String = row.try_get("outcome")?;
    Ok(Attempt {
        id: row.try_get("id")?,
        record: NewAttempt {
            time_ms: row.try_get("time_ms")?,
            challenge_id: row.try_get("challenge_id")?,
            platform: row.try_get("platform")?,
            measurement: row.try_get("measurement")?,
            policy_hash: row.try_get("policy_hash")?,
            key_hash: row.try_get("key_hash")?,
            debug: row.try_get::<Option<i64>, _>("debug")?.map(|d| d != 0),
            tcb_status: row.try_get("tcb_status")?,
            accepted: outcome == "accepted",
            check: row.try_get("check_name")?,
            reason: row.try_get("reason")?,
            serial: row.try_get("serial")?,
            not_after_ms: row.try_get("not_after_ms")?,
        },
    })
}

/// A database URL without its password, for logs and errors.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/d"), "postgres://u:***@h/d");
        assert_eq!(redact("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redact("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
    }
}
