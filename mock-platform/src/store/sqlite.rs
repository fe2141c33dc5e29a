//! The SQLite backend (`--db PATH`): the in-memory backend plus a write-behind (`super::persist`): every
//! operation's changes are written before the lock is released, so no one sees a change not yet on disk.

use std::path::Path;

pub use super::persist::StoreError;

use super::{Data, memory};

#[derive(Debug)]
pub struct Store {
    memory: memory::Store,
}

impl Store {
    pub(super) fn open(path: &Path, first_order_id: i64, auto_close_ms: i64) -> Result<Self, StoreError> {
        let data = super::persist::open(path, first_order_id, auto_close_ms)?;
        Ok(Self { memory: memory::Store::new(data) })
    }

    pub(super) fn memory(&self) -> &memory::Store {
        &self.memory
    }

    /// Runs `f` on the locked data, then writes what it changed before the lock is released.
    pub(super) fn locked<R>(&self, f: impl FnOnce(&mut Data) -> R) -> R {
        self.memory.locked(|data| {
            let result = f(data);
            data.flush();
            result
        })
    }
}
