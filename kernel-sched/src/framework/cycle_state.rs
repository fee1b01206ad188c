//! [`CycleState`]: the data plugins keep for one scheduling cycle (upstream
//! `framework.CycleState`), and the [`StateData`] they store in it.

use std::any::{Any, TypeId};
use std::fmt;

/// Data a plugin keeps in [`CycleState`] for one scheduling cycle.
pub trait StateData: Any + Send + Sync {
    /// Clones the data (preemption clones the whole state per candidate node).
    fn clone_data(&self) -> Box<dyn StateData>;
    /// As `Any`, to downcast.
    fn as_any(&self) -> &dyn Any;
    /// As mutable `Any`, to downcast.
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Send + Sync + Clone> StateData for T {
    fn clone_data(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// Per-cycle plugin state, keyed by type (upstream keys by string; a type is the same idea
/// with a cheaper lookup). PreFilter writes, Filter reads.
#[derive(Default)]
pub struct CycleState {
    pub(crate) data: Vec<(TypeId, Box<dyn StateData>)>,
    /// Bit `i` set: skip `Framework::filter[i]` this cycle.
    pub(crate) skip_filter: u64,
    /// Bit `i` set: skip `Framework::score[i]` this cycle.
    pub(crate) skip_score: u64,
}

impl Clone for CycleState {
    fn clone(&self) -> Self {
        CycleState {
            data: self
                .data
                .iter()
                .map(|(t, d)| (*t, (**d).clone_data()))
                .collect(),
            skip_filter: self.skip_filter,
            skip_score: self.skip_score,
        }
    }
}

impl fmt::Debug for CycleState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CycleState")
            .field("entries", &self.data.len())
            .finish()
    }
}

impl CycleState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `value`, replacing any value of the same type.
    pub fn write<T: Any + Send + Sync + Clone>(&mut self, value: T) {
        let id = TypeId::of::<T>();
        if let Some(slot) = self.data.iter_mut().find(|(t, _)| *t == id) {
            slot.1 = Box::new(value);
        } else {
            self.data.push((id, Box::new(value)));
        }
    }

    /// Reads the value of type `T`.
    pub fn read<T: Any + Send + Sync + Clone>(&self) -> Option<&T> {
        let id = TypeId::of::<T>();
        self.data
            .iter()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| d.as_ref().as_any().downcast_ref())
    }

    /// Mutably reads the value of type `T`.
    pub fn read_mut<T: Any + Send + Sync + Clone>(&mut self) -> Option<&mut T> {
        let id = TypeId::of::<T>();
        self.data
            .iter_mut()
            .find(|(t, _)| *t == id)
            .and_then(|(_, d)| d.as_mut().as_any_mut().downcast_mut())
    }

    /// Forgets which plugins were skipped (a new cycle over the same data).
    pub fn clear_skips(&mut self) {
        self.skip_filter = 0;
        self.skip_score = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycle_state_is_typed_and_clonable() {
        #[derive(Clone, Debug, PartialEq)]
        struct A(u32);
        let mut st = CycleState::new();
        st.write(A(1));
        st.read_mut::<A>().unwrap().0 = 2;
        let copy = st.clone();
        st.write(A(3));
        assert_eq!(copy.read::<A>(), Some(&A(2)));
        assert_eq!(st.read::<A>(), Some(&A(3)));
        assert!(st.read::<u8>().is_none());
    }
}
