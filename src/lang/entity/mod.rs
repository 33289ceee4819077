//! Entities: typed readings of a few words — dates, date ranges, numbers, money, percentages,
//! durations, spans, emails and phones — relative to a given "today".
//!
//! Owns the date semantics of the corpus README (weekdays, "next Friday", "end of next month",
//! "December 15", "in June"…) and number reading ("92k", "$1.2M", "1.2 million", "90,000").
//! Every function takes lowercase words (after normalisation, so spoken numbers are already digits)
//! and must consume all of them; `None` means "not this kind of entity". Pure; called by the
//! matcher (typed slots) and the intent builder.

use chrono::{Duration, Months, NaiveDate};

use super::intent::Span;

mod date;

pub(crate) use date::{date, period, trailing_time};

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
mod tests;
