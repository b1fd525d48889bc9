//! The store contract, run against `SqliteStore` on a real file, secrets sealed.

mod contract;
mod support;

contract::webhook_store_contract!(support::sqlite_store);
