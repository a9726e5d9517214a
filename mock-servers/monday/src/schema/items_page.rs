//! `items_page` / `next_items_page`: page limits, cursors, ordering.

use async_graphql::Context;

use crate::columns::{self};
use crate::state::{ApiError, CursorRec};

use super::enums::ItemsOrderByDirection;
use super::filter::matches_query;
use super::inputs::ItemsQuery;
use super::objects::{Item, ItemsResponse};
use super::{api_err, mock};

const MAX_PAGE: i32 = 500;

fn check_limit(limit: i32) -> Result<usize, ApiError> {
    if !(1..=MAX_PAGE).contains(&limit) {
        return Err(ApiError::InvalidArgument(format!(
            "limit must be between 1 and {MAX_PAGE}, got {limit}"
        )));
    }
    Ok(limit as usize)
}

fn encode_cursor(board_id: &str, token: &str, offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(format!("1,{board_id},{token},13,{offset},|"))
}

fn decode_cursor(cursor: &str) -> Option<(String, usize)> {
    use base64::Engine;
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor.trim())
        .ok()?;
    let s = String::from_utf8(raw).ok()?;
    let parts: Vec<&str> = s.split(',').collect();
    if parts.len() < 5 || parts[0] != "1" {
        return None;
    }
    Some((parts[2].to_string(), parts[4].parse().ok()?))
}

pub(super) fn items_page(
    ctx: &Context<'_>,
    board_id: &str,
    group_id: Option<&str>,
    cursor: Option<String>,
    limit: i32,
    query: Option<ItemsQuery>,
) -> async_graphql::Result<ItemsResponse> {
    if let Some(c) = cursor {
        return next_page(ctx, &c, limit);
    }
    let limit = check_limit(limit).map_err(api_err)?;
    let m = mock(ctx);
    let mut st = m.lock_state();
    let board = st.board(board_id).map_err(api_err)?.clone();
    let query = query.unwrap_or_default();
    let mut ids: Vec<u64> = Vec::new();
    for (id, item) in st.items.iter() {
        if item.board_id != board.id || item.state != "active" {
            continue;
        }
        if group_id.is_some_and(|g| item.group_id != g) {
            continue;
        }
        if let Some(only) = &query.ids {
            if !only.iter().any(|i| i.0 == item.id) {
                continue;
            }
        }
        if !matches_query(&board, item, &st.users, &query).map_err(api_err)? {
            continue;
        }
        ids.push(*id);
    }
    if let Some(order) = &query.order_by {
        for o in order.iter().rev() {
            let col = board.column(&o.column_id).cloned();
            let key = |id: &u64| -> String {
                let item = &st.items[id];
                match &col {
                    Some(c) if c.kind == "name" => item.name.clone(),
                    Some(c) => columns::render_text(c, item.column_values.get(&c.id), &st.users)
                        .unwrap_or_default(),
                    None => item.created_at.clone().unwrap_or_default(),
                }
            };
            ids.sort_by_key(key);
            if o.direction == Some(ItemsOrderByDirection::Desc) {
                ids.reverse();
            }
        }
    }
    let page: Vec<Item> = ids
        .iter()
        .take(limit)
        .filter_map(|id| st.items.get(id))
        .cloned()
        .map(Item)
        .collect();
    let cursor = if ids.len() > limit {
        let token = uuid::Uuid::new_v4().simple().to_string()[..20].to_string();
        st.cursors.insert(
            token.clone(),
            CursorRec {
                remaining: ids,
                issued: std::time::Instant::now(),
            },
        );
        Some(encode_cursor(&board.id, &token, limit))
    } else {
        None
    };
    Ok(ItemsResponse {
        cursor,
        items: page,
    })
}

pub(super) fn next_page(
    ctx: &Context<'_>,
    cursor: &str,
    limit: i32,
) -> async_graphql::Result<ItemsResponse> {
    let limit = check_limit(limit).map_err(api_err)?;
    let m = mock(ctx);
    let ttl = m.config.cursor_ttl;
    let mut st = m.lock_state();
    let (token, offset) = decode_cursor(cursor)
        .ok_or_else(|| api_err(ApiError::InvalidCursor(cursor.to_string())))?;
    let rec = st
        .cursors
        .get(&token)
        .cloned()
        .ok_or_else(|| api_err(ApiError::InvalidCursor(cursor.to_string())))?;
    if rec.issued.elapsed() > ttl {
        return Err(api_err(ApiError::CursorExpired));
    }
    let ids: Vec<u64> = rec.remaining.iter().skip(offset).copied().collect();
    let page: Vec<Item> = ids
        .iter()
        .filter_map(|id| st.items.get(id))
        .filter(|i| i.state == "active")
        .take(limit)
        .cloned()
        .map(Item)
        .collect();
    let consumed = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| st.items.get(id).is_some_and(|i| i.state == "active"))
        .nth(limit.saturating_sub(1))
        .map(|(n, _)| n + 1)
        .unwrap_or(ids.len());
    let new_offset = offset + consumed;
    let board_id = page
        .first()
        .map(|i| i.0.board_id.clone())
        .unwrap_or_default();
    let more = rec
        .remaining
        .iter()
        .skip(new_offset)
        .any(|id| st.items.get(id).is_some_and(|i| i.state == "active"));
    let next = if more {
        Some(encode_cursor(&board_id, &token, new_offset))
    } else {
        None
    };
    if !more {
        st.cursors.remove(&token);
        // Keep an expired marker so that reusing a finished cursor is reported like Monday does.
        st.cursors.insert(
            token,
            CursorRec {
                remaining: Vec::new(),
                issued: rec.issued,
            },
        );
    }
    Ok(ItemsResponse {
        cursor: next,
        items: page,
    })
}
