//! Webhook JWT verification: valid, expired, wrong audience, wrong secret, malformed, alg=none.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use crmsync_monday::webhook::{AuthError, WebhookVerifier};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};

const SECRET: &str = "signing-secret-for-tests";
const AUD: &str = "https://crmsync.example/webhooks/monday";

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn claims(exp_offset: i64, aud: &str) -> Value {
    json!({
        "accountId": 1825529,
        "userId": 4012689,
        "aud": aud,
        "exp": now() + exp_offset,
        "iat": now() - 10,
        "shortLivedToken": "SHORT_LIVED_TOKEN_VALUE",
    })
}

fn sign(claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn verifier() -> WebhookVerifier {
    WebhookVerifier::new(
        SecretString::from(SECRET.to_owned()),
        vec!["https://other.example/hook".to_owned(), AUD.to_owned()],
    )
    .with_leeway_secs(0)
}

#[test]
fn valid_token_is_accepted_raw_or_with_bearer_prefix() {
    let token = sign(&claims(300, AUD), SECRET);
    let c = verifier()
        .verify_authorization(Some(&token))
        .expect("valid raw token");
    assert_eq!(c.account_id, Some(json!(1825529)));
    assert_eq!(
        c.short_lived_token
            .as_ref()
            .map(|t| t.expose_secret().to_owned()),
        Some("SHORT_LIVED_TOKEN_VALUE".to_owned())
    );
    assert!(!format!("{c:?}").contains("SHORT_LIVED_TOKEN_VALUE"));
    verifier()
        .verify_authorization(Some(&format!("Bearer {token}")))
        .expect("valid bearer token");
}

#[test]
fn expired_token_is_rejected() {
    let token = sign(&claims(-120, AUD), SECRET);
    assert_eq!(
        verifier().verify_authorization(Some(&token)).map(|_| ()),
        Err(AuthError::Expired)
    );
}

#[test]
fn wrong_audience_is_rejected() {
    let token = sign(&claims(300, "https://attacker.example/hook"), SECRET);
    assert_eq!(
        verifier().verify_authorization(Some(&token)).map(|_| ()),
        Err(AuthError::WrongAudience)
    );
    let no_aud = {
        let mut c = claims(300, AUD);
        c.as_object_mut().map(|m| m.remove("aud"));
        sign(&c, SECRET)
    };
    assert!(matches!(
        verifier().verify_authorization(Some(&no_aud)),
        Err(AuthError::MissingClaim(_)) | Err(AuthError::WrongAudience)
    ));
    let empty = WebhookVerifier::new(SecretString::from(SECRET.to_owned()), vec![]);
    let token = sign(&claims(300, AUD), SECRET);
    assert_eq!(
        empty.verify_authorization(Some(&token)).map(|_| ()),
        Err(AuthError::WrongAudience)
    );
}

#[test]
fn wrong_secret_is_rejected() {
    let token = sign(&claims(300, AUD), "another-secret");
    assert_eq!(
        verifier().verify_authorization(Some(&token)).map(|_| ()),
        Err(AuthError::InvalidSignature)
    );
}

#[test]
fn missing_exp_is_rejected() {
    let mut c = claims(300, AUD);
    c.as_object_mut().map(|m| m.remove("exp"));
    let token = sign(&c, SECRET);
    assert_eq!(
        verifier().verify_authorization(Some(&token)).map(|_| ()),
        Err(AuthError::MissingClaim("exp".to_owned()))
    );
}

#[test]
fn malformed_tokens_are_rejected_without_echoing_them() {
    for bad in [
        "not-a-jwt",
        "a.b",
        "a.b.c.d",
        "!!!.???.###",
        "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln",
    ] {
        let err = verifier()
            .verify_authorization(Some(bad))
            .expect_err("malformed");
        assert!(
            matches!(err, AuthError::Malformed(_) | AuthError::InvalidSignature),
            "{bad}: {err:?}"
        );
        assert!(!err.to_string().contains(bad), "{err}");
    }
    assert_eq!(
        verifier().verify_authorization(None).map(|_| ()),
        Err(AuthError::Missing)
    );
    assert_eq!(
        verifier().verify_authorization(Some("  ")).map(|_| ()),
        Err(AuthError::Missing)
    );
}

#[test]
fn alg_none_and_other_algorithms_are_rejected() {
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(serde_json::to_vec(v).expect("json"))
    };
    let payload = b64(&claims(300, AUD));
    for alg in ["none", "None", "HS512", "RS256"] {
        let header = b64(&json!({"alg": alg, "typ": "JWT"}));
        for sig in ["", "c2ln"] {
            let token = format!("{header}.{payload}.{sig}");
            assert!(
                matches!(
                    verifier().verify_authorization(Some(&token)),
                    Err(AuthError::UnsupportedAlgorithm(_))
                ),
                "alg {alg} sig {sig:?}"
            );
        }
    }
    // A genuinely HS512-signed token with the right secret is still refused.
    let token = encode(
        &Header::new(Algorithm::HS512),
        &claims(300, AUD),
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .expect("sign");
    assert!(matches!(
        verifier().verify_authorization(Some(&token)),
        Err(AuthError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn verifier_debug_hides_the_secret() {
    assert!(!format!("{:?}", verifier()).contains(SECRET));
}
