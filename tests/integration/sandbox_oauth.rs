//! The sandbox's OAuth authorization server over real HTTP: every grant (success and each error),
//! PKCE, redirect checks, scope downgrades, refresh tokens only with the scope, revoke then 401,
//! introspection after revoke, userinfo/identity, OauthToken rows, and token expiry.

use crate::support;

use base64::Engine;
use regex::Regex;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use support::*;

const REDIRECT: &str = "http://127.0.0.1:53682/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

fn challenge(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// A browser: remembers the login cookie.
struct Browser<'o> {
    org: &'o Org,
    cookie: Option<String>,
}

/// What a page answered: status, Location header, body.
struct Page {
    status: u16,
    location: Option<String>,
    body: String,
}

impl Page {
    fn request_id(&self) -> String {
        let re = Regex::new(r#"name="request" value="([^"]+)""#).expect("regex");
        re.captures(&self.body)
            .map(|c| c[1].to_string())
            .unwrap_or_else(|| panic!("no request id in page: {}", self.body))
    }

    /// The query parameters of the redirect.
    fn redirect_params(&self) -> Vec<(String, String)> {
        let loc = self
            .location
            .as_deref()
            .unwrap_or_else(|| panic!("no redirect ({}): {}", self.status, self.body));
        let url = url::Url::parse(loc).expect("redirect url");
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

impl<'o> Browser<'o> {
    fn new(org: &'o Org) -> Self {
        Browser { org, cookie: None }
    }

    async fn send(&mut self, req: reqwest::RequestBuilder) -> Page {
        let req = match &self.cookie {
            Some(c) => req.header("Cookie", c.clone()),
            None => req,
        };
        let r = req.send().await.expect("page");
        if let Some(set) = r.headers().get("set-cookie").and_then(|v| v.to_str().ok()) {
            self.cookie = set.split(';').next().map(str::to_string);
        }
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Page {
            status,
            location,
            body: r.text().await.unwrap_or_default(),
        }
    }

    async fn authorize(&mut self, params: &[(&str, &str)]) -> Page {
        let url = format!("{}/services/oauth2/authorize", self.org.url);
        let req = self.org.http.get(url).query(params);
        self.send(req).await
    }

    /// `authorize` for `sayso-cli` in the code flow, to `redirect`, with the `extra` parameters.
    async fn authorize_cli(&mut self, redirect: &str, extra: &[(&str, &str)]) -> Page {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", "sayso-cli"),
            ("redirect_uri", redirect),
        ];
        params.extend_from_slice(extra);
        self.authorize(&params).await
    }

    async fn post(&mut self, form: &[(&str, &str)]) -> Page {
        let url = format!("{}/services/oauth2/authorize", self.org.url);
        let req = self.org.http.post(url).form(form);
        self.send(req).await
    }

    async fn login(&mut self, page: &Page, username: &str, password: &str) -> Page {
        let rid = page.request_id();
        self.post(&[
            ("request", &rid),
            ("action", "login"),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    /// The device verification page: `GET` with the user code in the query, or (`submit`) the
    /// form posting it.
    async fn connect(&mut self, user_code: &str, submit: bool) -> Page {
        let url = format!("{}/setup/connect", self.org.url);
        let form = [("user_code", user_code)];
        let req = if submit {
            self.org.http.post(url).form(&form)
        } else {
            self.org.http.get(url).query(&form)
        };
        self.send(req).await
    }

    /// The authorize page for `params`, then `username`'s login with the demo password.
    async fn sign_in(&mut self, params: &[(&str, &str)], username: &str) -> Page {
        let login = self.authorize(params).await;
        self.login(&login, username, "demo-password").await
    }

    async fn approve(&mut self, page: &Page) -> Page {
        let rid = page.request_id();
        self.post(&[("request", &rid), ("action", "approve")]).await
    }

    /// The whole web-server flow as `username` with PKCE, and its code exchanged: the token
    /// endpoint's answer.
    async fn token_for(&mut self, username: &str, scope: &str) -> (u16, Value) {
        let done = self.code_for(username, scope).await;
        exchange_page(self.org, &done).await
    }

    /// The whole web-server flow as `username` with PKCE; returns the code redirect page.
    async fn code_for(&mut self, username: &str, scope: &str) -> Page {
        let ch = challenge(VERIFIER);
        let login = self
            .authorize_cli(
                REDIRECT,
                &[
                    ("scope", scope),
                    ("state", "st4te"),
                    ("code_challenge", &ch),
                    ("prompt", "login consent"),
                ],
            )
            .await;
        assert_eq!(login.status, 200, "{}", login.body);
        let consent = self.login(&login, username, "demo-password").await;
        assert_eq!(consent.status, 200, "{}", consent.body);
        self.approve(&consent).await
    }
}

async fn exchange(org: &Org, code: &str, verifier: Option<&str>, redirect: &str) -> (u16, Value) {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("client_id", "sayso-cli"),
        ("redirect_uri", redirect),
    ];
    if let Some(v) = verifier {
        form.push(("code_verifier", v));
    }
    org.token(&form).await
}

/// The code of `page`'s redirect exchanged with the right verifier and redirect URI.
async fn exchange_page(org: &Org, page: &Page) -> (u16, Value) {
    let code = page.param("code").expect("code");
    exchange(org, &code, Some(VERIFIER), REDIRECT).await
}

/// A `grant_type` grant for `sayso-cli` with one more field (`refresh_token`, a device `code`).
async fn cli_grant(org: &Org, grant_type: &str, (key, value): (&str, &str)) -> (u16, Value) {
    let form = [
        ("grant_type", grant_type),
        ("client_id", "sayso-cli"),
        (key, value),
    ];
    org.token(&form).await
}

/// The token endpoint's error answer.
fn oauth_error(error: &str, description: &str) -> (u16, Value) {
    (
        400,
        json!({"error": error, "error_description": description}),
    )
}

/// POSTs `form` to an OAuth endpoint (`revoke`, `introspect`) of the sandbox.
async fn post_form(org: &Org, endpoint: &str, form: &[(&str, &str)]) -> reqwest::Response {
    org.http
        .post(format!("{}/services/oauth2/{endpoint}", org.url))
        .form(form)
        .send()
        .await
        .expect(endpoint)
}

/// POSTs `fields` as a multipart form to the token endpoint (as the sf CLI and Postman do) and
/// asserts it answers 200: the JSON answer.
async fn token_multipart(org: &Org, fields: &[(&'static str, &'static str)]) -> Value {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(*name, *value);
    }
    let url = format!("{}/services/oauth2/token", org.url);
    let sent = org.http.post(url).multipart(form).send().await;
    let r = sent.expect("token call");
    assert_eq!(r.status(), 200);
    r.json().await.expect("json")
}

/// Authorize parameters of the code flow for `client_id` to [`REDIRECT`], with `state` and the
/// PKCE `challenge`.
fn code_params<'a>(
    client_id: &'a str,
    state: &'a str,
    challenge: &'a str,
) -> [(&'a str, &'a str); 5] {
    [
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("state", state),
        ("code_challenge", challenge),
    ]
}

/// The REST path of the Titan opportunity.
fn titan_path() -> String {
    format!("/services/data/{V}/sobjects/Opportunity/006Dm0000000001IAA")
}

#[tokio::test]
async fn client_credentials_answers_like_salesforce() {
    let org = start().await;
    let (s, body) = org
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "kinetic-ltd"),
            ("client_secret", "kinetic-demo-secret"),
        ])
        .await;
    assert_eq!(s, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    assert!(token.starts_with("00DDm0000000001!"), "{token}");
    assert_eq!(body["instance_url"], org.url.as_str());
    assert_eq!(
        body["id"],
        format!("{}/id/00DDm0000000001MAA/005Dm0000000007IAA", org.url).as_str()
    );
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "api");
    assert!(
        body.get("refresh_token").is_none(),
        "client credentials never get a refresh token"
    );
    let issued = body["issued_at"].as_str().expect("issued_at is a string");
    assert_eq!(issued.len(), 13, "milliseconds: {issued}");
    // signature = base64(HMAC-SHA256(secret, id + issued_at))
    let expected =
        base64::engine::general_purpose::STANDARD.encode(sayso::sandbox::oauth::hmac_sha256(
            b"kinetic-demo-secret",
            format!("{}{issued}", body["id"].as_str().expect("id")).as_bytes(),
        ));
    assert_eq!(body["signature"], expected.as_str());

    // Basic client authentication.
    let r = org
        .http
        .post(format!("{}/services/oauth2/token", org.url))
        .basic_auth("sandbox-admin", Some("sandbox-admin-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.expect("json")["scope"], "full");

    // Multipart body (sf CLI, Postman).
    let fields = [
        ("grant_type", "client_credentials"),
        ("client_id", "order-status-portal"),
        ("client_secret", "order-status-demo-secret"),
    ];
    let body = token_multipart(&org, &fields).await;
    assert_eq!(
        body["scope"], "api order_status",
        "custom scopes appear in the grant"
    );
}

/// A token request and the error it must get.
type ErrorCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

#[tokio::test]
async fn client_credentials_errors() {
    let org = start().await;
    let cases: &[ErrorCase<'_>] = &[
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "kinetic-ltd"),
                ("client_secret", "wrong"),
            ],
            "invalid_client",
            "invalid client credentials",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "nobody"),
                ("client_secret", "x"),
            ],
            "invalid_client_id",
            "client identifier invalid",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "sayso-cli"),
            ],
            "invalid_client",
            "invalid client credentials",
        ),
        (
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "kinetic-ltd"),
                ("client_secret", "kinetic-demo-secret"),
                ("scope", "web"),
            ],
            "invalid_grant",
            "no valid scopes defined",
        ),
        (
            &[
                ("grant_type", "password"),
                ("username", DANA),
                ("password", "demo-password"),
            ],
            "unsupported_grant_type",
            "grant type not supported",
        ),
        (
            &[("client_id", "kinetic-ltd")],
            "unsupported_grant_type",
            "grant type not supported",
        ),
    ];
    for (form, error, description) in cases {
        let (s, body) = org.token(form).await;
        assert_eq!(s, 400, "{form:?}: {body}");
        assert_eq!(
            body,
            json!({"error": error, "error_description": description}),
            "{form:?}"
        );
    }
}

#[tokio::test]
async fn jwt_bearer_grant_and_errors() {
    let org = start().await;
    let now = chrono::Utc::now().timestamp();
    let (s, body) = org
        .jwt(DANA, json!(now + 300), "https://login.salesforce.com")
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        body.get("refresh_token").is_none(),
        "JWT bearer never returns a refresh token"
    );
    assert!(
        body["scope"]
            .as_str()
            .expect("scope")
            .split(' ')
            .any(|s| s == "api")
    );
    assert!(
        body["id"]
            .as_str()
            .expect("id")
            .ends_with("/005Dm0000000003IAA")
    );
    // exp in milliseconds (the sf CLI), as a string (simple-salesforce), aud = the sandbox itself.
    assert_eq!(
        org.jwt(DANA, json!((now + 300) * 1000), &org.url).await.0,
        200
    );
    assert_eq!(
        org.jwt(
            ADA,
            json!((now + 300).to_string()),
            "https://test.salesforce.com"
        )
        .await
        .0,
        200
    );

    let expect = |r: (u16, Value), error: &str, description: &str| {
        assert_eq!(r.0, 400, "{}", r.1);
        assert_eq!(
            r.1,
            json!({"error": error, "error_description": description})
        );
    };
    expect(
        org.jwt(KINETIC, json!(now + 300), &org.url).await,
        "invalid_grant",
        "user hasn't approved this consumer",
    );
    expect(
        org.jwt("nobody@demo.sayso.dev", json!(now + 300), &org.url)
            .await,
        "invalid_grant",
        "authentication failure",
    );
    expect(
        org.jwt(DANA, json!(now + 300), "https://evil.example.com")
            .await,
        "invalid_grant",
        "audience is invalid",
    );
    expect(
        org.jwt(DANA, json!(now - 600), &org.url).await,
        "invalid_grant",
        "expired authorization code",
    );
    let foreign = sign(json!({"iss": "kinetic-ltd", "sub": DANA, "aud": org.url, "exp": now + 60}));
    let r = org
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &foreign),
        ])
        .await;
    assert_eq!(r.1["error"], "invalid_grant");
    let r = org
        .token(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", "a.b.c"),
        ])
        .await;
    expect(r, "invalid_grant", "invalid assertion");
}

#[tokio::test]
async fn web_server_flow_with_pkce_issues_a_refresh_token() {
    let org = start().await;
    let mut b = Browser::new(&org);
    let ch = challenge(VERIFIER);
    let login = b
        .authorize_cli(
            REDIRECT,
            &[
                ("scope", "refresh_token api web full"),
                ("state", "xyz"),
                ("code_challenge", &ch),
            ],
        )
        .await;
    assert_eq!(login.status, 200);
    assert!(
        login.body.contains("id=\"username\"") && login.body.contains("id=\"password\""),
        "a login page"
    );
    let bad = b.login(&login, DANA, "wrong").await;
    assert_eq!(bad.status, 401);
    assert!(bad.body.contains("Please check your username and password"));
    let consent = b.login(&bad, DANA, "demo-password").await;
    assert_eq!(consent.status, 200, "{}", consent.body);
    assert!(
        consent.body.contains("Access and manage your data"),
        "scopes in plain words: {}",
        consent.body
    );
    assert!(
        consent
            .body
            .contains("Perform requests on your behalf at any time")
    );
    assert!(
        !consent.body.contains("Full access"),
        "scopes the app does not allow are dropped"
    );
    let done = b.approve(&consent).await;
    assert_eq!(done.status, 302);
    assert!(
        done.location
            .as_deref()
            .expect("location")
            .starts_with(REDIRECT)
    );
    assert_eq!(done.param("state").as_deref(), Some("xyz"));
    let code = done.param("code").expect("code");
    assert!(code.starts_with("aPrx") && code.ends_with("=="), "{code}");

    let (s, body) = exchange(&org, &code, Some(VERIFIER), REDIRECT).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body["scope"], "refresh_token api",
        "downgraded to what the app allows"
    );
    let refresh = body["refresh_token"]
        .as_str()
        .expect("refresh token with the refresh_token scope")
        .to_string();
    let access = body["access_token"].as_str().expect("access").to_string();
    assert_eq!(org.get(&access, &titan_path()).await.0, 200);

    // A code works once.
    let (s, body) = exchange(&org, &code, Some(VERIFIER), REDIRECT).await;
    assert_eq!(
        (s, body),
        oauth_error("invalid_grant", "invalid authorization code")
    );

    // Refresh: a new access token, no new refresh token.
    let (s, body) = cli_grant(&org, "refresh_token", ("refresh_token", &refresh)).await;
    assert_eq!(s, 200, "{body}");
    assert!(body.get("refresh_token").is_none());
    assert_eq!(body["scope"], "refresh_token api");
    let access2 = body["access_token"].as_str().expect("access").to_string();
    assert_ne!(access, access2);

    // Second login in the same browser: remembered login and consent, straight to the redirect.
    let again = b.authorize_cli(REDIRECT, &[("code_challenge", &ch)]).await;
    assert_eq!(again.status, 302, "{}", again.body);
    assert!(again.param("code").is_some());
    // …unless the client asks for the login page or the consent page.
    let prompts = [
        ("consent", "id=\"oaapprove\"", "consent page"),
        ("login", "id=\"password\"", "login page"),
    ];
    for (prompt, field, page) in prompts {
        let forced = b
            .authorize_cli(REDIRECT, &[("code_challenge", &ch), ("prompt", prompt)])
            .await;
        assert!(
            forced.status == 200 && forced.body.contains(field),
            "{page}"
        );
    }

    // Revoking the refresh token kills every access token of the grant.
    let r = post_form(&org, "revoke", &[("token", &refresh)]).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("body"), "");
    for t in [&access, &access2] {
        let (s, _, body) = org.get(t, &titan_path()).await;
        assert_eq!(
            (s, error_code(&body)),
            (401, "INVALID_SESSION_ID"),
            "{body}"
        );
    }
    let (s, body) = cli_grant(&org, "refresh_token", ("refresh_token", &refresh)).await;
    assert_eq!(
        (s, body),
        oauth_error("invalid_grant", "expired access/refresh token")
    );
}

#[tokio::test]
async fn no_refresh_token_without_the_scope() {
    let org = start().await;
    let mut b = Browser::new(&org);
    let (s, body) = b.token_for(DANA, "api").await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], "api");
    assert!(body.get("refresh_token").is_none(), "{body}");
    // offline_access earns one too.
    let (_, body) = b.token_for(DANA, "api offline_access").await;
    assert!(body["refresh_token"].is_string(), "{body}");
}

#[tokio::test]
async fn pkce_and_redirect_mismatches_are_refused() {
    let org = start().await;
    let mut b = Browser::new(&org);
    let code = |p: &Page| p.param("code").expect("code");
    // Wrong verifier: invalid_request; missing verifier: invalid_grant; exchanging with another
    // redirect URI than the one authorized.
    let refused = [
        (
            Some("not-the-verifier-not-the-verifier-not-the-verif"),
            REDIRECT,
            oauth_error("invalid_request", "invalid code verifier"),
        ),
        (
            None,
            REDIRECT,
            oauth_error("invalid_grant", "invalid code verifier"),
        ),
        (
            Some(VERIFIER),
            "http://127.0.0.1:53682/other",
            oauth_error("invalid_grant", "redirect_uri must match configuration"),
        ),
    ];
    for (verifier, redirect, expected) in refused {
        let p = b.code_for(DANA, "api").await;
        let r = exchange(&org, &code(&p), verifier, redirect).await;
        assert_eq!(r, expected, "{verifier:?} {redirect}");
    }

    // Authorize with a redirect URI the app does not list: an error page, never a redirect.
    let page = b
        .authorize_cli("https://evil.example.com/cb", &[("code_challenge", "x")])
        .await;
    assert_eq!(page.status, 400);
    assert!(page.location.is_none());
    assert!(page.body.contains("redirect_uri_mismatch"), "{}", page.body);
    // Loopback: any port.
    let page = b
        .authorize_cli("http://127.0.0.1:1/cb", &[("code_challenge", "x")])
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    // The app requires PKCE: no challenge → error redirect with the state.
    let page = b.authorize_cli(REDIRECT, &[("state", "s1")]).await;
    assert_eq!(page.status, 302);
    assert_eq!(page.param("error").as_deref(), Some("invalid_request"));
    assert_eq!(page.param("state").as_deref(), Some("s1"));
    // Unknown client: error page.
    let page = b
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "nobody"),
            ("redirect_uri", REDIRECT),
        ])
        .await;
    assert!(page.status == 400 && page.body.contains("invalid_client_id"));
}

#[tokio::test]
async fn api_only_users_and_denials_get_the_error_redirect() {
    let org = start().await;
    let mut b = Browser::new(&org);
    let ch = challenge(VERIFIER);
    let params = code_params("sayso-cli", "k", &ch);
    let refused = b.sign_in(&params, KINETIC).await;
    assert_eq!(refused.status, 302, "{}", refused.body);
    assert_eq!(refused.param("error").as_deref(), Some("access_denied"));
    assert_eq!(refused.param("state").as_deref(), Some("k"));
    assert!(refused.param("code").is_none());

    let mut b = Browser::new(&org);
    let consent = b.sign_in(&params, SAM).await;
    let rid = consent.request_id();
    let denied = b.post(&[("request", &rid), ("action", "deny")]).await;
    assert_eq!(denied.param("error").as_deref(), Some("access_denied"));
    assert_eq!(
        denied.param("error_description").as_deref(),
        Some("end-user denied authorization")
    );
}

#[tokio::test]
async fn revoke_and_introspect() {
    let org = start().await;
    let token = org.jwt_token(DANA).await;
    let introspect = |t: String| {
        let org = &org;
        async move {
            let form = [
                ("token", t.as_str()),
                ("token_type_hint", "access_token"),
                ("client_id", "sayso-cli"),
            ];
            let r = post_form(org, "introspect", &form).await;
            assert_eq!(r.status(), 200);
            r.json::<Value>().await.expect("json")
        }
    };
    let info = introspect(token.clone()).await;
    assert_eq!(info["active"], true);
    assert_eq!(info["username"], DANA);
    assert_eq!(info["client_id"], "sayso-cli");
    assert_eq!(info["token_type"], "access_token");
    assert!(info["exp"].as_i64().expect("exp") > info["iat"].as_i64().expect("iat"));
    assert!(
        info["sub"]
            .as_str()
            .expect("sub")
            .ends_with("/id/00DDm0000000001MAA/005Dm0000000003IAA")
    );

    // Introspection needs an authenticated client.
    let form = [
        ("token", token.as_str()),
        ("client_id", "kinetic-ltd"),
        ("client_secret", "nope"),
    ];
    let r = post_form(&org, "introspect", &form).await;
    assert_eq!(r.status(), 401);

    let r = post_form(&org, "revoke", &[("token", &token)]).await;
    assert_eq!(r.status(), 200);
    let (s, body) = org.limits(&token).await;
    assert_eq!((s, error_code(&body)), (401, "INVALID_SESSION_ID"));
    assert_eq!(introspect(token.clone()).await, json!({"active": false}));
    // Revoking again: the token is unknown now.
    let r = post_form(&org, "revoke", &[("token", &token)]).await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invalid_token"
    );
}

#[tokio::test]
async fn a_token_without_the_api_scope_is_refused_on_the_data_api() {
    let org = start().await;
    let mut b = Browser::new(&org);
    let (_, body) = b.token_for(DANA, "id refresh_token").await;
    let token = body["access_token"].as_str().expect("token").to_string();
    let (s, _, body) = org.get(&token, &titan_path()).await;
    assert_eq!(s, 401, "{body}");
    assert_eq!(
        body,
        json!([{"message": "This session is not valid for use with the REST API", "errorCode": "INVALID_SESSION_ID"}])
    );
    // …but it still reaches the identity service.
    let (s, _, info) = org.get(&token, "/services/oauth2/userinfo").await;
    assert_eq!(s, 200);
    assert_eq!(info["preferred_username"], DANA);
}

#[tokio::test]
async fn userinfo_and_identity_url() {
    let org = start().await;
    let token = org.jwt_token(DANA).await;
    let (s, _, info) = org.get(&token, "/services/oauth2/userinfo").await;
    assert_eq!(s, 200);
    assert_eq!(info["user_id"], "005Dm0000000003IAA");
    assert_eq!(info["organization_id"], "00DDm0000000001MAA");
    assert_eq!(info["name"], "Dana Reyes");
    let (s, _, id) = org
        .get(
            &token,
            "/id/00DDm0000000001MAA/005Dm0000000003IAA?version=63.0",
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(id["username"], DANA);
    assert_eq!(id["display_name"], "Dana Reyes");
    assert_eq!(
        id["urls"]["rest"],
        format!("{}/services/data/v63.0/", org.url).as_str()
    );
    // jsforce passes the token as a query parameter.
    let r = org
        .http
        .get(format!(
            "{}/id/00DDm0000000001MAA/005Dm0000000003IAA",
            org.url
        ))
        .query(&[("format", "json"), ("oauth_token", token.as_str())])
        .send()
        .await
        .expect("identity");
    assert_eq!(r.status(), 200);
    let (s, _, body) = org
        .get("00DDm0000000001!bogus", "/services/oauth2/userinfo")
        .await;
    assert_eq!((s, body), (403, Value::String("Bad_OAuth_Token".into())));
}

#[tokio::test]
async fn device_flow() {
    let org = start().await;
    let fields = [
        ("client_id", "sayso-cli"),
        ("response_type", "device_code"),
        ("scope", "refresh_token api web"),
    ];
    let start = token_multipart(&org, &fields).await;
    let device_code = start["device_code"]
        .as_str()
        .expect("device_code")
        .to_string();
    let user_code = start["user_code"].as_str().expect("user_code").to_string();
    assert_eq!(
        start["verification_uri"],
        format!("{}/setup/connect", org.url).as_str()
    );
    assert_eq!(start["interval"], 5);
    let poll = || cli_grant(&org, "device", ("code", &device_code));
    assert_eq!(
        poll().await,
        oauth_error("authorization_pending", "authorization pending")
    );

    let mut b = Browser::new(&org);
    let page = b.connect(&user_code, false).await;
    assert!(page.status == 200 && page.body.contains(&user_code));
    let wrong = b.connect("NOPE", true).await;
    assert_eq!(wrong.status, 400);
    let login = b.connect(&user_code, true).await;
    let consent = b.login(&login, DANA, "demo-password").await;
    assert!(
        consent.body.contains("Access and manage your data"),
        "{}",
        consent.body
    );
    let done = b.approve(&consent).await;
    assert!(
        done.status == 200 && done.body.contains("Your device is connected"),
        "{}",
        done.body
    );

    let (s, body) = poll().await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["scope"], "refresh_token api");
    assert!(body["refresh_token"].is_string());
    // A device code yields one token response.
    assert_eq!(poll().await.0, 400);
}

#[tokio::test]
async fn oauth_tokens_are_visible_to_admins_and_deleting_one_revokes_it() {
    let org = start().await;
    let dana = org.jwt_token(DANA).await;
    let admin = org.admin().await;
    // Dana has no access to OauthToken.
    let (s, _) = org.query(&dana, "SELECT Id FROM OauthToken").await;
    assert_ne!(s, 200);
    // Use Dana's token twice more.
    for _ in 0..2 {
        assert_eq!(org.limits(&dana).await.0, 200);
    }
    let body = org
        .query_ok(
            &admin,
            "SELECT Id, AppName, UserId, UseCount, LastUsedDate FROM OauthToken",
        )
        .await;
    let rows = body["records"].as_array().expect("records");
    let row = rows
        .iter()
        .find(|r| r["UserId"] == "005Dm0000000003IAA")
        .unwrap_or_else(|| panic!("Dana's grant is listed: {body}"));
    assert_eq!(row["AppName"], "sayso CLI");
    assert!(row["UseCount"].as_i64().expect("UseCount") >= 2, "{row}");
    assert!(row["LastUsedDate"].is_string());
    let id = row["Id"].as_str().expect("Id").to_string();
    let (s, body) = org
        .delete(
            &admin,
            &format!("/services/data/{V}/sobjects/OauthToken/{id}"),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, body) = org.limits(&dana).await;
    assert_eq!((s, error_code(&body)), (401, "INVALID_SESSION_ID"));
}

#[tokio::test]
async fn admin_approved_apps_refuse_profiles_they_do_not_preauthorize() {
    let org = start().await;
    // An admin-approved web app, pre-authorized for administrators only.
    org.state.policy.update_config(|c| {
        let mut app = c.app("sayso-cli").expect("cli").clone();
        app.name = "Partner Portal".into();
        app.client_id = "partner-portal".into();
        app.permitted_users = "AdminApproved".into();
        app.preauthorized_profiles = vec!["System Administrator".into()];
        c.connected_apps.push(app);
    });
    let ch = challenge(VERIFIER);
    let params = code_params("partner-portal", "p", &ch);
    let mut b = Browser::new(&org);
    let refused = b.sign_in(&params, DANA).await;
    assert_eq!(refused.status, 302, "{}", refused.body);
    assert_eq!(
        refused.param("error").as_deref(),
        Some("OAUTH_APP_ACCESS_DENIED")
    );
    assert_eq!(
        refused.param("error_description").as_deref(),
        Some("user is not admin approved to access this app")
    );
    // A pre-authorized user needs no consent page: straight to the code.
    let mut b = Browser::new(&org);
    let done = b.sign_in(&params, ADA).await;
    assert_eq!(done.status, 302, "{}", done.body);
    let code = done.param("code").expect("code");
    let (s, body) = org
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "partner-portal"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ])
        .await;
    assert_eq!(s, 200, "{body}");
}
