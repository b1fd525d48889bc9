-- The delivery queue. Numbered after 0002 (sealed-secret format v2), whichever lands first.
-- Times are Unix nanoseconds. Events are stored once, shared by their deliveries.
CREATE TABLE webhook_kit_events (
    organization TEXT NOT NULL,
    account_type TEXT NOT NULL,
    event_id TEXT NOT NULL,
    account_id TEXT NOT NULL,
    body BLOB NOT NULL,
    created_at_ns INTEGER NOT NULL,
    PRIMARY KEY (organization, account_type, event_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_kit_deliveries (
    id TEXT NOT NULL PRIMARY KEY,
    organization TEXT NOT NULL,
    account_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    state TEXT NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'cancelled')),
    -- The trigger of the next attempt.
    trigger_kind TEXT NOT NULL CHECK (trigger_kind IN ('scheduled', 'manual')),
    attempts INTEGER NOT NULL,
    -- Pending: when the next attempt is due; in flight: when the lease ends; else NULL.
    due_at_ns INTEGER,
    -- The current claim's token while in flight.
    claim_token TEXT,
    created_at_ns INTEGER NOT NULL,
    updated_at_ns INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_kit_deliveries_due
    ON webhook_kit_deliveries (due_at_ns) WHERE due_at_ns IS NOT NULL;
CREATE INDEX webhook_kit_deliveries_webhook
    ON webhook_kit_deliveries (organization, account_type, webhook_id, id);
CREATE INDEX webhook_kit_deliveries_finished
    ON webhook_kit_deliveries (updated_at_ns) WHERE due_at_ns IS NULL;
CREATE INDEX webhook_kit_deliveries_event
    ON webhook_kit_deliveries (organization, account_type, event_id);
CREATE INDEX webhook_kit_deliveries_claim
    ON webhook_kit_deliveries (claim_token) WHERE claim_token IS NOT NULL;

CREATE TABLE webhook_kit_attempts (
    delivery_id TEXT NOT NULL,
    number INTEGER NOT NULL,
    trigger_kind TEXT NOT NULL,
    started_at_ns INTEGER NOT NULL,
    duration_ns INTEGER NOT NULL,
    remote_addr TEXT,
    status INTEGER,
    error TEXT,
    response BLOB NOT NULL,
    PRIMARY KEY (delivery_id, number)
) STRICT, WITHOUT ROWID;

CREATE TABLE webhook_kit_endpoint_health (
    organization TEXT NOT NULL,
    account_type TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    failing_since_ns INTEGER,
    first_exhausted_ns INTEGER,
    last_exhausted_ns INTEGER,
    PRIMARY KEY (organization, account_type, webhook_id)
) STRICT, WITHOUT ROWID;
