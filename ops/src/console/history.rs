//! Each person's console history and the saved queries (own or shared with the team), in
//! Onwatch's store (`migrations/*/0008_console.sql`).

use serde::{Deserialize, Serialize};
use sqlx::Row;

use crate::audit::Actor;
use crate::store::{Store, StoreError};

/// One query a person ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub id: String,
    pub environment: String,
    pub database: String,
    pub shards: String,
    pub sql: String,
    pub state: String,
    pub rows: i64,
    pub duration_ms: i64,
    pub started_ms: i64,
}

/// A saved query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedQuery {
    pub id: String,
    pub name: String,
    pub description: String,
    pub database: String,
    pub shards: String,
    pub sql: String,
    pub owner: String,
    pub owner_name: String,
    pub shared: bool,
    pub created_ms: i64,
}

/// A query to save.
#[derive(Debug, Clone, Copy)]
pub struct NewSaved<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub database: &'a str,
    pub shards: &'a str,
    pub sql: &'a str,
    /// Shared with everyone signed in (else the owner's only).
    pub shared: bool,
}

/// Why a query was not saved: what the person can fix, or a store that did not answer.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("A saved query needs a name of 1 to 80 characters.")]
    Name,
    #[error("There is no SQL to save.")]
    NoSql,
    /// The console's guard would not run it.
    #[error("Only a query the console would run can be saved: {0}")]
    NotRunnable(super::guard::Refusal),
    /// The store did not answer (its own words, as before): nothing was saved.
    #[error("{0}")]
    Store(#[from] sqlx::Error),
}

#[derive(Debug, Clone)]
pub struct History {
    store: Store,
}

impl History {
    pub fn new(store: Store) -> History {
        History { store }
    }

    pub async fn record(&self, actor: &Actor, e: &HistoryEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO console_history (id, actor, actor_name, environment, database, shards, sql, \
             state, rows, duration_ms, started_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&e.id)
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(&e.environment)
        .bind(&e.database)
        .bind(&e.shards)
        .bind(&e.sql)
        .bind(&e.state)
        .bind(e.rows)
        .bind(e.duration_ms)
        .bind(e.started_ms)
        .execute(self.store.pool())
        .await?;
        Ok(())
    }

    /// A person's latest queries, newest first.
    pub async fn of(&self, actor_id: &str, limit: i64) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, environment, database, shards, sql, state, rows, duration_ms, started_ms \
             FROM console_history WHERE actor = $1 ORDER BY started_ms DESC LIMIT $2",
        )
        .bind(actor_id)
        .bind(limit)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(HistoryEntry {
                    id: r.try_get(0)?,
                    environment: r.try_get(1)?,
                    database: r.try_get(2)?,
                    shards: r.try_get(3)?,
                    sql: r.try_get(4)?,
                    state: r.try_get(5)?,
                    rows: r.try_get(6)?,
                    duration_ms: r.try_get(7)?,
                    started_ms: r.try_get(8)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Saves (or replaces, by owner and name) a query.
    pub async fn save(&self, actor: &Actor, new: &NewSaved<'_>) -> Result<SavedQuery, SaveError> {
        let NewSaved {
            name,
            description,
            database,
            shards,
            sql,
            shared,
        } = *new;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(SaveError::Name);
        }
        if sql.trim().is_empty() {
            return Err(SaveError::NoSql);
        }
        super::guard::check(sql).map_err(SaveError::NotRunnable)?;
        let id = format!("s{}", crate::auth::random_token());
        let now = crate::time::now_ms();
        let delete = sqlx::query("DELETE FROM console_saved WHERE owner = $1 AND name = $2")
            .bind(&actor.id)
            .bind(name);
        let insert = sqlx::query(
            "INSERT INTO console_saved (id, name, description, database, shards, sql, owner, owner_name, shared, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&id)
        .bind(name)
        .bind(description.trim())
        .bind(database)
        .bind(shards)
        .bind(sql)
        .bind(&actor.id)
        .bind(&actor.name)
        .bind(i64::from(shared))
        .bind(now);
        let mut tx = self.store.begin_write().await?;
        delete.execute(&mut *tx).await?;
        insert.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(SavedQuery {
            id,
            name: name.to_owned(),
            description: description.trim().to_owned(),
            database: database.to_owned(),
            shards: shards.to_owned(),
            sql: sql.to_owned(),
            owner: actor.id.clone(),
            owner_name: actor.name.clone(),
            shared,
            created_ms: now,
        })
    }

    /// The person's own saved queries and everyone's shared ones.
    pub async fn saved(&self, actor_id: &str) -> Result<Vec<SavedQuery>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, description, database, shards, sql, owner, owner_name, shared, created_ms \
             FROM console_saved WHERE owner = $1 OR shared = 1 ORDER BY name, created_ms",
        )
        .bind(actor_id)
        .fetch_all(self.store.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SavedQuery {
                    id: r.try_get(0)?,
                    name: r.try_get(1)?,
                    description: r.try_get(2)?,
                    database: r.try_get(3)?,
                    shards: r.try_get(4)?,
                    sql: r.try_get(5)?,
                    owner: r.try_get(6)?,
                    owner_name: r.try_get(7)?,
                    shared: r.try_get::<i64, _>(8)? != 0,
                    created_ms: r.try_get(9)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Deletes a saved query: its owner, or an admin.
    pub async fn delete_saved(&self, actor: &Actor, id: &str) -> Result<bool, StoreError> {
        let r =
            sqlx::query("DELETE FROM console_saved WHERE id = $1 AND (owner = $2 OR $3 = 'admin')")
                .bind(id)
                .bind(&actor.id)
                .bind(&actor.role)
                .execute(self.store.pool())
                .await?;
        Ok(r.rows_affected() > 0)
    }
}
