//! The delivery queue of both SQL stores, written once: every statement, the row decoding
//! and the [`DeliveryStore`](crate::DeliveryStore) implementation (generated per store by
//! [`sql_delivery_store!`]). The dialects differ in one place only ([`Dialect`]): how a
//! claim and a health update lock rows, and which writes one statement can do; the
//! statements use `$n` parameters, which both drivers bind by number. PostgreSQL takes due
//! rows with `FOR UPDATE SKIP LOCKED`, so that workers sharing a database never wait for
//! each other's rows; SQLite's single writer makes each statement atomic on its own.
//!
//! No statement is ever held open across an attempt: a claim is one `UPDATE` that answers
//! what it claimed; an enqueue and a finish are one call each, a statement on PostgreSQL
//! (data-modifying CTEs), a script on SQLite (inside its group commit's savepoint).

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::account::AccountType;
use crate::attempt::ErrorKind;
use crate::event::Event;
use crate::health::{EndpointHealth, HealthChange};
use crate::id::{DeliveryId, EventId, OrganizationId, WebhookId};
use crate::store::StoreError;
use crate::store::queue::{AttemptRecord, Claim, DeliveryState, Finish, QueuedDelivery, Trigger};
use crate::store::sql::RowError;
use crate::webhook::Scope;

/// Claims up to `$4` rows due at `$3`: lease end `$1`, token `$2`. Final rows have no due
/// time; in-flight rows are due when their lease ends. `$lock` locks the due rows. One
/// statement answers what it claimed, with the event (account, body) of each row.
/// `$dialect` (`postgres` or `sqlite`) chooses how the due rows are matched ([`ids_among!`]).
macro_rules! claim_sql {
    ($dialect:ident, $lock:literal) => {
        concat!(
            "UPDATE webhook_kit_deliveries SET state = 'in_flight', attempts = attempts + 1, ",
            "due_at_ns = $1, claim_token = $2, updated_at_ns = $3 ",
            "WHERE id ",
            ids_among!($dialect, open),
            "SELECT id FROM webhook_kit_deliveries ",
            "WHERE due_at_ns IS NOT NULL AND due_at_ns <= $3 ",
            "ORDER BY due_at_ns, id LIMIT $4",
            $lock,
            ids_among!($dialect, close),
            " RETURNING id, organization, account_type, webhook_id, event_id, attempts, ",
            "trigger_kind, ",
            claimed_event_sql!("account_id"),
            ", ",
            claimed_event_sql!("body")
        )
    };
}

/// "Among the ids of this subquery", as each dialect's planner then looks the rows up by
/// primary key whatever its statistics say: `open`, the subquery, `close`. On PostgreSQL an
/// array: an `IN (subquery)` there may be planned, until the table is first analysed (a
/// young queue growing fast), as a hash join over a sequential scan of every row.
macro_rules! ids_among {
    (postgres, open) => {
        "= ANY(ARRAY("
    };
    (postgres, close) => {
        "))"
    };
    (sqlite, open) => {
        "IN ("
    };
    (sqlite, close) => {
        ")"
    };
}

/// The failed deliveries of a webhook (`$2`..`$4`) enqueued since `$5`, oldest first, at
/// most `$6`, become pending for a manual attempt at `$1`.
macro_rules! recover_sql {
    ($dialect:ident) => {
        concat!(
            "UPDATE webhook_kit_deliveries SET state = 'pending', due_at_ns = $1, ",
            "updated_at_ns = $1, trigger_kind = 'manual' WHERE state = 'failed' AND id ",
            ids_among!($dialect, open),
            "SELECT id FROM webhook_kit_deliveries WHERE organization = $2 ",
            "AND account_type = $3 AND webhook_id = $4 AND state = 'failed' ",
            "AND created_at_ns >= $5 ORDER BY id LIMIT $6",
            ids_among!($dialect, close)
        )
    };
}

/// One column of the claimed row's event, as a subquery of the claim's `RETURNING`.
macro_rules! claimed_event_sql {
    ($column:literal) => {
        concat!(
            "(SELECT e.",
            $column,
            " FROM webhook_kit_events e ",
            "WHERE e.organization = webhook_kit_deliveries.organization ",
            "AND e.account_type = webhook_kit_deliveries.account_type ",
            "AND e.event_id = webhook_kit_deliveries.event_id)"
        )
    };
}

/// Reads a health row about to be updated; `$lock` locks it.
macro_rules! health_read_sql {
    ($lock:literal) => {
        concat!(
            "SELECT failing_since_ns, first_exhausted_ns, last_exhausted_ns ",
            "FROM webhook_kit_endpoint_health ",
            "WHERE organization = $1 AND account_type = $2 AND webhook_id = $3",
            $lock
        )
    };
}

/// The event's columns (`$1`..`$6`) and the deliveries' (the pairs of delivery id and
/// webhook id in the JSON array `$7`), as both dialects' enqueue writes them.
macro_rules! enqueue_columns {
    (event) => {
        concat!(
            enqueue_columns!(event_into),
            "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"
        )
    };
    (event_select) => {
        concat!(
            enqueue_columns!(event_into),
            "SELECT $1, $2, $3, $4, $5, $6"
        )
    };
    (event_into) => {
        "INSERT INTO webhook_kit_events \
         (organization, account_type, event_id, account_id, body, created_at_ns) "
    };
    (deliveries) => {
        "INSERT INTO webhook_kit_deliveries \
         (id, organization, account_type, webhook_id, event_id, state, trigger_kind, attempts, \
          due_at_ns, claim_token, created_at_ns, updated_at_ns) "
    };
}

/// The webhooks that get the event of `$1`, `$2` (organization, account type) and `$4`
/// (account), as `r`: `webhook_id`, and `n` their number from 0 in id order. As
/// [`Webhooks::deliveries`](crate::Webhooks::deliveries) routes: enabled, in the event's
/// scope, with no account filter (`$unfiltered`, the dialect's test on `w`) or one naming
/// the account; read through the same indexes as the per-account listing.
macro_rules! routed_sql {
    ($unfiltered:literal) => {
        concat!(
            "(SELECT webhook_id, row_number() OVER (ORDER BY webhook_id) - 1 AS n FROM (",
            "SELECT w.id AS webhook_id FROM webhook_kit_webhooks w ",
            "WHERE w.organization = $1 AND w.account_type = $2 AND w.enabled AND ",
            $unfiltered,
            " UNION ALL SELECT a.webhook_id FROM webhook_kit_webhook_accounts a ",
            "JOIN webhook_kit_webhooks w ON w.id = a.webhook_id ",
            "WHERE a.organization = $1 AND a.account_type = $2 AND a.account_id = $4 ",
            "AND w.enabled) AS matching) AS r"
        )
    };
}

/// The id of the routed delivery `r.n`: the block `$7` (see `DeliveryId::block`), or the
/// column `prefix` names, and 6 base-32 digits of `r.n`, most significant first.
macro_rules! numbered_delivery_id_sql {
    () => {
        numbered_delivery_id_sql!(prefix "$7")
    };
    (prefix $prefix:literal) => {
        concat!(
            $prefix,
            numbered_delivery_id_sql!(25),
            numbered_delivery_id_sql!(20),
            numbered_delivery_id_sql!(15),
            numbered_delivery_id_sql!(10),
            numbered_delivery_id_sql!(5),
            numbered_delivery_id_sql!(0)
        )
    };
    ($shift:literal) => {
        concat!(
            " || substr('0123456789abcdefghjkmnpqrstvwxyz', CAST(((r.n >> ",
            $shift,
            ") & 31) + 1 AS integer), 1)"
        )
    };
}

/// The values of a routed delivery, after its id (`$1`, `$2`, `$3`, `$6`: organization,
/// account type, event id, now).
macro_rules! routed_delivery_values_sql {
    () => {
        ", $1, $2, r.webhook_id, $3, 'pending', 'scheduled', 0, $6, NULL, $6, $6 "
    };
}

/// Inserts an event (`$1`..`$6`) and one pending delivery per webhook that gets it,
/// numbered in the id block `$7`, answering their ids; only when the event is new and at
/// least one webhook gets it (otherwise it changes nothing, as an enqueue to no webhook).
/// One statement, atomic on its own. `$unfiltered` as for [`routed_sql!`].
#[cfg(feature = "postgres")]
const POSTGRES_ENQUEUE_ROUTED: &str = concat!(
    "WITH r AS (SELECT * FROM ",
    routed_sql!("cardinality(w.account_ids) = 0"),
    "), event AS (",
    enqueue_columns!(event_select),
    " WHERE EXISTS (SELECT 1 FROM r) ON CONFLICT DO NOTHING RETURNING event_id) ",
    enqueue_columns!(deliveries),
    "SELECT ",
    numbered_delivery_id_sql!(),
    routed_delivery_values_sql!(),
    "FROM r WHERE EXISTS (SELECT 1 FROM event) RETURNING id"
);

/// The same as one script of two statements (the group commit's savepoint makes it
/// atomic): the deliveries are inserted only when the event's insert changed a row.
#[cfg(feature = "sqlite")]
const SQLITE_ENQUEUE_ROUTED: &str = concat!(
    enqueue_columns!(event_select),
    " WHERE EXISTS (SELECT 1 FROM ",
    routed_sql!("w.account_ids = '[]'"),
    ") ON CONFLICT DO NOTHING; ",
    enqueue_columns!(deliveries),
    "SELECT ",
    numbered_delivery_id_sql!(),
    routed_delivery_values_sql!(),
    "FROM ",
    routed_sql!("w.account_ids = '[]'"),
    " WHERE changes() = 1 RETURNING id"
);

/// The events of many enqueues (`$1`, a JSON array of items as [`enqueue_items`] writes
/// them: organization, account type, event id, account, body in hex, id block, time) as
/// `items`, each with its number `k`.
macro_rules! enqueue_items_sql {
    (postgres) => {
        "items AS (SELECT k, v->>0 AS organization, v->>1 AS account_type, \
         v->>2 AS event_id, v->>3 AS account_id, decode(v->>4, 'hex') AS body, \
         v->>5 AS block, (v->>6)::bigint AS now_ns \
         FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS x(v, k))"
    };
    (sqlite) => {
        "items AS (SELECT key AS k, json_extract(value, '$[0]') AS organization, \
         json_extract(value, '$[1]') AS account_type, json_extract(value, '$[2]') AS event_id, \
         json_extract(value, '$[3]') AS account_id, unhex(json_extract(value, '$[4]')) AS body, \
         json_extract(value, '$[5]') AS block, json_extract(value, '$[6]') AS now_ns \
         FROM json_each($1))"
    };
}

/// The webhooks that get each item's event (as [`routed_sql!`] routes one), as `r`: `k`,
/// `webhook_id`, and `n` their number from 0 in id order within the item. `$from` joins an
/// item `i` to its matches `m`: a `LATERAL` subquery on PostgreSQL, so that each item's
/// webhooks are looked up by index whatever the statistics.
macro_rules! routed_each_sql {
    (postgres) => {
        concat!(
            "r AS (SELECT i.k, m.webhook_id, ",
            "row_number() OVER (PARTITION BY i.k ORDER BY m.webhook_id) - 1 AS n ",
            "FROM items i CROSS JOIN LATERAL (",
            "SELECT w.id AS webhook_id FROM webhook_kit_webhooks w ",
            "WHERE w.organization = i.organization AND w.account_type = i.account_type ",
            "AND w.enabled AND cardinality(w.account_ids) = 0 ",
            "UNION ALL SELECT a.webhook_id FROM webhook_kit_webhook_accounts a ",
            "JOIN webhook_kit_webhooks w ON w.id = a.webhook_id ",
            "WHERE a.organization = i.organization AND a.account_type = i.account_type ",
            "AND a.account_id = i.account_id AND w.enabled) AS m)"
        )
    };
    (sqlite) => {
        concat!(
            "r AS (SELECT k, webhook_id, ",
            "row_number() OVER (PARTITION BY k ORDER BY webhook_id) - 1 AS n FROM (",
            "SELECT i.k, w.id AS webhook_id FROM items i JOIN webhook_kit_webhooks w ",
            "ON w.organization = i.organization AND w.account_type = i.account_type ",
            "WHERE w.enabled AND w.account_ids = '[]' ",
            "UNION ALL SELECT i.k, a.webhook_id FROM items i ",
            "JOIN webhook_kit_webhook_accounts a ON a.organization = i.organization ",
            "AND a.account_type = i.account_type AND a.account_id = i.account_id ",
            "JOIN webhook_kit_webhooks w ON w.id = a.webhook_id WHERE w.enabled))"
        )
    };
}

/// The values of a delivery of item `i` to the routed webhook `r`, after its id.
macro_rules! routed_each_values_sql {
    () => {
        ", i.organization, i.account_type, r.webhook_id, i.event_id, 'pending', 'scheduled', \
         0, i.now_ns, NULL, i.now_ns, i.now_ns "
    };
}

/// Many enqueues in one statement, each as [`POSTGRES_ENQUEUE_ROUTED`] does one (their
/// events' keys distinct): answers each new delivery's id and its event's key.
#[cfg(feature = "postgres")]
const POSTGRES_ENQUEUE_EACH: &str = concat!(
    "WITH ",
    enqueue_items_sql!(postgres),
    ", ",
    routed_each_sql!(postgres),
    ", event AS (",
    enqueue_columns!(event_into),
    "SELECT i.organization, i.account_type, i.event_id, i.account_id, i.body, i.now_ns ",
    "FROM items i WHERE EXISTS (SELECT 1 FROM r WHERE r.k = i.k) ",
    "ON CONFLICT DO NOTHING RETURNING organization, account_type, event_id) ",
    enqueue_columns!(deliveries),
    "SELECT ",
    numbered_delivery_id_sql!(prefix "i.block"),
    routed_each_values_sql!(),
    "FROM r JOIN items i ON i.k = r.k JOIN event e ON e.organization = i.organization ",
    "AND e.account_type = i.account_type AND e.event_id = i.event_id ",
    "RETURNING id, organization, account_type, event_id"
);

/// The same as one script (the group commit makes it atomic): first the deliveries of the
/// events not stored yet (SQLite's single writer: nothing stores one in between), then the
/// events that some webhook gets.
#[cfg(feature = "sqlite")]
const SQLITE_ENQUEUE_EACH: &str = concat!(
    "WITH ",
    enqueue_items_sql!(sqlite),
    ", ",
    routed_each_sql!(sqlite),
    " ",
    enqueue_columns!(deliveries),
    "SELECT ",
    numbered_delivery_id_sql!(prefix "i.block"),
    routed_each_values_sql!(),
    "FROM r JOIN items i ON i.k = r.k WHERE NOT EXISTS (SELECT 1 FROM webhook_kit_events e ",
    "WHERE e.organization = i.organization AND e.account_type = i.account_type ",
    "AND e.event_id = i.event_id) RETURNING id, organization, account_type, event_id; ",
    "WITH ",
    enqueue_items_sql!(sqlite),
    ", ",
    routed_each_sql!(sqlite),
    " ",
    enqueue_columns!(event_into),
    "SELECT i.organization, i.account_type, i.event_id, i.account_id, i.body, i.now_ns ",
    "FROM items i WHERE EXISTS (SELECT 1 FROM r WHERE r.k = i.k) ON CONFLICT DO NOTHING"
);

/// Inserts an event and, only if it is new, one pending delivery per pair of `$7`: one
/// statement (a data-modifying CTE), atomic on its own; it changes no row for an event
/// already stored.
#[cfg(feature = "postgres")]
const POSTGRES_ENQUEUE: &str = concat!(
    "WITH event AS (",
    enqueue_columns!(event),
    " RETURNING event_id) ",
    enqueue_columns!(deliveries),
    "SELECT d.value->>0, $1, $2, d.value->>1, event.event_id, 'pending', 'scheduled', 0, $6, \
     NULL, $6, $6 FROM event CROSS JOIN jsonb_array_elements($7::jsonb) AS d(value)"
);

/// The same as one script of two statements, run in one call (the group commit's
/// savepoint makes it atomic): the deliveries are inserted only when the event's insert
/// changed a row.
#[cfg(feature = "sqlite")]
const SQLITE_ENQUEUE: &str = concat!(
    enqueue_columns!(event),
    "; ",
    enqueue_columns!(deliveries),
    "SELECT json_extract(d.value, '$[0]'), $1, $2, json_extract(d.value, '$[1]'), $3, \
     'pending', 'scheduled', 0, $6, NULL, $6, $6 FROM json_each($7) AS d WHERE changes() = 1"
);

/// The parts of a finish both dialects write the same: the fenced update (`$1`..`$5`:
/// state, due time, update time, delivery id, claim token), the start of the attempt's
/// insert (`$4` and `$6`..`$13`: number, trigger, start, duration, address, status, error,
/// response follow as its values), and the reset of the webhook's health by a delivered
/// finish (`$14`..`$16`: organization, account type, webhook id).
macro_rules! finish_sql {
    (fenced) => {
        "UPDATE webhook_kit_deliveries SET state = $1, due_at_ns = $2, claim_token = NULL, \
         trigger_kind = 'scheduled', updated_at_ns = $3 \
         WHERE id = $4 AND claim_token = $5 AND state = 'in_flight'"
    };
    (attempt) => {
        "INSERT INTO webhook_kit_attempts \
         (delivery_id, number, trigger_kind, started_at_ns, duration_ns, remote_addr, status, \
          error, response) "
    };
    (forget) => {
        "DELETE FROM webhook_kit_endpoint_health \
         WHERE organization = $14 AND account_type = $15 AND webhook_id = $16 \
         AND $1 = 'delivered' "
    };
}

/// The health reset of many delivered finishes: `forget` starts the delete of the health
/// rows whose key is among the rows of the subquery that follows it (closed by `)`),
/// `forgot` answers what it deleted.
macro_rules! finish_each_sql {
    (forget) => {
        "DELETE FROM webhook_kit_endpoint_health \
         WHERE (organization, account_type, webhook_id) IN ("
    };
    (forgot) => {
        "RETURNING 'forgot', NULL, NULL, organization, account_type, webhook_id, \
         failing_since_ns, first_exhausted_ns, last_exhausted_ns"
    };
}

/// [`FINISH`] and, only if it fenced the claim, the attempt and, for a delivered finish,
/// the health reset: one statement, atomic on its own. It answers one row exactly when the
/// claim was still held: the health it forgot (`NULL`s when none).
#[cfg(feature = "postgres")]
const POSTGRES_FINISH_RECORDED: &str = concat!(
    "WITH finished AS (",
    finish_sql!(fenced),
    " RETURNING id), forgot AS (",
    finish_sql!(forget),
    "AND EXISTS (SELECT 1 FROM finished) \
     RETURNING failing_since_ns, first_exhausted_ns, last_exhausted_ns) ",
    finish_sql!(attempt),
    "SELECT id, $6, $7, $8, $9, $10, $11, $12, $13 FROM finished \
     RETURNING (SELECT failing_since_ns FROM forgot), (SELECT first_exhausted_ns FROM forgot), \
     (SELECT last_exhausted_ns FROM forgot)"
);

/// The same as one script of three statements, run in one call (the group commit's
/// savepoint makes it atomic), each going on only when the one before changed a row. It
/// answers a row of `NULL`s exactly when the attempt was recorded (the claim was still
/// held), then, when a delivered finish forgot a health row, that row.
#[cfg(feature = "sqlite")]
const SQLITE_FINISH_RECORDED: &str = concat!(
    finish_sql!(fenced),
    "; ",
    finish_sql!(attempt),
    "SELECT $4, $6, $7, $8, $9, $10, $11, $12, $13 WHERE changes() = 1 \
     RETURNING NULL, NULL, NULL; ",
    finish_sql!(forget),
    "AND changes() = 1 RETURNING failing_since_ns, first_exhausted_ns, last_exhausted_ns"
);

/// Many finishes at once: the JSON array `$1` of items as [`finish_items`] writes them
/// (`[0]` delivery id, `[1]` claim token, `[2]` state, `[3]` due time, `[4]` whether an
/// attempt is recorded, `[5]`..`[12]` the attempt as [`AttemptValues`] orders them, the
/// response in hex, `[13]`..`[15]` organization, account type, webhook id), `$2` the update
/// time. Each fenced update, attempt and health reset as [`POSTGRES_FINISH_RECORDED`]
/// writes them for one, in one statement. Answers a row per fenced claim (`finished`, its
/// id and token) and per health row forgotten (`forgot`, its key and columns).
#[cfg(feature = "postgres")]
const POSTGRES_FINISH_EACH: &str = concat!(
    "WITH f AS (SELECT v->>0 AS id, v->>1 AS token, v->>2 AS state, ",
    "(v->>3)::bigint AS due_at_ns, (v->>4)::boolean AS recorded, (v->>5)::bigint AS number, ",
    "v->>6 AS trigger_kind, (v->>7)::bigint AS started_at_ns, (v->>8)::bigint AS duration_ns, ",
    "v->>9 AS remote_addr, (v->>10)::bigint AS status, v->>11 AS error, ",
    "decode(v->>12, 'hex') AS response, v->>13 AS organization, v->>14 AS account_type, ",
    "v->>15 AS webhook_id FROM jsonb_array_elements($1::jsonb) AS e(v)), ",
    "finished AS (UPDATE webhook_kit_deliveries d SET state = f.state, ",
    "due_at_ns = f.due_at_ns, claim_token = NULL, trigger_kind = 'scheduled', ",
    "updated_at_ns = $2 FROM f WHERE d.id ",
    ids_among!(postgres, open),
    "SELECT id FROM f",
    ids_among!(postgres, close),
    " AND d.id = f.id AND d.claim_token = f.token AND d.state = 'in_flight' ",
    "RETURNING d.id, f.token), ",
    "recorded AS (",
    finish_sql!(attempt),
    "SELECT f.id, f.number, f.trigger_kind, f.started_at_ns, f.duration_ns, f.remote_addr, ",
    "f.status, f.error, f.response FROM f JOIN finished USING (id, token) WHERE f.recorded), ",
    "forgot AS (",
    finish_each_sql!(forget),
    "SELECT f.organization, f.account_type, f.webhook_id FROM f ",
    "JOIN finished USING (id, token) WHERE f.state = 'delivered') ",
    finish_each_sql!(forgot),
    ") SELECT 'finished', id, token, NULL, NULL, NULL, NULL::bigint, NULL::bigint, ",
    "NULL::bigint ",
    "FROM finished UNION ALL SELECT 'forgot', NULL, NULL, organization, account_type, ",
    "webhook_id, failing_since_ns, first_exhausted_ns, last_exhausted_ns FROM forgot"
);

/// The same as one script (the group commit's savepoint makes it atomic), `$3` a token
/// no claim has: the fenced updates put it in place of the claims' tokens, so that the
/// attempts and the health resets that follow find the rows they fenced; the last
/// statement takes it away again and answers the fenced rows.
#[cfg(feature = "sqlite")]
const SQLITE_FINISH_EACH: &str = concat!(
    "UPDATE webhook_kit_deliveries SET state = json_extract(f.value, '$[2]'), ",
    "due_at_ns = json_extract(f.value, '$[3]'), claim_token = $3, ",
    "trigger_kind = 'scheduled', updated_at_ns = $2 FROM json_each($1) AS f ",
    "WHERE webhook_kit_deliveries.id = json_extract(f.value, '$[0]') ",
    "AND webhook_kit_deliveries.claim_token = json_extract(f.value, '$[1]') ",
    "AND webhook_kit_deliveries.state = 'in_flight'; ",
    finish_sql!(attempt),
    "SELECT d.id, json_extract(f.value, '$[5]'), json_extract(f.value, '$[6]'), ",
    "json_extract(f.value, '$[7]'), json_extract(f.value, '$[8]'), ",
    "json_extract(f.value, '$[9]'), json_extract(f.value, '$[10]'), ",
    "json_extract(f.value, '$[11]'), unhex(json_extract(f.value, '$[12]')) ",
    "FROM json_each($1) AS f JOIN webhook_kit_deliveries d ",
    "ON d.id = json_extract(f.value, '$[0]') ",
    "WHERE d.claim_token = $3 AND json_extract(f.value, '$[4]'); ",
    finish_each_sql!(forget),
    "SELECT d.organization, d.account_type, d.webhook_id FROM json_each($1) AS f ",
    "JOIN webhook_kit_deliveries d ON d.id = json_extract(f.value, '$[0]') ",
    "WHERE d.claim_token = $3 AND d.state = 'delivered') ",
    finish_each_sql!(forgot),
    "; UPDATE webhook_kit_deliveries SET claim_token = NULL ",
    "WHERE id IN (SELECT json_extract(value, '$[0]') FROM json_each($1)) ",
    "AND claim_token = $3 RETURNING 'finished', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL"
);

/// The statements in which the dialects differ: how they lock the rows they read, and how
/// one call makes a write of several tables (PostgreSQL: one statement with data-modifying
/// CTEs; SQLite: a script of statements inside the group commit's savepoint).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dialect {
    /// The claim.
    pub(crate) claim: &'static str,
    /// [`recover_sql!`].
    pub(crate) recover: &'static str,
    /// The read of a health row before its update.
    pub(crate) health_read: &'static str,
    /// The event and its deliveries: the event's parameters `$1`..`$6`, then `$7` the JSON
    /// array of `[delivery id, webhook id]` pairs. Changes no row when the event is stored
    /// already.
    pub(crate) enqueue: &'static str,
    /// Many enqueues, routed in SQL: `$1` their items ([`enqueue_items`]). Answers the
    /// new deliveries' ids with their events' keys (organization, account type, event id).
    pub(crate) enqueue_each: &'static str,
    /// The event and its deliveries to the webhooks that get it (routed in SQL): the
    /// event's parameters `$1`..`$6`, then `$7` the block of the deliveries' ids. Answers
    /// their ids; none when the event is stored already or no webhook gets it.
    pub(crate) enqueue_routed: &'static str,
    /// The fenced [`FINISH`] (`$1`..`$5`), the attempt (`$6`..`$13`, as [`AttemptValues`]
    /// orders them) and, for a delivered finish, the reset of the webhook's health
    /// (`$14`..`$16`: organization, account type, webhook id). Answers at least one row
    /// exactly when the claim still held; the last row's three columns are the health it
    /// forgot (`NULL`s when none).
    pub(crate) record: &'static str,
    /// Many finishes in one call: `$1` their items ([`finish_items`]), `$2` the update
    /// time, `$3` (SQLite) a fresh token. Answers rows of [`FinishEachRow`].
    pub(crate) finish_each: &'static str,
}

/// PostgreSQL: due rows locked by another worker's claim are skipped, not waited for.
#[cfg(feature = "postgres")]
pub(crate) const POSTGRES_DIALECT: Dialect = Dialect {
    claim: claim_sql!(postgres, " FOR UPDATE SKIP LOCKED"),
    recover: recover_sql!(postgres),
    health_read: health_read_sql!(" FOR UPDATE"),
    enqueue: POSTGRES_ENQUEUE,
    enqueue_routed: POSTGRES_ENQUEUE_ROUTED,
    enqueue_each: POSTGRES_ENQUEUE_EACH,
    record: POSTGRES_FINISH_RECORDED,
    finish_each: POSTGRES_FINISH_EACH,
};

/// SQLite: one writer at a time; each statement (and each transaction, from its first
/// write) holds the database's write lock.
#[cfg(feature = "sqlite")]
pub(crate) const SQLITE_DIALECT: Dialect = Dialect {
    claim: claim_sql!(sqlite, ""),
    recover: recover_sql!(sqlite),
    health_read: health_read_sql!(""),
    enqueue: SQLITE_ENQUEUE,
    enqueue_routed: SQLITE_ENQUEUE_ROUTED,
    enqueue_each: SQLITE_ENQUEUE_EACH,
    record: SQLITE_FINISH_RECORDED,
    finish_each: SQLITE_FINISH_EACH,
};

/// The columns of a [`QueuedDelivery`], in the order [`delivery_from`] takes them.
macro_rules! delivery_columns {
    () => {
        "id, organization, account_type, webhook_id, event_id, state, attempts, due_at_ns, \
         created_at_ns, updated_at_ns"
    };
}

/// Finishes a delivery whose claim still holds (`$1`..`$5` as [`finish_sql!`] says).
pub(crate) const FINISH: &str = finish_sql!(fenced);

/// Back in the queue, due when it was claimed, the attempt uncounted.
pub(crate) const RELEASE: &str = "UPDATE webhook_kit_deliveries SET state = 'pending', \
     attempts = attempts - 1, due_at_ns = updated_at_ns, claim_token = NULL \
     WHERE id = $1 AND claim_token = $2 AND state = 'in_flight'";

pub(crate) const DELIVERY: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM webhook_kit_deliveries WHERE id = $1 AND organization = $2 AND account_type = $3"
);

pub(crate) const DELIVERIES: &str = concat!(
    "SELECT ",
    delivery_columns!(),
    " FROM webhook_kit_deliveries ",
    "WHERE organization = $1 AND account_type = $2 AND webhook_id = $3 ",
    "AND ($4 IS NULL OR state = $4) AND ($5 IS NULL OR id > $5) ORDER BY id LIMIT $6"
);

pub(crate) const ATTEMPTS: &str = "SELECT number, trigger_kind, started_at_ns, duration_ns, \
     remote_addr, status, error, response FROM webhook_kit_attempts \
     WHERE delivery_id = $1 ORDER BY number";

/// A final delivery becomes pending for a manual attempt; a pending one is hurried.
pub(crate) const REDELIVER: &str = "UPDATE webhook_kit_deliveries SET state = 'pending', \
     due_at_ns = $1, updated_at_ns = $1, \
     trigger_kind = CASE WHEN state = 'pending' THEN trigger_kind ELSE 'manual' END \
     WHERE id = $2 AND organization = $3 AND account_type = $4 AND state <> 'in_flight'";

pub(crate) const CANCEL: &str = "UPDATE webhook_kit_deliveries SET state = 'cancelled', \
     due_at_ns = NULL, claim_token = NULL, updated_at_ns = $1 \
     WHERE id = $2 AND organization = $3 AND account_type = $4 \
     AND state IN ('pending', 'in_flight')";

pub(crate) const EXISTS: &str = "SELECT state FROM webhook_kit_deliveries \
     WHERE id = $1 AND organization = $2 AND account_type = $3";

/// Final deliveries (no due time) last changed before `$1`, oldest first, at most `$2`.
pub(crate) const PRUNABLE: &str = "SELECT id, organization, account_type, event_id \
     FROM webhook_kit_deliveries WHERE due_at_ns IS NULL AND updated_at_ns < $1 \
     ORDER BY updated_at_ns, id LIMIT $2";

pub(crate) const DELETE_ATTEMPTS: &str = "DELETE FROM webhook_kit_attempts WHERE delivery_id = $1";

pub(crate) const DELETE_DELIVERY: &str =
    "DELETE FROM webhook_kit_deliveries WHERE id = $1 AND due_at_ns IS NULL";

pub(crate) const DELETE_ORPHAN_EVENT: &str = "DELETE FROM webhook_kit_events \
     WHERE organization = $1 AND account_type = $2 AND event_id = $3 \
     AND NOT EXISTS (SELECT 1 FROM webhook_kit_deliveries d WHERE d.organization = $1 \
     AND d.account_type = $2 AND d.event_id = $3)";

pub(crate) const HEALTH_FORGET: &str = "DELETE FROM webhook_kit_endpoint_health \
     WHERE organization = $1 AND account_type = $2 AND webhook_id = $3 \
     RETURNING failing_since_ns, first_exhausted_ns, last_exhausted_ns";

pub(crate) const HEALTH_ENSURE: &str = "INSERT INTO webhook_kit_endpoint_health \
     (organization, account_type, webhook_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";

pub(crate) const HEALTH_WRITE: &str = "UPDATE webhook_kit_endpoint_health \
     SET failing_since_ns = $4, first_exhausted_ns = $5, last_exhausted_ns = $6 \
     WHERE organization = $1 AND account_type = $2 AND webhook_id = $3";

// ---------------------------------------------------------------------------------------
// Values to and from columns.

fn corrupt(column: &'static str) -> StoreError {
    StoreError::backend(RowError::Corrupt { column })
}

/// A time as the queue's columns keep it: Unix nanoseconds.
pub(crate) fn nanos(time: DateTime<Utc>, column: &'static str) -> Result<i64, StoreError> {
    time.timestamp_nanos_opt()
        .ok_or_else(|| StoreError::backend(RowError::OutOfRange { column }))
}

pub(crate) fn time(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

pub(crate) fn duration_nanos(duration: Duration) -> Result<i64, StoreError> {
    i64::try_from(duration.as_nanos()).map_err(|_| {
        StoreError::backend(RowError::OutOfRange {
            column: "duration_ns",
        })
    })
}

pub(crate) fn count(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

pub(crate) fn scope_from(organization: &str, account_type: &str) -> Result<Scope, StoreError> {
    Ok(Scope::new(
        organization
            .parse::<OrganizationId>()
            .map_err(|_| corrupt("organization"))?,
        AccountType::from_str(account_type).map_err(|_| corrupt("account_type"))?,
    ))
}

pub(crate) fn parsed<T: FromStr>(text: &str, column: &'static str) -> Result<T, StoreError> {
    text.parse().map_err(|_| corrupt(column))
}

pub(crate) fn attempts_from(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value).map_err(|_| corrupt("attempts"))
}

pub(crate) fn trigger_from(text: &str) -> Result<Trigger, StoreError> {
    Trigger::from_code(text).ok_or_else(|| corrupt("trigger_kind"))
}

/// The columns of [`DELIVERY_COLUMNS`], as read.
pub(crate) struct DeliveryColumns {
    pub(crate) id: String,
    pub(crate) organization: String,
    pub(crate) account_type: String,
    pub(crate) webhook_id: String,
    pub(crate) event_id: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) due_at_ns: Option<i64>,
    pub(crate) created_at_ns: i64,
    pub(crate) updated_at_ns: i64,
}

pub(crate) fn delivery_from(columns: DeliveryColumns) -> Result<QueuedDelivery, StoreError> {
    Ok(QueuedDelivery {
        id: parsed::<DeliveryId>(&columns.id, "id")?,
        scope: scope_from(&columns.organization, &columns.account_type)?,
        webhook_id: parsed::<WebhookId>(&columns.webhook_id, "webhook_id")?,
        event_id: parsed::<EventId>(&columns.event_id, "event_id")?,
        state: DeliveryState::from_code(&columns.state).ok_or_else(|| corrupt("state"))?,
        attempts: attempts_from(columns.attempts)?,
        due_at: columns.due_at_ns.map(time),
        created_at: time(columns.created_at_ns),
        updated_at: time(columns.updated_at_ns),
    })
}

/// The columns of [`ATTEMPTS`], as read.
pub(crate) struct AttemptColumns {
    pub(crate) number: i64,
    pub(crate) trigger: String,
    pub(crate) started_at_ns: i64,
    pub(crate) duration_ns: i64,
    pub(crate) remote_addr: Option<String>,
    pub(crate) status: Option<i64>,
    pub(crate) error: Option<String>,
    pub(crate) response: Vec<u8>,
}

pub(crate) fn attempt_from(columns: AttemptColumns) -> Result<AttemptRecord, StoreError> {
    Ok(AttemptRecord {
        number: u32::try_from(columns.number).map_err(|_| corrupt("number"))?,
        trigger: trigger_from(&columns.trigger)?,
        started_at: time(columns.started_at_ns),
        duration: Duration::from_nanos(
            u64::try_from(columns.duration_ns).map_err(|_| corrupt("duration_ns"))?,
        ),
        remote_addr: columns
            .remote_addr
            .map(|addr| parsed::<SocketAddr>(&addr, "remote_addr"))
            .transpose()?,
        status: columns
            .status
            .map(|status| u16::try_from(status).map_err(|_| corrupt("status")))
            .transpose()?,
        error: columns
            .error
            .map(|code| ErrorKind::from_code(&code).ok_or_else(|| corrupt("error")))
            .transpose()?,
        response: columns.response,
    })
}

/// An attempt's columns to write: (number, trigger, started, duration, address, status,
/// error, response).
pub(crate) type AttemptValues<'a> = (
    i64,
    &'static str,
    i64,
    i64,
    Option<String>,
    Option<i64>,
    Option<&'static str>,
    &'a [u8],
);

pub(crate) fn attempt_values(record: &AttemptRecord) -> Result<AttemptValues<'_>, StoreError> {
    Ok((
        i64::from(record.number),
        record.trigger.code(),
        nanos(record.started_at, "started_at_ns")?,
        duration_nanos(record.duration)?,
        record.remote_addr.map(|addr| addr.to_string()),
        record.status.map(i64::from),
        record.error.map(|kind| kind.code()),
        &record.response,
    ))
}

/// The columns of a health row: failing since, first and last exhaustion (nanoseconds).
pub(crate) type HealthColumns = (Option<i64>, Option<i64>, Option<i64>);

pub(crate) fn health_from(columns: HealthColumns) -> EndpointHealth {
    EndpointHealth {
        failing_since: columns.0.map(time),
        first_exhausted_at: columns.1.map(time),
        last_exhausted_at: columns.2.map(time),
    }
}

/// The items of a [`Dialect::finish_each`], one JSON array each (see its statement).
pub(crate) fn finish_items(finishes: &[(Claim, Finish)]) -> Result<String, StoreError> {
    let mut items = Vec::with_capacity(finishes.len());
    for (claim, finish) in finishes {
        let due = finish
            .due_at()
            .map(|at| nanos(at, "due_at_ns"))
            .transpose()?;
        let attempt = finish.attempt().map(attempt_values).transpose()?;
        let scope = claim.event.scope();
        let (number, trigger, started, duration, addr, status, error, response) =
            attempt.unwrap_or_default();
        items.push(serde_json::json!([
            claim.delivery_id.as_str(),
            claim.token.to_hex(),
            finish.state().code(),
            due,
            finish.attempt().is_some(),
            number,
            trigger,
            started,
            duration,
            addr,
            status,
            error,
            hex::encode(response),
            scope.organization().as_str(),
            scope.account_type().to_string(),
            claim.webhook_id.as_str(),
        ]));
    }
    serde_json::to_string(&items).map_err(StoreError::backend)
}

/// A row a [`Dialect::finish_each`] answers: `finished` (delivery id, token) or `forgot`
/// (the health row's key and columns).
pub(crate) type FinishEachRow = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// What each finish of a [`Dialect::finish_each`] answers, from its rows: as `finish`
/// would, in order (the first delivered finish of a webhook gets the health forgotten).
pub(crate) fn finish_each_answers(
    finishes: &[(Claim, Finish)],
    rows: Vec<FinishEachRow>,
) -> Vec<Result<Option<HealthChange>, StoreError>> {
    let mut finished = std::collections::HashSet::new();
    let mut forgot = std::collections::HashMap::new();
    for (kind, id, token, organization, account_type, webhook, failing, first, last) in rows {
        if kind == "forgot" {
            forgot.insert(
                (organization, account_type, webhook),
                (failing, first, last),
            );
        } else {
            finished.insert((id, token));
        }
    }
    finishes
        .iter()
        .map(|(claim, finish)| {
            let id = Some(claim.delivery_id.as_str().to_owned());
            // SQLite answers no token: the statement fenced each delivery id once.
            let held = finished.contains(&(id.clone(), Some(claim.token.to_hex())))
                || finished.contains(&(id, None));
            if !held {
                return Err(StoreError::LeaseLost);
            }
            Ok(matches!(finish, Finish::Delivered(_)).then(|| {
                let scope = claim.event.scope();
                let key = (
                    Some(scope.organization().as_str().to_owned()),
                    Some(scope.account_type().to_string()),
                    Some(claim.webhook_id.as_str().to_owned()),
                );
                HealthChange {
                    before: forgot.remove(&key).map(health_from).unwrap_or_default(),
                    after: EndpointHealth::default(),
                }
            }))
        })
        .collect()
}

/// Concurrent enqueues of one store (the event and the time of each), gathered into one
/// write.
pub(crate) type Enqueues =
    crate::gather::Gather<(Event, DateTime<Utc>), Result<Vec<DeliveryId>, StoreError>>;

/// The items of a [`Dialect::enqueue_each`], one JSON array each (see its statement), with
/// a block of delivery ids each.
pub(crate) fn enqueue_items(items: &[(Event, DateTime<Utc>)]) -> Result<String, StoreError> {
    let mut json = Vec::with_capacity(items.len());
    for (event, now) in items {
        let scope = event.scope();
        json.push(serde_json::json!([
            scope.organization().as_str(),
            scope.account_type().to_string(),
            event.id().as_str(),
            event.account().as_str(),
            hex::encode(event.body()),
            DeliveryId::block(),
            nanos(*now, "created_at_ns")?,
        ]));
    }
    serde_json::to_string(&json).map_err(StoreError::backend)
}

/// A row a [`Dialect::enqueue_each`] answers: a new delivery's id and its event's key.
pub(crate) type EnqueueEachRow = (String, String, String, String);

/// What each enqueue of a [`Dialect::enqueue_each`] answers, from its rows: its new
/// deliveries' ids, in order.
pub(crate) fn enqueue_each_answers(
    items: &[(Event, DateTime<Utc>)],
    rows: Vec<EnqueueEachRow>,
) -> Vec<Result<Vec<DeliveryId>, StoreError>> {
    let mut by_event: std::collections::HashMap<(String, String, String), Vec<String>> =
        std::collections::HashMap::new();
    for (id, organization, account_type, event_id) in rows {
        by_event
            .entry((organization, account_type, event_id))
            .or_default()
            .push(id);
    }
    items
        .iter()
        .map(|(event, _)| {
            let scope = event.scope();
            let key = (
                scope.organization().as_str().to_owned(),
                scope.account_type().to_string(),
                event.id().as_str().to_owned(),
            );
            numbered_ids(by_event.remove(&key).unwrap_or_default())
        })
        .collect()
}

/// Every item of a batch whose write failed answers the failure (nothing was written).
pub(crate) fn batch_failed<T>(error: &StoreError, count: usize) -> Vec<Result<T, StoreError>> {
    (0..count)
        .map(|_| {
            let failed = BatchFailed(error.to_string());
            Err(if error.is_retryable() {
                StoreError::retryable(failed)
            } else {
                StoreError::backend(failed)
            })
        })
        .collect()
}

/// The write of a batch failed, and with it each of its items.
#[derive(Debug, thiserror::Error)]
#[error("the batch failed: {0}")]
struct BatchFailed(String);

/// The ids a routed enqueue answered, checked and in order (the order of their webhooks).
pub(crate) fn numbered_ids(ids: Vec<String>) -> Result<Vec<DeliveryId>, StoreError> {
    let mut ids = ids
        .into_iter()
        .map(|id| id.parse().map_err(|_| corrupt("id")))
        .collect::<Result<Vec<DeliveryId>, StoreError>>()?;
    ids.sort_unstable();
    Ok(ids)
}

pub(crate) fn health_values(health: &EndpointHealth) -> Result<HealthColumns, StoreError> {
    let column = |time: Option<DateTime<Utc>>, name| time.map(|at| nanos(at, name)).transpose();
    Ok((
        column(health.failing_since, "failing_since_ns")?,
        column(health.first_exhausted_at, "first_exhausted_ns")?,
        column(health.last_exhausted_at, "last_exhausted_ns")?,
    ))
}

/// Implements [`DeliveryStore`](crate::DeliveryStore) for a SQL store with the statements
/// above. The store has `pool`, `ready()`, `write` (runs a queue write, one call, atomically:
/// SQLite in its group commit, PostgreSQL on a pooled connection) and its module a
/// `db_error`; `$conn` is its driver's connection type, `$row` its row type, `$dialect` its
/// [`Dialect`].
macro_rules! sql_delivery_store {
    ($store:ty, $conn:ty, $row:ty, $dialect:expr) => {
        impl $store {
            /// Enqueues on `conn` (a pooled transaction, or the host's own).
            async fn enqueue_on(
                conn: &mut $conn,
                event: &$crate::Event,
                webhooks: &[$crate::WebhookId],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::DeliveryId>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                if webhooks.is_empty() {
                    return Ok(Vec::new());
                }
                let now = q::nanos(now, "created_at_ns")?;
                let scope = event.scope();
                let (organization, account_type) = (
                    scope.organization().as_str(),
                    scope.account_type().to_string(),
                );
                let unique: std::collections::BTreeSet<&$crate::WebhookId> =
                    webhooks.iter().collect();
                let pairs: Vec<($crate::DeliveryId, &$crate::WebhookId)> = unique
                    .into_iter()
                    .map(|webhook| ($crate::DeliveryId::generate(), webhook))
                    .collect();
                let inserted = sqlx::query($dialect.enqueue)
                    .bind(organization)
                    .bind(account_type)
                    .bind(event.id().as_str())
                    .bind(event.account().as_str())
                    .bind(event.body())
                    .bind(now)
                    .bind(serde_json::to_string(&pairs).map_err($crate::StoreError::backend)?)
                    .execute(&mut *conn)
                    .await
                    .map_err(db_error)?;
                // Nothing inserted: the event was already there, and so its deliveries.
                Ok(if inserted.rows_affected() == 0 {
                    Vec::new()
                } else {
                    pairs.into_iter().map(|(id, _)| id).collect()
                })
            }

            /// Enqueues on `conn` to the webhooks that get the event, routed by the
            /// statement itself, as [`DeliveryStore::enqueue_routed`](crate::DeliveryStore::enqueue_routed).
            async fn enqueue_routed_on(
                conn: &mut $conn,
                event: &$crate::Event,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::DeliveryId>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                let now = q::nanos(now, "created_at_ns")?;
                let scope = event.scope();
                let ids: Vec<String> = sqlx::query_scalar($dialect.enqueue_routed)
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .bind(event.id().as_str())
                    .bind(event.account().as_str())
                    .bind(event.body())
                    .bind(now)
                    .bind($crate::DeliveryId::block())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?;
                q::numbered_ids(ids)
            }

            /// The statement (or script) of many finishes on `conn`, answering its rows.
            async fn finish_each_on(
                conn: &mut $conn,
                items: &str,
                now: i64,
            ) -> Result<Vec<$crate::store::sql::queue::FinishEachRow>, $crate::StoreError> {
                sqlx::query_as($dialect.finish_each)
                    .bind(items)
                    .bind(now)
                    .bind($crate::ClaimToken::generate().to_hex())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)
            }

            /// [`write`](Self::write) of a work that reads `data`: each run (SQLite may run a
            /// write twice) gets it shared, not copied.
            async fn write_shared<D, R, F>(&self, data: D, work: F) -> Result<R, $crate::StoreError>
            where
                D: Send + Sync + 'static,
                R: Send + 'static,
                F: for<'c> Fn(
                        &'c mut $conn,
                        std::sync::Arc<D>,
                    )
                        -> $crate::store::sql::Writing<'c, Result<R, $crate::StoreError>>
                    + Send
                    + Sync
                    + 'static,
            {
                let data = std::sync::Arc::new(data);
                self.write(move |conn| work(conn, std::sync::Arc::clone(&data)))
                    .await
            }

            /// Enqueues each of `items` (an event and its time) as
            /// [`enqueue_routed`](crate::DeliveryStore::enqueue_routed) does, in one write
            /// when there are several with distinct events.
            async fn enqueue_routed_each(
                &self,
                items: Vec<($crate::Event, chrono::DateTime<chrono::Utc>)>,
            ) -> Vec<Result<Vec<$crate::DeliveryId>, $crate::StoreError>> {
                use $crate::store::sql::queue as q;
                let keys: std::collections::HashSet<_> = items
                    .iter()
                    .map(|(event, _)| (event.scope(), event.id()))
                    .collect();
                if items.len() < 2 || keys.len() < items.len() {
                    // One at a time: the same event twice must be stored once.
                    let mut answers = Vec::with_capacity(items.len());
                    for (event, now) in items {
                        let written = self
                            .write_shared(event, move |conn, event| {
                                Box::pin(
                                    async move { Self::enqueue_routed_on(conn, &event, now).await },
                                )
                            })
                            .await;
                        answers.push(written);
                    }
                    return answers;
                }
                let json = match q::enqueue_items(&items) {
                    Ok(json) => json,
                    Err(error) => return q::batch_failed(&error, items.len()),
                };
                let written = self
                    .write_shared(json, |conn, json| {
                        Box::pin(async move {
                            sqlx::query_as::<_, q::EnqueueEachRow>($dialect.enqueue_each)
                                .bind(json.as_str())
                                .fetch_all(&mut *conn)
                                .await
                                .map_err(db_error)
                        })
                    })
                    .await;
                match written {
                    Ok(rows) => q::enqueue_each_answers(&items, rows),
                    Err(error) => q::batch_failed(&error, items.len()),
                }
            }

            /// The claim's one statement on `conn`, as [`DeliveryStore::claim`](crate::DeliveryStore::claim).
            async fn claim_on(
                conn: &mut $conn,
                now: chrono::DateTime<chrono::Utc>,
                lease: std::time::Duration,
                limit: usize,
            ) -> Result<Vec<$crate::Claim>, $crate::StoreError> {
                use sqlx::Row as _;
                use $crate::store::sql::queue as q;
                let lease_until = $crate::clock::later(now, lease);
                let token = $crate::ClaimToken::generate();
                let rows = sqlx::query($dialect.claim)
                    .bind(q::nanos(lease_until, "due_at_ns")?)
                    .bind(token.to_hex())
                    .bind(q::nanos(now, "updated_at_ns")?)
                    .bind(q::count(limit.min($crate::MAX_BATCH)))
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?;
                let mut claims = Vec::with_capacity(rows.len());
                for row in rows {
                    let text = |index: usize| row.try_get::<String, _>(index).map_err(db_error);
                    let scope = q::scope_from(&text(1)?, &text(2)?)?;
                    let event = $crate::Event::new(
                        q::parsed::<$crate::EventId>(&text(4)?, "event_id")?,
                        scope,
                        q::parsed::<$crate::AccountId>(&text(7)?, "account_id")?,
                        row.try_get::<Vec<u8>, _>(8).map_err(db_error)?,
                    );
                    claims.push($crate::Claim {
                        delivery_id: q::parsed(&text(0)?, "id")?,
                        webhook_id: q::parsed(&text(3)?, "webhook_id")?,
                        event,
                        attempt: q::attempts_from(row.try_get::<i64, _>(5).map_err(db_error)?)?,
                        trigger: q::trigger_from(&text(6)?)?,
                        token: token.clone(),
                        lease_until,
                    });
                }
                // `RETURNING` answers in no set order.
                claims.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
                Ok(claims)
            }

            /// The finish's statements on `conn`, as
            /// [`DeliveryStore::finish`](crate::DeliveryStore::finish): one statement where the
            /// dialect can, else several, which the caller makes atomic (a group commit).
            async fn finish_on(
                conn: &mut $conn,
                claim: &$crate::Claim,
                finish: &$crate::Finish,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::HealthChange>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                let due = finish
                    .due_at()
                    .map(|at| q::nanos(at, "due_at_ns"))
                    .transpose()?;
                let attempt = finish.attempt().map(q::attempt_values).transpose()?;
                let (state, updated_at) = (finish.state().code(), q::nanos(now, "updated_at_ns")?);
                // The fenced update's parameters, `$1`..`$5`.
                let fenced = |sql: &'static str| {
                    sqlx::query(sql)
                        .bind(state)
                        .bind(due)
                        .bind(updated_at)
                        .bind(claim.delivery_id.as_str())
                        .bind(claim.token.to_hex())
                };
                let Some((number, trigger, started, duration, addr, status, error, response)) =
                    attempt
                else {
                    // Nothing to record: one statement.
                    let updated = fenced(q::FINISH)
                        .execute(&mut *conn)
                        .await
                        .map_err(db_error)?;
                    return if updated.rows_affected() == 0 {
                        Err($crate::StoreError::LeaseLost)
                    } else {
                        Ok(None)
                    };
                };
                let delivered = matches!(finish, $crate::Finish::Delivered(_));
                let scope = claim.event.scope();
                let (organization, account_type) = (
                    scope.organization().as_str(),
                    scope.account_type().to_string(),
                );
                // What a success resets: the health it forgot.
                let reset = |forgot: Option<q::HealthColumns>| {
                    delivered.then(|| $crate::HealthChange {
                        before: forgot.map(q::health_from).unwrap_or_default(),
                        after: $crate::EndpointHealth::default(),
                    })
                };
                // One call: the attempt is recorded exactly when the fence held.
                use sqlx::Row as _;
                let rows = fenced($dialect.record)
                    .bind(number)
                    .bind(trigger)
                    .bind(started)
                    .bind(duration)
                    .bind(addr)
                    .bind(status)
                    .bind(error)
                    .bind(response)
                    .bind(organization)
                    .bind(&account_type)
                    .bind(claim.webhook_id.as_str())
                    .fetch_all(&mut *conn)
                    .await
                    .map_err(db_error)?;
                let last = rows.last().ok_or($crate::StoreError::LeaseLost)?;
                let column = |index: usize| last.try_get::<Option<i64>, _>(index).map_err(db_error);
                Ok(reset(Some((column(0)?, column(1)?, column(2)?))))
            }

            /// Runs `sql`, an `UPDATE` of the delivery `id` of `scope` at `now` (parameters
            /// `$1` now, `$2` id, `$3` organization, `$4` account type); answers the rows changed.
            async fn update_one(
                &self,
                sql: &'static str,
                now: chrono::DateTime<chrono::Utc>,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
            ) -> Result<u64, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                let updated = sqlx::query(sql)
                    .bind(q::nanos(now, "updated_at_ns")?)
                    .bind(id.as_str())
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(updated.rows_affected())
            }

            async fn delivery_state(
                &self,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
            ) -> Result<Option<$crate::DeliveryState>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                let state: Option<String> = sqlx::query_scalar(q::EXISTS)
                    .bind(id.as_str())
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(state.and_then(|state| $crate::DeliveryState::from_code(&state)))
            }
        }

        impl $crate::DeliveryStore for $store {
            async fn enqueue(
                &self,
                event: &$crate::Event,
                webhooks: &[$crate::WebhookId],
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::DeliveryId>, $crate::StoreError> {
                self.ready().await?;
                if webhooks.is_empty() {
                    return Ok(Vec::new());
                }
                let written = (event.clone(), webhooks.to_vec());
                self.write_shared(written, move |conn, written| {
                    Box::pin(async move {
                        let (event, webhooks) = written.as_ref();
                        Self::enqueue_on(conn, event, webhooks, now).await
                    })
                })
                .await
            }

            async fn enqueue_routed(
                &self,
                event: &$crate::Event,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::DeliveryId>, $crate::StoreError> {
                self.ready().await?;
                // Concurrent enqueues go together into one write.
                self.enqueues
                    .write(
                        (event.clone(), now),
                        |items| self.enqueue_routed_each(items),
                        $crate::gather::unanswered,
                    )
                    .await
            }

            async fn claim(
                &self,
                now: chrono::DateTime<chrono::Utc>,
                lease: std::time::Duration,
                limit: usize,
            ) -> Result<Vec<$crate::Claim>, $crate::StoreError> {
                self.ready().await?;
                if limit == 0 {
                    return Ok(Vec::new());
                }
                self.write(move |conn| {
                    Box::pin(async move { Self::claim_on(conn, now, lease, limit).await })
                })
                .await
            }

            async fn finish(
                &self,
                claim: &$crate::Claim,
                finish: $crate::Finish,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::HealthChange>, $crate::StoreError> {
                self.ready().await?;
                self.write_shared((claim.clone(), finish), move |conn, written| {
                    Box::pin(async move {
                        let (claim, finish) = written.as_ref();
                        Self::finish_on(conn, claim, finish, now).await
                    })
                })
                .await
            }

            async fn finish_each(
                &self,
                finishes: Vec<($crate::Claim, $crate::Finish)>,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Vec<Result<Option<$crate::HealthChange>, $crate::StoreError>> {
                use $crate::store::sql::queue as q;
                // One finish needs no batch; a delivery twice (a stale claim and the
                // current one) is fenced apart by finishing one at a time.
                let ids: std::collections::HashSet<&$crate::DeliveryId> = finishes
                    .iter()
                    .map(|(claim, _)| &claim.delivery_id)
                    .collect();
                if finishes.len() < 2 || ids.len() < finishes.len() {
                    let mut answers = Vec::with_capacity(finishes.len());
                    for (claim, finish) in finishes {
                        answers
                            .push($crate::DeliveryStore::finish(self, &claim, finish, now).await);
                    }
                    return answers;
                }
                // The items are written out once, however often the write runs.
                let items = match self.ready().await.and_then(|()| {
                    Ok((q::finish_items(&finishes)?, q::nanos(now, "updated_at_ns")?))
                }) {
                    Ok(items) => items,
                    Err(error) => return q::batch_failed(&error, finishes.len()),
                };
                let written = self
                    .write_shared(items, |conn, items| {
                        Box::pin(async move {
                            let (json, now) = items.as_ref();
                            Self::finish_each_on(conn, json, *now).await
                        })
                    })
                    .await;
                match written {
                    Ok(rows) => q::finish_each_answers(&finishes, rows),
                    Err(error) => q::batch_failed(&error, finishes.len()),
                }
            }

            async fn release(&self, claim: &$crate::Claim) -> Result<(), $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let released = sqlx::query(q::RELEASE)
                    .bind(claim.delivery_id.as_str())
                    .bind(claim.token.to_hex())
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                if released.rows_affected() == 0 {
                    return Err($crate::StoreError::LeaseLost);
                }
                Ok(())
            }

            async fn delivery(
                &self,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
            ) -> Result<Option<$crate::QueuedDelivery>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let row = sqlx::query(q::DELIVERY)
                    .bind(id.as_str())
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db_error)?;
                row.map(|row| Self::delivery_row(&row)).transpose()
            }

            async fn deliveries(
                &self,
                scope: &$crate::Scope,
                webhook_id: &$crate::WebhookId,
                state: Option<$crate::DeliveryState>,
                after: Option<&$crate::DeliveryId>,
                limit: usize,
            ) -> Result<Vec<$crate::QueuedDelivery>, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let rows = sqlx::query(q::DELIVERIES)
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .bind(webhook_id.as_str())
                    .bind(state.map(|state| state.code()))
                    .bind(after.map($crate::DeliveryId::as_str))
                    .bind(q::count(limit.min($crate::MAX_BATCH)))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter().map(Self::delivery_row).collect()
            }

            async fn attempts(
                &self,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
            ) -> Result<Vec<$crate::AttemptRecord>, $crate::StoreError> {
                use sqlx::Row as _;
                use $crate::store::sql::queue as q;
                self.ready().await?;
                if self.delivery_state(scope, id).await?.is_none() {
                    return Err($crate::StoreError::NotFound);
                }
                let rows = sqlx::query(q::ATTEMPTS)
                    .bind(id.as_str())
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db_error)?;
                rows.iter()
                    .map(|row| {
                        q::attempt_from(q::AttemptColumns {
                            number: row.try_get(0).map_err(db_error)?,
                            trigger: row.try_get(1).map_err(db_error)?,
                            started_at_ns: row.try_get(2).map_err(db_error)?,
                            duration_ns: row.try_get(3).map_err(db_error)?,
                            remote_addr: row.try_get(4).map_err(db_error)?,
                            status: row.try_get(5).map_err(db_error)?,
                            error: row.try_get(6).map_err(db_error)?,
                            response: row.try_get(7).map_err(db_error)?,
                        })
                    })
                    .collect()
            }

            async fn redeliver(
                &self,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                if self.update_one(q::REDELIVER, now, scope, id).await? > 0 {
                    return Ok(());
                }
                match self.delivery_state(scope, id).await? {
                    None => Err($crate::StoreError::NotFound),
                    Some(_) => Err($crate::StoreError::InFlight),
                }
            }

            async fn recover(
                &self,
                scope: &$crate::Scope,
                webhook_id: &$crate::WebhookId,
                since: chrono::DateTime<chrono::Utc>,
                now: chrono::DateTime<chrono::Utc>,
                limit: usize,
            ) -> Result<usize, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let updated = sqlx::query($dialect.recover)
                    .bind(q::nanos(now, "due_at_ns")?)
                    .bind(scope.organization().as_str())
                    .bind(scope.account_type().to_string())
                    .bind(webhook_id.as_str())
                    .bind(q::nanos(since, "created_at_ns")?)
                    .bind(q::count(limit.min($crate::MAX_BATCH)))
                    .execute(&self.pool)
                    .await
                    .map_err(db_error)?;
                Ok(usize::try_from(updated.rows_affected()).unwrap_or(usize::MAX))
            }

            async fn cancel(
                &self,
                scope: &$crate::Scope,
                id: &$crate::DeliveryId,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                if self.update_one(q::CANCEL, now, scope, id).await? > 0
                    || self.delivery_state(scope, id).await?.is_some()
                {
                    Ok(())
                } else {
                    Err($crate::StoreError::NotFound)
                }
            }

            async fn prune(
                &self,
                before: chrono::DateTime<chrono::Utc>,
                limit: usize,
            ) -> Result<usize, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                let old: Vec<(String, String, String, String)> = sqlx::query_as(q::PRUNABLE)
                    .bind(q::nanos(before, "updated_at_ns")?)
                    .bind(q::count(limit.min($crate::MAX_BATCH)))
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let mut pruned = 0;
                for (id, organization, account_type, event_id) in &old {
                    let deleted = sqlx::query(q::DELETE_DELIVERY)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    if deleted.rows_affected() == 0 {
                        continue;
                    }
                    pruned += 1;
                    sqlx::query(q::DELETE_ATTEMPTS)
                        .bind(id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                    sqlx::query(q::DELETE_ORPHAN_EVENT)
                        .bind(organization)
                        .bind(account_type)
                        .bind(event_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db_error)?;
                }
                tx.commit().await.map_err(db_error)?;
                Ok(pruned)
            }

            async fn observe_health(
                &self,
                scope: &$crate::Scope,
                webhook_id: &$crate::WebhookId,
                observation: $crate::Observation,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::HealthChange, $crate::StoreError> {
                use $crate::store::sql::queue as q;
                self.ready().await?;
                let (organization, account_type) = (
                    scope.organization().as_str(),
                    scope.account_type().to_string(),
                );
                if matches!(
                    observation,
                    $crate::Observation::Succeeded | $crate::Observation::Reset
                ) {
                    // One statement: the row goes, and says what it held.
                    let before: Option<$crate::store::sql::queue::HealthColumns> =
                        sqlx::query_as(q::HEALTH_FORGET)
                            .bind(organization)
                            .bind(&account_type)
                            .bind(webhook_id.as_str())
                            .fetch_optional(&self.pool)
                            .await
                            .map_err(db_error)?;
                    return Ok($crate::HealthChange {
                        before: before.map(q::health_from).unwrap_or_default(),
                        after: $crate::EndpointHealth::default(),
                    });
                }
                let mut tx = self.pool.begin().await.map_err(db_error)?;
                sqlx::query(q::HEALTH_ENSURE)
                    .bind(organization)
                    .bind(&account_type)
                    .bind(webhook_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let stored: $crate::store::sql::queue::HealthColumns =
                    sqlx::query_as($dialect.health_read)
                        .bind(organization)
                        .bind(&account_type)
                        .bind(webhook_id.as_str())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db_error)?;
                let before = q::health_from(stored);
                let after = before.observe(observation, now);
                let (failing, first, last) = q::health_values(&after)?;
                sqlx::query(q::HEALTH_WRITE)
                    .bind(organization)
                    .bind(&account_type)
                    .bind(webhook_id.as_str())
                    .bind(failing)
                    .bind(first)
                    .bind(last)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                Ok($crate::HealthChange { before, after })
            }
        }

        impl $store {
            fn delivery_row(row: &$row) -> Result<$crate::QueuedDelivery, $crate::StoreError> {
                use sqlx::Row as _;
                use $crate::store::sql::queue as q;
                q::delivery_from(q::DeliveryColumns {
                    id: row.try_get(0).map_err(db_error)?,
                    organization: row.try_get(1).map_err(db_error)?,
                    account_type: row.try_get(2).map_err(db_error)?,
                    webhook_id: row.try_get(3).map_err(db_error)?,
                    event_id: row.try_get(4).map_err(db_error)?,
                    state: row.try_get(5).map_err(db_error)?,
                    attempts: row.try_get(6).map_err(db_error)?,
                    due_at_ns: row.try_get(7).map_err(db_error)?,
                    created_at_ns: row.try_get(8).map_err(db_error)?,
                    updated_at_ns: row.try_get(9).map_err(db_error)?,
                })
            }
        }
    };
}
pub(crate) use sql_delivery_store;

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn routed_ids_use_the_alphabet_of_delivery_ids() {
        let alphabet = std::str::from_utf8(crate::id::ALPHABET).unwrap();
        let digit = numbered_delivery_id_sql!(0);
        assert!(digit.contains(&format!("substr('{alphabet}', ")), "{digit}");
    }

    /// The check of a store's gathered enqueue (`enqueue_routed_each`, passed as `each`), run
    /// by each SQL store's unit tests: several events in one write, of two scopes, routed each
    /// as one enqueue routes it.
    pub(crate) async fn check_enqueue_each<S, F, Fut>(store: &S, each: F)
    where
        S: crate::WebhookStore + crate::DeliveryStore,
        F: Fn(Vec<(Event, DateTime<Utc>)>) -> Fut,
        Fut: std::future::Future<Output = Vec<Result<Vec<DeliveryId>, StoreError>>>,
    {
        use crate::{AccountFilter, AccountId, Webhook};
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let scope = |org: &str| Scope::new(org.parse().unwrap(), AccountType::Live);
        let (ours, theirs) = (scope("org_a"), scope("org_b"));
        let webhook = |scope: &Scope, accounts: &[&str], enabled: bool| {
            let filter = AccountFilter::from_ids(
                accounts
                    .iter()
                    .map(|account| account.parse::<AccountId>().unwrap()),
            )
            .unwrap();
            let mut parts = Webhook::new(
                scope.clone(),
                "https://example.com/h".parse().unwrap(),
                filter,
            )
            .into_parts();
            parts.enabled = enabled;
            Webhook::from_parts(parts)
        };
        let all = webhook(&ours, &[], true);
        let named = webhook(&ours, &["acc_1"], true);
        let off = webhook(&ours, &[], false);
        let elsewhere = webhook(&theirs, &["acc_2"], true);
        for webhook in [&all, &named, &off, &elsewhere] {
            store.insert(webhook).await.unwrap();
        }
        let event = |scope: &Scope, account: &str| {
            let id = EventId::generate();
            let body = format!("{{\"id\":\"{id}\"}}").into_bytes();
            Event::new(id, scope.clone(), account.parse().unwrap(), body)
        };
        let known = event(&ours, "acc_1");
        assert_eq!(store.enqueue_routed(&known, now).await.unwrap().len(), 2);
        let items = vec![
            (event(&ours, "acc_1"), now),
            (event(&ours, "acc_2"), now),
            (event(&theirs, "acc_2"), now),
            (event(&theirs, "acc_1"), now),
            (known.clone(), now),
        ];
        let answers: Vec<Vec<DeliveryId>> = each(items.clone())
            .await
            .into_iter()
            .map(Result::unwrap)
            .collect();
        let counts: Vec<usize> = answers.iter().map(Vec::len).collect();
        assert_eq!(counts, [2, 1, 1, 0, 0]);
        let expected = [
            vec![all.id(), named.id()],
            vec![all.id()],
            vec![elsewhere.id()],
        ];
        for ((answer, (event, _)), webhooks) in answers.iter().zip(&items).zip(expected) {
            let mut routed = Vec::new();
            for id in answer {
                let delivery = store.delivery(event.scope(), id).await.unwrap().unwrap();
                assert_eq!(&delivery.event_id, event.id());
                assert_eq!(delivery.state, DeliveryState::Pending);
                assert_eq!(delivery.created_at, now);
                routed.push(delivery.webhook_id);
            }
            let mut webhooks: Vec<WebhookId> = webhooks.into_iter().cloned().collect();
            webhooks.sort();
            assert_eq!(routed, webhooks, "in webhook order");
        }
        // Each event's body was stored with it.
        let claims = store
            .claim(now, Duration::from_secs(30), crate::MAX_BATCH)
            .await
            .unwrap();
        assert_eq!(claims.len(), 2 + 4);
        for (event, _) in &items[..3] {
            let claim = claims.iter().find(|claim| claim.event.id() == event.id());
            assert_eq!(claim.unwrap().event.body(), event.body());
        }
        // The event no webhook got was not stored: once one gets it, it is queued.
        let late = webhook(&theirs, &[], true);
        store.insert(&late).await.unwrap();
        let again = each(vec![items[3].clone(), items[2].clone()]).await;
        let again: Vec<usize> = again.into_iter().map(|ids| ids.unwrap().len()).collect();
        assert_eq!(again, [1, 0]);
    }
}
