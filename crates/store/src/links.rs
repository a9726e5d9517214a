//! Record links: Monday item <-> Salesforce record, unique in both directions.

use crate::error::{Result, StoreError};
use crate::{dispatch, no_nul, now_ms, Link, LinkOutcome, Store};

const LINK_COLS: &str = "monday_board_id, monday_item_id, sf_object, sf_id";

#[derive(sqlx::FromRow)]
struct RawLink {
    monday_board_id: i64,
    monday_item_id: i64,
    sf_object: String,
    sf_id: String,
}

impl From<RawLink> for Link {
    fn from(r: RawLink) -> Link {
        Link {
            monday_board_id: r.monday_board_id,
            monday_item_id: r.monday_item_id,
            sf_object: r.sf_object,
            sf_id: r.sf_id,
        }
    }
}

fn monday_key(board_id: i64, item_id: i64) -> String {
    format!("Monday item {board_id}/{item_id}")
}

fn sf_key(sf_object: &str, sf_id: &str) -> String {
    format!("Salesforce {sf_object} {sf_id}")
}

impl Store {
    /// Links a Monday item to a Salesforce record. Idempotent for the same pair; if either side is
    /// already linked to something else, fails with [`StoreError::LinkConflict`] naming the existing
    /// link (never overwrites: delete the old link first to relink). Salesforce Ids are compared
    /// exactly: pass them in one form (the 18-character Id).
    pub async fn upsert_link(&self, link: &Link) -> Result<LinkOutcome> {
        const OP: &str = "upsert_link";
        no_nul(OP, "sf_object", &link.sf_object)?;
        no_nul(OP, "sf_id", &link.sf_id)?;
        let key = format!(
            "{} <-> {}",
            monday_key(link.monday_board_id, link.monday_item_id),
            sf_key(&link.sf_object, &link.sf_id)
        );
        // A conflicting row can disappear between the failed insert and the lookup (concurrent delete):
        // then try again.
        for _ in 0..5 {
            let inserted: Option<i64> = dispatch!(self, p => {
                sqlx::query_scalar::<_, i64>(
                    "INSERT INTO record_links (monday_board_id, monday_item_id, sf_object, sf_id, created_at) \
                     VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING id",
                )
                .bind(link.monday_board_id)
                .bind(link.monday_item_id)
                .bind(&link.sf_object)
                .bind(&link.sf_id)
                .bind(now_ms())
                .fetch_optional(p)
                .await
                .map_err(StoreError::query(OP, &key))?
            });
            if inserted.is_some() {
                return Ok(LinkOutcome::Created);
            }
            let by_monday = self
                .find_link_by_monday(link.monday_board_id, link.monday_item_id)
                .await?;
            let by_sf = self
                .find_link_by_salesforce(&link.sf_object, &link.sf_id)
                .await?;
            match (by_monday, by_sf) {
                (Some(existing), _) | (None, Some(existing)) if existing != *link => {
                    return Err(StoreError::LinkConflict {
                        requested: Box::new(link.clone()),
                        existing: Box::new(existing),
                    })
                }
                (Some(_), _) | (None, Some(_)) => return Ok(LinkOutcome::AlreadyLinked),
                (None, None) => continue,
            }
        }
        Err(StoreError::InvalidState {
            op: OP,
            key,
            reason: "the conflicting link kept changing; giving up after 5 attempts".to_owned(),
        })
    }

    /// The link of a Monday item, if any.
    pub async fn find_link_by_monday(&self, board_id: i64, item_id: i64) -> Result<Option<Link>> {
        let sql = format!(
            "SELECT {LINK_COLS} FROM record_links WHERE monday_board_id = $1 AND monday_item_id = $2"
        );
        let raw: Option<RawLink> = dispatch!(self, p => {
            sqlx::query_as::<_, RawLink>(&sql)
                .bind(board_id)
                .bind(item_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("find_link_by_monday", monday_key(board_id, item_id)))?
        });
        Ok(raw.map(Link::from))
    }

    /// The link of a Salesforce record, if any.
    pub async fn find_link_by_salesforce(
        &self,
        sf_object: &str,
        sf_id: &str,
    ) -> Result<Option<Link>> {
        let sql =
            format!("SELECT {LINK_COLS} FROM record_links WHERE sf_object = $1 AND sf_id = $2");
        let raw: Option<RawLink> = dispatch!(self, p => {
            sqlx::query_as::<_, RawLink>(&sql)
                .bind(sf_object)
                .bind(sf_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("find_link_by_salesforce", sf_key(sf_object, sf_id)))?
        });
        Ok(raw.map(Link::from))
    }

    /// Removes the link of a Monday item (e.g. the item was deleted). Returns the removed link.
    pub async fn delete_link_by_monday(&self, board_id: i64, item_id: i64) -> Result<Option<Link>> {
        let sql = format!(
            "DELETE FROM record_links WHERE monday_board_id = $1 AND monday_item_id = $2 RETURNING {LINK_COLS}"
        );
        let raw: Option<RawLink> = dispatch!(self, p => {
            sqlx::query_as::<_, RawLink>(&sql)
                .bind(board_id)
                .bind(item_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("delete_link_by_monday", monday_key(board_id, item_id)))?
        });
        Ok(raw.map(Link::from))
    }

    /// Removes the link of a Salesforce record. Returns the removed link.
    pub async fn delete_link_by_salesforce(
        &self,
        sf_object: &str,
        sf_id: &str,
    ) -> Result<Option<Link>> {
        let sql = format!(
            "DELETE FROM record_links WHERE sf_object = $1 AND sf_id = $2 RETURNING {LINK_COLS}"
        );
        let raw: Option<RawLink> = dispatch!(self, p => {
            sqlx::query_as::<_, RawLink>(&sql)
                .bind(sf_object)
                .bind(sf_id)
                .fetch_optional(p)
                .await
                .map_err(StoreError::query("delete_link_by_salesforce", sf_key(sf_object, sf_id)))?
        });
        Ok(raw.map(Link::from))
    }
}
