//! Table tests for entities: dates per the corpus README semantics, periods, amounts, spoken
//! numbers, durations, spans, emails and phones.

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
