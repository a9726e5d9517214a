-- The event log's hot path in one round trip each (issue #16). Keep in step with
-- ../sqlite/0007_hot_path_functions.sql (SQLite keeps the equivalent statements in Rust: it has no
-- network round trips to save).
--
-- Before this migration a claim took seven round trips (candidate scan, BEGIN, now, item lock, head
-- read, event update, COMMIT) and a settlement five (BEGIN, now, lock release, event update, COMMIT).
-- These functions run exactly the same statements, in the same order, on the server, so a claim and
-- a settlement are one statement (one implicit transaction) each. Under READ COMMITTED every
-- statement of a VOLATILE PL/pgSQL function takes a fresh snapshot, as the separate statements of
-- the old transaction did, and crmsync_now_ms() (statement_timestamp()) is one value for the whole
-- call, as the old separately read `now` was.
--
-- Plans stay PostgreSQL's default (custom plans, then a generic one only when it is not costlier).
-- Measured with pg_stat_statements on the bench machine: planning the candidate scan costs about
-- 1–2 ms per claim, more than running it (~0.35 ms). Forcing generic plans
-- (plan_cache_mode = force_generic_plan) removes that but caches a plan made while the table was
-- empty: a sequential nested-loop anti join that took 2.2 s once the table held 2,000 open events.
-- So the scan keeps being planned per call; see BENCHMARKS.md.

-- Claims the oldest open event of one queue (p_board/p_item), of the queue of event p_event, or —
-- with all three NULL — of the first of up to p_candidates due queues nobody holds. Takes the item
-- lease with p_token for p_lease_ms; returns the claimed event row, or no row.
CREATE FUNCTION crmsync_claim(
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
BEGIN
    IF p_event IS NOT NULL THEN
        SELECT board_id, item_id INTO p_board, p_item FROM events WHERE id = p_event;
        IF NOT FOUND THEN
            RETURN;
        END IF;
    END IF;
    FOR v_cand IN
        SELECT p_board AS board_id, p_item AS item_id WHERE p_board IS NOT NULL
        UNION ALL
        (SELECT e.board_id, e.item_id FROM events e
          WHERE p_board IS NULL
            AND e.status IN ('pending', 'failed', 'processing')
            AND ((e.status IN ('pending', 'failed') AND e.next_attempt_at <= v_now)
                 OR (e.status = 'processing' AND e.lease_expires_at <= v_now))
            AND NOT EXISTS (SELECT 1 FROM events o WHERE o.board_id = e.board_id
                 AND o.item_id = e.item_id AND o.item_seq < e.item_seq
                 AND o.status IN ('pending', 'failed', 'processing'))
            AND NOT EXISTS (SELECT 1 FROM item_locks l WHERE l.board_id = e.board_id
                 AND l.item_id = e.item_id AND l.lease_expires_at > v_now)
          ORDER BY e.next_attempt_at, e.id LIMIT p_candidates)
    LOOP
        -- A subtransaction per candidate: a lease taken for a queue whose head turns out not to be
        -- claimable is rolled back, exactly as the old per-candidate transaction was.
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

-- Settles a claim: p_status is 'done', 'skipped', 'failed' or 'dead'; p_error the reason or error
-- (ignored for 'done'); a failed event is due again at p_retry_at, or p_retry_after ms after the
-- database's now. A dead event gets (or reopens) its dead letter with p_sf_error_body. Lock row
-- first, event row second (the claim's order, so no deadlock); writes nothing and returns no row
-- unless p_token still holds the item and the event is processing under it.
CREATE FUNCTION crmsync_settle(
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
