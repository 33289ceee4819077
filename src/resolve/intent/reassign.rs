//! Resolving `Reassign`: a new owner for one record or every record a filter matches.
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolve for Reassign {
    /// Resolves one `Reassign` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let user = resolver.find_user(&self.owner).await?;
        resolver
            .set_field_on(&self.target, &ANY_OBJECT, "OwnerId", json!(user.id), cx)
            .await
    }
}
