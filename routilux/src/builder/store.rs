//! Where a run of a [`DynFlow`](super::DynFlow) keeps its values: one array of typed
//! [`Slot`]s per value type (every `u64` of the flow in one array, every `String` in another),
//! so that no value is boxed.
//!
//! The [`Layout`] of a builder places each input and step in the group of its type when it is
//! declared. A step's closure captures [`Typed`] places, which the layout makes only for the
//! type its group holds; a run's [`Store`] is made from the same layout's groups and carries
//! its id. Reading a value checks that id and two bounds, with no type check per access.

use std::any::TypeId;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::ptr::NonNull;

use crate::engine::{Access, Brand};
use crate::error::{BoxError, Internal};
use crate::slot::Slot;

/// Where one value lives, untyped: its type group and its row in that group.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Place {
    group: u32,
    row: u32,
}

/// Where one value of type `T` lives. Made only by [`Layout`] (the fields are private to this
/// module), for a group that holds `T`s.
pub struct Typed<T> {
    layout: u64,
    group: u32,
    row: u32,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for Typed<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Typed<T> {}

impl<T> Typed<T> {
    /// A place no store has: every access fails (for handles the layout does not know).
    fn nowhere() -> Self {
        Typed {
            layout: 0,
            group: u32::MAX,
            row: u32::MAX,
            _type: PhantomData,
        }
    }
}

/// Several values of type `T`, all in one group (handles of one type share it).
pub struct Rows<T> {
    first: Typed<T>,
    rows: Box<[u32]>,
}

/// The slots of one group in one run: a boxed slice of `Slot<T>`, owned through a raw pointer
/// (so that shared reads need neither a virtual call nor a walk through boxes), with the
/// functions that know `T`.
pub(super) struct Entry {
    /// `TypeId::of::<T>()`.
    type_id: TypeId,
    /// From `Box::leak` of a `Box<[Slot<T>]>` of `len` slots; freed by `drop`.
    slots: NonNull<()>,
    len: usize,
    clear: fn(&Entry, u32, &mut Access<'_>),
    /// Frees the slots. Called once, by `Entry::drop`.
    free: unsafe fn(&mut Entry),
}

// SAFETY: an entry owns its `Slot<T>`s, made only by `make_group` with `T: Send + Sync`, so
// the slots are `Send` and `Sync` (see `Slot`); the raw pointer is only that ownership.
unsafe impl Send for Entry {}
// SAFETY: as above.
unsafe impl Sync for Entry {}

impl Entry {
    /// The slots.
    ///
    /// # Safety
    /// `T` must be the type the entry was made for (`type_id`).
    #[inline(always)]
    unsafe fn cells<T>(&self) -> &[Slot<T>] {
        // SAFETY: `slots` points to `len` live `Slot<T>`s (the caller vouches for `T`), owned
        // by `self` and only ever mutated through `&mut self`.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<Slot<T>>(), self.len) }
    }

    /// The slots, if they hold `T`s.
    fn cells_mut<T: 'static>(&mut self) -> Option<&mut [Slot<T>]> {
        if self.type_id != TypeId::of::<T>() {
            return None;
        }
        // SAFETY: checked `T` just above; `&mut self` makes the access exclusive, and the
        // pointer came from a leaked `Box` (it may write).
        Some(unsafe {
            std::slice::from_raw_parts_mut(self.slots.as_ptr().cast::<Slot<T>>(), self.len)
        })
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // SAFETY: `free` was made by `make_group` for this entry's `T`, and runs once.
        unsafe { (self.free)(self) }
    }
}

/// Makes the slots of a group for run `brand`, row `k` with plan index `indices[k]`.
type MakeGroup = fn(&Brand, &[u32]) -> Entry;

fn make_group<T: Send + Sync + 'static>(brand: &Brand, indices: &[u32]) -> Entry {
    let slots: Box<[Slot<T>]> = indices.iter().map(|&i| Slot::empty(brand, i)).collect();
    let len = slots.len();
    Entry {
        type_id: TypeId::of::<T>(),
        slots: NonNull::from(Box::leak(slots)).cast(),
        len,
        clear: |entry, row, access| {
            // SAFETY: made together with the entry, for its `T`.
            if let Some(slot) = unsafe { entry.cells::<T>() }.get(row as usize) {
                slot.clear(access);
            }
        },
        free: |entry| {
            let slots = std::ptr::slice_from_raw_parts_mut(
                entry.slots.as_ptr().cast::<Slot<T>>(),
                entry.len,
            );
            // SAFETY: `slots` is the leaked box of `len` slots of `T`; `Entry::drop` calls
            // this once, and nothing uses the entry afterwards.
            drop(unsafe { Box::from_raw(slots) });
        },
    }
}

/// The error of a value that is not where or of the type its place says: ruled out by the
/// builder.
#[cold]
pub(super) fn mismatch() -> BoxError {
    Box::new(Internal(
        "a builder value is not of the type its handle asks for",
    ))
}

/// The values of one run, by type group.
///
/// Its accessors are always inlined: they are the whole cost of a builder step beside the
/// step's own work.
pub struct Store {
    /// The id of the layout the groups were made from.
    layout: u64,
    groups: Box<[Entry]>,
}

impl Store {
    pub(super) fn new(brand: &Brand, frozen: &Frozen) -> Self {
        Store {
            layout: frozen.layout,
            groups: frozen
                .groups
                .iter()
                .map(|(make, slots)| make(brand, slots))
                .collect(),
        }
    }

    #[inline(always)]
    fn cells<T>(&self, at: Typed<T>) -> Option<&[Slot<T>]> {
        if at.layout != self.layout {
            return None;
        }
        let entry = self.groups.get(at.group as usize)?;
        // SAFETY: `at` was made by the layout with id `self.layout` (`Typed` is only made by
        // `Layout::push` and `Layout::typed`), which gave it a group that holds `T`s; a
        // layout's groups keep their type and are only appended to. This store was made by
        // `Store::new` from that layout's groups (layout ids are unique: a builder's id), each
        // entry by `make_group` for its group's type. So `entry` holds `Slot<T>`s.
        Some(unsafe { entry.cells::<T>() })
    }

    /// The value at `at` (see [`Slot::get`]); `None` if this store has no such place.
    #[inline(always)]
    pub(super) fn get<'s, T>(&'s self, at: Typed<T>, access: &'s Access<'_>) -> Option<&'s T> {
        Some(self.cells(at)?.get(at.row as usize)?.get(access))
    }

    /// The values at `at` (see [`Slot::get`]), handed to `f` as a slice.
    #[inline(always)]
    pub(super) fn with_rows<T, R>(
        &self,
        at: &Rows<T>,
        access: &Access<'_>,
        f: impl for<'b> FnOnce(&'b [&'b T]) -> R,
    ) -> Option<R> {
        let Some(&first) = at.rows.first() else {
            return Some(f(&[]));
        };
        let cells = self.cells(at.first)?;
        let read = |row: u32| cells.get(row as usize).map(|slot| slot.get(access));
        let first = read(first)?;
        if at.rows.len() <= 8 {
            let mut refs = [first; 8];
            for (r, &row) in refs.iter_mut().zip(&at.rows).skip(1) {
                *r = read(row)?;
            }
            Some(f(&refs[..at.rows.len()]))
        } else {
            let refs: Option<Vec<&T>> = at.rows.iter().map(|&row| read(row)).collect();
            Some(f(&refs?))
        }
    }

    /// Stores `value` at `at`.
    ///
    /// # Errors
    /// [`mismatch`] if this store has no such place.
    #[inline(always)]
    pub(super) fn set<T>(
        &self,
        at: Typed<T>,
        access: &mut Access<'_>,
        value: T,
    ) -> Result<(), BoxError> {
        match self.cells(at).and_then(|c| c.get(at.row as usize)) {
            Some(slot) => {
                slot.set(access, value);
                Ok(())
            }
            None => Err(mismatch()),
        }
    }

    /// The slot at `place`, if it holds a `T`.
    pub(super) fn slot_mut<T: 'static>(&mut self, place: Place) -> Option<&mut Slot<T>> {
        let entry = self.groups.get_mut(place.group as usize)?;
        entry.cells_mut::<T>()?.get_mut(place.row as usize)
    }

    /// Drops the value at `place`, if any.
    #[inline]
    pub(super) fn clear(&self, place: Place, access: &mut Access<'_>) {
        if let Some(entry) = self.groups.get(place.group as usize) {
            (entry.clear)(entry, place.row, access);
        }
    }
}

/// A builder's groups once every input and step is declared: what a run's [`Store`] is made
/// from, each row given its plan index.
pub(super) struct Frozen {
    layout: u64,
    groups: Vec<(MakeGroup, Box<[u32]>)>,
}

/// One type group of a builder.
struct GroupDecl {
    type_id: TypeId,
    make: MakeGroup,
    needs_drop: bool,
    /// The declaration index of each row.
    decls: Vec<u32>,
}

/// The type groups of a builder, filled as inputs and steps are declared.
pub struct Layout {
    /// The builder's id: unique.
    id: u64,
    by_type: HashMap<TypeId, u32>,
    groups: Vec<GroupDecl>,
    /// The place of each input and step, in declaration order.
    pub(super) places: Vec<Place>,
}

impl Layout {
    pub(super) fn new(id: u64) -> Self {
        Layout {
            id,
            by_type: HashMap::new(),
            groups: Vec::new(),
            places: Vec::new(),
        }
    }

    /// Places the next declaration, a `T`.
    pub(super) fn push<T: Send + Sync + 'static>(&mut self) -> Typed<T> {
        let decl = u32::try_from(self.places.len()).unwrap_or(u32::MAX);
        let next = u32::try_from(self.groups.len()).unwrap_or(u32::MAX);
        let group = *self.by_type.entry(TypeId::of::<T>()).or_insert(next);
        if group == next {
            self.groups.push(GroupDecl {
                type_id: TypeId::of::<T>(),
                make: make_group::<T>,
                needs_drop: std::mem::needs_drop::<T>(),
                decls: Vec::new(),
            });
        }
        let rows = &mut self.groups[group as usize].decls;
        let row = u32::try_from(rows.len()).unwrap_or(u32::MAX);
        rows.push(decl);
        self.places.push(Place { group, row });
        Typed {
            layout: self.id,
            group,
            row,
            _type: PhantomData,
        }
    }

    /// Where declaration `decl` lives, if it is a `T` (which typed handles ensure).
    pub fn typed<T: 'static>(&self, decl: u32) -> Typed<T> {
        match self.places.get(decl as usize) {
            Some(&Place { group, row })
                if self.groups[group as usize].type_id == TypeId::of::<T>() =>
            {
                Typed {
                    layout: self.id,
                    group,
                    row,
                    _type: PhantomData,
                }
            }
            _ => Typed::nowhere(),
        }
    }

    /// Where declarations `decls`, all `T`s, live.
    pub fn rows<T: 'static>(&self, decls: &[u32]) -> Rows<T> {
        let typed: Vec<Typed<T>> = decls.iter().map(|&d| self.typed::<T>(d)).collect();
        let first = typed.first().copied().unwrap_or_else(Typed::nowhere);
        let rows = typed
            .iter()
            // A row of another group (ruled out: one group per type) reads nothing.
            .map(|t| {
                if t.group == first.group {
                    t.row
                } else {
                    u32::MAX
                }
            })
            .collect();
        Rows { first, rows }
    }

    /// Whether the value of each declaration needs dropping, in declaration order.
    pub(super) fn needs_drop(&self) -> Vec<bool> {
        self.places
            .iter()
            .map(|p| self.groups[p.group as usize].needs_drop)
            .collect()
    }

    /// The groups, each row given its plan index by `slot_of_decl`.
    pub(super) fn freeze(&self, slot_of_decl: &[u32]) -> Frozen {
        Frozen {
            layout: self.id,
            groups: self
                .groups
                .iter()
                .map(|g| {
                    (
                        g.make,
                        g.decls.iter().map(|&d| slot_of_decl[d as usize]).collect(),
                    )
                })
                .collect(),
        }
    }
}
