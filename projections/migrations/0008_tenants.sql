-- projection
-- Tenants (issue 15): the business each transcript turn, playback, DTMF digit and analytics window
-- belongs to, written by the projector from each fact's `tenant`; rows projected before tenants (and
-- facts written before the field existed, which decode with tenant 'default') are 'default'.
-- KPI windows are reported per tenant and once for the whole platform (tenant '*'), so the tenant is
-- part of their key. The sample bookings (not a read model: they survive a rebuild) are in 0009.

ALTER TABLE transcript_turns ADD COLUMN tenant text NOT NULL DEFAULT 'default';
CREATE INDEX transcript_turns_tenant_at ON transcript_turns (tenant, at);

ALTER TABLE playbacks ADD COLUMN tenant text NOT NULL DEFAULT 'default';

ALTER TABLE dtmf ADD COLUMN tenant text NOT NULL DEFAULT 'default';

ALTER TABLE kpi_windows ADD COLUMN tenant text NOT NULL DEFAULT 'default';
ALTER TABLE kpi_windows DROP CONSTRAINT kpi_windows_pkey;
ALTER TABLE kpi_windows ADD PRIMARY KEY (tenant, source, window_start);
CREATE INDEX kpi_windows_tenant_start ON kpi_windows (tenant, window_start);
