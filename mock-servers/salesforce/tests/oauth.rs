//! OAuth 2.0 token endpoint: the four grants, exact bodies, expiry and rotation.

mod common;

use std::time::Duration;

use common::*;
use mock_salesforce::MockSalesforce;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn token(base: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
    let resp = Client::new()
        .post(format!("{base}/services/oauth2/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

fn snap(status: StatusCode, body: &Value) -> Value {
    json!({"status": status.as_u16(), "body": redact(body)})
}

#[tokio::test]
async fn client_credentials_password_and_errors() {
    let mock = MockSalesforce::builder().start().await.unwrap();
    let base = mock.base_url.as_str();
    let (s, body) = token(
        base,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
        ],
    )
    .await;
    insta::assert_json_snapshot!("client_credentials_ok", snap(s, &body));
    assert_eq!(body["instance_url"], json!(base));
    assert!(body["access_token"].as_str().unwrap().starts_with("00D"));
    assert!(body["issued_at"].as_str().unwrap().parse::<u64>().is_ok());

    // HTTP Basic client authentication
    let resp = Client::new()
        .post(format!("{base}/services/oauth2/token"))
        .basic_auth("mock-client-id", Some("mock-client-secret"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let (s, body) = token(
        base,
        &[
            ("grant_type", "password"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
            ("username", "maya.thompson@ctn-example.org"),
            ("password", "mock-passwordSECURITYTOKEN"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body["id"].as_str().unwrap().contains("/id/00D"));

    let mut errors = serde_json::Map::new();
    for (name, form) in [
        (
            "wrong_secret",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "mock-client-id"),
                ("client_secret", "nope"),
            ],
        ),
        (
            "wrong_client_id",
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "nope"),
                ("client_secret", "mock-client-secret"),
            ],
        ),
        ("missing_grant", vec![("client_id", "mock-client-id")]),
        (
            "unsupported_grant",
            vec![("grant_type", "magic"), ("client_id", "mock-client-id")],
        ),
        (
            "wrong_password",
            vec![
                ("grant_type", "password"),
                ("client_id", "mock-client-id"),
                ("client_secret", "mock-client-secret"),
                ("username", "maya.thompson@ctn-example.org"),
                ("password", "bad"),
            ],
        ),
        (
            "unknown_user",
            vec![
                ("grant_type", "password"),
                ("client_id", "mock-client-id"),
                ("client_secret", "mock-client-secret"),
                ("username", "nobody@x.org"),
                ("password", "mock-password"),
            ],
        ),
        (
            "bad_refresh_token",
            vec![
                ("grant_type", "refresh_token"),
                ("client_id", "mock-client-id"),
                ("refresh_token", "nope"),
            ],
        ),
        (
            "jwt_without_key",
            vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", "a.b.c"),
            ],
        ),
    ] {
        let (s, body) = token(base, &form).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
        errors.insert(name.into(), snap(s, &body));
    }
    insta::assert_json_snapshot!("token_errors", errors);
}

#[tokio::test]
async fn password_with_a_multibyte_character_at_the_cut_is_refused_not_a_panic() {
    let mock = MockSalesforce::builder()
        .start()
        .await
        .expect("mock starts");
    // "mock-password" is 13 bytes; "é" occupies bytes 12..14, so a byte slice at 13 would split it.
    let (s, body) = token(
        &mock.base_url,
        &[
            ("grant_type", "password"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
            ("username", "maya.thompson@ctn-example.org"),
            ("password", "mock-passworé-token"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(body["error_description"], "authentication failure");
}

#[tokio::test]
async fn tokens_expire_and_unknown_tokens_are_rejected() {
    let api = start_with(MockSalesforce::builder().token_ttl(Duration::ZERO)).await;
    let out = api
        .call(reqwest::Method::GET, &format!("{V}/limits"), None)
        .await;
    assert_eq!(out.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        out.body,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    );
    let resp = Client::new()
        .get(format!("{}{V}/limits", api.mock.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = Client::new()
        .get(format!("{}{V}/limits", api.mock.base_url))
        .bearer_auth("00Dxx!garbage")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn refresh_tokens_rotate_when_configured() {
    let mock = MockSalesforce::builder()
        .rotate_refresh_tokens(true)
        .refresh_token("rt-1")
        .start()
        .await
        .unwrap();
    let base = mock.base_url.as_str();
    let (s, body) = token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "mock-client-id"),
            ("client_secret", "mock-client-secret"),
            ("refresh_token", "rt-1"),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    insta::assert_json_snapshot!("refresh_rotated_ok", snap(s, &body));
    let new_rt = body["refresh_token"].as_str().unwrap().to_string();
    let (s, body) = token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "mock-client-id"),
            ("refresh_token", "rt-1"),
        ],
    )
    .await;
    assert_eq!(
        (s, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "expired access/refresh token"})
        )
    );
    let (s, _) = token(
        base,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "mock-client-id"),
            ("refresh_token", &new_rt),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);

    // without rotation the same refresh token keeps working and none is returned
    let mock = MockSalesforce::builder().start().await.unwrap();
    for _ in 0..2 {
        let (s, body) = token(
            &mock.base_url,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", "mock-client-id"),
                ("refresh_token", "mock-refresh-token"),
            ],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(body.get("refresh_token").is_none());
    }
    let issued = mock.handle.issue_refresh_token();
    let (s, _) = token(
        &mock.base_url,
        &[
            ("grant_type", "refresh_token"),
            ("client_id", "mock-client-id"),
            ("refresh_token", &issued),
        ],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

fn rsa_keypair(dir: &std::path::Path) -> (String, String) {
    let key = dir.join("key.pem");
    let status = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(&key)
        .status()
        .expect("the JWT test needs the `openssl` command to generate an RSA key");
    assert!(status.success());
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    (
        std::fs::read_to_string(&key).unwrap(),
        String::from_utf8(out.stdout).unwrap(),
    )
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: u64,
}

#[tokio::test]
async fn jwt_bearer_grant() {
    let dir = std::env::temp_dir().join(format!("mock-sf-jwt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (private, public) = rsa_keypair(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    let mock = MockSalesforce::builder()
        .jwt_public_key_pem(public)
        .start()
        .await
        .unwrap();
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private.as_bytes()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let sign = |iss: &str, sub: &str, aud: &str, exp: u64| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
            &Claims { iss, sub, aud, exp },
            &key,
        )
        .unwrap()
    };
    let grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    let user = "integrations@ctn-example.org";
    let good = sign(
        "mock-client-id",
        user,
        "https://login.salesforce.com",
        now + 180,
    );
    let (s, body) = token(
        &mock.base_url,
        &[("grant_type", grant), ("assertion", &good)],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(body.get("refresh_token").is_none());
    let mut errors = serde_json::Map::new();
    for (name, assertion) in [
        (
            "expired",
            sign(
                "mock-client-id",
                user,
                "https://login.salesforce.com",
                now - 10,
            ),
        ),
        (
            "wrong_issuer",
            sign("other", user, "https://login.salesforce.com", now + 60),
        ),
        (
            "wrong_audience",
            sign("mock-client-id", user, "https://example.com", now + 60),
        ),
        (
            "unknown_subject",
            sign(
                "mock-client-id",
                "ghost@x.org",
                "https://login.salesforce.com",
                now + 60,
            ),
        ),
        ("tampered", format!("{}x", &good[..good.len() - 1])),
    ] {
        let (s, body) = token(
            &mock.base_url,
            &[("grant_type", grant), ("assertion", &assertion)],
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{name}");
        errors.insert(name.into(), body);
    }
    insta::assert_json_snapshot!("jwt_errors", errors);
}
