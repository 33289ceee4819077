//! Resolving `Reassign`: a new owner for one record or every record a filter matches.
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `Reassign` clause.
    pub(in crate::resolve) async fn reassign(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::Reassign { target, owner } = intent else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let large_above = out.large_above;
        let steps = &mut *out.steps;
        let bulk = &mut *out.bulk;
        let user = self.find_user(owner).await?;
        match target {
            Target::Record(r) => {
                let objs = objects_of(r.object, &ANY_OBJECT);
                let extra = vec!["OwnerId".to_string()];
                let n = self.reference(r, named, &objs, &extra).await?;
                let Named::Existing(found) = &n else {
                    return Ok(Some(n));
                };
                let step = self
                    .update_literal(found, "OwnerId", json!(user.id), steps)
                    .await?;
                if !step.fields.is_empty() {
                    steps.push(step);
                }
                Ok(Some(n))
            }
            Target::Filter(f) => {
                *bulk = true;
                let object = filter::object_of(f);
                let owner = ["OwnerId".to_string()];
                let rows = match self.filter_page(f, &owner, large_above).await? {
                    filter::Rows::All(rows) => rows,
                    filter::Rows::Large(page) => {
                        let rule = self.fixed_rule(object, "OwnerId", json!(user.id)).await?;
                        *out.stream = Some(page.source(object, intent.name(), vec![rule]));
                        return Ok(None);
                    }
                };
                for row in rows {
                    let found = found_of(object, row);
                    let step = self
                        .update_literal(&found, "OwnerId", json!(user.id), steps)
                        .await?;
                    if !step.fields.is_empty() {
                        steps.push(step);
                    }
                }
                Ok(None)
            }
        }
    }
}
