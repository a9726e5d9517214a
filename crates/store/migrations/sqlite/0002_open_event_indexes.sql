-- Partial indexes over open events only (pending, failed, processing), so claiming costs the same
-- however much history (done/skipped/dead events) an item has. Keep in step with ../postgres/.

-- "oldest open event of an item" and "is there an older open event of this item"
CREATE INDEX events_open_by_item ON events (board_id, item_id, item_seq)
    WHERE status IN ('pending', 'failed', 'processing');

-- candidate scan of claim_next, in due order
CREATE INDEX events_open_by_due ON events (next_attempt_at, id)
    WHERE status IN ('pending', 'failed', 'processing');
