//! Failure modes of the Salesforce client against wiremock: exact requests, injected failures.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crmsync_salesforce::soql::{Cond, Soql};
use crmsync_salesforce::{
    AuthMode, BulkConfig, ErrorKind, QueryApi, QueryMode, QueryOptions, Record, RecordFailure,
    RetryPolicy, SalesforceClient, SalesforceConfig, SalesforceError,
};
use futures::{StreamExt, TryStreamExt};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;
use wiremock::matchers::{body_string_contains, header, method, path, path_regex, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const V: &str = "/services/data/v62.0";
const CLIENT_SECRET: &str = "client-secret-do-not-print";

fn fast_retry(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(10),
    }
}

fn config(server: &MockServer, auth: AuthMode) -> SalesforceConfig {
    SalesforceConfig::new(
        Url::parse(&server.uri()).unwrap(),
        "client-id-123",
        SecretString::from(CLIENT_SECRET),
        auth,
    )
    .with_retry(fast_retry(4))
    .with_request_timeout(Duration::from_secs(5))
}

fn token_body(server: &MockServer, token: &str) -> Value {
    json!({
        "access_token": token,
        "instance_url": server.uri(),
        "id": "https://login.salesforce.com/id/00D000000000001EAA/005000000000001AAA",
        "token_type": "Bearer",
        "issued_at": "1699999999999",
        "signature": "sig"
    })
}

async fn mount_token(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(server, token)))
        .expect(1)
        .mount(server)
        .await;
}

fn sf_error(status: u16, code: &str, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!([{"message": message, "errorCode": code, "fields": []}]))
}

fn client_cc(server: &MockServer) -> SalesforceClient {
    SalesforceClient::new(config(server, AuthMode::ClientCredentials)).unwrap()
}

const ACC_ID: &str = "001D000000IRFmaIAH";

fn account_json() -> Value {
    json!({"attributes": {"type": "Account", "url": format!("{V}/sobjects/Account/{ACC_ID}")}, "Id": ACC_ID, "Name": "Acme"})
}

// ---------------------------------------------------------------------------------------
// Session expiry
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn concurrent_session_expiry_triggers_exactly_one_token_request() {
    let server = MockServer::start().await;
    // The first token (T1) is issued once; the refresh (T2) must be requested exactly once
    // even though eight requests fail with T1 at the same time.
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(&server, "T1")))
        .up_to_n_times(1)
        .expect(1)
        .named("initial token")
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body(&server, "T2"))
                // Slow refresh: the other callers pile up behind it.
                .set_delay(Duration::from_millis(300)),
        )
        .expect(1)
        .named("refresh token request")
        .mount(&server)
        .await;
    let record_path = format!("{V}/sobjects/Account/{ACC_ID}");
    Mock::given(method("GET"))
        .and(path(record_path.as_str()))
        .and(header("authorization", "Bearer T1"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
        ))
        .expect(8)
        .named("expired token")
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(record_path.as_str()))
        .and(header("authorization", "Bearer T2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(8)
        .named("fresh token")
        .mount(&server)
        .await;

    let client = client_cc(&server);
    // Warm the cache with T1.
    client.instance_url().await.unwrap();
    assert_eq!(client.token_request_count(), 1);

    let calls = (0..8).map(|_| {
        let c = client.clone();
        async move { c.get("Account", ACC_ID, &[]).await }
    });
    let results = futures::future::join_all(calls).await;
    for r in results {
        assert_eq!(r.unwrap()["Name"], "Acme");
    }
    assert_eq!(client.token_request_count(), 2);
}

#[tokio::test]
async fn concurrent_first_calls_share_one_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body(&server, "T"))
                .set_delay(Duration::from_millis(200)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .and(header("authorization", "Bearer T"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(5)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let calls = (0..5).map(|_| {
        let c = client.clone();
        async move { c.get("Account", ACC_ID, &[]).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(client.token_request_count(), 1);
}

#[tokio::test]
async fn session_error_after_the_one_refresh_is_classified_session() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(&server, "T")))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .expect(2)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Session, "{err}");
    assert_eq!(err.error_code(), Some("INVALID_SESSION_ID"));
}

#[tokio::test]
async fn rejected_credentials_are_a_session_error_without_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("client_id=client-id-123"))
        .and(body_string_contains(
            "client_secret=client-secret-do-not-print",
        ))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "authentication failure"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Session);
    assert!(matches!(err, SalesforceError::Auth { status: 400, .. }));
    let shown = format!("{err} {err:?} {client:?}");
    assert!(shown.contains("invalid_grant"), "{shown}");
    assert!(!shown.contains(CLIENT_SECRET), "{shown}");
}

// ---------------------------------------------------------------------------------------
// OAuth flows
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn jwt_bearer_assertion_has_claims_and_valid_rs256_signature() {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(&server, "JWT-T")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .and(header("authorization", "Bearer JWT-T"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        AuthMode::JwtBearer {
            username: "integration@example.org".into(),
            private_key_pem: SecretString::from(private_pem.clone()),
        },
    );
    let client = SalesforceClient::new(cfg).unwrap();
    let before = chrono::Utc::now().timestamp();
    client.get("Account", ACC_ID, &[]).await.unwrap();

    let reqs = server.received_requests().await.unwrap();
    let token_req = reqs
        .iter()
        .find(|r| r.url.path() == "/services/oauth2/token")
        .unwrap();
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&token_req.body)
        .into_owned()
        .collect();
    let assertion = &form.iter().find(|(k, _)| k == "assertion").unwrap().1;
    assert!(
        !form.iter().any(|(k, _)| k == "client_secret"),
        "the JWT flow must not send the client secret"
    );

    let header = jsonwebtoken::decode_header(assertion).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::RS256);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    let aud = server.uri();
    validation.set_audience(&[aud.as_str()]);
    validation.set_issuer(&["client-id-123"]);
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    let decoded = jsonwebtoken::decode::<crmsync_salesforce::JwtBearerClaims>(
        assertion,
        &jsonwebtoken::DecodingKey::from_rsa_pem(public_pem.as_bytes()).unwrap(),
        &validation,
    )
    .expect("signature and claims verify with the public key");
    assert_eq!(decoded.claims.sub, "integration@example.org");
    assert_eq!(decoded.claims.iss, "client-id-123");
    assert_eq!(decoded.claims.aud, aud);
    let ttl = decoded.claims.exp - before;
    assert!(
        (120..=240).contains(&ttl),
        "exp should be ~3 minutes ahead, was {ttl}s"
    );

    // A different key must not verify it (the signature is real, not a placeholder).
    let other = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let other_pub = other
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    assert!(jsonwebtoken::decode::<crmsync_salesforce::JwtBearerClaims>(
        assertion,
        &jsonwebtoken::DecodingKey::from_rsa_pem(other_pub.as_bytes()).unwrap(),
        &validation,
    )
    .is_err());
    assert!(!format!("{client:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn bad_jwt_private_key_is_a_config_error() {
    let server = MockServer::start().await;
    let cfg = config(
        &server,
        AuthMode::JwtBearer {
            username: "u@example.org".into(),
            private_key_pem: SecretString::from(
                "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
            ),
        },
    );
    let err = SalesforceClient::new(cfg).unwrap_err();
    assert!(matches!(err, SalesforceError::Config(_)), "{err}");
    assert!(!err.to_string().contains("not a key"));
}

#[tokio::test]
async fn rotated_refresh_token_is_stored_and_used_for_the_next_refresh() {
    let server = MockServer::start().await;
    let mut first = token_body(&server, "A1");
    first["refresh_token"] = json!("R2");
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=R1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(first))
        .expect(1)
        .named("refresh with the original token")
        .mount(&server)
        .await;
    let mut second = token_body(&server, "A2");
    second["refresh_token"] = json!("R3");
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .and(body_string_contains("refresh_token=R2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(second))
        .expect(1)
        .named("refresh with the rotated token")
        .mount(&server)
        .await;
    let rec = format!("{V}/sobjects/Account/{ACC_ID}");
    Mock::given(method("GET"))
        .and(path(rec.as_str()))
        .and(header("authorization", "Bearer A1"))
        .respond_with(sf_error(
            401,
            "INVALID_SESSION_ID",
            "Session expired or invalid",
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(rec.as_str()))
        .and(header("authorization", "Bearer A2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(1)
        .mount(&server)
        .await;

    let rotated: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = rotated.clone();
    let client = SalesforceClient::builder(config(
        &server,
        AuthMode::RefreshToken {
            refresh_token: SecretString::from("R1"),
        },
    ))
    .on_refresh_token_rotated(move |t| sink.lock().unwrap().push(t.expose_secret().to_string()))
    .build()
    .unwrap();
    client.get("Account", ACC_ID, &[]).await.unwrap();
    assert_eq!(
        *rotated.lock().unwrap(),
        vec!["R2".to_string(), "R3".to_string()]
    );
    assert_eq!(
        client.current_refresh_token().unwrap().expose_secret(),
        "R3"
    );
    assert!(!format!("{client:?}").contains("R3"));
}

#[tokio::test]
async fn existing_session_is_used_without_a_token_request() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .and(header("authorization", "Bearer STORED"))
        .respond_with(ResponseTemplate::new(200).set_body_json(account_json()))
        .expect(1)
        .mount(&server)
        .await;
    let client = SalesforceClient::builder(config(&server, AuthMode::ClientCredentials))
        .with_session(
            SecretString::from("STORED"),
            Url::parse(&server.uri()).unwrap(),
        )
        .build()
        .unwrap();
    client
        .get("Account", ACC_ID, &["Id", "Name"])
        .await
        .unwrap();
    assert_eq!(client.token_request_count(), 0);
}

// ---------------------------------------------------------------------------------------
// Retries and classification
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn request_limit_exceeded_is_not_retried() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(sf_error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.status(), Some(403));
    assert!(
        matches!(err, SalesforceError::Api { .. }),
        "not wrapped as retried: {err}"
    );
}

#[tokio::test]
async fn server_errors_are_retried_exactly_max_attempts_times() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(sf_error(503, "SERVER_UNAVAILABLE", "down for maintenance"))
        .expect(4)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    match &err {
        SalesforceError::RetriesExhausted { attempts, last, .. } => {
            assert_eq!(*attempts, 4);
            assert_eq!(last.status(), Some(503));
        }
        other => panic!("expected RetriesExhausted, got {other}"),
    }
}

#[tokio::test]
async fn plain_500_is_retried_and_the_total_time_budget_bounds_retries() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(ResponseTemplate::new(500).set_body_string("<html>oops</html>"))
        .expect(1)
        .mount(&server)
        .await;
    // Many attempts allowed, but no time budget: the first retry would start too late.
    let cfg = config(&server, AuthMode::ClientCredentials).with_retry(RetryPolicy {
        max_attempts: 50,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(1),
        max_elapsed: Duration::ZERO,
    });
    let client = SalesforceClient::new(cfg).unwrap();
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.error_code(), Some("HTTP_500"));
}

#[tokio::test]
async fn unable_to_lock_row_is_retried_then_succeeds_even_for_create() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/sobjects/Account")))
        .respond_with(sf_error(
            400,
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record or 1 records: 001xx000003DGb2AAG",
        ))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/sobjects/Account")))
        .and(body_string_contains("\"Name\":\"Acme\""))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": ACC_ID, "success": true, "errors": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let id = client
        .create("Account", &json!({"Name": "Acme"}))
        .await
        .unwrap();
    assert_eq!(id, ACC_ID);
}

#[tokio::test]
async fn validation_errors_are_permanent_with_code_and_fields() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/sobjects/Lead")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!([{
            "message": "Required fields are missing: [LastName]",
            "errorCode": "REQUIRED_FIELD_MISSING",
            "fields": ["LastName"]
        }])))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let err = client
        .create("Lead", &json!({"Company": "X"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(err.error_code(), Some("REQUIRED_FIELD_MISSING"));
    assert_eq!(err.api_errors()[0].fields, vec!["LastName".to_string()]);
    assert_eq!(err.status(), Some(400));
}

#[tokio::test]
async fn api_reserve_refuses_new_work_without_sending() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Sforce-Limit-Info", "api-usage=4990/5000")
                .set_body_json(account_json()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(&server, AuthMode::ClientCredentials).with_api_reserve(20);
    let client = SalesforceClient::new(cfg).unwrap();
    client.get("Account", ACC_ID, &[]).await.unwrap();
    let usage = client.api_usage().unwrap();
    assert_eq!((usage.used, usage.max, usage.remaining()), (4990, 5000, 10));
    let err = client.get("Account", ACC_ID, &[]).await.unwrap_err();
    assert!(matches!(
        err,
        SalesforceError::LimitReserve {
            used: 4990,
            max: 5000,
            reserve: 20
        }
    ));
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    let err = client
        .create_many("Account", &[json!({"Name": "x"})], false)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

// ---------------------------------------------------------------------------------------
// Lost create responses
// ---------------------------------------------------------------------------------------

/// The documented recovery: the create's response is lost after Salesforce created the
/// record; the create is NOT retried blindly (that could duplicate); the caller upserts by the
/// external id it gave the record and gets the existing record back (`created: false`).
#[tokio::test]
async fn lost_create_response_then_upsert_by_external_id_is_safe() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    let created_id = "00Q5g00000AbCdEAAV";
    // The server creates the record but the answer arrives after the client's timeout.
    Mock::given(method("POST"))
        .and(path(format!("{V}/sobjects/Lead")))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"id": created_id, "success": true, "errors": []}))
                .set_delay(Duration::from_millis(1500)),
        )
        .expect(1)
        .named("create (answer lost)")
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!(
            "{V}/sobjects/Lead/Monday_Item_Id__c/1234567890"
        )))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": created_id, "success": true, "errors": [], "created": false}),
        ))
        .expect(1)
        .named("upsert finds the record")
        .mount(&server)
        .await;
    let cfg = config(&server, AuthMode::ClientCredentials)
        .with_request_timeout(Duration::from_millis(300));
    let client = SalesforceClient::new(cfg).unwrap();
    let fields =
        json!({"LastName": "Lovelace", "Company": "Engines", "Monday_Item_Id__c": "1234567890"});
    let err = client.create("Lead", &fields).await.unwrap_err();
    assert!(matches!(err, SalesforceError::Timeout { .. }), "{err}");
    assert_eq!(err.kind(), ErrorKind::Transient);

    let saved = client
        .upsert("Lead", "Monday_Item_Id__c", "1234567890", &fields)
        .await
        .unwrap();
    assert_eq!(saved.id, created_id);
    assert!(!saved.created);
    // The external id is in the URL, not the body (Salesforce rejects it there).
    let reqs = server.received_requests().await.unwrap();
    let patch = reqs.iter().find(|r| r.method.as_str() == "PATCH").unwrap();
    let body: Value = serde_json::from_slice(&patch.body).unwrap();
    assert!(body.get("Monday_Item_Id__c").is_none());
    assert_eq!(body["LastName"], "Lovelace");
}

/// Same, with the connection dropped after the request was read: a raw TCP server that reads
/// the request and closes the socket without answering.
#[tokio::test]
async fn dropped_connection_on_create_is_not_retried() {
    use tokio::io::AsyncReadExt;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen2 = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            seen2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = vec![0u8; 64 * 1024];
            let _ = sock.read(&mut buf).await;
            drop(sock);
        }
    });
    let base = Url::parse(&format!("http://{addr}")).unwrap();
    let cfg = SalesforceConfig::new(
        base.clone(),
        "cid",
        SecretString::from("s"),
        AuthMode::ClientCredentials,
    )
    .with_retry(fast_retry(5));
    let client = SalesforceClient::builder(cfg)
        .with_session(SecretString::from("T"), base)
        .build()
        .unwrap();
    let err = client
        .create("Lead", &json!({"LastName": "X"}))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SalesforceError::Network { connect: false, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(
        seen.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "create must not be resent"
    );
}

#[tokio::test]
async fn upsert_is_retried_after_a_timeout() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    let p = format!("{V}/sobjects/Account/Ext_Id__c/A%2FB%20C");
    Mock::given(method("PATCH"))
        .and(path(p.as_str()))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(
                    json!({"id": ACC_ID, "success": true, "errors": [], "created": true}),
                )
                .set_delay(Duration::from_millis(1500)),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(p.as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"id": ACC_ID, "success": true, "errors": [], "created": false}),
            ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(&server, AuthMode::ClientCredentials)
        .with_request_timeout(Duration::from_millis(300));
    let client = SalesforceClient::new(cfg).unwrap();
    // The external id value contains '/' and a space: it must stay one path segment.
    let r = client
        .upsert("Account", "Ext_Id__c", "A/B C", &json!({"Name": "Acme"}))
        .await
        .unwrap();
    assert_eq!(r.id, ACC_ID);
    assert!(!r.created);
}

// ---------------------------------------------------------------------------------------
// Upsert outcomes
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn upsert_reads_created_flag_and_reports_multiple_matches() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/sobjects/Account/Ext_Id__c/new")))
        .respond_with(ResponseTemplate::new(201).set_body_json(
            json!({"id": "0018a00001rBqb8AAC", "success": true, "errors": [], "created": true}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/sobjects/Account/Ext_Id__c/old")))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"id": "0018a00001rBqb8AAC", "success": true, "errors": [], "created": false}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/sobjects/Account/Ext_Id__c/dup")))
        .respond_with(ResponseTemplate::new(300).set_body_json(json!([
            format!("{V}/sobjects/Account/0015500001QdQWaAAN"),
            format!("{V}/sobjects/Account/0015500001QdQWfAAN")
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let body = json!({"Name": "Acme"});
    let r = client
        .upsert("Account", "Ext_Id__c", "new", &body)
        .await
        .unwrap();
    assert!(r.created);
    let r = client
        .upsert("Account", "Ext_Id__c", "old", &body)
        .await
        .unwrap();
    assert!(!r.created);
    let err = client
        .upsert("Account", "Ext_Id__c", "dup", &body)
        .await
        .unwrap_err();
    match &err {
        SalesforceError::MultipleMatches { ids, value, .. } => {
            assert_eq!(value, "dup");
            assert_eq!(
                ids,
                &vec![
                    "0015500001QdQWaAAN".to_string(),
                    "0015500001QdQWfAAN".to_string()
                ]
            );
        }
        other => panic!("expected MultipleMatches, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Permanent);
}

#[tokio::test]
async fn update_and_delete_expect_no_content() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .and(body_string_contains("\"Name\":\"New\""))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    client
        .update("Account", ACC_ID, &json!({"Name": "New"}))
        .await
        .unwrap();
    client.delete("Account", ACC_ID).await.unwrap();
    // Bad ids never reach the network.
    let err = client.delete("Account", "../limits").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
}

// ---------------------------------------------------------------------------------------
// Query paging
// ---------------------------------------------------------------------------------------

fn contact(i: u32) -> Value {
    json!({"attributes": {"type": "Contact", "url": format!("{V}/sobjects/Contact/003{i:015}")},
           "Id": format!("003{i:015}"), "LastName": format!("Doe {i}"),
           "Account": {"attributes": {"type": "Account", "url": "x"}, "Name": "Acme"}})
}

#[tokio::test]
async fn query_follows_next_records_url_until_done() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param(
            "q",
            "SELECT Id, LastName, Account.Name FROM Contact WHERE LastName != 'O\\'Neil'",
        ))
        .and(header("sforce-query-options", "batchSize=200"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 5, "done": false,
            "nextRecordsUrl": format!("{V}/query/01gRO0000016PIAYA2-2"),
            "records": [contact(1), contact(2)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query/01gRO0000016PIAYA2-2")))
        .and(header("sforce-query-options", "batchSize=200"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 5, "done": false,
            "nextRecordsUrl": format!("{V}/query/01gRO0000016PIAYA2-4"),
            "records": [contact(3), contact(4)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query/01gRO0000016PIAYA2-4")))
        .and(header("sforce-query-options", "batchSize=200"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 5, "done": true, "records": [contact(5)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let q = Soql::from("Contact")
        .select(["Id", "LastName", "Account.Name"])
        .filter(Cond::ne("LastName", "O'Neil"));
    let s = client
        .query_records(
            &q,
            QueryOptions {
                mode: QueryMode::Rest,
                include_deleted: false,
                batch_size: Some(200),
            },
        )
        .await
        .unwrap();
    assert_eq!(s.api, QueryApi::Rest);
    let records: Vec<Record> = s.records.try_collect().await.unwrap();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["LastName"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Doe 1", "Doe 2", "Doe 3", "Doe 4", "Doe 5"]);
    assert!(records.iter().all(|r| r.get("attributes").is_none()));
    assert_eq!(
        crmsync_salesforce::field_value(&records[0], "Account.Name"),
        Some(&json!("Acme"))
    );
}

#[tokio::test]
async fn done_false_without_next_records_url_is_an_error_not_the_end() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 3222, "done": false, "records": [contact(1), contact(2)]
        })))
        .expect(2)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let items: Vec<Result<Value, SalesforceError>> = client
        .query::<Value>("SELECT Id FROM Contact")
        .collect()
        .await;
    assert_eq!(items.len(), 3, "two records, then the error");
    for (i, n) in [(0, 1), (1, 2)] {
        match &items[i] {
            Ok(rec) => assert_eq!(rec["Id"], format!("003{n:015}")),
            other => panic!("record {i}: expected Ok, got {other:?}"),
        }
    }
    match &items[2] {
        Err(SalesforceError::MissingNextRecordsUrl {
            records_so_far,
            total_size,
            ..
        }) => {
            assert_eq!((*records_so_far, *total_size), (2, 3222));
        }
        other => panic!("expected MissingNextRecordsUrl, got {other:?}"),
    }
    // try_collect surfaces it as an error too.
    let all: Result<Vec<Value>, _> = client
        .query::<Value>("SELECT Id FROM Contact")
        .try_collect()
        .await;
    assert!(
        matches!(all, Err(SalesforceError::MissingNextRecordsUrl { .. })),
        "{all:?}"
    );
}

#[tokio::test]
async fn next_records_url_on_another_host_is_refused() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "totalSize": 4, "done": false,
            "nextRecordsUrl": "https://evil.example.com/services/data/v62.0/query/x-2",
            "records": [contact(1)]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let all: Result<Vec<Value>, _> = client
        .query::<Value>("SELECT Id FROM Contact")
        .try_collect()
        .await;
    assert!(
        matches!(all, Err(SalesforceError::ForeignUrl { .. })),
        "{all:?}"
    );
}

// ---------------------------------------------------------------------------------------
// Bulk API 2.0
// ---------------------------------------------------------------------------------------

async fn mount_bulk(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("{V}/jobs/query")))
        .and(body_string_contains("\"operation\":\"query\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "750R0000000zlh9IAA", "operation": "query", "object": "Contact",
            "state": "UploadComplete", "contentType": "CSV", "apiVersion": 62.0
        })))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/750R0000000zlh9IAA")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "750R0000000zlh9IAA", "state": "InProgress"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/750R0000000zlh9IAA")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "750R0000000zlh9IAA", "state": "JobComplete", "numberRecordsProcessed": 3})))
        .expect(1)
        .mount(server)
        .await;
    let results = format!("{V}/jobs/query/750R0000000zlh9IAA/results");
    Mock::given(method("GET"))
        .and(path(results.as_str()))
        .and(query_param("locator", "MTAwMDA"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Sforce-Locator", "null")
                .insert_header("Sforce-NumberOfRecords", "1")
                .set_body_raw(
                    "\"Id\",\"LastName\",\"Account.Name\"\n\"0033\",\"Three\",\"\"\n",
                    "text/csv",
                ),
        )
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(results.as_str()))
        .and(query_param("maxRecords", "2"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("Sforce-Locator", "MTAwMDA")
                .insert_header("Sforce-NumberOfRecords", "2")
                .set_body_raw(
                    "\"Id\",\"LastName\",\"Account.Name\"\n\"0031\",\"O'Brien, \"\"Jr\"\"\",\"Acme\"\n\"0032\",\"Two\",\"Acme\"\n",
                    "text/csv",
                ),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn auto_mode_uses_bulk_above_threshold_and_follows_locators() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param(
            "q",
            "SELECT COUNT() FROM Contact WHERE LastName != null",
        ))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totalSize": 3, "done": true, "records": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_bulk(&server).await;
    // Bulk rows are typed and nested from the describes of Contact and Account.
    for obj in ["Contact", "Account"] {
        Mock::given(method("GET"))
            .and(path(format!("{V}/sobjects/{obj}/describe")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(recorded(&format!("cumulusci_describe_{obj}.json"))),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    let cfg = config(&server, AuthMode::ClientCredentials).with_bulk(BulkConfig {
        threshold: 3,
        poll_interval: Duration::from_millis(1),
        max_wait: Duration::from_secs(5),
        page_size: 2,
    });
    let client = SalesforceClient::new(cfg).unwrap();
    let q = Soql::from("Contact")
        .select(["Id", "LastName", "Account.Name"])
        .filter(Cond::ne("LastName", crmsync_salesforce::SoqlValue::Null));
    let s = client
        .query_records(&q, QueryOptions::default())
        .await
        .unwrap();
    assert_eq!(s.api, QueryApi::Bulk);
    assert_eq!(s.counted, Some(3));
    let recs: Vec<Record> = s.records.try_collect().await.unwrap();
    assert_eq!(recs.len(), 3);
    assert_eq!(recs[0]["LastName"], json!("O'Brien, \"Jr\""));
    assert_eq!(recs[1]["Account"], json!({"Name": "Acme"}));
    assert_eq!(recs[2]["Account"], Value::Null);
    assert_eq!(recs[2]["Id"], json!("0033"));
    // The job was created with the query text.
    let reqs = server.received_requests().await.unwrap();
    let create = reqs
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path().ends_with("/jobs/query"))
        .unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(
        body["query"],
        "SELECT Id, LastName, Account.Name FROM Contact WHERE LastName != null"
    );
}

#[tokio::test]
async fn auto_mode_uses_rest_below_threshold() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param("q", "SELECT COUNT() FROM Contact"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"totalSize": 2, "done": true, "records": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/query")))
        .and(query_param("q", "SELECT Id FROM Contact"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"totalSize": 2, "done": true, "records": [contact(1), contact(2)]}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let s = client
        .query_records(
            &Soql::from("Contact").select(["Id"]),
            QueryOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(s.api, QueryApi::Rest);
    assert_eq!(s.records.try_collect::<Vec<_>>().await.unwrap().len(), 2);
}

#[tokio::test]
async fn failed_bulk_job_is_a_typed_error() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/jobs/query")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": "750X", "state": "UploadComplete"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/jobs/query/750X")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "750X", "state": "Failed", "errorMessage": "INVALID_FIELD: No such column"})))
        .mount(&server)
        .await;
    let cfg = config(&server, AuthMode::ClientCredentials).with_bulk(BulkConfig {
        threshold: 1,
        poll_interval: Duration::from_millis(1),
        max_wait: Duration::from_secs(5),
        page_size: 10,
    });
    let client = SalesforceClient::new(cfg).unwrap();
    let r: Result<Vec<Record>, _> = client
        .bulk_query("SELECT Foo__c FROM Contact")
        .try_collect()
        .await;
    match r {
        Err(SalesforceError::BulkJobFailed {
            job_id,
            state,
            message,
        }) => {
            assert_eq!((job_id.as_str(), state.as_str()), ("750X", "Failed"));
            assert!(message.contains("No such column"));
        }
        other => panic!("expected BulkJobFailed, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------

/// Answers a composite/sobjects request with one result per record: success with an id
/// derived from the record's `Name`, except names starting with "bad" which are rejected.
struct EchoCollection;

impl Respond for EchoCollection {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(body["allOrNone"], json!(false));
        let results: Vec<Value> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r["attributes"]["type"], "Account");
                let name = r["Name"].as_str().unwrap();
                if name.starts_with("bad") {
                    json!({"success": false, "errors": [{"statusCode": "STRING_TOO_LONG", "message": "Name: data value too large", "fields": ["Name"]}]})
                } else {
                    let n: u32 = name.trim_start_matches("acc-").parse().unwrap();
                    json!({"id": format!("001{n:015}"), "success": true, "errors": [], "created": true})
                }
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(results)
    }
}

#[tokio::test]
async fn collections_chunk_by_200_and_map_results_to_inputs() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("POST"))
        .and(path(format!("{V}/composite/sobjects")))
        .respond_with(EchoCollection)
        .expect(3)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let mut records: Vec<Value> = (0..450)
        .map(|i| json!({"Name": format!("acc-{i}")}))
        .collect();
    records[7] = json!({"Name": "bad-7"});
    records[333] = json!({"Name": "bad-333"});
    let out = client
        .create_many("Account", &records, false)
        .await
        .unwrap();
    assert_eq!(out.len(), 450);
    for (i, o) in out.iter().enumerate() {
        if i == 7 || i == 333 {
            let f = o.as_ref().unwrap_err();
            assert_eq!(f.errors()[0].error_code, "STRING_TOO_LONG");
            assert_eq!(f.kind(), ErrorKind::Permanent);
        } else {
            assert_eq!(o.as_ref().unwrap().id, format!("001{i:015}"));
        }
    }
    let reqs = server.received_requests().await.unwrap();
    let sizes: Vec<usize> = reqs
        .iter()
        .filter(|r| r.url.path().ends_with("/composite/sobjects"))
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["records"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    assert_eq!(sizes, vec![200, 200, 50]);
}

#[tokio::test]
async fn collection_upsert_and_delete_use_documented_endpoints() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/composite/sobjects/Contact/Email")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "0037e00001WZ30qAAD", "success": true, "errors": [], "created": true},
            {"id": "0037e00001WZ30rAAD", "success": true, "errors": [], "created": false}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("{V}/composite/sobjects")))
        .and(query_param("ids", "0037e00001WZ30qAAD,0037e00001WZ30rAAD"))
        .and(query_param("allOrNone", "false"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "0037e00001WZ30qAAD", "success": true, "errors": []},
            {"success": false, "errors": [{"statusCode": "ENTITY_IS_DELETED", "message": "entity is deleted", "fields": []}]}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let out = client
        .upsert_many(
            "Contact",
            "Email",
            &[
                json!({"Email": "a@example.com", "LastName": "A"}),
                json!({"Email": "b@example.com", "LastName": "B"}),
            ],
            false,
        )
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().created, Some(true));
    assert_eq!(out[1].as_ref().unwrap().created, Some(false));
    let out = client
        .delete_many(&["0037e00001WZ30qAAD", "0037e00001WZ30rAAD"], false)
        .await
        .unwrap();
    assert_eq!(out[0].as_ref().unwrap().id, "0037e00001WZ30qAAD");
    assert_eq!(
        out[1].as_ref().unwrap_err().errors()[0].error_code,
        "ENTITY_IS_DELETED"
    );
}

#[tokio::test]
async fn a_failed_chunk_marks_its_records_and_stops_later_chunks() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/composite/sobjects")))
        .respond_with(EchoCollection)
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/composite/sobjects")))
        .respond_with(sf_error(
            403,
            "REQUEST_LIMIT_EXCEEDED",
            "TotalRequests Limit exceeded.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let records: Vec<Value> = (0..450)
        .map(|i| json!({"Id": format!("001{i:015}"), "Name": format!("acc-{i}")}))
        .collect();
    let out = client
        .update_many("Account", &records, false)
        .await
        .unwrap();
    assert_eq!(out.len(), 450);
    for (i, o) in out[..200].iter().enumerate() {
        assert_eq!(o.as_ref().unwrap().id, format!("001{i:015}"));
    }
    for o in &out[200..400] {
        match o {
            Err(RecordFailure::Request { error, sent: true }) => {
                assert_eq!(error.kind(), ErrorKind::RateLimited)
            }
            other => panic!("expected sent request failure, got {other:?}"),
        }
    }
    assert!(out[400..]
        .iter()
        .all(|o| matches!(o, Err(RecordFailure::Request { sent: false, .. }))));
}

// ---------------------------------------------------------------------------------------
// Describe
// ---------------------------------------------------------------------------------------

fn recorded(name: &str) -> Value {
    let path = format!("/work/shared/reference/salesforce/recorded/{name}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!("reference file {path} is required by this test but could not be read: {e}")
    });
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn describe_is_typed_and_cached() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Lead/describe")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(recorded("cumulusci_describe_Lead.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(format!("^{V}/sobjects/?$")))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(recorded("cumulusci_describe_Global.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let d1 = client.describe("Lead").await.unwrap();
    let d2 = client.describe("lead").await.unwrap();
    assert!(Arc::ptr_eq(&d1, &d2));
    let email = d1.field("Email").unwrap();
    assert_eq!(email.field_type, crmsync_salesforce::FieldType::Email);
    assert!(email.nillable && email.createable && email.updateable);
    assert_eq!(
        d1.raw["fields"].as_array().unwrap().len(),
        d1.fields().len()
    );
    let g = client.describe_global().await.unwrap();
    client.describe_global().await.unwrap();
    assert!(g.sobject("Contact").is_some());
}

#[tokio::test]
async fn limits_endpoint_updates_usage() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("GET"))
        .and(path(format!("{V}/limits")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(recorded("limits_v50_devorg_mohan-chinnappan-n_cli-dx.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let limits = client.limits().await.unwrap();
    assert_eq!(limits["DailyApiRequests"].max, 15000);
    let u = client.api_usage().unwrap();
    assert_eq!((u.used, u.max), (12, 15000));
}

/// Rejects the record named "locked" with UNABLE_TO_LOCK_ROW on the first request only.
struct LockOnce(std::sync::atomic::AtomicUsize);

impl Respond for LockOnce {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let body: Value = serde_json::from_slice(&request.body).unwrap();
        let results: Vec<Value> = body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let ext = r["Ext_Id__c"].as_str().unwrap();
                if ext == "locked" && n == 0 {
                    json!({"success": false, "errors": [{"statusCode": "UNABLE_TO_LOCK_ROW", "message": "unable to obtain exclusive access to this record", "fields": []}]})
                } else {
                    json!({"id": format!("001{:0>15}", ext.len()), "success": true, "errors": [], "created": n == 0})
                }
            })
            .collect();
        ResponseTemplate::new(200).set_body_json(results)
    }
}

#[tokio::test]
async fn records_rejected_with_unable_to_lock_row_are_resent_alone() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    Mock::given(method("PATCH"))
        .and(path(format!("{V}/composite/sobjects/Account/Ext_Id__c")))
        .respond_with(LockOnce(Default::default()))
        .expect(2)
        .mount(&server)
        .await;
    let client = client_cc(&server);
    let records = vec![
        json!({"Ext_Id__c": "a", "Name": "A"}),
        json!({"Ext_Id__c": "locked", "Name": "L"}),
        json!({"Ext_Id__c": "ccc", "Name": "C"}),
    ];
    let out = client
        .upsert_many("Account", "Ext_Id__c", &records, false)
        .await
        .unwrap();
    assert!(out.iter().all(|o| o.is_ok()), "{out:?}");
    assert_eq!(out[1].as_ref().unwrap().id, format!("001{:0>15}", 6));
    let reqs = server.received_requests().await.unwrap();
    let second: Value = serde_json::from_slice(&reqs.last().unwrap().body).unwrap();
    assert_eq!(second["records"].as_array().unwrap().len(), 1);
    assert_eq!(second["records"][0]["Ext_Id__c"], "locked");
}

// ---------------------------------------------------------------------------------------
// Response size cap
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_response_body_over_the_cap_is_refused_not_buffered() {
    let server = MockServer::start().await;
    mount_token(&server, "T").await;
    let mut big = account_json();
    big["Description"] = Value::String("x".repeat(4096));
    Mock::given(method("GET"))
        .and(path(format!("{V}/sobjects/Account/{ACC_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(big))
        .expect(1)
        .mount(&server)
        .await;
    let client = SalesforceClient::new(
        config(&server, AuthMode::ClientCredentials).with_max_response_bytes(1024),
    )
    .unwrap();
    let err = client
        .get("Account", ACC_ID, &["Id", "Description"])
        .await
        .unwrap_err();
    match &err {
        SalesforceError::Decode { status, reason, .. } => {
            assert_eq!(*status, 200);
            assert!(
                reason.contains("exceeds the limit of 1024 bytes"),
                "{reason}"
            );
        }
        other => panic!("expected a Decode error, got {other:?}"),
    }
    assert_eq!(err.kind(), ErrorKind::Permanent);
}

#[tokio::test]
async fn a_token_response_over_the_cap_is_refused() {
    let server = MockServer::start().await;
    let mut body = token_body(&server, "T");
    body["padding"] = Value::String("x".repeat(4096));
    Mock::given(method("POST"))
        .and(path("/services/oauth2/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let client = SalesforceClient::new(
        config(&server, AuthMode::ClientCredentials).with_max_response_bytes(1024),
    )
    .unwrap();
    let err = client.instance_url().await.unwrap_err();
    match &err {
        SalesforceError::Decode {
            status,
            reason,
            path,
            ..
        } => {
            assert_eq!(*status, 200);
            assert_eq!(path, "/services/oauth2/token");
            assert!(
                reason.contains("exceeds the limit of 1024 bytes"),
                "{reason}"
            );
        }
        other => panic!("expected a Decode error, got {other:?}"),
    }
}

#[test]
fn a_zero_response_cap_is_a_config_error() {
    let cfg = SalesforceConfig::new(
        Url::parse("https://login.salesforce.com").unwrap(),
        "id",
        SecretString::from("s"),
        AuthMode::ClientCredentials,
    )
    .with_max_response_bytes(0);
    assert!(matches!(
        SalesforceClient::new(cfg),
        Err(SalesforceError::Config(m)) if m.contains("max_response_bytes")
    ));
}
