//! The REST resources the agent uses, as methods on [`Client`]: JSON verbs, query (all pages or
//! page by page), describe (conditional), deletes and limits, for the admin commands and the login
//! checks. Commands' data calls go through [`super::Org`] instead.
//!
//! Object and field names are checked to be API names and ids to be ids before they go into a
//! path, and other path values are percent-encoded, so no caller text can change the resource.

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::HeaderValue;
use serde_json::Value;

use super::client::{Client, Request};
use super::error::Error;
use super::retry::Idempotency;
use super::types::{Describe, QueryPage, QueryResult};

/// Checks an sObject or field API name (`Account`, `Budget_Approved__c`, `ns__Thing__c`).
///
/// # Errors
/// [`Error::Usage`] naming the value.
pub fn check_api_name(name: &str) -> Result<&str, Error> {
    let ok = name.len() <= 255
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(name)
    } else {
        Err(Error::Usage(format!("`{name}` is not an API name")))
    }
}

/// Checks a 15- or 18-character record id.
///
/// # Errors
/// [`Error::Usage`] naming the value.
pub fn check_id(id: &str) -> Result<&str, Error> {
    if matches!(id.len(), 15 | 18) && id.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(id)
    } else {
        Err(Error::Usage(format!("`{id}` is not a record id")))
    }
}

/// An HTTP date for conditional headers: `Tue, 10 Aug 2015 00:00:00 GMT`.
pub fn http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// An ISO datetime as the org writes it (`2026-11-18T10:00:00.000+0000`) as an HTTP-date for
/// `If-Unmodified-Since`. HTTP-dates have whole seconds and the org compares whole seconds, so the
/// fraction is dropped.
pub fn http_date_from_iso(iso: &str) -> Option<String> {
    let t = DateTime::parse_from_str(iso, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(iso))
        .ok()?
        .with_timezone(&Utc);
    Some(http_date(t))
}

fn header_value(s: &str) -> Result<HeaderValue, Error> {
    HeaderValue::from_str(s).map_err(|e| Error::Usage(format!("invalid header value: {e}")))
}

/// A page-by-page query: each [`QueryPager::next_page`] fetches one page.
#[derive(Debug)]
pub struct QueryPager {
    client: Client,
    next: Option<Request>,
}

impl QueryPager {
    /// The next page, `None` after the last one.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn next_page(&mut self) -> Result<Option<QueryPage>, Error> {
        let Some(req) = self.next.take() else {
            return Ok(None);
        };
        let page: QueryPage = self.client.send(&req).await?.json()?;
        if !page.done
            && let Some(url) = &page.next_records_url
        {
            self.next = Some(Request::get(url.clone()));
        }
        Ok(Some(page))
    }
}

impl Client {
    /// GET a JSON resource.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn get_json(&self, path: &str) -> Result<Value, Error> {
        self.send(&Request::get(path)).await?.json_or_null()
    }

    /// POST JSON. Say [`Idempotency::Repeatable`] only when a second POST cannot do harm.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn post_json(
        &self,
        path: &str,
        body: &Value,
        idempotency: Idempotency,
    ) -> Result<Value, Error> {
        let req = Request::new(Method::POST, path)
            .json(body)
            .idempotency(idempotency);
        self.send(&req).await?.json_or_null()
    }

    /// DELETE a resource.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn delete_path(&self, path: &str) -> Result<(), Error> {
        self.send(&Request::new(Method::DELETE, path)).await?;
        Ok(())
    }

    /// Starts a page-by-page query. `soql` must already be rendered by [`crate::soql`] (which
    /// escapes literals); it travels as the `q` parameter, never spliced into the path.
    pub fn query_pages(&self, soql: &str) -> QueryPager {
        QueryPager {
            client: self.clone(),
            next: Some(Request::get("query").query("q", soql)),
        }
    }

    /// Runs a query and follows every `nextRecordsUrl`.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn query(&self, soql: &str) -> Result<QueryResult, Error> {
        let mut pager = self.query_pages(soql);
        let mut out = QueryResult {
            total_size: 0,
            records: Vec::new(),
        };
        while let Some(page) = pager.next_page().await? {
            out.total_size = page.total_size;
            out.records.extend(page.records);
        }
        Ok(out)
    }

    /// `GET sobjects/<object>/describe`, conditional on `if_modified_since`.
    ///
    /// # Errors
    /// As [`Client::send`]; [`Error::Usage`] for a bad name.
    pub async fn describe(
        &self,
        object: &str,
        if_modified_since: Option<DateTime<Utc>>,
    ) -> Result<Describe, Error> {
        let mut req = Request::get(format!("sobjects/{}/describe", check_api_name(object)?));
        if let Some(t) = if_modified_since {
            req = req.header(
                reqwest::header::IF_MODIFIED_SINCE,
                header_value(&http_date(t))?,
            );
        }
        let resp = self.send(&req).await?;
        if resp.status == 304 {
            return Ok(Describe::NotModified);
        }
        Ok(Describe::Modified {
            body: resp.json()?,
            last_modified: resp.header("last-modified").map(str::to_string),
        })
    }

    /// Deletes a record.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn delete(&self, object: &str, id: &str) -> Result<(), Error> {
        self.delete_path(&format!(
            "sobjects/{}/{}",
            check_api_name(object)?,
            check_id(id)?
        ))
        .await
    }

    /// `GET limits`: the org's limits.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn limits(&self) -> Result<Value, Error> {
        self.get_json("limits").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_ids_are_checked() {
        assert!(check_api_name("Budget_Approved__c").is_ok());
        assert!(check_api_name("Account/../../x").is_err());
        assert!(check_api_name("1abc").is_err());
        assert!(check_id("0065g00000AbCdEAAV").is_ok());
        assert!(check_id("006/../../x").is_err());
        assert!(check_id("short").is_err());
    }

    #[test]
    fn http_dates_use_gmt() {
        let t = DateTime::parse_from_rfc3339("2015-08-10T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(http_date(t), "Mon, 10 Aug 2015 00:00:00 GMT");
    }
}
