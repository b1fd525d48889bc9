-- Webhooks, one row each. Ids are compared byte-wise (COLLATE "C"): they are time-ordered
-- text, and listing returns them in id order. Secrets are sealed (key id + nonce ||
-- ciphertext || tag) when the store has a keyring, plaintext otherwise (key id NULL).
CREATE TABLE webhook_kit_webhooks (
    id text COLLATE "C" PRIMARY KEY,
    organization text COLLATE "C" NOT NULL,
    account_type text NOT NULL CHECK (account_type IN ('live', 'test')),
    url text NOT NULL,
    enabled boolean NOT NULL,
    -- The filter's account ids, sorted; empty means all accounts.
    account_ids text[] COLLATE "C" NOT NULL,
    -- Unix time in nanoseconds.
    created_at_ns bigint NOT NULL,
    secret_key_id bigint,
    secret bytea NOT NULL,
    previous_key_id bigint,
    -- NULL when no rotated-out secret still signs.
    previous_secrets bytea,
    revision bigint NOT NULL
);

CREATE INDEX webhook_kit_webhooks_scope
    ON webhook_kit_webhooks (organization, account_type, id);
CREATE INDEX webhook_kit_webhooks_scope_all_accounts
    ON webhook_kit_webhooks (organization, account_type, id) WHERE cardinality(account_ids) = 0;

-- One row per account of a webhook's filter, so that "webhooks for account X" is an index
-- look-up. Kept in step with webhook_kit_webhooks.account_ids by the trigger below, inside
-- the statement that writes the webhook.
CREATE TABLE webhook_kit_webhook_accounts (
    organization text COLLATE "C" NOT NULL,
    account_type text NOT NULL,
    account_id text COLLATE "C" NOT NULL,
    webhook_id text COLLATE "C" NOT NULL
        REFERENCES webhook_kit_webhooks (id) ON DELETE CASCADE,
    PRIMARY KEY (organization, account_type, account_id, webhook_id)
);

CREATE INDEX webhook_kit_webhook_accounts_webhook
    ON webhook_kit_webhook_accounts (webhook_id);

CREATE FUNCTION webhook_kit_sync_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.account_ids IS NOT DISTINCT FROM OLD.account_ids THEN
            RETURN NULL;
        END IF;
        DELETE FROM webhook_kit_webhook_accounts WHERE webhook_id = OLD.id;
    END IF;
    INSERT INTO webhook_kit_webhook_accounts (organization, account_type, account_id, webhook_id)
    SELECT NEW.organization, NEW.account_type, account, NEW.id
    FROM unnest(NEW.account_ids) AS account;
    RETURN NULL;
END
$$;

CREATE TRIGGER webhook_kit_webhooks_sync_accounts
    AFTER INSERT OR UPDATE OF account_ids ON webhook_kit_webhooks
    FOR EACH ROW EXECUTE FUNCTION webhook_kit_sync_accounts();
