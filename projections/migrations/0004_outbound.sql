-- projection
-- Outbound calls (issue 14): the CDR says which way a call went, and whether an outbound call heard
-- early media before its final response.

ALTER TABLE calls ADD COLUMN direction text NOT NULL DEFAULT 'inbound';
ALTER TABLE calls ADD COLUMN early_media boolean;
