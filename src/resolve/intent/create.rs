//! Resolving Create clauses: `CreateCase` and `CreateRecord` (leads, contacts, accounts, opportunities).
//!
//! Each intent implements [`Resolve`]; `Resolver::clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolve for CreateCase {
    /// Resolves one `CreateCase` clause: subject, account, contact and priority as said.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let d = resolver.describe_creatable("Case", "open cases").await?;
        let mut fields = BTreeMap::new();
        let subject = capitalise(self.subject.trim());
        fields.insert("Subject".into(), Val::Lit(json!(subject)));
        if let Some(r) = &self.account {
            let r = RecordRef {
                object: Some(ObjectKind::Account),
                ..r.clone()
            };
            let n = resolver.reference(&r, cx.named, &["Account"], &[]).await?;
            fields.insert("AccountId".into(), n.val());
        }
        if let Some(r) = &self.contact {
            let n = resolver.reference(r, cx.named, &["Contact"], &[]).await?;
            fields.insert("ContactId".into(), n.val());
        }
        resolver.put_priority(&d, self.priority, "medium", &mut fields);
        let case = resolver.push_create(&d, cx.steps, "Case", subject, fields)?;
        Ok(Some(case))
    }
}

impl Resolve for CreateRecord {
    /// Resolves one `CreateRecord` clause.
    async fn resolve(&self, resolver: &mut Resolver<'_>, cx: &mut ClauseCx<'_>) -> Resolved {
        let sobject = self.object.api_name();
        let d = resolver
            .describe_creatable(sobject, &format!("create {sobject} records"))
            .await?;
        let mut fields = BTreeMap::new();
        let account_n = match &self.account {
            Some(r) if sobject != "Lead" => {
                let r = RecordRef {
                    object: Some(ObjectKind::Account),
                    ..r.clone()
                };
                Some(resolver.reference(&r, cx.named, &["Account"], &[]).await?)
            }
            _ => None,
        };
        let mut display = String::new();
        match sobject {
            "Contact" | "Lead" => display = resolver.person_fields(self, &d, &mut fields)?,
            "Opportunity" => {
                fields.insert(
                    "StageName".into(),
                    Val::Lit(json!(resolver.picklist_value(&d, "StageName", ""))),
                );
            }
            _ => {}
        }
        if let Some(a) = &account_n {
            fields.insert("AccountId".into(), a.val());
        }
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(resolver.me)));
        }
        for change in &self.fields {
            let f = match &change.field {
                Some(fr) => find_field(&d, fr)?,
                None => field_for_value(&d, &change.value)?,
            };
            check_writable(&d, f, true)?;
            let v = match coerce(f, change, None)? {
                FieldValue::Literal(j) => Val::Lit(j),
                FieldValue::Lookup { objects, name } => {
                    Val::Lit(json!(resolver.lookup(&objects, &name).await?.id))
                }
            };
            fields.insert(f.name.clone(), v);
        }
        if sobject == "Opportunity" {
            if !fields.contains_key("CloseDate") {
                fields.insert(
                    "CloseDate".into(),
                    Val::Lit(json!(
                        end_of_quarter(resolver.today)
                            .format("%Y-%m-%d")
                            .to_string()
                    )),
                );
            }
            let opp_name = self
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| resolver.opportunity_name(account_n.as_ref(), &fields));
            fields.insert("Name".into(), Val::Lit(json!(opp_name)));
            display = opp_name;
        } else if sobject == "Account" {
            let n = self
                .name
                .clone()
                .or_else(|| self.company.clone())
                .ok_or_else(|| ResolveError::Invalid("a new account needs a name".into()))?;
            fields.insert("Name".into(), Val::Lit(json!(n)));
            display = n;
        }
        let record = resolver.push_create(&d, cx.steps, sobject, display, fields)?;
        Ok(Some(record))
    }
}

impl Resolver<'_> {
    /// A new contact's or lead's name fields (and a lead's company and status); returns the name
    /// to show.
    fn person_fields(
        &self,
        x: &CreateRecord,
        d: &ObjectDescribe,
        fields: &mut BTreeMap<String, Val>,
    ) -> Result<String, ResolveError> {
        let sobject = x.object.api_name();
        let p = x
            .person
            .clone()
            .or_else(|| columns::unnamed_lead(sobject, &x.company))
            .ok_or_else(|| ResolveError::Invalid(format!("a new {sobject} needs a name")))?;
        if let Some(first) = &p.first {
            fields.insert("FirstName".into(), Val::Lit(json!(first)));
        }
        fields.insert("LastName".into(), Val::Lit(json!(p.last)));
        let display = match (&x.person, &x.company) {
            (None, Some(c)) => c.clone(),
            _ => format!("{} {}", p.first.clone().unwrap_or_default(), p.last)
                .trim()
                .to_string(),
        };
        if sobject == "Lead" {
            let comp = x
                .company
                .clone()
                .or_else(|| x.account.as_ref().map(|a| a.text.clone()))
                .filter(|c| !c.trim().is_empty())
                .ok_or_else(|| {
                    ResolveError::Invalid("a new lead needs a company (\"from ACME\")".into())
                })?;
            fields.insert("Company".into(), Val::Lit(json!(comp)));
            fields.insert(
                "Status".into(),
                Val::Lit(json!(self.picklist_value(d, "Status", "open"))),
            );
        }
        Ok(display)
    }

    /// A new opportunity's name when none was said: its account (or "New") and its amount (or
    /// close date).
    fn opportunity_name(&self, account: Option<&Named>, fields: &BTreeMap<String, Val>) -> String {
        let base = account
            .map(|a| a.name().to_string())
            .unwrap_or_else(|| "New".into());
        let suffix = match fields.get("Amount") {
            Some(Val::Lit(a)) if a.as_f64().is_some() => format_money(a.as_f64().unwrap_or(0.0)),
            _ => match fields.get("CloseDate") {
                Some(Val::Lit(Json::String(d))) => d.clone(),
                _ => self.today.to_string(),
            },
        };
        format!("{base} - {suffix}")
    }
}
