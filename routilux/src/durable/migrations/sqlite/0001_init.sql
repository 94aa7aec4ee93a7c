-- routilux durable runs, schema version 1 (SQLite).
-- A run: its flow, the fingerprint of the flow's plan, its inputs (JSON) and where it stands
-- (with the step that halted it and why, while halted).
CREATE TABLE routilux_runs (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT    NOT NULL UNIQUE,
    flow        TEXT    NOT NULL,
    fingerprint TEXT    NOT NULL,
    plan        TEXT    NOT NULL,
    inputs      TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('running', 'halted', 'failing', 'succeeded', 'failed')),
    failure     TEXT,
    halted_step TEXT,
    halt_reason TEXT,
    created_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX routilux_runs_by_flow_status ON routilux_runs (flow, status);

-- A completed step's result (JSON), one per step and run, in the order they were stored.
CREATE TABLE routilux_checkpoints (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      TEXT    NOT NULL REFERENCES routilux_runs (id),
    step        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    compensated INTEGER NOT NULL,
    created_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (run_id, step)
);

-- A finished undo, one per step and run: that step is never undone again.
CREATE TABLE routilux_undos (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id     TEXT    NOT NULL REFERENCES routilux_runs (id),
    step       TEXT    NOT NULL,
    created_at TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (run_id, step)
);

-- A run's completion record: at most one per run (the primary key), written with its status.
CREATE TABLE routilux_completions (
    run_id      TEXT    PRIMARY KEY REFERENCES routilux_runs (id),
    succeeded   INTEGER NOT NULL,
    output      TEXT,
    failed_step TEXT,
    message     TEXT,
    undo_errors TEXT    NOT NULL,
    created_at  TEXT    NOT NULL DEFAULT CURRENT_TIMESTAMP
);
