//! Resolving `AddContactRole`: an OpportunityContactRole between a contact and a deal.
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `AddContactRole` clause.
    pub(in crate::resolve) async fn add_contact_role(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::AddContactRole {
            contact,
            opportunity,
            role,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let d = self.describe_for_create("OpportunityContactRole").await?;
        if !d.createable {
            return Err(ResolveError::Denied("you can't add contact roles".into()));
        }
        let c = self.reference(contact, named, &["Contact"], &[]).await?;
        let mut opp = opportunity.clone();
        opp.object = Some(ObjectKind::Opportunity);
        let o = self.reference(&opp, named, &["Opportunity"], &[]).await?;
        let mut fields = BTreeMap::new();
        fields.insert("OpportunityId".into(), o.val());
        fields.insert("ContactId".into(), c.val());
        if let Some(role) = role
            && let Some(f) = d.field("Role")
        {
            fields.insert(
                "Role".into(),
                Val::Lit(json!(field::match_picklist(f, role)?)),
            );
        }
        self.check_fields(&d, &fields, true)?;
        let reference = Self::next_ref(steps);
        let name = format!("{} on {}", c.name(), o.name());
        steps.push(create_step(
            "OpportunityContactRole",
            &name,
            reference.clone(),
            fields,
        ));
        Ok(Some(o))
    }
}
