//! The store contract, run against `SqliteStore` on a real file, secrets sealed.

mod contract;
mod support;

contract::webhook_store_contract!(support::sqlite_store);

mod queue {
    crate::contract::queue::delivery_store_contract!(crate::support::fresh_sqlite_store);
}
