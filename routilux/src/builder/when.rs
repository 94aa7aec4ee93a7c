//! Conditional steps: [`Builder::when`] and [`When`].

use super::map::plain;
use super::store::Layout;
use super::{BuildError, Builder, Condition, Deps, Handle, SkipFn, SkipMaker, boxed};

/// Declares conditional steps: see [`Builder::when`].
#[derive(Debug)]
pub struct When<'b> {
    builder: &'b mut Builder,
    condition: Condition,
}

impl Builder {
    /// Declares steps that run only when `condition` holds: a `Handle<bool>` (`b.when(flag)`)
    /// or its negation (`b.when(!flag)`). A skipped step stores `None` (its result is an
    /// `Option`), observers hear [`step_skipped`](crate::Observer::step_skipped), and it is
    /// never undone; steps that take its result still run.
    ///
    /// ```
    /// use routilux::{Builder, Schedule};
    /// use std::convert::Infallible;
    ///
    /// let mut b = Builder::new("Greet");
    /// let loud = b.input::<bool>("loud")?;
    /// let shout = b.when(loud).step("shout", (), |()| Ok::<_, Infallible>("HI"))?;
    /// let say = b.when(!loud).step("say", (), |()| Ok::<_, Infallible>("hi"))?;
    /// b.output(shout);
    /// b.output(say);
    /// let flow = b.build();
    ///
    /// let mut inputs = flow.inputs();
    /// inputs.set(loud, true);
    /// let mut out = flow.run(inputs, Schedule::Sequential)?;
    /// assert_eq!((out.take(shout), out.take(say)), (Some(Some("HI")), Some(None)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn when(&mut self, condition: impl Into<Condition>) -> When<'_> {
        When {
            builder: self,
            condition: condition.into(),
        }
    }
}

/// The skip test of a conditional step whose result is an `Option<U>`: skipped when the flag
/// is `negated`, storing `None`.
pub(super) fn skip_fn<U: Send + Sync + 'static>(
    layout: &Layout,
    flag: u32,
    negated: bool,
    out: u32,
) -> SkipFn {
    let (flag, out) = (layout.typed::<bool>(flag), layout.typed::<Option<U>>(out));
    Box::new(move |store, access| {
        // A flag that cannot be read (ruled out by typed handles) runs the step.
        let skip = store
            .get::<bool>(flag, access)
            .is_some_and(|&flag| flag == negated);
        skip && store.set(out, access, None).is_ok()
    })
}

impl<'b> When<'b> {
    /// The builder and the condition.
    pub(super) fn into_parts(self) -> (&'b mut Builder, Condition) {
        (self.builder, self.condition)
    }

    /// Declares a step like [`Builder::step`] that runs only when the condition holds; its
    /// result is `Some` of `f`'s, or `None` when it was skipped.
    ///
    /// # Errors
    /// As [`Builder::step`]; [`BuildError::ForeignHandle`] also for a condition from another
    /// builder.
    pub fn step<D, U, Err, F>(
        self,
        name: impl Into<String>,
        deps: D,
        f: F,
    ) -> Result<Handle<Option<U>>, BuildError>
    where
        D: Deps,
        U: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(D::Refs<'_>) -> Result<U, Err> + Send + Sync + 'static,
    {
        let condition = Some((self.condition, skip_fn::<U> as SkipMaker));
        self.builder
            .add_step(name.into(), "closure", &deps, condition, move |refs| {
                f(refs).map(Some).map_err(boxed)
            })
    }
}

impl When<'_> {
    /// Declares a map step like [`Builder::map`] that runs only when the condition holds;
    /// its result is `None` when it was skipped.
    ///
    /// # Errors
    /// As [`Builder::map`]; [`BuildError::ForeignHandle`] also for a condition from another
    /// builder.
    pub fn map<C, T, O, Err, F>(
        self,
        name: impl Into<String>,
        items: Handle<C>,
        f: F,
    ) -> Result<Handle<Option<Vec<O>>>, BuildError>
    where
        C: AsRef<[T]> + Send + Sync + 'static,
        T: Sync + 'static,
        O: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&T) -> Result<O, Err> + Send + Sync + 'static,
    {
        let condition = Some((self.condition, skip_fn::<Vec<O>> as SkipMaker));
        self.builder
            .add_map(name.into(), items, &(), condition, plain(f))
    }

    /// Declares a map step like [`Builder::map_with`] that runs only when the condition
    /// holds; its result is `None` when it was skipped.
    ///
    /// # Errors
    /// As [`When::map`].
    pub fn map_with<C, T, D, O, Err, F>(
        self,
        name: impl Into<String>,
        items: Handle<C>,
        deps: D,
        f: F,
    ) -> Result<Handle<Option<Vec<O>>>, BuildError>
    where
        C: AsRef<[T]> + Send + Sync + 'static,
        T: Sync + 'static,
        D: Deps,
        O: Send + Sync + 'static,
        Err: std::error::Error + Send + Sync + 'static,
        F: Fn(&T, D::Refs<'_>) -> Result<O, Err> + Send + Sync + 'static,
    {
        let condition = Some((self.condition, skip_fn::<Vec<O>> as SkipMaker));
        self.builder
            .add_map(name.into(), items, &deps, condition, move |item, refs| {
                f(item, refs).map_err(boxed)
            })
    }
}
