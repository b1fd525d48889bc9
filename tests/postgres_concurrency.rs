//! Many service instances, one database: the concurrency tests across two `PostgresStore`s,
//! each with its own connection pool, on one PostgreSQL database. No lost update, no lost
//! secret, no resurrection.

mod contract;
mod support;

contract::concurrency::webhook_store_concurrency!(|| async {
    (
        support::postgres_store().await,
        support::postgres_store().await,
    )
});
