//! The store contract, run against [`MemoryStore`].

mod contract;

use webhook_kit::MemoryStore;

contract::webhook_store_contract!(|| async { MemoryStore::new() });

mod queue {
    use webhook_kit::MemoryStore;

    crate::contract::queue::delivery_store_contract!(|| async { MemoryStore::new() });
}
