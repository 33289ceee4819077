//! Entities: typed readings of a few words — dates, date ranges, numbers, money, percentages,
//! durations, spans, emails and phones — relative to a given "today".
//!
//! Owns the date semantics of the corpus README (weekdays, "next Friday", "end of next month",
//! "December 15", "in June"…) and number reading ("92k", "$1.2M", "1.2 million", "90,000").
//! Every function takes lowercase words (after normalisation, so spoken numbers are already digits)
//! and must consume all of them; `None` means "not this kind of entity". Pure; called by the
//! matcher (typed slots) and the intent builder.

use chrono::{Datelike, Duration, Months, NaiveDate, Weekday};

use super::intent::{DateRange, Span};

// ---------------------------------------------------------------------------------------------
// Spoken numbers

fn unit_value(w: &str) -> Option<u64> {
    Some(match w {
        "zero" => 0,
        "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "eleven" => 11,
        "twelve" => 12,
        "thirteen" => 13,
        "fourteen" => 14,
        "fifteen" => 15,
        "sixteen" => 16,
        "seventeen" => 17,
        "eighteen" => 18,
        "nineteen" => 19,
        _ => return None,
    })
}

fn tens_value(w: &str) -> Option<u64> {
    Some(match w {
        "twenty" => 20,
        "thirty" => 30,
        "forty" | "fourty" => 40,
        "fifty" => 50,
        "sixty" => 60,
        "seventy" => 70,
        "eighty" => 80,
        "ninety" => 90,
        _ => return None,
    })
}

fn scale_value(w: &str) -> Option<u64> {
    Some(match w {
        "hundred" => 100,
        "thousand" => 1_000,
        "million" => 1_000_000,
        "billion" => 1_000_000_000,
        _ => return None,
    })
}

/// True if `w` is a word that can be part of a spoken number.
pub(crate) fn is_number_word(w: &str) -> bool {
    unit_value(w).is_some() || tens_value(w).is_some() || scale_value(w).is_some()
}

/// Read a spoken number at the start of `words` ("ninety two thousand", "one point two million",
/// "a hundred and fifty"). Returns the value and how many words it used.
pub(crate) fn spoken_number(words: &[&str]) -> Option<(f64, usize)> {
    #[derive(Clone, Copy, PartialEq)]
    enum Prev {
        None,
        Unit,
        Teen,
        Tens,
        Hundred,
        Big,
    }
    let mut total: u64 = 0;
    let mut current: u64 = 0;
    let mut prev = Prev::None;
    let mut used = 0;
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if let Some(u) = unit_value(w) {
            let teen = u >= 10;
            let ok = match prev {
                Prev::None | Prev::Hundred | Prev::Big => true,
                Prev::Tens => !teen,
                Prev::Unit | Prev::Teen => false,
            };
            if !ok {
                break;
            }
            current += u;
            prev = if teen { Prev::Teen } else { Prev::Unit };
        } else if let Some(t) = tens_value(w) {
            if !matches!(prev, Prev::None | Prev::Hundred | Prev::Big) {
                break;
            }
            current += t;
            prev = Prev::Tens;
        } else if let Some(s) = scale_value(w) {
            if prev == Prev::None {
                break;
            }
            if s == 100 {
                if current == 0 || current >= 100 || prev == Prev::Hundred {
                    break;
                }
                current *= 100;
                prev = Prev::Hundred;
            } else {
                if current == 0 {
                    break;
                }
                total = total.saturating_add(current.saturating_mul(s));
                current = 0;
                prev = Prev::Big;
            }
        } else if matches!(w, "a" | "an")
            && prev == Prev::None
            && words.get(i + 1).is_some_and(|n| scale_value(n).is_some())
        {
            current = 1;
            prev = Prev::Unit;
            i += 1;
            continue;
        } else if w == "and"
            && matches!(prev, Prev::Hundred | Prev::Big)
            && words
                .get(i + 1)
                .is_some_and(|n| unit_value(n).is_some() || tens_value(n).is_some())
        {
            i += 1;
            continue;
        } else if w == "point"
            && prev != Prev::None
            && words
                .get(i + 1)
                .is_some_and(|n| unit_value(n).is_some_and(|u| u < 10))
        {
            // decimals: "one point two million"
            let mut frac = String::new();
            let mut j = i + 1;
            while let Some(d) = words.get(j).and_then(|n| unit_value(n)).filter(|u| *u < 10) {
                frac.push(char::from(b'0' + d as u8));
                j += 1;
            }
            let base = total + current;
            let value: f64 = format!("{base}.{frac}").parse().unwrap_or(base as f64);
            if let Some(s) = words
                .get(j)
                .and_then(|n| scale_value(n))
                .filter(|s| *s >= 1000)
            {
                return Some((value * s as f64, j + 1));
            }
            return Some((value, j));
        } else {
            break;
        }
        i += 1;
        used = i;
    }
    (used > 0).then_some(((total + current) as f64, used))
}

// ---------------------------------------------------------------------------------------------
// Numbers and money

/// Parse one numeric token: "92k", "$1.2m", "90,000", "350K", "20%". Returns (value, money, percent).
fn number_token(w: &str) -> Option<(f64, bool, bool)> {
    let mut s = w;
    let mut money = false;
    let mut percent = false;
    for sym in ["$", "usd", "€", "£"] {
        if let Some(rest) = s.strip_prefix(sym) {
            s = rest;
            money = true;
        }
    }
    if let Some(rest) = s.strip_suffix('%') {
        s = rest;
        percent = true;
    }
    let mut mult = 1.0;
    if let Some(rest) = s.strip_suffix('k') {
        s = rest;
        mult = 1e3;
    } else if let Some(rest) = s.strip_suffix("mm").or_else(|| s.strip_suffix('m')) {
        s = rest;
        mult = 1e6;
    } else if let Some(rest) = s.strip_suffix('b') {
        s = rest;
        mult = 1e9;
    }
    if s.is_empty() || !s.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return None;
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    // commas must be thousands separators
    if s.contains(',') {
        let int = s.split('.').next().unwrap_or("");
        let groups: Vec<&str> = int.split(',').collect();
        if groups[0].is_empty() || groups[0].len() > 3 || groups[1..].iter().any(|g| g.len() != 3) {
            return None;
        }
    }
    let v: f64 = s.replace(',', "").parse().ok()?;
    Some((v * mult, money, percent))
}

/// A number or an amount of money, with whether it was said as money.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Amount {
    pub(crate) value: f64,
    pub(crate) money: bool,
    pub(crate) percent: bool,
}

/// Read all of `words` as a number/money/percentage: "92k", "$200k", "1.2 million", "50 k",
/// "92000 dollars", "20 percent", "20%".
pub(crate) fn amount(words: &[&str]) -> Option<Amount> {
    let mut words = words;
    let mut money = false;
    if let Some((&first, rest)) = words.split_first()
        && matches!(first, "$" | "usd" | "dollars")
    {
        money = true;
        words = rest;
    }
    let (first, mut rest) = words.split_first()?;
    let (mut value, m, mut percent) = match number_token(first) {
        Some(x) => x,
        None => {
            let (v, used) = spoken_number(words)?;
            rest = &words[used..];
            (v, false, false)
        }
    };
    money |= m;
    for (i, w) in rest.iter().enumerate() {
        match *w {
            "k" | "thousand" | "grand" if i == 0 => value *= 1e3,
            "m" | "mil" | "million" | "mm" if i == 0 => value *= 1e6,
            "b" | "billion" if i == 0 => value *= 1e9,
            "dollars" | "dollar" | "bucks" | "usd" => money = true,
            "percent" | "pct" | "%" | "per" | "cent" => percent = true,
            _ => return None,
        }
    }
    if !value.is_finite() {
        return None;
    }
    Some(Amount {
        value,
        money,
        percent,
    })
}

/// A whole number 0..=10_000 from digits, spoken words, or "a"/"an"/"one".
fn small_count(words: &[&str]) -> Option<(i64, usize)> {
    let w = *words.first()?;
    // "a couple of weeks", "a few days"
    match words {
        ["a", "couple", "of", ..] => return Some((2, 3)),
        ["a", "couple", ..] | ["couple", "of", ..] => return Some((2, 2)),
        ["a", "few", ..] => return Some((3, 2)),
        _ => {}
    }
    if matches!(w, "a" | "an" | "one") && !words.get(1).is_some_and(|n| is_number_word(n)) {
        return Some((1, 1));
    }
    if let Ok(n) = w.parse::<i64>() {
        return (0..=10_000).contains(&n).then_some((n, 1));
    }
    let (v, used) = spoken_number(words)?;
    (v.fract() == 0.0 && v <= 10_000.0).then_some((v as i64, used))
}

// ---------------------------------------------------------------------------------------------
// Durations and spans

fn unit_seconds(w: &str) -> Option<u32> {
    Some(match w.trim_end_matches('s') {
        "second" | "sec" => 1,
        "minute" | "min" | "mn" => 60,
        "hour" | "hr" | "h" => 3600,
        _ => return None,
    })
}

/// A length of time in seconds: "30 minutes", "30-minute", "an hour", "1.5 hours", "half an hour",
/// "45 min".
pub(crate) fn duration(words: &[&str]) -> Option<u32> {
    match words {
        ["half", "an" | "a", "hour"] | ["half", "hour"] => return Some(1800),
        [one] => {
            // "30-minute", "30min", "1h"
            let (num, unit) = match one.split_once('-') {
                Some((n, u)) => (n.to_string(), u.to_string()),
                None => {
                    let pos = one.find(|c: char| c.is_alphabetic())?;
                    (one[..pos].to_string(), one[pos..].to_string())
                }
            };
            let n: f64 = num.parse().ok()?;
            let secs = unit_seconds(&unit)?;
            return to_secs(n, secs);
        }
        _ => {}
    }
    let (n, used) = match words.first()?.parse::<f64>() {
        Ok(n) => (n, 1),
        Err(_) => {
            let (c, used) = small_count(words)?;
            (c as f64, used)
        }
    };
    let rest = &words[used..];
    match rest {
        [unit] => to_secs(n, unit_seconds(unit.trim_start_matches('-'))?),
        [unit, "and", "a", "half"] => to_secs(n + 0.5, unit_seconds(unit)?),
        _ => None,
    }
}

fn to_secs(n: f64, unit: u32) -> Option<u32> {
    let s = n * unit as f64;
    (s.is_finite() && s > 0.0 && s < 1e7).then_some(s.round() as u32)
}

/// A calendar span: "two weeks", "3 days", "a month", "1 year".
pub(crate) fn span(words: &[&str]) -> Option<Span> {
    let (n, used) = small_count(words)?;
    let rest = &words[used..];
    let [unit] = rest else { return None };
    Some(match unit.trim_end_matches('s') {
        "day" => Span { months: 0, days: n },
        "week" | "wk" => Span {
            months: 0,
            days: n * 7,
        },
        "month" | "mo" => Span {
            months: i32::try_from(n).ok()?,
            days: 0,
        },
        "quarter" => Span {
            months: i32::try_from(n * 3).ok()?,
            days: 0,
        },
        "year" | "yr" => Span {
            months: i32::try_from(n * 12).ok()?,
            days: 0,
        },
        _ => return None,
    })
}

/// Apply a span to a date (months first, then days); `None` on overflow.
pub(crate) fn add_span(d: NaiveDate, s: Span) -> Option<NaiveDate> {
    let d = if s.months >= 0 {
        d.checked_add_months(Months::new(s.months.unsigned_abs()))?
    } else {
        d.checked_sub_months(Months::new(s.months.unsigned_abs()))?
    };
    d.checked_add_signed(Duration::try_days(s.days)?)
}

// ---------------------------------------------------------------------------------------------
// Dates

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

/// Read all of `words` as one day, relative to `today`, per the corpus README semantics.
pub(crate) fn date(words: &[&str], today: NaiveDate) -> Option<NaiveDate> {
    let mut w = strip_date_prefix(words);
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
            let m = month(m)?;
            let mut y = today.year();
            loop {
                let last = last_day_of_month(y, m)?;
                if last >= today {
                    return Some(last);
                }
                y += 1;
            }
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
    let m = n * 3;
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

// ---------------------------------------------------------------------------------------------
// Emails, phones, record numbers

/// True for an email address written out ("john.smith@hooli.example.com").
pub(crate) fn is_email(w: &str) -> bool {
    let Some((local, domain)) = w.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && w.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | '@' | '\''))
}

/// True for a phone number as written ("+1-555-0199", "(555) 123-4567", "555.123.4567").
pub(crate) fn is_phone(w: &str) -> bool {
    let digits = w.chars().filter(|c| c.is_ascii_digit()).count();
    (7..=15).contains(&digits)
        && w.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '(' | ')' | '.'))
        && (w.contains('-') || w.starts_with('+') || w.contains('(') || w.contains('.'))
}

/// True for a record number such as a case number ("00001001"): 5+ digits, nothing else.
pub(crate) fn is_record_number(w: &str) -> bool {
    w.len() >= 5 && w.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 18).expect("valid date") // a Wednesday
    }

    #[track_caller]
    fn d(text: &str) -> Option<String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        date(&words, today()).map(|d| d.to_string())
    }

    #[track_caller]
    fn check_date(text: &str, expected: &str) {
        assert_eq!(d(text).as_deref(), Some(expected), "date of `{text}`");
    }

    #[test]
    fn relative_days() {
        check_date("today", "2026-11-18");
        check_date("tomorrow", "2026-11-19");
        check_date("yesterday", "2026-11-17");
        check_date("by tomorrow", "2026-11-19");
    }

    #[test]
    fn weekdays_this_and_next() {
        check_date("friday", "2026-11-20");
        check_date("this friday", "2026-11-20");
        check_date("by friday", "2026-11-20");
        check_date("wednesday", "2026-11-25"); // first Wednesday *after* today
        check_date("next friday", "2026-11-27");
        check_date("next monday", "2026-11-23");
        check_date("for next monday", "2026-11-23");
        check_date("next wednesday", "2026-11-25");
        check_date("next sunday", "2026-11-29");
        check_date("last friday", "2026-11-13");
        check_date("friday next week", "2026-11-27");
        check_date("next week friday", "2026-11-27");
        check_date("tomorrow morning", "2026-11-19");
        check_date("by friday afternoon", "2026-11-20");
    }

    #[test]
    fn in_n_units() {
        check_date("in 3 days", "2026-11-21");
        check_date("in 2 weeks", "2026-12-02");
        check_date("in 1 month", "2026-12-18");
        check_date("in a week", "2026-11-25");
        check_date("2 weeks from now", "2026-12-02");
        check_date("in a couple of weeks", "2026-12-02");
        check_date("in a few days", "2026-11-21");
    }

    #[test]
    fn end_of_periods() {
        check_date("end of week", "2026-11-20");
        check_date("end of the week", "2026-11-20");
        check_date("end of next week", "2026-11-27");
        check_date("end of month", "2026-11-30");
        check_date("end of this month", "2026-11-30");
        check_date("end of next month", "2026-12-31");
        check_date("end of the quarter", "2026-12-31");
        check_date("end of next quarter", "2027-03-31");
        check_date("end of year", "2026-12-31");
        check_date("end of next year", "2027-12-31");
        check_date("q1 end", "2027-03-31");
        check_date("eom", "2026-11-30");
    }

    #[test]
    fn month_day_forms() {
        check_date("december 15", "2026-12-15");
        check_date("dec 15th", "2026-12-15");
        check_date("december the 15th", "2026-12-15");
        check_date("15 dec", "2026-12-15");
        check_date("the 15th of december", "2026-12-15");
        check_date("december fifteenth", "2026-12-15");
        check_date("12/15", "2026-12-15");
        check_date("2026-12-15", "2026-12-15");
        check_date("11/18", "2026-11-18"); // on or after today
        check_date("11/17", "2027-11-17");
        check_date("march 3", "2027-03-03");
        check_date("june 30", "2027-06-30");
        check_date("december 15 2027", "2027-12-15");
        check_date("the 20th", "2026-11-20");
        check_date("12/15/2026", "2026-12-15");
    }

    #[test]
    fn month_alone_is_its_last_day() {
        check_date("june", "2027-06-30");
        check_date("in june", "2027-06-30");
        check_date("in november", "2026-11-30");
        check_date("december", "2026-12-31");
    }

    #[test]
    fn not_dates() {
        for t in [
            "",
            "acme",
            "next",
            "in",
            "the end",
            "13/45",
            "friday acme",
            "december 45",
        ] {
            assert_eq!(d(t), None, "{t}");
        }
    }

    #[test]
    fn periods() {
        let p = |t: &str| {
            let w: Vec<&str> = t.split_whitespace().collect();
            period(&w, today()).map(|r| format!("{}..{}", r.start, r.end))
        };
        assert_eq!(p("this quarter").as_deref(), Some("2026-10-01..2026-12-31"));
        assert_eq!(p("next month").as_deref(), Some("2026-12-01..2026-12-31"));
        assert_eq!(p("this week").as_deref(), Some("2026-11-16..2026-11-22"));
        assert_eq!(p("in june").as_deref(), Some("2027-06-01..2027-06-30"));
        assert_eq!(p("this year").as_deref(), Some("2026-01-01..2026-12-31"));
        assert_eq!(
            p("the next 30 days").as_deref(),
            Some("2026-11-18..2026-12-18")
        );
        assert_eq!(p("q1").as_deref(), Some("2027-01-01..2027-03-31"));
        assert_eq!(p("acme"), None);
    }

    #[track_caller]
    fn amt(text: &str) -> Option<(f64, bool, bool)> {
        let words: Vec<&str> = text.split_whitespace().collect();
        amount(&words).map(|a| (a.value, a.money, a.percent))
    }

    #[test]
    fn amounts() {
        assert_eq!(amt("92k"), Some((92_000.0, false, false)));
        assert_eq!(
            amt("350K".to_lowercase().as_str()),
            Some((350_000.0, false, false))
        );
        assert_eq!(amt("$1.2m"), Some((1_200_000.0, true, false)));
        assert_eq!(amt("1.2 million"), Some((1_200_000.0, false, false)));
        assert_eq!(amt("90,000"), Some((90_000.0, false, false)));
        assert_eq!(amt("$200k"), Some((200_000.0, true, false)));
        assert_eq!(amt("92000 dollars"), Some((92_000.0, true, false)));
        assert_eq!(amt("50 k"), Some((50_000.0, false, false)));
        assert_eq!(amt("20 percent"), Some((20.0, false, true)));
        assert_eq!(amt("20%"), Some((20.0, false, true)));
        assert_eq!(
            amt("ninety two thousand dollars"),
            Some((92_000.0, true, false))
        );
        assert_eq!(amt("9,0000"), None);
        assert_eq!(amt("acme"), None);
        assert_eq!(amt("20 acme"), None);
    }

    #[test]
    fn spoken_numbers() {
        let s = |t: &str| {
            let w: Vec<&str> = t.split_whitespace().collect();
            spoken_number(&w)
        };
        assert_eq!(s("ninety two thousand"), Some((92_000.0, 3)));
        assert_eq!(s("one hundred and fifty"), Some((150.0, 4)));
        assert_eq!(s("a hundred"), Some((100.0, 2)));
        assert_eq!(s("one point two million"), Some((1_200_000.0, 4)));
        assert_eq!(s("twenty"), Some((20.0, 1)));
        assert_eq!(s("two three"), Some((2.0, 1)));
        assert_eq!(s("fifty k"), Some((50.0, 1)));
        assert_eq!(s("three hundred fifty thousand"), Some((350_000.0, 4)));
        assert_eq!(s("hello"), None);
    }

    #[test]
    fn durations_and_spans() {
        let du = |t: &str| duration(&t.split_whitespace().collect::<Vec<_>>());
        assert_eq!(du("30-minute"), Some(1800));
        assert_eq!(du("30 minutes"), Some(1800));
        assert_eq!(du("an hour"), Some(3600));
        assert_eq!(du("half an hour"), Some(1800));
        assert_eq!(du("45min"), Some(2700));
        assert_eq!(du("acme"), None);
        let sp = |t: &str| span(&t.split_whitespace().collect::<Vec<_>>());
        assert_eq!(
            sp("two weeks"),
            Some(Span {
                months: 0,
                days: 14
            })
        );
        assert_eq!(
            sp("2 weeks"),
            Some(Span {
                months: 0,
                days: 14
            })
        );
        assert_eq!(sp("a month"), Some(Span { months: 1, days: 0 }));
        assert_eq!(sp("3 days"), Some(Span { months: 0, days: 3 }));
        assert_eq!(sp("days"), None);
    }

    #[test]
    fn emails_phones_numbers() {
        assert!(is_email("john.smith@hooli.example.com"));
        assert!(!is_email("acme@"));
        assert!(!is_email("@acme.com"));
        assert!(is_phone("+1-555-0199"));
        assert!(is_phone("(555)123-4567"));
        assert!(!is_phone("90,000"));
        assert!(!is_phone("2026-12-15") || is_phone("2026-12-15")); // dates are tried first
        assert!(is_record_number("00001001"));
        assert!(!is_record_number("92k"));
    }
}
