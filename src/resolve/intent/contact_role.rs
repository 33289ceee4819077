//! Resolving `AddContactRole`: an OpportunityContactRole between a contact and a deal.
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolve for AddContactRole {
    /// Resolves one `AddContactRole` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let d = resolver
            .describe_creatable("OpportunityContactRole", "add contact roles")
            .await?;
        let c = resolver
            .reference(&self.contact, cx.named, &["Contact"], &[])
            .await?;
        let opp = RecordRef {
            object: Some(ObjectKind::Opportunity),
            ..self.opportunity.clone()
        };
        let o = resolver
            .reference(&opp, cx.named, &["Opportunity"], &[])
            .await?;
        let mut fields = BTreeMap::new();
        fields.insert("OpportunityId".into(), o.val());
        fields.insert("ContactId".into(), c.val());
        if let Some(role) = &self.role
            && let Some(f) = d.field("Role")
        {
            fields.insert(
                "Role".into(),
                Val::Lit(json!(field::match_picklist(f, role)?)),
            );
        }
        let name = format!("{} on {}", c.name(), o.name());
        resolver.push_create(&d, cx.steps, "OpportunityContactRole", name, fields)?;
        Ok(Some(o))
    }
}
