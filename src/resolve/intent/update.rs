//! Resolving `UpdateFields`: one named record, or every record a filter matches (held, or streamed when large).
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::lang::UpdateFields;
use crate::resolve::*;

impl Resolve for UpdateFields {
    /// Resolves one `UpdateFields` clause: on the record named, or on every record the filter matches.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        match &self.target {
            Target::Record(r) => resolver.update_record(r, &self.changes, cx).await,
            Target::Filter(f) => resolver.update_filter(f, &self.changes, cx).await,
        }
    }
}

impl Resolver<'_> {
    /// Resolves one `UpdateFields` clause on a named record.
    async fn update_record(
        &mut self,
        r: &RecordRef,
        changes: &[FieldChange],
        cx: &mut ClauseCx<'_>,
    ) -> Resolved {
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
        let n = self.reference(r, cx.named, &objs, &extra).await?;
        let Named::Existing(found) = &n else {
            return Err(ResolveError::Invalid(
                "can't update a record before it exists; say it in the create".into(),
            ));
        };
        let step = self.update_step(found, changes, cx.steps).await?;
        push_change(cx.steps, step);
        Ok(Some(n))
    }

    /// Resolves one `UpdateFields` clause on every record a filter matches.
    async fn update_filter(
        &mut self,
        f: &RecordFilter,
        changes: &[FieldChange],
        cx: &mut ClauseCx<'_>,
    ) -> Resolved {
        *cx.bulk = true;
        let object = filter::object_of(f);
        let extra = self.field_names(object, changes).await?;
        let rows = match self.filter_page(f, &extra, cx.large_above).await? {
            filter::Rows::All(rows) => rows,
            filter::Rows::Large(page) => {
                let rules = self.change_rules(object, changes).await?;
                *cx.stream = Some(page.source(object, cx.intent, rules));
                return Ok(None);
            }
        };
        for row in rows {
            let found = found_of(object, row);
            let step = self.update_step(&found, changes, cx.steps).await?;
            push_change(cx.steps, step);
        }
        Ok(None)
    }
}
