//! [`Derived`]: what a model builds from its own weights on first use (SIMD
//! packing, a GPU upload) and keeps beside them.

use std::sync::OnceLock;

/// A value computed from a model's weights at most once. Clones start empty
/// (a clone may be changed, and its derived copy must follow); equality and
/// `Debug` ignore it beyond saying whether it is built.
pub(crate) struct Derived<T>(OnceLock<T>);

impl<T> Derived<T> {
    /// The value, built by `make` on the first call. Two first callers may
    /// both build; one copy is kept. A failed build keeps nothing, so the
    /// next call tries again.
    pub(crate) fn get_or_try<E>(&self, make: impl FnOnce() -> Result<T, E>) -> Result<&T, E> {
        if let Some(v) = self.0.get() {
            return Ok(v);
        }
        let _ = self.0.set(make()?);
        Ok(self.0.get().expect("just set"))
    }

    /// The value, built by `make` on the first call.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(make)
    }
}

impl<T> Default for Derived<T> {
    fn default() -> Self {
        Derived(OnceLock::new())
    }
}

impl<T> Clone for Derived<T> {
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl<T> PartialEq for Derived<T> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Derived<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Derived(built)"
        } else {
            "Derived(not yet)"
        })
    }
}
