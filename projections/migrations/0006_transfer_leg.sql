-- projection
-- A bridged transfer (issue 14): the edge's own call to the target (its CDR row) from the caller's.

ALTER TABLE calls ADD COLUMN transfer_leg_call_id text;
