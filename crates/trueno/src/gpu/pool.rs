//! Device buffers: a size-classed pool, and the resident tensor type built on it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Buffers kept for reuse, in total, before further returns are freed.
const POOL_LIMIT_BYTES: u64 = 1 << 30;
/// Smallest buffer handed out; also keeps every binding non-empty.
const MIN_BYTES: u64 = 256;

/// Free buffers by (size class, usage bits), and the bytes they hold.
#[derive(Debug, Default)]
struct Free {
    by_class: HashMap<(u64, u32), Vec<wgpu::Buffer>>,
    bytes: u64,
}

/// The pool of free device buffers.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    free: Mutex<Free>,
}

impl Pool {
    /// The size class for `bytes`: the next power of two, at least 256.
    pub(crate) fn class(bytes: u64) -> u64 {
        bytes.max(MIN_BYTES).next_power_of_two()
    }

    pub(crate) fn take(&self, class: u64, usage: wgpu::BufferUsages) -> Option<wgpu::Buffer> {
        let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        let b = g.by_class.get_mut(&(class, usage.bits()))?.pop()?;
        g.bytes -= class;
        Some(b)
    }

    pub(crate) fn give(&self, buffer: wgpu::Buffer) {
        let class = buffer.size();
        let mut g = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if g.bytes + class > POOL_LIMIT_BYTES {
            return; // dropping frees it
        }
        g.bytes += class;
        g.by_class
            .entry((class, buffer.usage().bits()))
            .or_default()
            .push(buffer);
    }
}

/// A buffer on loan from the pool; goes back when dropped.
#[derive(Debug)]
pub(crate) struct Pooled {
    pub(crate) buffer: Option<wgpu::Buffer>,
    pub(crate) pool: Arc<Pool>,
}

impl Pooled {
    pub(crate) fn get(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("present until drop")
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        if let Some(b) = self.buffer.take() {
            self.pool.give(b);
        }
    }
}

/// An f32 tensor resident in device memory.
///
/// Created by [`GpuContext::upload`](super::GpuContext::upload) or as the
/// output of an operation; read back with
/// [`GpuContext::download`](super::GpuContext::download).
#[derive(Debug)]
pub struct GpuTensor {
    pub(crate) buf: Pooled,
    pub(crate) len: usize,
}

impl GpuTensor {
    /// Number of f32 elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn buffer(&self) -> &wgpu::Buffer {
        self.buf.get()
    }
}
