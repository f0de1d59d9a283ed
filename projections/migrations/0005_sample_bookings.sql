-- The sample business's service appointments, booked by its agent through the sample booking
-- endpoint (projections.api.sample). Not a projection: a rebuild keeps them.

CREATE TABLE sample_bookings (
    booking_id  text PRIMARY KEY,
    request_id  text NOT NULL UNIQUE,   -- the action request: a retried or redelivered one books once
    call_id     text NOT NULL,
    day         date NOT NULL,
    at          time NOT NULL,
    name        text NOT NULL,
    booked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sample_bookings_day ON sample_bookings (day, at);
