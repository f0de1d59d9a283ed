-- projection
-- A transfer's leg (issue 14): the edge's own call to the target points back to the caller's call.

ALTER TABLE calls ADD COLUMN parent_call_id text;
CREATE INDEX calls_parent_call_id ON calls (parent_call_id) WHERE parent_call_id IS NOT NULL;
