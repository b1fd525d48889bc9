-- The secret's last 4 characters, which every masked answer shows anyway, in a column of
-- their own: listing and getting open no secret, and one row whose secret does not open
-- still lists. NULL for a row written before this column: a sealed secret cannot be read
-- in SQL, so such a row gets its hint on its next write or from the store's reseal pass
-- (until then a masked read opens its secret). Plaintext rows are filled here.
ALTER TABLE webhook_kit_webhooks ADD COLUMN secret_last4 TEXT;

UPDATE webhook_kit_webhooks
SET secret_last4 = substr(CAST(secret AS TEXT), -4)
WHERE secret_key_id IS NULL;

-- One key check value per key id: a fixed text sealed under the key the first time it is
-- used, so that a store started with a different key under the same id is refused before
-- it reads or writes anything.
CREATE TABLE webhook_kit_key_checks (
    key_id INTEGER NOT NULL PRIMARY KEY,
    key_check BLOB NOT NULL
) STRICT;
