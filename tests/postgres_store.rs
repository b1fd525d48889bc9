//! The store contract, run against `PostgresStore` on a real server, secrets sealed.

mod contract;
mod support;

contract::webhook_store_contract!(support::postgres_store);
