//! [`Handle`]s, the [`Deps`] a step reads, and the [`Condition`] of a conditional step.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Not;

use super::store::{Layout, Rows, Store, Typed};
use crate::engine::Access;

/// A typed reference to an input or step result of a [`Builder`](super::Builder) flow.
pub struct Handle<T> {
    pub(super) builder: u64,
    /// The declaration index: inputs first, then steps, in the order they were declared.
    pub(super) slot: u32,
    pub(super) _type: PhantomData<fn() -> T>,
}

impl<T> Handle<T> {
    pub(super) fn new(builder: u64, slot: u32) -> Self {
        Handle {
            builder,
            slot,
            _type: PhantomData,
        }
    }
}

impl<T> Clone for Handle<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Handle<T> {}

impl<T> fmt::Debug for Handle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("builder", &self.builder)
            .field("slot", &self.slot)
            .finish()
    }
}

/// The condition of a step declared with [`Builder::when`](super::Builder::when): a
/// `Handle<bool>`, or its negation `!handle`.
///
/// ```
/// use routilux::{Builder, Condition};
///
/// let mut b = Builder::new("Flags");
/// let flag = b.input::<bool>("flag")?;
/// let when_set: Condition = flag.into();
/// let when_clear: Condition = !flag;
/// assert_eq!(!when_clear, when_set);
/// # Ok::<(), routilux::BuildError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub(super) builder: u64,
    pub(super) slot: u32,
    /// Whether the step runs when the flag is `false`.
    pub(super) negated: bool,
}

impl From<Handle<bool>> for Condition {
    fn from(flag: Handle<bool>) -> Self {
        Condition {
            builder: flag.builder,
            slot: flag.slot,
            negated: false,
        }
    }
}

impl Not for Handle<bool> {
    type Output = Condition;

    /// The condition "`self` is `false`".
    fn not(self) -> Condition {
        !Condition::from(self)
    }
}

impl Not for Condition {
    type Output = Condition;

    fn not(mut self) -> Condition {
        self.negated = !self.negated;
        self
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What a step reads: the handles whose values its function receives, and in which shape.
///
/// | `deps` | the function receives |
/// |---|---|
/// | `()` | `()` |
/// | `a: Handle<A>` | `&A` |
/// | `(a, b, ...)`: a tuple of 1 to 12 handles of any types | `(&A, &B, ...)` |
/// | `&[a, b, ...]`, `&[Handle<T>]` or `&Vec<Handle<T>>`: handles of one type | `&[&T]` |
///
/// ```
/// use routilux::{Builder, Schedule};
/// use std::convert::Infallible;
///
/// let mut b = Builder::new("Shapes");
/// let n = b.input::<u64>("n")?;
/// let word = b.input::<String>("word")?;
/// let twice = b.step("twice", n, |n| Ok::<_, Infallible>(n * 2))?;
/// let label = b.step("label", (word, twice), |(w, t)| Ok::<_, Infallible>(format!("{w}{t}")))?;
/// let sum = b.step("sum", &[n, twice], |v: &[&u64]| Ok::<_, Infallible>(v.iter().copied().sum::<u64>()))?;
/// b.output(label);
/// b.output(sum);
/// let flow = b.build();
///
/// let mut inputs = flow.inputs();
/// inputs.set(n, 2).set(word, "x".to_owned());
/// let mut out = flow.run(inputs, Schedule::Sequential)?;
/// assert_eq!(out.take(label).as_deref(), Some("x4"));
/// assert_eq!(out.take(sum), Some(6));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Deps: sealed::Sealed {
    /// What the step's function receives.
    type Refs<'a>: Copy + Send + Sync;

    /// Where the values are read from. Not public API.
    #[doc(hidden)]
    type Places: Send + Sync + 'static;

    /// The builder and declaration index of every handle, in order. Not public API.
    #[doc(hidden)]
    fn handles(&self, out: &mut Vec<(u64, u32)>);

    /// Where the values live in the runs of the builder with layout `layout`. Not public
    /// API.
    #[doc(hidden)]
    fn places(&self, layout: &Layout) -> Self::Places;

    /// Reads the values and hands them to `f`; `None` if one is not of its handle's type
    /// (ruled out by the builder). Not public API.
    #[doc(hidden)]
    fn with<R>(
        places: &Self::Places,
        store: &Store,
        access: &Access<'_>,
        f: impl for<'b> FnOnce(Self::Refs<'b>) -> R,
    ) -> Option<R>;
}

impl sealed::Sealed for () {}

impl Deps for () {
    type Refs<'a> = ();
    type Places = ();

    fn handles(&self, _: &mut Vec<(u64, u32)>) {}

    fn places(&self, _: &Layout) {}

    #[inline]
    fn with<R>((): &(), _: &Store, _: &Access<'_>, f: impl for<'b> FnOnce(()) -> R) -> Option<R> {
        Some(f(()))
    }
}

impl<T: Send + Sync + 'static> sealed::Sealed for Handle<T> {}

impl<T: Send + Sync + 'static> Deps for Handle<T> {
    type Refs<'a> = &'a T;
    type Places = Typed<T>;

    fn handles(&self, out: &mut Vec<(u64, u32)>) {
        out.push((self.builder, self.slot));
    }

    fn places(&self, layout: &Layout) -> Typed<T> {
        layout.typed(self.slot)
    }

    #[inline(always)]
    fn with<R>(
        place: &Typed<T>,
        store: &Store,
        access: &Access<'_>,
        f: impl for<'b> FnOnce(&'b T) -> R,
    ) -> Option<R> {
        Some(f(store.get(*place, access)?))
    }
}

/// Slices of handles of one type: one group, the rows in order.
macro_rules! slices {
    ($([$($generics:tt)*] $ty:ty;)*) => {$(
        impl<$($generics)*> sealed::Sealed for $ty {}

        impl<$($generics)*> Deps for $ty {
            type Refs<'a> = &'a [&'a T];
            type Places = Rows<T>;

            fn handles(&self, out: &mut Vec<(u64, u32)>) {
                out.extend(self.iter().map(|h| (h.builder, h.slot)));
            }

            fn places(&self, layout: &Layout) -> Rows<T> {
                let decls: Vec<u32> = self.iter().map(|h| h.slot).collect();
                layout.rows(&decls)
            }

            #[inline(always)]
            fn with<R>(
                rows: &Rows<T>,
                store: &Store,
                access: &Access<'_>,
                f: impl for<'b> FnOnce(&'b [&'b T]) -> R,
            ) -> Option<R> {
                store.with_rows(rows, access, f)
            }
        }
    )*};
}

slices! {
    ['h, T: Send + Sync + 'static, const N: usize] &'h [Handle<T>; N];
    ['h, T: Send + Sync + 'static] &'h [Handle<T>];
    ['h, T: Send + Sync + 'static] &'h Vec<Handle<T>>;
}

macro_rules! tuples {
    ($(($($ty:ident $index:tt),*))*) => {$(
        impl<$($ty: Send + Sync + 'static),*> sealed::Sealed for ($(Handle<$ty>,)*) {}

        impl<$($ty: Send + Sync + 'static),*> Deps for ($(Handle<$ty>,)*) {
            type Refs<'a> = ($(&'a $ty,)*);
            type Places = ($(Typed<$ty>,)*);

            fn handles(&self, out: &mut Vec<(u64, u32)>) {
                $(out.push((self.$index.builder, self.$index.slot));)*
            }

            fn places(&self, layout: &Layout) -> Self::Places {
                ($(layout.typed::<$ty>(self.$index.slot),)*)
            }

            #[inline(always)]
            fn with<R>(
                places: &Self::Places,
                store: &Store,
                access: &Access<'_>,
                f: impl for<'b> FnOnce(($(&'b $ty,)*)) -> R,
            ) -> Option<R> {
                Some(f(($(store.get(places.$index, access)?,)*)))
            }
        }
    )*};
}

tuples! {
    (A 0)
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
    (A 0, B 1, C 2, D 3, E 4)
    (A 0, B 1, C 2, D 3, E 4, F 5)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10)
    (A 0, B 1, C 2, D 3, E 4, F 5, G 6, H 7, I 8, J 9, K 10, L 11)
}
