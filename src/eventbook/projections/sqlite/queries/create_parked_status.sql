-- A runner asks for the event halting its build at every lease it takes, and the
-- status counts a build's parked events: neither reads the parked rows themselves.
CREATE INDEX IF NOT EXISTS eventbook_projection_parked_status
    ON eventbook_projection_parked (name, version, status)
