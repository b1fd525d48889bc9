//! The store contract, run against `PostgresStore` on a real server, secrets sealed.

mod contract;
mod support;

contract::webhook_store_contract!(support::postgres_store);

mod queue {
    crate::contract::queue::delivery_store_contract!(crate::support::fresh_postgres_store);
}
