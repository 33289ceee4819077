//! One file per intent (or family of intents): how each kind of clause becomes steps. Each intent
//! implements [`Resolve`]; `Resolver::clause` dispatches to it.

use super::{ClauseCx, Named, ResolveError, Resolver};

/// What resolving one clause gives: the record it names or creates (for later clauses' "it"), if any.
pub(in crate::resolve) type Resolved = Result<Option<Named>, ResolveError>;

/// How one kind of clause becomes steps (pushed to `cx.steps`), resolved against the org by
/// `resolver`.
pub(in crate::resolve) trait Resolve {
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved;
}

mod contact_role;
mod create;
mod note;
mod reassign;
mod task;
mod update;
