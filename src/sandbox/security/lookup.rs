//! Sharing on the write path: a lookup written on create or update (`WhatId`, `WhoId`,
//! `AccountId`, `OpportunityId`, `ContactId`, `LinkedEntityId`, …) must name a live record the
//! writer can read, and a `ContentDocumentLink` may be created only by someone who may share the
//! note.
//!
//! Owns these two checks; `dml.rs` calls them from every write (REST rows, collections, composite,
//! Bulk ingest) before anything is stored. A record the writer cannot see answers exactly like one
//! that does not exist (`INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY`), so a write never tells
//! whether an id exists. A writer who sees every row of the target object (an admin, or a
//! public-read object) gets Salesforce's plain `INVALID_CROSS_REFERENCE_KEY` for a missing id,
//! which tells it nothing it could not query.

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension};

use crate::id::RecordId;
use crate::sandbox::derive::Row;
use crate::sandbox::dml::{Ctx, can_edit_row};
use crate::sandbox::error::{SfError, SfResult};
use crate::sandbox::schema::{Field, ObjectSchema};
use crate::sandbox::security::RowAccess;
use crate::sandbox::store::quote_ident;

/// The object the sandbox serves for Salesforce's `ContentDocument` (notes are its only files).
const CONTENT_DOCUMENT: (&str, &str) = ("ContentDocument", "ContentNote");

/// `400 INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY` for `id`.
pub fn cross_reference_denied(id: &str) -> SfError {
    SfError::dml(
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        format!("insufficient access rights on cross-reference id: {id}"),
        vec![],
    )
}

/// The served object a lookup value points at: one of the field's targets with the id's key
/// prefix (`ContentDocument` is served as `ContentNote`).
fn target<'s>(ctx: &Ctx<'s>, field: &Field, id: &RecordId) -> SfResult<&'s ObjectSchema> {
    let schema = &ctx.state.schema;
    field
        .reference_to
        .iter()
        .map(|t| match t.as_str() {
            t if t == CONTENT_DOCUMENT.0 => CONTENT_DOCUMENT.1,
            t => t,
        })
        .filter_map(|t| schema.object(t))
        .find(|o| o.key_prefix == id.key_prefix())
        .ok_or_else(|| {
            SfError::dml(
                "FIELD_INTEGRITY_EXCEPTION",
                format!("{}: id value of incorrect type: {id}", field.label),
                vec![field.name.clone()],
            )
        })
}

/// Checks that lookup `field` may be set to `id`: the id fits the field, and the record is live
/// and readable by the writer.
///
/// # Errors
/// `FIELD_INTEGRITY_EXCEPTION` for an id of another object; `INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY`
/// for a record the writer cannot read or that does not exist (the same answer);
/// `INVALID_CROSS_REFERENCE_KEY` for a missing id when the writer sees every row;
/// `ENTITY_IS_DELETED` for a deleted record the writer can see.
pub fn check_reference(
    ctx: &Ctx<'_>,
    conn: &Connection,
    field: &Field,
    id: &RecordId,
) -> SfResult<()> {
    if field.reference_to.is_empty() {
        return Ok(());
    }
    let target = target(ctx, field, id)?;
    let filter = ctx.row_filter(&target.name, RowAccess::Read);
    let mut sql = format!(
        "SELECT t.\"IsDeleted\" FROM {} AS t WHERE t.\"Id\" = ?",
        quote_ident(&target.name)
    );
    let mut params = vec![SqlValue::Text(id.as_str().to_string())];
    if let Some(f) = &filter {
        sql.push_str(&format!(" AND ({})", f.sql));
        params.extend(f.params.iter().cloned());
    }
    let deleted: Option<i64> = conn
        .prepare_cached(&sql)?
        .query_row(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
        .optional()?;
    match deleted {
        Some(0) => Ok(()),
        Some(_) => Err(SfError::dml(
            "ENTITY_IS_DELETED",
            "entity is deleted",
            vec![field.name.clone()],
        )),
        None if filter.is_some() => Err(cross_reference_denied(id.as_str())),
        None => Err(SfError::dml(
            "INVALID_CROSS_REFERENCE_KEY",
            format!("{}: invalid cross reference id", field.label),
            vec![field.name.clone()],
        )),
    }
}

/// Checks that the writer may share the note of a new `ContentDocumentLink` (`changes` already
/// validated, so `ContentDocumentId` names a note the writer can read): its owner may, and so may
/// a collaborator, i.e. someone reached by an existing `ShareType = 'C'` link of the note (linked
/// to the writer, or to a record the writer can edit). Holders of Modify All Data on notes may.
///
/// # Errors
/// `INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY` naming the note otherwise.
pub fn check_note_link(ctx: &Ctx<'_>, conn: &Connection, changes: &Row) -> SfResult<()> {
    let Some(SqlValue::Text(doc)) = changes.get("ContentDocumentId") else {
        return Ok(()); // REQUIRED_FIELD_MISSING comes later
    };
    if ctx
        .row_filter(CONTENT_DOCUMENT.1, RowAccess::Edit)
        .is_none()
    {
        return Ok(());
    }
    let me = ctx.principal.user_id.as_str();
    let owner: Option<String> = conn
        .prepare_cached(
            "SELECT \"OwnerId\" FROM \"ContentNote\" WHERE \"Id\" = ?1 AND \"IsDeleted\" = 0",
        )?
        .query_row([doc.as_str()], |r| r.get(0))
        .optional()?;
    if owner.as_deref() == Some(me) {
        return Ok(());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT \"LinkedEntityId\" FROM \"ContentDocumentLink\" WHERE \"ContentDocumentId\" = ?1 AND \"IsDeleted\" = 0 AND \"ShareType\" = 'C'",
    )?;
    let linked: Vec<String> = stmt
        .query_map([doc.as_str()], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for entity in linked {
        if entity == me {
            return Ok(());
        }
        let obj = RecordId::parse(&entity)
            .ok()
            .and_then(|id| ctx.state.schema.object_for_prefix(id.key_prefix()));
        if let Some(obj) = obj
            && obj.name != "User"
            && can_edit_row(ctx, conn, obj, &entity)?
        {
            return Ok(());
        }
    }
    Err(cross_reference_denied(doc))
}
