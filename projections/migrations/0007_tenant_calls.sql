-- projection
-- Tenants (issue 15): the business each call belongs to; calls projected before tenants are 'default'.

ALTER TABLE calls ADD COLUMN tenant text NOT NULL DEFAULT 'default';
CREATE INDEX calls_tenant_invite_at ON calls (tenant, invite_at DESC);
