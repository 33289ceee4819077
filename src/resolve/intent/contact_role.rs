//! Resolving `AddContactRole`: an OpportunityContactRole between a contact and a deal.
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `AddContactRole` clause.
    pub(in crate::resolve) async fn add_contact_role(
        &mut self,
        x: &AddContactRole,
        cx: &mut ClauseCx<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let d = self
            .describe_creatable("OpportunityContactRole", "add contact roles")
            .await?;
        let c = self
            .reference(&x.contact, cx.named, &["Contact"], &[])
            .await?;
        let opp = RecordRef {
            object: Some(ObjectKind::Opportunity),
            ..x.opportunity.clone()
        };
        let o = self
            .reference(&opp, cx.named, &["Opportunity"], &[])
            .await?;
        let mut fields = BTreeMap::new();
        fields.insert("OpportunityId".into(), o.val());
        fields.insert("ContactId".into(), c.val());
        if let Some(role) = &x.role
            && let Some(f) = d.field("Role")
        {
            fields.insert(
                "Role".into(),
                Val::Lit(json!(field::match_picklist(f, role)?)),
            );
        }
        let name = format!("{} on {}", c.name(), o.name());
        self.push_create(&d, cx.steps, "OpportunityContactRole", name, fields)?;
        Ok(Some(o))
    }
}
