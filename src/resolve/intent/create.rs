//! Resolving Create clauses: `CreateCase` and `CreateRecord` (leads, contacts, accounts, opportunities).
//!
//! One method per intent on [`Resolver`]; `clause` in the parent module dispatches here.

use crate::resolve::*;

impl Resolver<'_> {
    /// Resolves one `CreateCase` clause.
    pub(in crate::resolve) async fn create_case(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::CreateCase {
            account,
            contact,
            subject,
            priority,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let c = activity::NewCase {
            account: account.as_ref(),
            contact: contact.as_ref(),
            subject,
            priority: *priority,
        };
        self.case(c, named, steps).await
    }

    /// Resolves one `CreateRecord` clause.
    pub(in crate::resolve) async fn create_record(
        &mut self,
        intent: &Intent,
        named: &[Option<Named>],
        out: &mut ClauseOut<'_>,
    ) -> Result<Option<Named>, ResolveError> {
        let Intent::CreateRecord {
            object,
            person,
            name,
            account,
            company,
            fields: said_fields,
        } = intent
        else {
            return Err(ResolveError::wrong_intent(intent));
        };
        let steps = &mut *out.steps;
        let sobject = object.api_name();
        let d = self.describe_for_create(sobject).await?;
        if !d.createable {
            return Err(ResolveError::Denied(format!(
                "you can't create {sobject} records"
            )));
        }
        let mut fields = BTreeMap::new();
        let account_n = match account {
            Some(r) if sobject != "Lead" => {
                let mut r = r.clone();
                r.object = Some(ObjectKind::Account);
                Some(self.reference(&r, named, &["Account"], &[]).await?)
            }
            _ => None,
        };
        let mut display = String::new();
        match sobject {
            "Contact" | "Lead" => {
                let p = person.clone().ok_or_else(|| {
                    ResolveError::Invalid(format!("a new {sobject} needs a name"))
                })?;
                if let Some(first) = &p.first {
                    fields.insert("FirstName".into(), Val::Lit(json!(first)));
                }
                fields.insert("LastName".into(), Val::Lit(json!(p.last)));
                display = format!("{} {}", p.first.clone().unwrap_or_default(), p.last)
                    .trim()
                    .to_string();
                if sobject == "Lead" {
                    let comp = company
                        .clone()
                        .or_else(|| account.as_ref().map(|a| a.text.clone()))
                        .filter(|c| !c.trim().is_empty())
                        .ok_or_else(|| {
                            ResolveError::Invalid(
                                "a new lead needs a company (\"from ACME\")".into(),
                            )
                        })?;
                    fields.insert("Company".into(), Val::Lit(json!(comp)));
                    fields.insert(
                        "Status".into(),
                        Val::Lit(json!(self.picklist_value(&d, "Status", "open"))),
                    );
                }
            }
            "Opportunity" => {
                fields.insert(
                    "StageName".into(),
                    Val::Lit(json!(self.picklist_value(&d, "StageName", ""))),
                );
            }
            _ => {}
        }
        if let Some(a) = &account_n {
            fields.insert("AccountId".into(), a.val());
        }
        if d.field("OwnerId").is_some_and(|f| f.createable) {
            fields.insert("OwnerId".into(), Val::Lit(json!(self.me)));
        }
        for change in said_fields {
            let f = match &change.field {
                Some(fr) => find_field(&d, fr)?,
                None => field_for_value(&d, &change.value)?,
            };
            check_writable(&d, f, true)?;
            let v = match coerce(f, change, None)? {
                FieldValue::Literal(j) => Val::Lit(j),
                FieldValue::Lookup { objects, name } => {
                    Val::Lit(json!(self.lookup(&objects, &name).await?.id))
                }
            };
            fields.insert(f.name.clone(), v);
        }
        if sobject == "Opportunity" {
            if !fields.contains_key("CloseDate") {
                fields.insert(
                    "CloseDate".into(),
                    Val::Lit(json!(
                        end_of_quarter(self.today).format("%Y-%m-%d").to_string()
                    )),
                );
            }
            let opp_name = name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| {
                    let base = account_n
                        .as_ref()
                        .map(|a| a.name().to_string())
                        .unwrap_or_else(|| "New".into());
                    let suffix = match fields.get("Amount") {
                        Some(Val::Lit(a)) if a.as_f64().is_some() => {
                            format_money(a.as_f64().unwrap_or(0.0))
                        }
                        _ => match fields.get("CloseDate") {
                            Some(Val::Lit(Json::String(d))) => d.clone(),
                            _ => self.today.to_string(),
                        },
                    };
                    format!("{base} - {suffix}")
                });
            fields.insert("Name".into(), Val::Lit(json!(opp_name)));
            display = opp_name;
        } else if sobject == "Account" {
            let n = name
                .clone()
                .or_else(|| company.clone())
                .ok_or_else(|| ResolveError::Invalid("a new account needs a name".into()))?;
            fields.insert("Name".into(), Val::Lit(json!(n)));
            display = n;
        }
        self.check_fields(&d, &fields, true)?;
        Ok(Some(self.push_create(steps, sobject, display, fields)))
    }
}
