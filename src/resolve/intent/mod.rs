//! One file per intent (or family of intents): how each kind of clause becomes steps. Each file adds
//! methods to [`Resolver`](super::Resolver); `Resolver::clause` dispatches to them.

mod contact_role;
mod create;
mod note;
mod reassign;
mod task;
mod update;
