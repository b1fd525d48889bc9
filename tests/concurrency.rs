//! Races between the service's operations over one shared [`MemoryStore`], on a
//! multi-threaded runtime.

mod contract;

use std::sync::Arc;

use webhook_kit::MemoryStore;

contract::concurrency::webhook_store_concurrency!(|| async {
    let store = Arc::new(MemoryStore::new());
    (Arc::clone(&store), store)
});
