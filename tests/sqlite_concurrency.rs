//! The concurrency tests across two `SqliteStore`s, each with its own connection pool, on
//! one database file: two service instances on one machine.

mod contract;
mod support;

contract::concurrency::webhook_store_concurrency!(|| async {
    (support::sqlite_store().await, support::sqlite_store().await)
});
