-- Tenants (issue 15): a sample booking belongs to the tenant of the call that made it. Not a
-- `-- projection` migration: the bookings are the sample endpoint's own data and survive a rebuild.

ALTER TABLE sample_bookings ADD COLUMN tenant text NOT NULL DEFAULT 'default';
CREATE INDEX sample_bookings_tenant ON sample_bookings (tenant, booked_at DESC);
