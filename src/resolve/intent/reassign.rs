//! Resolving `Reassign`: a new owner for one record or every record a filter matches.
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `Reassign` clause.
    pub(in crate::resolve) async fn reassign(
        &mut self,
        x: &Reassign,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let user = self.find_user(&x.owner).await?;
        self.set_field_on(&x.target, &ANY_OBJECT, "OwnerId", json!(user.id), cx)
            .await
    }
}
