//! SOQL date literals (`TODAY`, `LAST_N_DAYS:30`, `THIS_QUARTER`, …) as half-open date ranges
//! `[start, end)` relative to the org's "today" (calendar weeks start on Sunday, en_US; the fiscal
//! year is the calendar year, the org default).
//!
//! Owns the calendar arithmetic only; `compile.rs` turns ranges into SQL bounds (dates as
//! `YYYY-MM-DD`, datetimes as UTC instants of the org-local midnights).

use chrono::{Datelike, Duration, Months, NaiveDate};

use crate::soql::ast::{DateLiteral, NDate, NamedDate};

/// A half-open range of org-local days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayRange {
    /// First day in the range.
    pub start: NaiveDate,
    /// First day after the range.
    pub end: NaiveDate,
}

fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_sunday()))
}

fn month_start(d: NaiveDate) -> NaiveDate {
    d.with_day(1).unwrap_or(d)
}

fn quarter_start(d: NaiveDate) -> NaiveDate {
    let m = (d.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(d.year(), m, 1).unwrap_or(d)
}

fn year_start(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), 1, 1).unwrap_or(d)
}

fn add_months(d: NaiveDate, n: i64) -> NaiveDate {
    let r = if n >= 0 {
        u32::try_from(n)
            .ok()
            .and_then(|n| d.checked_add_months(Months::new(n)))
    } else {
        u32::try_from(-n)
            .ok()
            .and_then(|n| d.checked_sub_months(Months::new(n)))
    };
    r.unwrap_or(if n >= 0 {
        NaiveDate::MAX
    } else {
        NaiveDate::MIN
    })
}

fn add_days(d: NaiveDate, n: i64) -> NaiveDate {
    d.checked_add_signed(Duration::days(n))
        .unwrap_or(if n >= 0 {
            NaiveDate::MAX
        } else {
            NaiveDate::MIN
        })
}

fn range(start: NaiveDate, end: NaiveDate) -> DayRange {
    DayRange { start, end }
}

/// The days `literal` denotes when today is `today`.
pub fn resolve(literal: DateLiteral, today: NaiveDate) -> DayRange {
    let t = today;
    let ws = week_start(t);
    let ms = month_start(t);
    let qs = quarter_start(t);
    let ys = year_start(t);
    match literal {
        DateLiteral::Named(named) => match named {
            NamedDate::Yesterday => range(add_days(t, -1), t),
            NamedDate::Today => range(t, add_days(t, 1)),
            NamedDate::Tomorrow => range(add_days(t, 1), add_days(t, 2)),
            NamedDate::LastWeek => range(add_days(ws, -7), ws),
            NamedDate::ThisWeek => range(ws, add_days(ws, 7)),
            NamedDate::NextWeek => range(add_days(ws, 7), add_days(ws, 14)),
            NamedDate::LastMonth => range(add_months(ms, -1), ms),
            NamedDate::ThisMonth => range(ms, add_months(ms, 1)),
            NamedDate::NextMonth => range(add_months(ms, 1), add_months(ms, 2)),
            NamedDate::Last90Days => range(add_days(t, -90), add_days(t, 1)),
            NamedDate::Next90Days => range(add_days(t, 1), add_days(t, 91)),
            NamedDate::ThisQuarter | NamedDate::ThisFiscalQuarter => range(qs, add_months(qs, 3)),
            NamedDate::LastQuarter | NamedDate::LastFiscalQuarter => range(add_months(qs, -3), qs),
            NamedDate::NextQuarter | NamedDate::NextFiscalQuarter => {
                range(add_months(qs, 3), add_months(qs, 6))
            }
            NamedDate::ThisYear | NamedDate::ThisFiscalYear => range(ys, add_months(ys, 12)),
            NamedDate::LastYear | NamedDate::LastFiscalYear => range(add_months(ys, -12), ys),
            NamedDate::NextYear | NamedDate::NextFiscalYear => {
                range(add_months(ys, 12), add_months(ys, 24))
            }
        },
        DateLiteral::WithN(kind, n) => {
            let n = i64::from(n);
            match kind {
                NDate::LastNDays => range(add_days(t, -n), add_days(t, 1)),
                NDate::NextNDays => range(add_days(t, 1), add_days(t, 1 + n)),
                NDate::NDaysAgo => range(add_days(t, -n), add_days(t, 1 - n)),
                NDate::LastNWeeks => range(add_days(ws, -7 * n), ws),
                NDate::NextNWeeks => range(add_days(ws, 7), add_days(ws, 7 + 7 * n)),
                NDate::NWeeksAgo => range(add_days(ws, -7 * n), add_days(ws, 7 - 7 * n)),
                NDate::LastNMonths => range(add_months(ms, -n), ms),
                NDate::NextNMonths => range(add_months(ms, 1), add_months(ms, 1 + n)),
                NDate::NMonthsAgo => range(add_months(ms, -n), add_months(ms, 1 - n)),
                NDate::LastNQuarters | NDate::LastNFiscalQuarters => {
                    range(add_months(qs, -3 * n), qs)
                }
                NDate::NextNQuarters | NDate::NextNFiscalQuarters => {
                    range(add_months(qs, 3), add_months(qs, 3 + 3 * n))
                }
                NDate::NQuartersAgo | NDate::NFiscalQuartersAgo => {
                    range(add_months(qs, -3 * n), add_months(qs, 3 - 3 * n))
                }
                NDate::LastNYears | NDate::LastNFiscalYears => range(add_months(ys, -12 * n), ys),
                NDate::NextNYears | NDate::NextNFiscalYears => {
                    range(add_months(ys, 12), add_months(ys, 12 + 12 * n))
                }
                NDate::NYearsAgo | NDate::NFiscalYearsAgo => {
                    range(add_months(ys, -12 * n), add_months(ys, 12 - 12 * n))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[track_caller]
    fn check(lit: DateLiteral, start: &str, end: &str) {
        // Wednesday 2026-05-13.
        assert_eq!(
            resolve(lit, d("2026-05-13")),
            DayRange {
                start: d(start),
                end: d(end)
            },
            "{lit}"
        );
    }

    #[test]
    fn ranges_relative_to_a_wednesday_in_may() {
        use DateLiteral::{Named as N, WithN as W};
        check(N(NamedDate::Today), "2026-05-13", "2026-05-14");
        check(N(NamedDate::Yesterday), "2026-05-12", "2026-05-13");
        check(N(NamedDate::Tomorrow), "2026-05-14", "2026-05-15");
        check(N(NamedDate::ThisWeek), "2026-05-10", "2026-05-17");
        check(N(NamedDate::LastWeek), "2026-05-03", "2026-05-10");
        check(N(NamedDate::NextWeek), "2026-05-17", "2026-05-24");
        check(N(NamedDate::ThisMonth), "2026-05-01", "2026-06-01");
        check(N(NamedDate::LastMonth), "2026-04-01", "2026-05-01");
        check(N(NamedDate::NextMonth), "2026-06-01", "2026-07-01");
        check(N(NamedDate::Last90Days), "2026-02-12", "2026-05-14");
        check(N(NamedDate::Next90Days), "2026-05-14", "2026-08-12");
        check(N(NamedDate::ThisQuarter), "2026-04-01", "2026-07-01");
        check(N(NamedDate::LastQuarter), "2026-01-01", "2026-04-01");
        check(N(NamedDate::NextFiscalQuarter), "2026-07-01", "2026-10-01");
        check(N(NamedDate::ThisYear), "2026-01-01", "2027-01-01");
        check(N(NamedDate::LastFiscalYear), "2025-01-01", "2026-01-01");
        check(W(NDate::LastNDays, 1), "2026-05-12", "2026-05-14");
        check(W(NDate::NextNDays, 7), "2026-05-14", "2026-05-21");
        check(W(NDate::NDaysAgo, 3), "2026-05-10", "2026-05-11");
        check(W(NDate::LastNWeeks, 2), "2026-04-26", "2026-05-10");
        check(W(NDate::NWeeksAgo, 1), "2026-05-03", "2026-05-10");
        check(W(NDate::NextNMonths, 2), "2026-06-01", "2026-08-01");
        check(W(NDate::LastNMonths, 12), "2025-05-01", "2026-05-01");
        check(W(NDate::NMonthsAgo, 1), "2026-04-01", "2026-05-01");
        check(W(NDate::LastNQuarters, 2), "2025-10-01", "2026-04-01");
        check(W(NDate::NextNQuarters, 1), "2026-07-01", "2026-10-01");
        check(W(NDate::NQuartersAgo, 1), "2026-01-01", "2026-04-01");
        check(W(NDate::LastNYears, 1), "2025-01-01", "2026-01-01");
        check(W(NDate::NextNFiscalYears, 2), "2027-01-01", "2029-01-01");
        check(W(NDate::NYearsAgo, 2), "2024-01-01", "2025-01-01");
    }
}
