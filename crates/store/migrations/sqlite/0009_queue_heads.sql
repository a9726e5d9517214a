-- One row per queue (Monday item) that has open events: its head (oldest open event) and when
-- that head becomes claimable (issue #16). Keep in step with ../postgres/0009_queue_heads.sql.
-- A claim of "any due item" reads the first due row of this table through one index instead of
-- searching the open events with two anti-joins. Triggers on `events` keep it in step for every
-- path that writes an event; SQLite serializes writers, so no further locking is needed.

CREATE TABLE queue_heads (
    board_id INTEGER NOT NULL,
    item_id  INTEGER NOT NULL,
    -- the queue's oldest open event (pending, failed or processing)
    head_id  INTEGER NOT NULL,
    -- when the head becomes claimable: its next_attempt_at (pending, failed) or its lease's expiry
    -- (processing; 0 when it has none)
    due_at   INTEGER NOT NULL,
    PRIMARY KEY (board_id, item_id)
);
CREATE INDEX queue_heads_due ON queue_heads (due_at, head_id);

-- The head of every queue, computed from the events (what queue_heads must hold); the triggers
-- copy one queue's row from it. SQLite pushes their `WHERE board_id = … AND item_id = …` into the
-- view, so that is one probe of events_open_by_item per queue.
CREATE VIEW queue_heads_computed AS
SELECT e.board_id, e.item_id, e.id AS head_id,
       CASE WHEN e.status = 'processing' THEN COALESCE(e.lease_expires_at, 0)
            ELSE e.next_attempt_at END AS due_at
  FROM events e
 WHERE e.status IN ('pending', 'failed', 'processing')
   AND NOT EXISTS (SELECT 1 FROM events o WHERE o.board_id = e.board_id AND o.item_id = e.item_id
        AND o.item_seq < e.item_seq AND o.status IN ('pending', 'failed', 'processing'));

CREATE TRIGGER events_queue_heads_ins AFTER INSERT ON events
    WHEN NEW.status IN ('pending', 'failed', 'processing')
BEGIN
    INSERT OR REPLACE INTO queue_heads (board_id, item_id, head_id, due_at)
    SELECT board_id, item_id, head_id, due_at FROM queue_heads_computed
     WHERE board_id = NEW.board_id AND item_id = NEW.item_id;
END;

CREATE TRIGGER events_queue_heads_upd
    AFTER UPDATE OF status, next_attempt_at, lease_expires_at, board_id, item_id, item_seq ON events
    WHEN OLD.status IN ('pending', 'failed', 'processing')
      OR NEW.status IN ('pending', 'failed', 'processing')
BEGIN
    DELETE FROM queue_heads WHERE board_id = OLD.board_id AND item_id = OLD.item_id;
    DELETE FROM queue_heads WHERE board_id = NEW.board_id AND item_id = NEW.item_id;
    INSERT INTO queue_heads (board_id, item_id, head_id, due_at)
    SELECT board_id, item_id, head_id, due_at FROM queue_heads_computed
     WHERE (board_id = OLD.board_id AND item_id = OLD.item_id)
        OR (board_id = NEW.board_id AND item_id = NEW.item_id);
END;

CREATE TRIGGER events_queue_heads_del AFTER DELETE ON events
    WHEN OLD.status IN ('pending', 'failed', 'processing')
BEGIN
    DELETE FROM queue_heads WHERE board_id = OLD.board_id AND item_id = OLD.item_id;
    INSERT INTO queue_heads (board_id, item_id, head_id, due_at)
    SELECT board_id, item_id, head_id, due_at FROM queue_heads_computed
     WHERE board_id = OLD.board_id AND item_id = OLD.item_id;
END;

-- The queues that already have open events.
INSERT INTO queue_heads (board_id, item_id, head_id, due_at)
SELECT board_id, item_id, head_id, due_at FROM queue_heads_computed;
