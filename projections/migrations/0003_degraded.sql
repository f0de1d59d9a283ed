-- projection
-- Never silent (issue 11): a call the edge served itself — the busy prompt instead of the agent, or
-- its fallback prompt when the agent's greeting did not start in time — says why (CallDegraded).

ALTER TABLE calls ADD COLUMN degraded_reason text;
