-- A claim takes due rows in (due_at_ns, id) order. With an index on due_at_ns alone every
-- claim read and sorted all due rows to take a few; this one gives the order, so a claim
-- reads about the rows it takes. The claim-token index served a SELECT the claim no longer
-- makes (it answers with UPDATE ... RETURNING); fences use the primary key.
DROP INDEX webhook_kit_deliveries_claim;
DROP INDEX webhook_kit_deliveries_due;
CREATE INDEX webhook_kit_deliveries_due
    ON webhook_kit_deliveries (due_at_ns, id) WHERE due_at_ns IS NOT NULL;
