-- Webhooks, one row each. Secrets are sealed (key id + nonce || ciphertext || tag) when the
-- store has a keyring, plaintext otherwise (key id NULL).
CREATE TABLE webhook_kit_webhooks (
    id TEXT NOT NULL PRIMARY KEY,
    organization TEXT NOT NULL,
    account_type TEXT NOT NULL CHECK (account_type IN ('live', 'test')),
    url TEXT NOT NULL,
    enabled INTEGER NOT NULL CHECK (enabled IN (0, 1)),
    -- The filter as a sorted JSON array of account ids; '[]' means all accounts.
    account_ids TEXT NOT NULL,
    -- Unix time in nanoseconds.
    created_at_ns INTEGER NOT NULL,
    secret_key_id INTEGER,
    secret BLOB NOT NULL,
    previous_key_id INTEGER,
    -- NULL when no rotated-out secret still signs.
    previous_secrets BLOB,
    revision INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_kit_webhooks_scope
    ON webhook_kit_webhooks (organization, account_type, id);
CREATE INDEX webhook_kit_webhooks_scope_all_accounts
    ON webhook_kit_webhooks (organization, account_type, id) WHERE account_ids = '[]';

-- One row per account of a webhook's filter, so that "webhooks for account X" is an index
-- look-up. Kept in step with webhook_kit_webhooks.account_ids by the triggers below, inside
-- the statement that writes the webhook.
CREATE TABLE webhook_kit_webhook_accounts (
    organization TEXT NOT NULL,
    account_type TEXT NOT NULL,
    account_id TEXT NOT NULL,
    webhook_id TEXT NOT NULL,
    PRIMARY KEY (organization, account_type, account_id, webhook_id)
) STRICT, WITHOUT ROWID;

CREATE INDEX webhook_kit_webhook_accounts_webhook
    ON webhook_kit_webhook_accounts (webhook_id);

CREATE TRIGGER webhook_kit_webhooks_insert AFTER INSERT ON webhook_kit_webhooks
BEGIN
    INSERT INTO webhook_kit_webhook_accounts (organization, account_type, account_id, webhook_id)
    SELECT NEW.organization, NEW.account_type, value, NEW.id FROM json_each(NEW.account_ids);
END;

CREATE TRIGGER webhook_kit_webhooks_update AFTER UPDATE OF account_ids ON webhook_kit_webhooks
WHEN NEW.account_ids IS NOT OLD.account_ids
BEGIN
    DELETE FROM webhook_kit_webhook_accounts WHERE webhook_id = OLD.id;
    INSERT INTO webhook_kit_webhook_accounts (organization, account_type, account_id, webhook_id)
    SELECT NEW.organization, NEW.account_type, value, NEW.id FROM json_each(NEW.account_ids);
END;

CREATE TRIGGER webhook_kit_webhooks_delete AFTER DELETE ON webhook_kit_webhooks
BEGIN
    DELETE FROM webhook_kit_webhook_accounts WHERE webhook_id = OLD.id;
END;
