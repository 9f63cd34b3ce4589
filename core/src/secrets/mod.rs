//! Secrets engines and the storage view each one sees.

pub mod kv;

use crate::barrier::{Barrier, BarrierError, Plain, PlainOp};

/// A mount's window onto the barrier: every path is relative to `logical/<uuid>/`, so an engine
/// can neither name nor reach another mount's keys (a `..` segment is just a name here).
pub struct View<'a> {
    barrier: &'a Barrier,
    prefix: String,
}

impl<'a> View<'a> {
    pub fn new(barrier: &'a Barrier, prefix: String) -> Self {
        Self { barrier, prefix }
    }

    fn full(&self, path: &str) -> String {
        format!("{}{}", self.prefix, path)
    }

    pub async fn get(&self, path: &str) -> Result<Option<Plain>, BarrierError> {
        self.barrier.get(&self.full(path)).await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, BarrierError> {
        self.barrier.list(&self.full(prefix)).await
    }

    /// Applies the ops atomically; their paths are relative to the view.
    pub async fn write(&self, ops: Vec<PlainOp>) -> Result<(), BarrierError> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                PlainOp::Put {
                    path,
                    value,
                    condition,
                } => PlainOp::Put {
                    path: self.full(&path),
                    value,
                    condition,
                },
                PlainOp::Delete { path, condition } => PlainOp::Delete {
                    path: self.full(&path),
                    condition,
                },
            })
            .collect();
        self.barrier.write(ops).await
    }
}
