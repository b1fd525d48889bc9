-- The delivery queue. Numbered after 0002 (sealed-secret format v2), whichever lands first.
-- Times are Unix nanoseconds. Events are stored once, shared by their deliveries. Ids and
-- keys compare byte-wise (COLLATE "C"), as in 0001.
CREATE TABLE webhook_kit_events (
    organization text COLLATE "C" NOT NULL,
    account_type text NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    account_id text NOT NULL,
    body bytea NOT NULL,
    created_at_ns bigint NOT NULL,
    PRIMARY KEY (organization, account_type, event_id)
);

CREATE TABLE webhook_kit_deliveries (
    id text COLLATE "C" PRIMARY KEY,
    organization text COLLATE "C" NOT NULL,
    account_type text NOT NULL,
    webhook_id text COLLATE "C" NOT NULL,
    event_id text COLLATE "C" NOT NULL,
    state text NOT NULL
        CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed', 'cancelled')),
    -- The trigger of the next attempt.
    trigger_kind text NOT NULL CHECK (trigger_kind IN ('scheduled', 'manual')),
    attempts bigint NOT NULL,
    -- Pending: when the next attempt is due; in flight: when the lease ends; else NULL.
    due_at_ns bigint,
    -- The current claim's token while in flight.
    claim_token text,
    created_at_ns bigint NOT NULL,
    updated_at_ns bigint NOT NULL
);

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
    delivery_id text COLLATE "C" NOT NULL,
    number bigint NOT NULL,
    trigger_kind text NOT NULL,
    started_at_ns bigint NOT NULL,
    duration_ns bigint NOT NULL,
    remote_addr text,
    status bigint,
    error text,
    response bytea NOT NULL,
    PRIMARY KEY (delivery_id, number)
);

CREATE TABLE webhook_kit_endpoint_health (
    organization text COLLATE "C" NOT NULL,
    account_type text NOT NULL,
    webhook_id text COLLATE "C" NOT NULL,
    failing_since_ns bigint,
    first_exhausted_ns bigint,
    last_exhausted_ns bigint,
    PRIMARY KEY (organization, account_type, webhook_id)
);
