//! JWT bearer assertions: the claims Salesforce expects (`iss` = consumer key, `sub` = username,
//! `aud` = login host, `exp` = seconds, short-lived) signed RS256 with the connected app's key.

use std::path::Path;

use serde::Serialize;

use super::{Error, Secret};

/// How long an assertion is valid: Salesforce wants a few minutes.
pub const ASSERTION_LIFETIME_SECS: u64 = 180;

/// The claims of a JWT bearer assertion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Claims {
    /// The connected app's consumer key.
    pub iss: String,
    /// The Salesforce username.
    pub sub: String,
    /// The audience: the login host (`https://login.salesforce.com`, `https://test.salesforce.com`,
    /// an Experience Cloud site, or the sandbox origin).
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: u64,
}

impl Claims {
    /// Claims for `client_id`/`username`/`audience`, expiring [`ASSERTION_LIFETIME_SECS`] after `now`.
    pub fn new(client_id: &str, username: &str, audience: &str, now_secs: u64) -> Claims {
        Claims {
            iss: client_id.to_string(),
            sub: username.to_string(),
            aud: audience.trim_end_matches('/').to_string(),
            exp: now_secs + ASSERTION_LIFETIME_SECS,
        }
    }
}

/// Signs `claims` with an RSA private key in PEM (PKCS#1 or PKCS#8).
///
/// # Errors
/// [`Error::JwtKey`] when the key is not a usable RSA key; `key_path` is only for the message.
pub fn sign(claims: &Claims, key_pem: &[u8], key_path: &Path) -> Result<Secret, Error> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(key_pem).map_err(|e| Error::JwtKey {
        path: key_path.to_path_buf(),
        message: format!("not an RSA private key in PEM ({e})"),
    })?;
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    jsonwebtoken::encode(&header, claims, &key)
        .map(Secret::new)
        .map_err(|e| Error::JwtKey {
            path: key_path.to_path_buf(),
            message: e.to_string(),
        })
}

/// Reads the key file and signs fresh claims.
///
/// # Errors
/// [`Error::JwtKey`] when the file cannot be read or used.
pub fn assertion(
    key_path: &Path,
    client_id: &str,
    username: &str,
    audience: &str,
) -> Result<Secret, Error> {
    let pem = std::fs::read(key_path).map_err(|e| Error::JwtKey {
        path: key_path.to_path_buf(),
        message: e.to_string(),
    })?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    sign(
        &Claims::new(client_id, username, audience, now),
        &pem,
        key_path,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    const KEY: &[u8] = include_bytes!("../sandbox/demo-org/keys/demo-jwt.key");

    #[test]
    fn claims_are_short_lived_seconds_and_trim_the_audience() {
        let c = Claims::new(
            "sayso-cli",
            "dana@x",
            "https://login.salesforce.com/",
            1_000,
        );
        assert_eq!(c.aud, "https://login.salesforce.com");
        assert_eq!(c.exp, 1_180);
        assert_eq!(c.iss, "sayso-cli");
        assert_eq!(c.sub, "dana@x");
    }

    #[test]
    fn signs_rs256_with_the_demo_key() {
        let c = Claims::new("sayso-cli", "dana@x", "http://127.0.0.1:1", 1_000);
        let jwt = sign(&c, KEY, Path::new("demo-jwt.key")).unwrap();
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header: serde_json::Value =
            serde_json::from_slice(&engine.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(header["alg"], "RS256");
        let claims: serde_json::Value =
            serde_json::from_slice(&engine.decode(parts[1]).unwrap()).unwrap();
        assert_eq!(claims["sub"], "dana@x");
        assert_eq!(claims["exp"], 1_180);
        // Verifies against the certificate's public key.
        let crt = include_bytes!("../sandbox/demo-org/keys/demo-jwt.crt");
        let (_, pem) = x509_parser::pem::parse_x509_pem(crt).unwrap();
        let cert = pem.parse_x509().unwrap();
        let spki = cert.public_key().subject_public_key.data.to_vec();
        let key = jsonwebtoken::DecodingKey::from_rsa_der(&spki);
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
        v.validate_exp = false;
        v.set_audience(&["http://127.0.0.1:1"]);
        jsonwebtoken::decode::<serde_json::Value>(jwt.expose(), &key, &v).unwrap();
    }

    #[test]
    fn a_bad_key_says_so_without_the_key() {
        let c = Claims::new("a", "b", "c", 0);
        let e = sign(&c, b"-----BEGIN NOTHING-----", Path::new("k.pem")).unwrap_err();
        assert!(e.to_string().contains("k.pem"), "{e}");
    }
}
