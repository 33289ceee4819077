//! Redaction of secrets in text on its way to a log: bearer tokens, Salesforce session ids,
//! JWTs, and the values of token, secret, password, code and assertion fields in forms, URLs and
//! JSON. The log writer of the binary passes every line through [`redact`], so a secret that
//! reaches a log by any path (a dependency's trace, a debug print) is masked there.

use std::borrow::Cow;
use std::sync::OnceLock;

use regex::Regex;

/// What replaces a secret.
pub const MASK: &str = "[redacted]";

fn patterns() -> &'static [(Regex, &'static str)] {
    static P: OnceLock<Vec<(Regex, &'static str)>> = OnceLock::new();
    P.get_or_init(|| {
        let fields = r"access_token|refresh_token|id_token|client_secret|password|assertion|code|code_verifier|token|sid|device_code";
        [
            // Authorization: Bearer …
            (r"(?i)(bearer\s+)[^\s,;]+", "${1}[redacted]"),
            // Salesforce session ids: 00D… followed by `!` and the session part
            (r"00D[A-Za-z0-9]{12,15}![A-Za-z0-9._\-]+", MASK),
            // JWTs (headers start with `{"`, base64url `eyJ`)
            (r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*", MASK),
            // JSON fields: "access_token": "…"
            (
                &format!(r#"(?i)("(?:{fields})"\s*:\s*")[^"]*(")"#),
                "${1}[redacted]${2}",
            ),
            // form and query fields: refresh_token=…
            (
                &format!(r"(?i)(\b(?:{fields})=)[^&\s\x22']+"),
                "${1}[redacted]",
            ),
            // Debug-printed fields: access_token: "…"
            (
                &format!(r#"(?i)(\b(?:{fields}):\s*")[^"]*(")"#),
                "${1}[redacted]${2}",
            ),
        ]
        .into_iter()
        .filter_map(|(p, r)| Regex::new(p).ok().map(|re| (re, r)))
        .collect()
    })
}

/// `text` with every secret it holds masked.
pub fn redact(text: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(text);
    for (re, with) in patterns() {
        if re.is_match(&out) {
            out = Cow::Owned(re.replace_all(&out, *with).into_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_wherever_they_appear() {
        let cases = [
            "authorization: Bearer 00DDm0000000001!AQcAQH0dMHZfz972",
            "session 00DDm0000000001!AQcAQH0dMHZfz972 renewed",
            r#"{"access_token":"abc.def","refresh_token":"5Aep861"}"#,
            "grant_type=refresh_token&refresh_token=5Aep861xyz&client_secret=s3cr3t",
            "assertion=eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln",
            r#"Credentials { access_token: "tok123", refresh_token: "ref456" }"#,
        ];
        for c in cases {
            let r = redact(c);
            for secret in [
                "AQcAQH0dMHZfz972",
                "abc.def",
                "5Aep861",
                "s3cr3t",
                "c2ln",
                "tok123",
                "ref456",
            ] {
                assert!(!r.contains(secret), "{c} → {r}");
            }
            assert!(r.contains(MASK), "{c} → {r}");
        }
        assert_eq!(
            redact("GET /services/data/v63.0/query"),
            "GET /services/data/v63.0/query"
        );
    }
}
