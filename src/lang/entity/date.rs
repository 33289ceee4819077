//! Dates and periods relative to "today", exactly per the corpus README: today/tomorrow/yesterday,
//! weekdays ("Friday" = the first after today, "next Friday" = Friday of next week, weeks Monday to
//! Sunday), "in 3 days", "end of (next) week|month|quarter|year" (end of week = Friday), month-day
//! forms (next such day on or after today), "in June" (last day of the next June). Part of `entity`.

use chrono::{Datelike, Duration, Months, NaiveDate, NaiveTime, Weekday};

use super::{add_span, span};
use crate::lang::intent::DateRange;

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" | "mon" => Weekday::Mon,
        "tuesday" | "tue" | "tues" => Weekday::Tue,
        "wednesday" | "wed" => Weekday::Wed,
        "thursday" | "thu" | "thur" | "thurs" => Weekday::Thu,
        "friday" | "fri" => Weekday::Fri,
        "saturday" | "sat" => Weekday::Sat,
        "sunday" | "sun" => Weekday::Sun,
        _ => return None,
    })
}

fn month(w: &str) -> Option<u32> {
    Some(match w {
        "january" | "jan" => 1,
        "february" | "feb" => 2,
        "march" | "mar" => 3,
        "april" | "apr" => 4,
        "may" => 5,
        "june" | "jun" => 6,
        "july" | "jul" => 7,
        "august" | "aug" => 8,
        "september" | "sep" | "sept" => 9,
        "october" | "oct" => 10,
        "november" | "nov" => 11,
        "december" | "dec" => 12,
        _ => return None,
    })
}

const ORDINALS: [&str; 31] = [
    "first",
    "second",
    "third",
    "fourth",
    "fifth",
    "sixth",
    "seventh",
    "eighth",
    "ninth",
    "tenth",
    "eleventh",
    "twelfth",
    "thirteenth",
    "fourteenth",
    "fifteenth",
    "sixteenth",
    "seventeenth",
    "eighteenth",
    "nineteenth",
    "twentieth",
    "twenty-first",
    "twenty-second",
    "twenty-third",
    "twenty-fourth",
    "twenty-fifth",
    "twenty-sixth",
    "twenty-seventh",
    "twenty-eighth",
    "twenty-ninth",
    "thirtieth",
    "thirty-first",
];

/// A day of the month: "15", "15th", "fifteenth", "20 first" (after number normalisation of
/// "twenty first"), "twenty first". Returns the day and the words used.
fn day_of_month(words: &[&str]) -> Option<(u32, usize)> {
    let w = *words.first()?;
    let digits = w.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let suffix = &w[digits.len()..];
    if !digits.is_empty() && matches!(suffix, "" | "st" | "nd" | "rd" | "th") {
        let d: u32 = digits.parse().ok()?;
        return (1..=31).contains(&d).then_some((d, 1));
    }
    if let Some(i) = ORDINALS.iter().position(|o| *o == w) {
        return Some((i as u32 + 1, 1));
    }
    // "20 first", "twenty first", "30 first"
    let tens = match w {
        "20" | "twenty" => 20,
        "30" | "thirty" => 30,
        _ => return None,
    };
    let next = *words.get(1)?;
    let i = ORDINALS[..9].iter().position(|o| *o == next)?;
    let d = tens + i as u32 + 1;
    (d <= 31).then_some((d, 2))
}

fn last_day_of_month(year: i32, month: u32) -> Option<NaiveDate> {
    let first = NaiveDate::from_ymd_opt(year, month, 1)?;
    first.checked_add_months(Months::new(1))?.pred_opt()
}

/// The next `month`/`day` on or after `today`.
fn next_month_day(today: NaiveDate, m: u32, d: u32) -> Option<NaiveDate> {
    for y in today.year()..today.year() + 5 {
        if let Some(date) = NaiveDate::from_ymd_opt(y, m, d)
            && date >= today
        {
            return Some(date);
        }
    }
    None
}

/// Monday of the week containing `d` (weeks run Monday–Sunday).
fn week_start(d: NaiveDate) -> NaiveDate {
    d - Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

fn quarter_start(d: NaiveDate) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(d.year(), (d.month0() / 3) * 3 + 1, 1)
}

/// Words allowed before a date that do not change it.
const DATE_PREFIXES: &[&[&str]] = &[
    &["no", "later", "than"],
    &["due", "by"],
    &["due", "on"],
    &["closing", "on"],
    &["closing", "by"],
    &["by"],
    &["on"],
    &["for"],
    &["due"],
    &["until"],
    &["before"],
    &["at"],
];

fn strip_date_prefix<'a>(words: &'a [&'a str]) -> &'a [&'a str] {
    for p in DATE_PREFIXES {
        if words.len() > p.len() && words.starts_with(p) {
            return &words[p.len()..];
        }
    }
    words
}

/// A time of day as said: "3pm", "10am", "3:30pm", "15:00", "noon", "midday"; or two words
/// "3 pm".
fn time_of_day(words: &[&str]) -> Option<NaiveTime> {
    let (text, meridiem) = match words {
        ["noon" | "midday"] => return NaiveTime::from_hms_opt(12, 0, 0),
        [n, m @ ("am" | "pm" | "a.m." | "p.m.")] => (*n, Some(m.starts_with('p'))),
        [one] => {
            let lower = one.trim_end_matches('.');
            if let Some(n) = lower
                .strip_suffix("am")
                .or_else(|| lower.strip_suffix("a.m"))
            {
                (n, Some(false))
            } else if let Some(n) = lower
                .strip_suffix("pm")
                .or_else(|| lower.strip_suffix("p.m"))
            {
                (n, Some(true))
            } else if lower.contains(':') {
                (lower, None)
            } else {
                return None;
            }
        }
        _ => return None,
    };
    let (h, m) = match text.split_once(':') {
        Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
        None => (text.parse::<u32>().ok()?, 0),
    };
    let h = match meridiem {
        Some(pm) if (1..=12).contains(&h) => (h % 12) + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => h,
    };
    NaiveTime::from_hms_opt(h, m, 0)
}

/// A time of day at the end of `words` ("tuesday at 3pm", "thursday 10am"): the time and how many
/// words it takes (with a leading "at").
pub(crate) fn trailing_time(words: &[&str]) -> Option<(NaiveTime, usize)> {
    let (time, mut n) = (1..=2.min(words.len()))
        .find_map(|n| time_of_day(&words[words.len() - n..]).map(|t| (t, n)))?;
    if words.len() > n && words[words.len() - n - 1] == "at" {
        n += 1;
    }
    Some((time, n))
}

/// Read all of `words` as one day, relative to `today`, per the corpus README semantics.
pub(crate) fn date(words: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    let mut w = strip_date_prefix(words);
    // "tuesday at 3pm", "thursday 10am": the time is not part of the date
    if let Some((_, n)) = trailing_time(w)
        && w.len() > n
    {
        w = &w[..w.len() - n];
    }
    if let [rest @ .., "at", _] = w {
        // "tomorrow at 10" / "friday at noon": the time is not part of the date
        if !rest.is_empty() {
            w = rest;
        }
    }
    if let ["the", rest @ ..] = w {
        w = rest;
    }
    // "tomorrow morning", "friday afternoon": the time of day is not part of the date
    if let [
        rest @ ..,
        "morning" | "afternoon" | "evening" | "night" | "noon" | "lunch" | "eod",
    ] = w
        && !rest.is_empty()
    {
        w = rest;
    }
    date_core(w, today)
}

fn date_core(w: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    match w {
        ["today"] | ["tonight"] | ["now"] | ["end", "of", "day"] | ["eod"] => Some(today),
        ["tomorrow"] | ["tmrw"] | ["tmr"] => today.succ_opt(),
        ["day", "after", "tomorrow"] => today.checked_add_signed(Duration::days(2)),
        ["yesterday"] => today.pred_opt(),
        [day] | ["this", day] | ["this", "coming", day] | ["coming", day]
            if weekday(day).is_some() =>
        {
            let target = weekday(day)?;
            let mut d = today.succ_opt()?;
            while d.weekday() != target {
                d = d.succ_opt()?;
            }
            Some(d)
        }
        ["next", day]
        | [day, "next", "week"]
        | ["next", "week", day]
        | ["next", "week", "on", day]
            if weekday(day).is_some() =>
        {
            let target = weekday(day)?;
            let monday = week_start(today) + Duration::days(7);
            Some(monday + Duration::days(i64::from(target.num_days_from_monday())))
        }
        ["last", day] if weekday(day).is_some() => {
            let target = weekday(day)?;
            let mut d = today.pred_opt()?;
            while d.weekday() != target {
                d = d.pred_opt()?;
            }
            Some(d)
        }
        ["in", rest @ ..] if span(rest).is_some() => add_span(today, span(rest)?),
        [rest @ .., "from", "now" | "today"] if span(rest).is_some() => {
            add_span(today, span(rest)?)
        }
        ["next", "week"] => Some(week_start(today) + Duration::days(7)),
        ["next", "month"] => today.with_day(1)?.checked_add_months(Months::new(1)),
        ["eow"] => end_of(today, "week", 0),
        ["eom"] => end_of(today, "month", 0),
        ["eoq"] => end_of(today, "quarter", 0),
        ["eoy"] => end_of(today, "year", 0),
        ["end", "of", rest @ ..] | ["the", "end", "of", rest @ ..] => end_of_phrase(rest, today),
        [unit, "end"] if matches!(*unit, "month" | "quarter" | "year" | "week") => {
            end_of(today, unit, 0)
        }
        [q, "end"] => quarter_end_named(q, today),
        ["in", m] | ["next", m] | [m] | ["in", "next", m] if month(m).is_some() => {
            next_month_end(month(m)?, today)
        }
        _ => month_day(w, today),
    }
}

fn end_of_phrase(rest: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    let rest = match rest {
        ["the", r @ ..] => r,
        r => r,
    };
    match rest {
        [unit] if month(unit).is_some() => date_core(&[unit], today),
        [unit] => end_of(today, unit, 0).or_else(|| quarter_end_named(unit, today)),
        ["this" | "the" | "current", unit] => end_of(today, unit, 0),
        ["next", unit] => end_of(today, unit, 1),
        _ => None,
    }
}

/// "q1" … "q4": the end of the next such quarter (on or after today).
fn quarter_end_named(q: &str, today: NaiveDate) -> Option<NaiveDate> {
    let n: u32 = q.strip_prefix('q')?.parse().ok()?;
    if !(1..=4).contains(&n) {
        return None;
    }
    next_month_end(n * 3, today)
}

/// The last day of month `m` (1-12) on or after today: this year's, else next year's.
fn next_month_end(m: u32, today: NaiveDate) -> Option<NaiveDate> {
    let mut y = today.year();
    loop {
        let last = last_day_of_month(y, m)?;
        if last >= today {
            return Some(last);
        }
        y += 1;
    }
}

/// The last day of this (`ahead` = 0) or next (1) week|month|quarter|year. End of week = Friday.
fn end_of(today: NaiveDate, unit: &str, ahead: u32) -> Option<NaiveDate> {
    match unit.trim_end_matches('s') {
        "week" => Some(week_start(today) + Duration::days(4 + 7 * i64::from(ahead))),
        "month" => {
            let first = today.with_day(1)?.checked_add_months(Months::new(ahead))?;
            last_day_of_month(first.year(), first.month())
        }
        "quarter" => {
            let qs = quarter_start(today)?.checked_add_months(Months::new(3 * ahead))?;
            qs.checked_add_months(Months::new(3))?.pred_opt()
        }
        "year" => NaiveDate::from_ymd_opt(today.year() + ahead as i32, 12, 31),
        _ => None,
    }
}

/// "December 15", "Dec 15th", "December the 15th", "15 Dec", "15th of December", "12/15",
/// "12/15/2026", "2026-12-15", "the 15th".
fn month_day(w: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    let (year, w) = match w {
        [rest @ .., y] if rest.len() >= 2 && y.len() == 4 && y.parse::<i32>().is_ok() => {
            (y.parse::<i32>().ok(), rest)
        }
        _ => (None, w),
    };
    let w: Vec<&str> = w.iter().copied().filter(|x| *x != ",").collect();
    let md = match w.as_slice() {
        [one] if one.contains(['/', '-']) => return slash_or_iso(one, today),
        [m, rest @ ..] if month(m).is_some() => {
            let rest = match rest {
                ["the", r @ ..] => r,
                r => r,
            };
            let (d, used) = day_of_month(rest)?;
            (used == rest.len()).then_some((month(m)?, d))?
        }
        _ => {
            let (d, used) = day_of_month(&w)?;
            match &w[used..] {
                [m] | ["of", m] if month(m).is_some() => (month(m)?, d),
                [] => {
                    // "the 15th": the next 15th on or after today
                    let mut m = today.with_day(1)?;
                    for _ in 0..13 {
                        if let Some(date) = m.with_day(d)
                            && date >= today
                        {
                            return Some(date);
                        }
                        m = m.checked_add_months(Months::new(1))?;
                    }
                    return None;
                }
                _ => return None,
            }
        }
    };
    match year {
        Some(y) => NaiveDate::from_ymd_opt(y, md.0, md.1),
        None => next_month_day(today, md.0, md.1),
    }
}

fn slash_or_iso(w: &str, today: NaiveDate) -> Option<NaiveDate> {
    if let Ok(d) = NaiveDate::parse_from_str(w, "%Y-%m-%d") {
        return Some(d);
    }
    let parts: Vec<&str> = w.split('/').collect();
    let nums: Vec<u32> = parts
        .iter()
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match nums.as_slice() {
        [m, d] => next_month_day(today, *m, *d),
        [m, d, y] => {
            let y = if *y < 100 { 2000 + *y } else { *y };
            NaiveDate::from_ymd_opt(i32::try_from(y).ok()?, *m, *d)
        }
        _ => None,
    }
}

/// Read all of `words` as a period (for "closing <period>" filters): "this quarter", "next month",
/// "this week", "this year", "today", "in June", "Q1", "the next 30 days".
pub(crate) fn period(words: &[&str], today: NaiveDate) -> Option<DateRange> {
    let w = match words {
        ["in" | "during" | "within" | "by", rest @ ..] if !rest.is_empty() => rest,
        _ => words,
    };
    let w = match w {
        ["the", rest @ ..] if !rest.is_empty() => rest,
        _ => w,
    };
    let range = |start: NaiveDate, end: NaiveDate| Some(DateRange { start, end });
    match w {
        ["today"] => range(today, today),
        ["tomorrow"] => range(today.succ_opt()?, today.succ_opt()?),
        ["this" | "current", unit] => unit_range(today, unit, 0),
        ["next", unit] if unit_range(today, unit, 1).is_some() => unit_range(today, unit, 1),
        ["last" | "previous", unit] => unit_range(today, unit, -1),
        ["next", rest @ ..] if span(rest).is_some() => range(today, add_span(today, span(rest)?)?),
        [q] | [q, _] if q.starts_with('q') && q.len() == 2 => {
            let end = quarter_end_named(q, today)?;
            let start = end.with_day(1)?.checked_sub_months(Months::new(2))?;
            range(start, end)
        }
        [m] | ["next", m] if month(m).is_some() => {
            let end = date_core(&[m], today)?;
            range(end.with_day(1)?, end)
        }
        _ => None,
    }
}

fn unit_range(today: NaiveDate, unit: &str, ahead: i32) -> Option<DateRange> {
    let (start, end) = match unit.trim_end_matches('s') {
        "week" => {
            let s = week_start(today) + Duration::days(7 * i64::from(ahead));
            (s, s + Duration::days(6))
        }
        "month" => {
            let s = shift_months(today.with_day(1)?, ahead)?;
            (s, shift_months(s, 1)?.pred_opt()?)
        }
        "quarter" => {
            let s = shift_months(quarter_start(today)?, 3 * ahead)?;
            (s, shift_months(s, 3)?.pred_opt()?)
        }
        "year" => {
            let y = today.year() + ahead;
            (
                NaiveDate::from_ymd_opt(y, 1, 1)?,
                NaiveDate::from_ymd_opt(y, 12, 31)?,
            )
        }
        _ => return None,
    };
    Some(DateRange { start, end })
}

fn shift_months(d: NaiveDate, n: i32) -> Option<NaiveDate> {
    if n >= 0 {
        d.checked_add_months(Months::new(n.unsigned_abs()))
    } else {
        d.checked_sub_months(Months::new(n.unsigned_abs()))
    }
}
