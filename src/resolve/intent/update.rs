//! Resolving `UpdateFields`: one named record, or every record a filter matches (held, or streamed when large).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `UpdateFields` clause.
    pub(in crate::resolve) async fn update_record(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::UpdateFields {
            target: Target::Record(r),
            changes,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let objs: Vec<&str> = match r.object {
            Some(o) => vec![o.api_name()],
            None => self.objects_for_changes(changes),
        };
        // When the object is known, describe first so the lookup reads the old values too.
        let extra = if objs.len() == 1 {
            self.field_names(objs[0], changes).await?
        } else {
            Vec::new()
        };
        let n = self.reference(r, named, &objs, &extra).await?;
        let Named::Existing(found) = &n else {
            return Err(ResolveError::Invalid(
                "can't update a record before it exists; say it in the create".into(),
            ));
        };
        let step = self.update_step(found, changes, steps).await?;
        if !step.fields.is_empty() {
            steps.push(step);
        }
        Ok(Some(n))
    }

    /// Resolves one `UpdateFields` clause.
    pub(in crate::resolve) async fn update_filter(
        &mut self,
        intent: &Intent,
        _named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::UpdateFields {
            target: Target::Filter(f),
            changes,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let large_above = out.large_above;
        let steps = &mut *out.steps;
        let bulk = &mut *out.bulk;
        *bulk = true;
        let object = filter::object_of(f);
        let extra = self.field_names(object, changes).await?;
        let rows = match self.filter_page(f, &extra, large_above).await? {
            filter::Rows::All(rows) => rows,
            filter::Rows::Large(page) => {
                let rules = self.change_rules(object, changes).await?;
                *out.stream = Some(page.source(object, intent.name(), rules));
                return Ok(None);
            }
        };
        for row in rows {
            let found = found_of(object, row);
            let step = self.update_step(&found, changes, steps).await?;
            if !step.fields.is_empty() {
                steps.push(step);
            }
        }
        Ok(None)
    }
}
