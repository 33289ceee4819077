//! SOQL renderer: [`Query`] → text.
//!
//! Owns the textual form only. Every string literal is written from its escaped form
//! ([`StringLit`]), which can only be built by the parser or by the escaping constructors, so user
//! text can never end a literal. Conditions get the parentheses their nesting needs, so
//! `parse(render(q)) == q`.

use std::fmt::Write;

use super::ast::*;

/// Renders a query as SOQL text.
pub fn render(query: &Query) -> String {
    let mut out = String::new();
    write_query(&mut out, query);
    out
}

/// Renders a condition as SOQL text (as it would appear after `WHERE`).
pub fn render_condition(condition: &Condition) -> String {
    let mut out = String::new();
    write_condition(&mut out, condition, false);
    out
}

/// Renders one literal as SOQL text (`'it\'s'`, `42`, `LAST_N_DAYS:7`, `null`).
pub fn render_literal(literal: &Literal) -> String {
    let mut out = String::new();
    write_literal(&mut out, literal);
    out
}

fn join<T>(out: &mut String, items: &[T], mut each: impl FnMut(&mut String, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        each(out, item);
    }
}

fn write_query(out: &mut String, q: &Query) {
    out.push_str("SELECT ");
    join(out, &q.select, write_select_item);
    out.push_str(" FROM ");
    out.push_str(&q.from.path.join("."));
    if let Some(alias) = &q.from.alias {
        out.push(' ');
        out.push_str(alias);
    }
    if let Some(scope) = &q.using_scope {
        out.push_str(" USING SCOPE ");
        out.push_str(scope);
    }
    if let Some(c) = &q.where_clause {
        out.push_str(" WHERE ");
        write_condition(out, c, false);
    }
    for with in &q.with {
        out.push_str(" WITH ");
        match with {
            With::SecurityEnforced => out.push_str("SECURITY_ENFORCED"),
            With::UserMode => out.push_str("USER_MODE"),
            With::SystemMode => out.push_str("SYSTEM_MODE"),
            With::DataCategory(filters) => {
                out.push_str("DATA CATEGORY ");
                for (i, f) in filters.iter().enumerate() {
                    if i > 0 {
                        out.push_str(" AND ");
                    }
                    let _ = write!(out, "{} {} ", f.group, f.selector.as_str());
                    if f.categories.len() == 1 {
                        out.push_str(&f.categories[0]);
                    } else {
                        let _ = write!(out, "({})", f.categories.join(", "));
                    }
                }
            }
        }
    }
    if let Some(g) = &q.group_by {
        out.push_str(" GROUP BY ");
        let (open, close) = match g.kind {
            GroupByKind::Plain => ("", ""),
            GroupByKind::Rollup => ("ROLLUP(", ")"),
            GroupByKind::Cube => ("CUBE(", ")"),
        };
        out.push_str(open);
        join(out, &g.items, write_operand);
        out.push_str(close);
    }
    if let Some(c) = &q.having {
        out.push_str(" HAVING ");
        write_condition(out, c, false);
    }
    if !q.order_by.is_empty() {
        out.push_str(" ORDER BY ");
        join(out, &q.order_by, |out, item| {
            write_operand(out, &item.target);
            match item.direction {
                Some(Direction::Asc) => out.push_str(" ASC"),
                Some(Direction::Desc) => out.push_str(" DESC"),
                None => {}
            }
            match item.nulls {
                Some(Nulls::First) => out.push_str(" NULLS FIRST"),
                Some(Nulls::Last) => out.push_str(" NULLS LAST"),
                None => {}
            }
        });
    }
    if let Some(n) = q.limit {
        let _ = write!(out, " LIMIT {n}");
    }
    if let Some(n) = q.offset {
        let _ = write!(out, " OFFSET {n}");
    }
    match q.for_clause {
        Some(For::View) => out.push_str(" FOR VIEW"),
        Some(For::Reference) => out.push_str(" FOR REFERENCE"),
        Some(For::Update) => out.push_str(" FOR UPDATE"),
        None => {}
    }
    match q.update {
        Some(Update::Tracking) => out.push_str(" UPDATE TRACKING"),
        Some(Update::Viewstat) => out.push_str(" UPDATE VIEWSTAT"),
        None => {}
    }
}

fn write_alias(out: &mut String, alias: &Option<String>) {
    if let Some(a) = alias {
        out.push(' ');
        out.push_str(a);
    }
}

fn write_select_item(out: &mut String, item: &SelectItem) {
    match item {
        SelectItem::Field { path, alias } => {
            out.push_str(&path.to_string());
            write_alias(out, alias);
        }
        SelectItem::Function { call, alias } => {
            write_call(out, call);
            write_alias(out, alias);
        }
        SelectItem::Fields(kind) => {
            let _ = write!(out, "FIELDS({})", kind.as_str());
        }
        SelectItem::Subquery(q) => {
            out.push('(');
            write_query(out, q);
            out.push(')');
        }
        SelectItem::TypeOf(t) => {
            let _ = write!(out, "TYPEOF {}", t.relationship);
            for (object, fields) in &t.whens {
                let _ = write!(out, " WHEN {object} THEN ");
                join(out, fields, |out, f| out.push_str(&f.to_string()));
            }
            if let Some(fields) = &t.else_fields {
                out.push_str(" ELSE ");
                join(out, fields, |out, f| out.push_str(&f.to_string()));
            }
            out.push_str(" END");
        }
    }
}

fn write_call(out: &mut String, call: &FunctionCall) {
    out.push_str(call.function.as_str());
    out.push('(');
    join(out, &call.args, |out, arg| match arg {
        FunctionArg::Field(f) => out.push_str(&f.to_string()),
        FunctionArg::Function(f) => write_call(out, f),
        FunctionArg::Literal(l) => write_literal(out, l),
    });
    out.push(')');
}

fn write_operand(out: &mut String, operand: &Operand) {
    match operand {
        Operand::Field(f) => out.push_str(&f.to_string()),
        Operand::Function(call) => write_call(out, call),
    }
}

/// `nested`: the condition sits inside AND/OR/NOT, so a compound needs parentheses.
fn write_condition(out: &mut String, c: &Condition, nested: bool) {
    match c {
        Condition::And(parts) | Condition::Or(parts) => {
            let word = c.joiner().unwrap_or(" AND ");
            if nested {
                out.push('(');
            }
            for (i, part) in parts.iter().enumerate() {
                if i > 0 {
                    out.push_str(word);
                }
                write_condition(out, part, true);
            }
            if nested {
                out.push(')');
            }
        }
        Condition::Not(inner) => {
            out.push_str("NOT ");
            write_condition(out, inner, true);
        }
        Condition::Compare(cmp) => {
            write_operand(out, &cmp.lhs);
            out.push(' ');
            out.push_str(cmp.op.as_str());
            out.push(' ');
            match &cmp.rhs {
                Value::Literal(l) => write_literal(out, l),
                Value::List(items) => {
                    out.push('(');
                    join(out, items, write_literal);
                    out.push(')');
                }
                Value::Subquery(q) => {
                    out.push('(');
                    write_query(out, q);
                    out.push(')');
                }
            }
        }
    }
}

fn write_literal(out: &mut String, literal: &Literal) {
    match literal {
        Literal::Null => out.push_str("null"),
        Literal::Boolean(true) => out.push_str("true"),
        Literal::Boolean(false) => out.push_str("false"),
        // The AST's fields are public; text that is not a number is written as a string literal so
        // it can never become query syntax.
        Literal::Number(n) if is_number(n) => out.push_str(n),
        Literal::Number(n) => write_literal(out, &Literal::String(StringLit::from_value(n))),
        Literal::String(s) => {
            out.push('\'');
            out.push_str(s.raw());
            out.push('\'');
        }
        Literal::Date(d) | Literal::DateTime(d)
            if d.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-:.+".contains(&b)) =>
        {
            out.push_str(d)
        }
        Literal::Date(d) | Literal::DateTime(d) => {
            write_literal(out, &Literal::String(StringLit::from_value(d)))
        }
        Literal::DateLiteral(d) => {
            let _ = write!(out, "{d}");
        }
        Literal::Currency { code, amount }
            if !(code.len() == 3
                && code.bytes().all(|b| b.is_ascii_alphabetic())
                && is_number(amount)) =>
        {
            write_literal(
                out,
                &Literal::String(StringLit::from_value(&format!("{code}{amount}"))),
            )
        }
        Literal::Currency { code, amount } => {
            out.push_str(code);
            out.push_str(amount);
        }
    }
}

/// `-?digits(.digits)?`
fn is_number(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = match body.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (body, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}
