//! The client against the in-repo mock Salesforce (`mock-salesforce`), seeded from
//! `fixtures/seed/salesforce`. The mock is an independent implementation of the documented
//! API, so these tests check the client's understanding of the API, not just its plumbing.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crmsync_salesforce::soql::{Cond, Order, Soql};
use crmsync_salesforce::{
    AuthMode, BulkConfig, ErrorKind, QueryApi, QueryMode, QueryOptions, Record, RetryPolicy,
    SalesforceClient, SalesforceConfig, SalesforceError,
};
use futures::TryStreamExt;
use mock_salesforce::{MockSalesforce, MockSalesforceBuilder, RunningMock};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

fn seed_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/seed/salesforce")
}

fn seed_records(object: &str) -> Vec<Record> {
    let path = seed_dir().join("records").join(format!("{object}.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("seed file {} is required: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

async fn start(b: MockSalesforceBuilder) -> RunningMock {
    b.seed_dir(seed_dir())
        .start()
        .await
        .expect("mock salesforce starts")
}

fn config(mock: &RunningMock, auth: AuthMode) -> SalesforceConfig {
    SalesforceConfig::new(
        Url::parse(&mock.base_url).unwrap(),
        "mock-client-id",
        SecretString::from("mock-client-secret"),
        auth,
    )
    .with_retry(RetryPolicy {
        max_attempts: 4,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(10),
    })
}

fn client(mock: &RunningMock) -> SalesforceClient {
    SalesforceClient::new(config(mock, AuthMode::ClientCredentials)).unwrap()
}

fn journal_count(mock: &RunningMock, method: &str, path_contains: &str) -> usize {
    mock.handle
        .requests()
        .iter()
        .filter(|e| e.method == method && e.path.contains(path_contains))
        .count()
}

#[tokio::test]
async fn query_over_several_pages_equals_the_seed_exactly() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let seed = seed_records("Lead");
    assert!(seed.len() > 400, "the seed should need several pages");
    // Every field the seed carries, in the seed's order.
    let fields: Vec<String> = seed[0].keys().cloned().collect();
    let q = Soql::from("Lead")
        .select(fields.iter())
        .order_by("Id", Order::Asc);
    let stream = sf
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
    assert_eq!(stream.api, QueryApi::Rest);
    let got: Vec<Record> = stream.records.try_collect().await.unwrap();

    let by_id = |recs: &[Record]| -> BTreeMap<String, Record> {
        recs.iter()
            .map(|r| (r["Id"].as_str().unwrap().to_string(), r.clone()))
            .collect()
    };
    let want = by_id(&seed);
    let have = by_id(&got);
    assert_eq!(got.len(), seed.len(), "no record lost or duplicated");
    assert_eq!(have.len(), want.len());
    for (id, w) in &want {
        let h = have
            .get(id)
            .unwrap_or_else(|| panic!("record {id} missing"));
        assert_eq!(h, w, "record {id} differs from the seed");
    }
    // The pages were really followed through nextRecordsUrl.
    let pages = journal_count(&mock, "GET", "/query");
    assert_eq!(
        pages,
        seed.len().div_ceil(200),
        "one request per page of 200"
    );
}

#[tokio::test]
async fn upsert_reports_both_outcomes_and_makes_lost_creates_safe() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let fields = json!({"LastName": "Lovelace", "Company": "Analytical Engines", "Monday_Item_Id__c": "mi-777"});

    // A create whose response we pretend was lost: the record exists, the caller lacks the id.
    let first_id = sf.create("Lead", &fields).await.unwrap();

    // Recovery by upsert on the external id: updates the existing record, no duplicate.
    let again = sf
        .upsert(
            "Lead",
            "Monday_Item_Id__c",
            "mi-777",
            &json!({"LastName": "Lovelace", "Company": "AE Ltd"}),
        )
        .await
        .unwrap();
    assert!(!again.created);
    assert_eq!(again.id, first_id);

    // A new external id creates.
    let created = sf
        .upsert(
            "Lead",
            "Monday_Item_Id__c",
            "mi-778",
            &json!({"LastName": "Byron", "Company": "Poets"}),
        )
        .await
        .unwrap();
    assert!(created.created);
    assert_ne!(created.id, first_id);

    let n = sf
        .count(
            &Soql::from("Lead")
                .select(["Id"])
                .filter(Cond::eq("Monday_Item_Id__c", "mi-777")),
        )
        .await
        .unwrap();
    assert_eq!(n, 1, "exactly one record for the external id");
    let rec = sf.get("Lead", &first_id, &["Company"]).await.unwrap();
    assert_eq!(rec["Company"], "AE Ltd");
    let by_ext = sf
        .get_by_external_id("Lead", "Monday_Item_Id__c", "mi-778", &["Id", "LastName"])
        .await
        .unwrap();
    assert_eq!(by_ext["Id"], json!(created.id));
}

/// A create whose answer really is lost: the mock delays it past the client's timeout. The
/// caller recovers with an upsert by the external id. Whether the delayed create completes
/// before or after the upsert (or never, if the server drops it with the connection), the
/// unique external id leaves exactly one record.
#[tokio::test]
async fn timed_out_create_recovered_by_upsert_leaves_one_record() {
    let mock = start(MockSalesforce::builder()).await;
    mock.handle.add_fault(
        serde_json::from_value(json!({
            "method": "POST",
            "path": "/services/data/*/sobjects/Lead",
            "latencyMs": 800,
            "times": 1
        }))
        .unwrap(),
    );
    let sf = SalesforceClient::new(
        config(&mock, AuthMode::ClientCredentials).with_request_timeout(Duration::from_millis(200)),
    )
    .unwrap();
    sf.describe("Lead").await.unwrap(); // session established before the slow call
    let fields = json!({"LastName": "Hopper", "Company": "Navy", "Monday_Item_Id__c": "mi-lost-1"});
    let err = sf.create("Lead", &fields).await.unwrap_err();
    assert!(matches!(err, SalesforceError::Timeout { .. }), "{err}");
    assert_eq!(
        journal_count(&mock, "POST", "/sobjects/Lead"),
        0,
        "still in flight, not resent"
    );

    let saved = sf
        .upsert("Lead", "Monday_Item_Id__c", "mi-lost-1", &fields)
        .await
        .unwrap();
    // Let the delayed create finish (or be dropped) on the server before counting.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let q = Soql::from("Lead")
        .select(["Id"])
        .filter(Cond::eq("Monday_Item_Id__c", "mi-lost-1"));
    assert_eq!(sf.count(&q).await.unwrap(), 1);
    let rec = sf
        .get_by_external_id("Lead", "Monday_Item_Id__c", "mi-lost-1", &["Id"])
        .await
        .unwrap();
    assert_eq!(rec["Id"], json!(saved.id));
}

#[tokio::test]
async fn duplicate_external_ids_give_multiple_matches() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    // Monday_Item_Id__c is unique in the seed, but Contact.Email is an idLookup field that
    // upsert accepts and that is not unique: two records share the value.
    for _ in 0..2 {
        sf.create(
            "Contact",
            &json!({"LastName": "Twin", "Email": "twin@example.org"}),
        )
        .await
        .unwrap();
    }
    let err = sf
        .upsert(
            "Contact",
            "Email",
            "twin@example.org",
            &json!({"LastName": "Twin"}),
        )
        .await
        .unwrap_err();
    match &err {
        SalesforceError::MultipleMatches { ids, .. } => assert_eq!(ids.len(), 2),
        other => panic!("expected MultipleMatches, got {other}"),
    }
    assert_eq!(err.kind(), ErrorKind::Permanent);
}

#[tokio::test]
async fn collections_of_450_records_go_in_three_chunks() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let records: Vec<Value> = (0..450)
        .map(|i| json!({"LastName": format!("Bulk {i}"), "Monday_Item_Id__c": format!("coll-{i}")}))
        .collect();
    let before = journal_count(&mock, "PATCH", "/composite/sobjects");
    let out = sf
        .upsert_many("Contact", "Monday_Item_Id__c", &records, false)
        .await
        .unwrap();
    assert_eq!(
        journal_count(&mock, "PATCH", "/composite/sobjects") - before,
        3
    );
    assert_eq!(out.len(), 450);
    let mut ids = Vec::new();
    for (i, o) in out.iter().enumerate() {
        let saved = o
            .as_ref()
            .unwrap_or_else(|e| panic!("record {i} failed: {e:?}"));
        assert_eq!(saved.created, Some(true));
        ids.push(saved.id.clone());
    }
    // Results map back to inputs: each id holds the record at the same input position.
    for i in [0usize, 199, 200, 399, 400, 449] {
        let rec = sf
            .get("Contact", &ids[i], &["LastName", "Monday_Item_Id__c"])
            .await
            .unwrap();
        assert_eq!(rec["Monday_Item_Id__c"], json!(format!("coll-{i}")));
        assert_eq!(rec["LastName"], json!(format!("Bulk {i}")));
    }
    // The same upsert again updates every record (created: false), still in three chunks.
    let again = sf
        .upsert_many("Contact", "Monday_Item_Id__c", &records, false)
        .await
        .unwrap();
    assert!(again
        .iter()
        .all(|o| o.as_ref().unwrap().created == Some(false)));
    // Create and delete through collections as well.
    let created = sf
        .create_many(
            "Account",
            &(0..450)
                .map(|i| json!({"Name": format!("Org {i}")}))
                .collect::<Vec<_>>(),
            false,
        )
        .await
        .unwrap();
    let new_ids: Vec<String> = created.into_iter().map(|o| o.unwrap().id).collect();
    assert_eq!(new_ids.len(), 450);
    let deleted = sf.delete_many(&new_ids, false).await.unwrap();
    let deleted_ids: Vec<String> = deleted.into_iter().map(|o| o.unwrap().id).collect();
    assert_eq!(deleted_ids, new_ids);
    assert_eq!(journal_count(&mock, "DELETE", "/composite/sobjects"), 3);
}

#[tokio::test]
async fn validation_errors_from_the_mock_are_permanent_per_record() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let out = sf
        .create_many(
            "Contact",
            &[
                json!({"LastName": "Ok"}),
                json!({"FirstName": "No last name"}),
            ],
            false,
        )
        .await
        .unwrap();
    assert!(out[0].as_ref().unwrap().id.starts_with("003"), "{out:?}");
    let f = out[1].as_ref().unwrap_err();
    assert_eq!(f.kind(), ErrorKind::Permanent);
    assert_eq!(f.errors()[0].error_code, "REQUIRED_FIELD_MISSING");
    let err = sf
        .create("Contact", &json!({"Nope__c": 1, "LastName": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Permanent);
    assert_eq!(err.error_code(), Some("INVALID_FIELD"));
}

#[tokio::test]
async fn expired_sessions_are_refreshed_transparently() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    sf.describe("Lead").await.unwrap();
    mock.handle.expire_sessions();
    let n = sf
        .count(&Soql::from("Account").select(["Id"]))
        .await
        .unwrap();
    assert_eq!(n as usize, seed_records("Account").len());
    assert_eq!(sf.token_request_count(), 2);
}

#[tokio::test]
async fn rotating_refresh_tokens_against_the_mock() {
    let mock = start(
        MockSalesforce::builder()
            .refresh_token("initial-refresh-token")
            .rotate_refresh_tokens(true),
    )
    .await;
    let sf = SalesforceClient::new(config(
        &mock,
        AuthMode::RefreshToken {
            refresh_token: SecretString::from("initial-refresh-token"),
        },
    ))
    .unwrap();
    sf.describe_global().await.unwrap();
    let first = sf
        .current_refresh_token()
        .unwrap()
        .expose_secret()
        .to_string();
    assert_ne!(first, "initial-refresh-token", "the mock rotated the token");
    // Force two more refreshes: each must use the latest rotated token (the old one is dead).
    for _ in 0..2 {
        mock.handle.expire_sessions();
        sf.count(&Soql::from("User").select(["Id"])).await.unwrap();
    }
    assert_ne!(sf.current_refresh_token().unwrap().expose_secret(), first);
    assert_eq!(sf.token_request_count(), 3);
}

#[tokio::test]
async fn jwt_bearer_against_the_mock() {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let private_pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let public_pem = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let mock = start(MockSalesforce::builder().jwt_public_key_pem(public_pem)).await;
    let users = seed_records("User");
    let username = users
        .iter()
        .find_map(|u| u.get("Username").and_then(|v| v.as_str()))
        .expect("seeded users have a Username")
        .to_string();
    let sf = SalesforceClient::new(config(
        &mock,
        AuthMode::JwtBearer {
            username,
            private_key_pem: SecretString::from(private_pem),
        },
    ))
    .unwrap();
    let d = sf.describe("Contact").await.unwrap();
    assert!(d.field("Monday_Item_Id__c").unwrap().external_id);
}

#[tokio::test]
async fn bulk_and_rest_give_identical_records() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let seed = seed_records("Opportunity");
    // Every seeded field plus a parent relationship field.
    let mut fields: Vec<String> = seed[0].keys().cloned().collect();
    fields.push("Account.Name".into());
    let q = Soql::from("Opportunity")
        .select(fields.iter())
        .order_by("Id", Order::Asc);
    let rest: Vec<Record> = sf
        .query_records(
            &q,
            QueryOptions {
                mode: QueryMode::Rest,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .records
        .try_collect()
        .await
        .unwrap();
    let bulk: Vec<Record> = sf
        .query_records(
            &q,
            QueryOptions {
                mode: QueryMode::Bulk,
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .records
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest.len(), seed.len());
    assert_eq!(bulk.len(), rest.len());
    let key = |r: &Record| r["Id"].as_str().unwrap().to_string();
    let rest: BTreeMap<String, Record> = rest.into_iter().map(|r| (key(&r), r)).collect();
    let bulk: BTreeMap<String, Record> = bulk.into_iter().map(|r| (key(&r), r)).collect();
    for (id, r) in &rest {
        assert_eq!(bulk.get(id), Some(r), "record {id}: bulk differs from REST");
    }
}

#[tokio::test]
async fn bulk_query_returns_the_same_records_as_rest() {
    let mock = start(MockSalesforce::builder()).await;
    let cfg = config(&mock, AuthMode::ClientCredentials).with_bulk(BulkConfig {
        threshold: 100,
        poll_interval: Duration::from_millis(10),
        max_wait: Duration::from_secs(10),
        page_size: 100,
    });
    let sf = SalesforceClient::new(cfg).unwrap();
    let q = Soql::from("Account")
        .select(["Id", "Name"])
        .order_by("Id", Order::Asc);
    let s = sf.query_records(&q, QueryOptions::default()).await.unwrap();
    assert_eq!(
        s.api,
        QueryApi::Bulk,
        "150 accounts is above the threshold of 100"
    );
    let bulk: Vec<Record> = s.records.try_collect().await.unwrap();
    let seed = seed_records("Account");
    assert_eq!(bulk.len(), seed.len());
    let mut want: Vec<(String, Value)> = seed
        .iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r["Name"].clone()))
        .collect();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    let mut have: Vec<(String, Value)> = bulk
        .iter()
        .map(|r| (r["Id"].as_str().unwrap().to_string(), r["Name"].clone()))
        .collect();
    have.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(have, want);
    // Results were fetched in pages of 100 via Sforce-Locator.
    assert_eq!(journal_count(&mock, "GET", "/results"), 2);
}

#[tokio::test]
async fn exhausted_daily_limit_is_rate_limited_and_not_retried() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    sf.describe_global().await.unwrap();
    mock.handle.exhaust_daily_limit();
    let before = mock.handle.requests().len();
    let id = seed_records("Account")[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let err = sf.get("Account", &id, &[]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err}");
    assert_eq!(err.error_code(), Some("REQUEST_LIMIT_EXCEEDED"));
    assert_eq!(mock.handle.requests().len() - before, 1, "no retry");
}

#[tokio::test]
async fn locked_rows_are_retried_a_bounded_number_of_times() {
    let mock = start(MockSalesforce::builder()).await;
    let sf = client(&mock);
    let id = seed_records("Account")[0]["Id"]
        .as_str()
        .unwrap()
        .to_string();
    mock.handle.lock_rows([id.as_str()]);
    let err = sf
        .update("Account", &id, &json!({"Name": "Renamed"}))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(err.error_code(), Some("UNABLE_TO_LOCK_ROW"));
    assert!(
        matches!(err, SalesforceError::RetriesExhausted { attempts: 4, .. }),
        "{err}"
    );
    assert_eq!(journal_count(&mock, "PATCH", &id), 4);
    mock.handle.unlock_rows();
    sf.update("Account", &id, &json!({"Name": "Renamed"}))
        .await
        .unwrap();
    let rec = sf.get("Account", &id, &["Name"]).await.unwrap();
    assert_eq!(rec["Name"], "Renamed");
}
