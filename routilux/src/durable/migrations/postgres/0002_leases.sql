-- routilux durable runs, schema version 2 (PostgreSQL): leases, for workers sharing the runs.
-- A run is claimed by one worker at a time: `lease_owner` until `lease_until` (the server's
-- clock); `claims` counts its claims (the lease's token). A running or failing run without a
-- lease, or whose lease expired, is waiting for a worker.
ALTER TABLE routilux_runs
    ADD COLUMN lease_owner TEXT,
    ADD COLUMN lease_until TIMESTAMPTZ,
    ADD COLUMN claims      BIGINT NOT NULL DEFAULT 0;
-- The runs workers may claim, oldest first.
CREATE INDEX routilux_runs_claimable ON routilux_runs (flow, seq)
    WHERE status IN ('running', 'failing');

-- The worker that wrote a completion record (NULL: the run finished outside workers).
ALTER TABLE routilux_completions ADD COLUMN worker TEXT;
