//! Time in the sandbox org: "today" (fixed by `SAYSO_TODAY` or the options), the org time zone
//! (America/Los_Angeles, US daylight-saving rules since 2007) and the wire formats of dates and
//! datetimes (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS.SSS+0000`).
//!
//! Owns time arithmetic only; used by the seed loader, the record writers and the SOQL engine
//! (date literals resolve against [`Clock::today`] in the org time zone).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// The org's notion of time: a fixed or real "today" and the org time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    /// `Some` when today is pinned (SAYSO_TODAY or options); `None` follows the real date in the org zone.
    fixed_today: Option<NaiveDate>,
}

impl Clock {
    /// A clock whose today is `today` when given, else the real date in America/Los_Angeles.
    pub fn new(today: Option<NaiveDate>) -> Clock {
        Clock { fixed_today: today }
    }

    /// Today's date in the org time zone.
    pub fn today(&self) -> NaiveDate {
        self.fixed_today
            .unwrap_or_else(|| utc_to_org(Utc::now()).date())
    }

    /// The current instant (always the real clock; only the date is pinned).
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// The current instant formatted for a datetime column / JSON value.
    pub fn now_string(&self) -> String {
        format_datetime(self.now())
    }
}

/// Parses `SAYSO_TODAY`-style text (`YYYY-MM-DD`).
pub fn parse_date(text: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()
}

/// Formats a UTC instant as Salesforce does: `2025-05-01T16:02:11.000+0000`.
pub fn format_datetime(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

/// Parses a datetime value from a request (`…Z`, `…+0000`, `…+00:00`, with or without fraction)
/// into UTC. A bare date means midnight UTC.
pub fn parse_datetime(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z"] {
        if let Ok(d) = DateTime::parse_from_str(t, fmt) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S",
    ] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, fmt) {
            return Some(Utc.from_utc_datetime(&d));
        }
    }
    parse_date(t).map(|d| Utc.from_utc_datetime(&d.and_time(NaiveTime::MIN)))
}

/// Parses an HTTP date (`Tue, 10 Aug 2015 00:00:00 GMT`).
pub fn parse_http_date(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc2822(t) {
        return Some(d.with_timezone(&Utc));
    }
    // Lenient: ignore a wrong weekday (Salesforce's own docs use `Tue, 10 Aug 2015`, a Monday).
    let rest = t.split_once(", ").map_or(t, |(_, r)| r);
    let rest = rest.trim_end_matches(" GMT").trim_end_matches(" UTC");
    NaiveDateTime::parse_from_str(rest, "%d %b %Y %H:%M:%S")
        .ok()
        .map(|d| Utc.from_utc_datetime(&d))
}

/// Formats an instant as an HTTP date.
pub fn format_http_date(t: DateTime<Utc>) -> String {
    t.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

fn nth_sunday(year: i32, month: u32, n: u32) -> NaiveDate {
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    let offset = (7 - first.weekday().num_days_from_sunday()) % 7;
    first + Duration::days(i64::from(offset + 7 * (n - 1)))
}

/// Whether daylight-saving time is in force in America/Los_Angeles at local wall time `local`
/// (second Sunday of March 02:00 to first Sunday of November 02:00).
fn is_dst_local(local: NaiveDateTime) -> bool {
    let y = local.year();
    let start = nth_sunday(y, 3, 2).and_hms_opt(2, 0, 0).unwrap_or_default();
    let end = nth_sunday(y, 11, 1)
        .and_hms_opt(2, 0, 0)
        .unwrap_or_default();
    local >= start && local < end
}

/// The UTC offset in hours of America/Los_Angeles at UTC instant `t`.
pub fn org_offset_hours(t: DateTime<Utc>) -> i64 {
    let standard = t.naive_utc() - Duration::hours(8);
    if is_dst_local(standard) { -7 } else { -8 }
}

/// Converts a UTC instant to org-local wall time.
pub fn utc_to_org(t: DateTime<Utc>) -> NaiveDateTime {
    t.naive_utc() + Duration::hours(org_offset_hours(t))
}

/// Converts org-local wall time to UTC.
pub fn org_to_utc(local: NaiveDateTime) -> DateTime<Utc> {
    let offset = if is_dst_local(local) { -7 } else { -8 };
    Utc.from_utc_datetime(&(local - Duration::hours(offset)))
}

/// Start of an org-local day, in UTC (useful for date literals over datetime fields).
pub fn org_day_start_utc(day: NaiveDate) -> DateTime<Utc> {
    org_to_utc(day.and_time(NaiveTime::MIN))
}

/// Resolves a demo-data cell `TODAY`, `TODAY+N`, `TODAY-N` to a date.
pub fn resolve_today_date(cell: &str, today: NaiveDate) -> Option<NaiveDate> {
    let rest = cell.strip_prefix("TODAY")?;
    if rest.is_empty() {
        return Some(today);
    }
    let n: i64 = rest.parse().ok()?;
    Some(today + Duration::days(n))
}

/// Resolves a demo-data cell `TODAY±NTHH:MM:SS` (org-local) to a UTC instant.
pub fn resolve_today_datetime(cell: &str, today: NaiveDate) -> Option<DateTime<Utc>> {
    let rest = cell.strip_prefix("TODAY")?;
    let (offset, time) = rest.split_once('T')?;
    let date = resolve_today_date(&format!("TODAY{offset}"), today)?;
    let time = NaiveTime::parse_from_str(time, "%H:%M:%S").ok()?;
    Some(org_to_utc(date.and_time(time)))
}

/// Day of week helper kept for date literal code (Sunday-based weeks, en_US locale).
pub fn week_start(day: NaiveDate) -> NaiveDate {
    day - Duration::days(i64::from(day.weekday().num_days_from_sunday()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn today_cells_resolve() {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        assert_eq!(
            resolve_today_date("TODAY+45", today).unwrap().to_string(),
            "2026-04-15"
        );
        assert_eq!(
            resolve_today_date("TODAY-1", today).unwrap().to_string(),
            "2026-02-28"
        );
        assert_eq!(resolve_today_date("TODAY", today), Some(today));
        assert_eq!(resolve_today_date("2026-01-01", today), None);
    }

    #[test]
    fn los_angeles_offsets_follow_dst() {
        // Winter: 10:00 PST = 18:00 UTC.
        let w = resolve_today_datetime(
            "TODAY+0T10:00:00",
            NaiveDate::from_ymd_opt(2026, 1, 15).unwrap(),
        )
        .unwrap();
        assert_eq!(format_datetime(w), "2026-01-15T18:00:00.000+0000");
        // Summer: 10:00 PDT = 17:00 UTC.
        let s = resolve_today_datetime(
            "TODAY+0T10:00:00",
            NaiveDate::from_ymd_opt(2026, 7, 15).unwrap(),
        )
        .unwrap();
        assert_eq!(format_datetime(s), "2026-07-15T17:00:00.000+0000");
        // 2026 DST starts Sunday March 8.
        assert_eq!(nth_sunday(2026, 3, 2).to_string(), "2026-03-08");
        assert_eq!(nth_sunday(2026, 11, 1).to_string(), "2026-11-01");
        assert_eq!(utc_to_org(s).to_string(), "2026-07-15 10:00:00");
    }

    #[test]
    fn datetime_inputs_normalise_to_utc() {
        for t in [
            "2025-05-01T16:02:11.000+0000",
            "2025-05-01T16:02:11Z",
            "2025-05-01T09:02:11-07:00",
            "2025-05-01T16:02:11",
        ] {
            assert_eq!(
                format_datetime(parse_datetime(t).unwrap()),
                "2025-05-01T16:02:11.000+0000",
                "{t}"
            );
        }
        assert!(parse_datetime("yesterday").is_none());
        assert_eq!(
            parse_http_date("Tue, 10 Aug 2015 00:00:00 GMT")
                .map(format_datetime)
                .as_deref(),
            Some("2015-08-10T00:00:00.000+0000")
        );
    }
}
