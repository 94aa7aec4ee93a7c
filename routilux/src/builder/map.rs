//! Map steps of a [`Builder`]: a closure called once per element of a collection, in
//! parallel, with per-element retries and undo (see `crate::map` for how elements run).

use std::any::Any;
use std::sync::{Arc, OnceLock};

use super::store::mismatch;
use super::{
    Body, BuildError, Builder, Condition, Deps, ErasedUndo, Handle, SkipMaker, StepFn, UndoFn,
    ValueUndo, boxed, undos,
};
use crate::error::{BoxError, ElementFailed};
use crate::map::{MapOptions, map};
use crate::policy::Policy;
use crate::step::Compensation;

/// The undo of one element.
type ElementUndo<O> = Arc<dyn Fn(&O) -> Result<(), BoxError> + Send + Sync>;

/// A map step's closures: its call, and its undo (from the store and given the value).
type MapClosures = (StepFn, Option<(UndoFn, ErasedUndo)>);

/// Makes a map step's closures once its settings are final.
type MakeMap =
    Box<dyn FnOnce(MapOptions, Option<Box<dyn Any + Send + Sync>>) -> MapClosures + Send + Sync>;

/// A map step being declared.
pub(super) struct MapDecl {
    batch: Option<usize>,
    limit: Option<usize>,
    /// The element undo, an `ElementUndo<O>`.
    undo: Option<Box<dyn Any + Send + Sync>>,
    make: MakeMap,
}

impl MapDecl {
    /// The step's policy, its call and its undo, from the element policy `policy`.
    pub(super) fn compile(
        self,
        policy: Policy,
    ) -> (Policy, StepFn, Option<UndoFn>, Option<ErasedUndo>) {
        let element = policy.__flags(self.undo.is_some(), false, false);
        let options = MapOptions::new(element, self.batch, self.limit);
        let (call, undo) = (self.make)(options, self.undo);
        let (undo, value_undo) = undo.unzip();
        (element.__map_step(), call, undo, value_undo)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The result of a map step: `Vec<O>`, or `Option<Vec<O>>` for a conditional one; names the
/// element type `O` for [`Builder::undo_each`].
pub trait MapOutput: sealed::Sealed + Send + Sync + 'static {
    /// The type of one element.
    type Element: Send + Sync + 'static;

    /// The elements, if any. Not public API.
    #[doc(hidden)]
    fn elements(&self) -> &[Self::Element];

    /// The result of a map that produced `values`. Not public API.
    #[doc(hidden)]
    fn wrap(values: Vec<Self::Element>) -> Self;
}

impl<O: Send + Sync + 'static> sealed::Sealed for Vec<O> {}

impl<O: Send + Sync + 'static> MapOutput for Vec<O> {
    type Element = O;

    fn elements(&self) -> &[O] {
        self
    }

    #[inline]
    fn wrap(values: Vec<O>) -> Self {
        values
    }
}

impl<O: Send + Sync + 'static> sealed::Sealed for Option<Vec<O>> {}

impl<O: Send + Sync + 'static> MapOutput for Option<Vec<O>> {
    type Element = O;

    fn elements(&self) -> &[O] {
        self.as_deref().unwrap_or_default()
    }

    #[inline]
    fn wrap(values: Vec<O>) -> Self {
        Some(values)
    }
}

/// An element's value with its undo, so that the map can undo completed elements when a
/// later element fails (the map takes a function pointer).
struct Tagged<'u, O> {
    value: O,
    undo: &'u (dyn Fn(&O) -> Result<(), BoxError> + Send + Sync),
}

fn undo_tagged<O>(tagged: &Tagged<'_, O>) -> Result<(), BoxError> {
    (tagged.undo)(&tagged.value)
}

fn no_undo<O>(_: &O) -> Result<(), BoxError> {
    Ok(())
}

/// Builder map steps do not compensate: a failed element is retried while it has attempts.
fn retry<O>(_: &BoxError) -> Compensation<O> {
    Compensation::Retry
}

/// Undoes every element of a completed map step, newest first; the first error is returned,
/// with how many failed (as `crate::map::undo_each`).
fn undo_all<O>(values: &[O], undo: &dyn Fn(&O) -> Result<(), BoxError>) -> Result<(), BoxError> {
    let mut first: Option<BoxError> = None;
    let mut failed = 0usize;
    for (i, value) in values.iter().enumerate().rev() {
        if let Err(error) = undo(value) {
            failed += 1;
            first.get_or_insert(Box::new(ElementFailed::new(i, false, error)));
        }
    }
    match first {
        None => Ok(()),
        Some(error) if failed == 1 => Err(error),
        Some(error) => Err(format!("{error} (and {} other elements)", failed - 1).into()),
    }
}

/// Runs the map of one step: `f` on every element of `items` with the step's other arguments
/// `refs`.
fn run_map<T, O, R: Copy + Sync>(
    items: &[T],
    refs: R,
    options: MapOptions,
    undo: Option<&ElementUndo<O>>,
    f: &(dyn Fn(&T, R) -> Result<O, BoxError> + Sync),
) -> Result<Vec<O>, BoxError>
where
    T: Sync,
    O: Send + Sync,
{
    let continued = OnceLock::new();
    match undo {
        None => map(
            items,
            options,
            &|item| f(item, refs),
            retry,
            no_undo,
            &continued,
        ),
        Some(undo) => {
            let undo = &**undo;
            let call = |item: &T| f(item, refs).map(|value| Tagged { value, undo });
            let tagged = map(items, options, &call, retry, undo_tagged, &continued)?;
            Ok(tagged.into_iter().map(|t| t.value).collect())
        }
    }
}

impl Builder {
    /// Declares a map step whose result is a `S` (a [`MapOutput`]).
    pub(super) fn add_map<C, T, D, S, F>(
        &mut self,
        name: String,
        items: Handle<C>,
        deps: &D,
        condition: Option<(Condition, SkipMaker)>,
        f: F,
    ) -> Result<Handle<S>, BuildError>
    where
        C: AsRef<[T]> + Send + Sync + 'static,
        T: Sync + 'static,
        D: Deps,
        S: MapOutput,
        F: Fn(&T, D::Refs<'_>) -> Result<S::Element, BoxError> + Send + Sync + 'static,
    {
        let mut handles = vec![(items.builder, items.slot)];
        deps.handles(&mut handles);
        let begun = self.begin::<S>(&name, handles, condition)?;
        let items = self.layout.typed::<C>(items.slot);
        let places = deps.places(&self.layout);
        let out = begun.out;
        let make: MakeMap = Box::new(move |options, undo| {
            let undo: Option<ElementUndo<S::Element>> = undo
                .and_then(|u| u.downcast::<ElementUndo<S::Element>>().ok())
                .map(|u| *u);
            let undo_step = undo.clone().map(|undo| {
                let undo: ValueUndo<S> =
                    Arc::new(move |values: &S| undo_all(values.elements(), &*undo));
                undos(out, undo)
            });
            let call: StepFn = Box::new(move |store, access| {
                let collection = store.get(items, access).ok_or_else(mismatch)?;
                let values = D::with(&places, store, access, |refs| {
                    run_map(collection.as_ref(), refs, options, undo.as_ref(), &f)
                })
                .ok_or_else(mismatch)??;
                store.set(out, access, S::wrap(values))
            });
            (call, undo_step)
        });
        let body = Body::Map(MapDecl {
            batch: None,
            limit: None,
            undo: None,
            make,
        });
        Ok(self.push(name, "map", begun, body))
    }
}

/// A closure of a map step without other arguments, its error boxed.
pub(super) fn plain<T, O, Err: std::error::Error + Send + Sync + 'static>(
    f: impl Fn(&T) -> Result<O, Err> + Send + Sync + 'static,
) -> impl Fn(&T, ()) -> Result<O, BoxError> + Send + Sync + 'static {
    move |item, ()| f(item).map_err(boxed)
}

impl Builder {
    /// Declares a map step: `f` is called once per element of `items` (a `Vec<T>`, an array,
    /// a boxed slice: anything `AsRef<[T]>`), in parallel on the run's pool, and the step's
    /// result holds the results in the order of the elements. As in `flow!`:
    ///
    /// * [`retries`](Self::retries) apply to each element on its own;
    /// * [`batch`](Self::batch) and [`max_concurrency`](Self::max_concurrency) set how
    ///   elements are claimed and how many run at once;
    /// * [`undo_each`](Self::undo_each) makes elements undoable: when an element fails for
    ///   good, the completed ones are undone (newest first) and the step fails with the
    ///   element's index ([`FlowError::element`](crate::FlowError::element)); when the run
    ///   fails later, every element is undone.
    ///
    /// ```
    /// use routilux::{Builder, Schedule};
    /// use std::convert::Infallible;
    ///
    /// let mut b = Builder::new("Squares");
    /// let xs = b.input::<Vec<u64>>("xs")?;
    /// let squares = b.map("squares", xs, |x: &u64| Ok::<_, Infallible>(x * x))?;
    /// b.max_concurrency(squares, 2)?;
    /// b.output(squares);
    /// let flow = b.build();
    ///
    /// let mut inputs = flow.inputs();
    /// inputs.set(xs, (1..=4).collect());
    /// let mut out = flow.run(inputs, Schedule::Dataflow)?;
    /// assert_eq!(out.take(squares), Some(vec![1, 4, 9, 16]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`BuildError::DuplicateName`] if the name is taken, [`BuildError::ForeignHandle`] if
    /// `items` comes from another builder.
    pub fn map<C, T, O, Err, F>(
        &mut self,
        name: impl Into<String>,
        items: Handle<C>,
        f: F,
    ) -> Result<Handle<Vec<O>>, BuildError>
    where
        C: AsRef<[T]> + Send + Sync + 'static,
        T: Sync + 'static,
        O: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&T) -> Result<O, Err> + Send + Sync + 'static,
    {
        self.add_map(name.into(), items, &(), None, plain(f))
    }

    /// Declares a map step like [`map`](Self::map) whose closure also receives the values
    /// of `deps` (the same for every element; see [`Deps`] for their shapes).
    ///
    /// # Errors
    /// As [`map`](Self::map); [`BuildError::ForeignHandle`] also for `deps`.
    pub fn map_with<C, T, D, O, Err, F>(
        &mut self,
        name: impl Into<String>,
        items: Handle<C>,
        deps: D,
        f: F,
    ) -> Result<Handle<Vec<O>>, BuildError>
    where
        C: AsRef<[T]> + Send + Sync + 'static,
        T: Sync + 'static,
        D: Deps,
        O: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&T, D::Refs<'_>) -> Result<O, Err> + Send + Sync + 'static,
    {
        self.add_map(name.into(), items, &deps, None, move |item, refs| {
            f(item, refs).map_err(boxed)
        })
    }

    /// The map step behind `step`.
    fn map_decl<U>(
        &mut self,
        step: Handle<U>,
        operation: &'static str,
    ) -> Result<&mut MapDecl, BuildError> {
        let flow = self.name.clone();
        let declared = self.declared(step, operation)?;
        match &mut declared.body {
            Body::Map(map) => Ok(map),
            Body::Step { .. } => Err(BuildError::NotAMap {
                flow,
                name: declared.name.clone(),
                operation,
            }),
        }
    }

    /// Makes the workers of map step `step` claim `batch` consecutive elements at a time
    /// (zero counts as one). Without it, claims start large and shrink to single elements
    /// as the map nears its end.
    ///
    /// # Errors
    /// [`BuildError::OtherFlow`] if `step` comes from another builder,
    /// [`BuildError::NotAStep`] if it is an input, [`BuildError::NotAMap`] if it is not a
    /// map step.
    pub fn batch<U>(&mut self, step: Handle<U>, batch: usize) -> Result<(), BuildError> {
        self.map_decl(step, "Builder::batch")?.batch = Some(batch);
        Ok(())
    }

    /// Runs at most `limit` elements of map step `step` at once (zero counts as one; the
    /// default is the number of threads of the pool).
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub fn max_concurrency<U>(&mut self, step: Handle<U>, limit: usize) -> Result<(), BuildError> {
        self.map_decl(step, "Builder::max_concurrency")?.limit = Some(limit);
        Ok(())
    }

    /// Makes the elements of map step `step` undoable with `undo`: see [`map`](Self::map).
    /// Element undos that fail are reported together, as one undo error of the step.
    ///
    /// # Errors
    /// As [`batch`](Self::batch).
    pub fn undo_each<V, Err, F>(&mut self, step: Handle<V>, undo: F) -> Result<(), BuildError>
    where
        V: MapOutput,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&V::Element) -> Result<(), Err> + Send + Sync + 'static,
    {
        let undo: ElementUndo<V::Element> = Arc::new(move |value| undo(value).map_err(boxed));
        self.map_decl(step, "Builder::undo_each")?.undo = Some(Box::new(undo));
        Ok(())
    }
}
