-- One row per queue (Monday item) that has open events: its head (oldest open event) and when
-- that head becomes claimable (issue #16). Keep in step with ../sqlite/0009_queue_heads.sql.
--
-- Before this migration every claim of "any due item" searched the open events with two anti-joins
-- (no older open event of the item, no live item lease), planned on every call: about 4 ms of the
-- 4.4 ms a claim took (docs/store-hot-path.md). Now a claim reads the first due row of this small
-- table through one index, a plan that does not change with the data.
--
-- The table is kept in step by a trigger on `events`, so every path that writes an event (receipt,
-- claim, settlement, heartbeat, dead-letter replay, reconciliation) keeps it right without knowing
-- about it. Every writer of a queue takes the queue's transaction-scoped advisory lock
-- (crmsync_queue_key) before it reads the head, so two transactions touching one item (a receipt
-- and a settlement, say) recompute the head one after the other, the second seeing the first's
-- committed rows: no head is ever left out. Claims and settlements (crmsync_claim, crmsync_settle)
-- and heartbeats take that lock first, before any row lock, so lock order is the same everywhere.

CREATE TABLE queue_heads (
    board_id BIGINT NOT NULL,
    item_id  BIGINT NOT NULL,
    -- the queue's oldest open event (pending, failed or processing)
    head_id  BIGINT NOT NULL,
    -- when the head becomes claimable: its next_attempt_at (pending, failed) or its lease's expiry
    -- (processing; 0 when it has none)
    due_at   BIGINT NOT NULL,
    PRIMARY KEY (board_id, item_id)
);
CREATE INDEX queue_heads_due ON queue_heads (due_at, head_id);

-- The advisory lock key of a queue (collisions only serialize two queues, harmlessly).
CREATE FUNCTION crmsync_queue_key(p_board BIGINT, p_item BIGINT) RETURNS BIGINT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashint8extended(p_item, p_board) $$;

-- Recomputes the head row of one queue from the events (one probe of events_open_by_item), under
-- the queue's advisory lock.
CREATE FUNCTION crmsync_refresh_queue(p_board BIGINT, p_item BIGINT) RETURNS VOID
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    v_head RECORD;
BEGIN
    PERFORM pg_advisory_xact_lock(crmsync_queue_key(p_board, p_item));
    SELECT id, CASE WHEN status = 'processing' THEN COALESCE(lease_expires_at, 0)
                    ELSE next_attempt_at END AS due
      INTO v_head FROM events
     WHERE board_id = p_board AND item_id = p_item
       AND status IN ('pending', 'failed', 'processing')
     ORDER BY item_seq LIMIT 1;
    IF NOT FOUND THEN
        DELETE FROM queue_heads WHERE board_id = p_board AND item_id = p_item;
    ELSE
        INSERT INTO queue_heads (board_id, item_id, head_id, due_at)
        VALUES (p_board, p_item, v_head.id, v_head.due)
        ON CONFLICT (board_id, item_id) DO UPDATE SET head_id = excluded.head_id,
            due_at = excluded.due_at
        WHERE queue_heads.head_id <> excluded.head_id OR queue_heads.due_at <> excluded.due_at;
    END IF;
END
$$;

CREATE FUNCTION crmsync_events_queue_heads() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM crmsync_refresh_queue(OLD.board_id, OLD.item_id);
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND (OLD.board_id <> NEW.board_id OR OLD.item_id <> NEW.item_id) THEN
        PERFORM crmsync_refresh_queue(OLD.board_id, OLD.item_id);
    END IF;
    PERFORM crmsync_refresh_queue(NEW.board_id, NEW.item_id);
    RETURN NULL;
END
$$;

-- Fires when an event is written that is (or was) open, or moves to another queue.
CREATE TRIGGER events_queue_heads_ins AFTER INSERT ON events
    FOR EACH ROW WHEN (NEW.status IN ('pending', 'failed', 'processing'))
    EXECUTE FUNCTION crmsync_events_queue_heads();
CREATE TRIGGER events_queue_heads_upd
    AFTER UPDATE OF status, next_attempt_at, lease_expires_at, board_id, item_id, item_seq ON events
    FOR EACH ROW WHEN (OLD.status IN ('pending', 'failed', 'processing')
                       OR NEW.status IN ('pending', 'failed', 'processing'))
    EXECUTE FUNCTION crmsync_events_queue_heads();
CREATE TRIGGER events_queue_heads_del AFTER DELETE ON events
    FOR EACH ROW WHEN (OLD.status IN ('pending', 'failed', 'processing'))
    EXECUTE FUNCTION crmsync_events_queue_heads();

-- The queues that already have open events.
INSERT INTO queue_heads (board_id, item_id, head_id, due_at)
SELECT DISTINCT ON (board_id, item_id) board_id, item_id, id,
       CASE WHEN status = 'processing' THEN COALESCE(lease_expires_at, 0) ELSE next_attempt_at END
  FROM events
 WHERE status IN ('pending', 'failed', 'processing')
 ORDER BY board_id, item_id, item_seq;

-- Claims the oldest open event of one queue (p_board/p_item), of the queue of event p_event, or —
-- with all three NULL — of the first of up to p_candidates due queues nobody holds (read from
-- queue_heads). Takes the item lease with p_token for p_lease_ms; returns the claimed event row, or
-- no row. Same contract as in 0007; only the candidate search and the lock order changed: the
-- queue's advisory lock first (waited for when one queue is asked for, skipped when busy in the
-- search for any queue, like SKIP LOCKED), then the item lease, then the event.
CREATE OR REPLACE FUNCTION crmsync_claim(
    p_board BIGINT, p_item BIGINT, p_event BIGINT,
    p_token TEXT, p_worker TEXT, p_lease_ms BIGINT, p_candidates BIGINT
) RETURNS SETOF events
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    v_now     BIGINT := crmsync_now_ms();
    v_expires BIGINT := v_now + p_lease_ms;
    v_cand    RECORD;
    v_got     TEXT;
    v_head    RECORD;
    v_row     events;
    v_one     BOOLEAN := FALSE;
BEGIN
    IF p_event IS NOT NULL THEN
        SELECT board_id, item_id INTO p_board, p_item FROM events WHERE id = p_event;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    IF p_board IS NOT NULL THEN
        v_one := TRUE;
        PERFORM pg_advisory_xact_lock(crmsync_queue_key(p_board, p_item));
    END IF;
    FOR v_cand IN
        SELECT p_board AS board_id, p_item AS item_id WHERE v_one
        UNION ALL
        (SELECT q.board_id, q.item_id FROM queue_heads q
          WHERE NOT v_one AND q.due_at <= v_now
            AND NOT EXISTS (SELECT 1 FROM item_locks l WHERE l.board_id = q.board_id
                 AND l.item_id = q.item_id AND l.lease_expires_at > v_now)
          ORDER BY q.due_at, q.head_id LIMIT p_candidates)
    LOOP
        IF NOT v_one
           AND NOT pg_try_advisory_xact_lock(crmsync_queue_key(v_cand.board_id, v_cand.item_id))
        THEN
            CONTINUE;
        END IF;
        -- A subtransaction per candidate: a lease taken for a queue whose head turns out not to be
        -- claimable is rolled back.
        BEGIN
            INSERT INTO item_locks (board_id, item_id, token, worker, lease_expires_at, acquired_at)
            VALUES (v_cand.board_id, v_cand.item_id, p_token, p_worker, v_expires, v_now)
            ON CONFLICT (board_id, item_id) DO UPDATE SET token = excluded.token,
                worker = excluded.worker, lease_expires_at = excluded.lease_expires_at,
                acquired_at = excluded.acquired_at
            WHERE item_locks.lease_expires_at <= v_now
            RETURNING token INTO v_got;
            IF v_got IS NULL THEN
                CONTINUE;
            END IF;
            SELECT id, status, next_attempt_at, lease_expires_at INTO v_head FROM events
             WHERE board_id = v_cand.board_id AND item_id = v_cand.item_id
               AND status IN ('pending', 'failed', 'processing')
             ORDER BY item_seq LIMIT 1;
            IF NOT FOUND
               OR NOT ((v_head.status IN ('pending', 'failed') AND v_head.next_attempt_at <= v_now)
                       -- we hold the item's lease, so the previous holder's lease expired
                       OR (v_head.status = 'processing'
                           AND (v_head.lease_expires_at IS NULL OR v_head.lease_expires_at <= v_now)))
            THEN
                RAISE EXCEPTION USING ERRCODE = 'CSNOC', MESSAGE = 'queue head not claimable';
            END IF;
            UPDATE events SET status = 'processing', lease_token = p_token, claimed_by = p_worker,
                   lease_expires_at = v_expires, updated_at = v_now
             WHERE id = v_head.id
            RETURNING * INTO v_row;
            RETURN NEXT v_row;
            RETURN;
        EXCEPTION WHEN SQLSTATE 'CSNOC' THEN
            -- rolled back to before the lease; try the next candidate
        END;
    END LOOP;
    RETURN;
END
$$;

-- Settles a claim; same contract as in 0007. Takes the queue's advisory lock first (the lock order
-- of crmsync_claim), then the lock row, then the event row.
CREATE OR REPLACE FUNCTION crmsync_settle(
    p_board BIGINT, p_item BIGINT, p_token TEXT, p_event BIGINT, p_status TEXT,
    p_error TEXT, p_retry_at BIGINT, p_retry_after BIGINT, p_sf_error_body TEXT
) RETURNS TABLE (attempts BIGINT, dead_letter_id BIGINT)
    LANGUAGE plpgsql VOLATILE
    AS $$
DECLARE
    v_now      BIGINT := crmsync_now_ms();
    v_attempts BIGINT;
    v_dl       BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(crmsync_queue_key(p_board, p_item));
    PERFORM 1 FROM item_locks
     WHERE board_id = p_board AND item_id = p_item AND token = p_token FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE events e SET status = p_status,
           attempts = e.attempts + CASE WHEN p_status IN ('failed', 'dead') THEN 1 ELSE 0 END,
           last_error = CASE WHEN p_status = 'done' THEN e.last_error ELSE p_error END,
           next_attempt_at = CASE WHEN p_status = 'failed'
                                  THEN COALESCE(p_retry_at, v_now + p_retry_after)
                                  ELSE e.next_attempt_at END,
           processed_at = CASE WHEN p_status = 'failed' THEN e.processed_at ELSE v_now END,
           lease_token = NULL, claimed_by = NULL, lease_expires_at = NULL, updated_at = v_now
     WHERE e.id = p_event AND e.lease_token = p_token AND e.status = 'processing'
    RETURNING e.attempts INTO v_attempts;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    DELETE FROM item_locks WHERE board_id = p_board AND item_id = p_item AND token = p_token;
    IF p_status = 'dead' THEN
        INSERT INTO dead_letters (event_id, payload, error, sf_error_body, status,
                                  replay_count, created_at, updated_at)
        SELECT id, payload, p_error, p_sf_error_body, 'open', 0, v_now, v_now FROM events
         WHERE id = p_event
        ON CONFLICT (event_id) DO UPDATE SET payload = excluded.payload,
            error = excluded.error, sf_error_body = excluded.sf_error_body,
            status = 'open', updated_at = excluded.updated_at
        RETURNING id INTO v_dl;
    END IF;
    attempts := v_attempts;
    dead_letter_id := v_dl;
    RETURN NEXT;
END
$$;
