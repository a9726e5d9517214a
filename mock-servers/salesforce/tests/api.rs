//! End-to-end tests of the mock over a real socket, with insta snapshots of success and error bodies.

mod common;

use common::*;
use mock_salesforce::{Fault, MockSalesforce};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn snap(status: StatusCode, body: &Value) -> Value {
    json!({"status": status.as_u16(), "body": redact(body)})
}

#[tokio::test]
async fn versions_resources_limits_and_limit_header() {
    let api = start().await;
    let out = api.call(Method::GET, "/services/data/", None).await;
    assert_eq!(out.status, StatusCode::OK);
    let versions = out.body.as_array().unwrap();
    assert_eq!(versions.len(), 21);
    assert_eq!(
        versions[0],
        json!({"label": "Summer '19", "url": "/services/data/v46.0", "version": "46.0"})
    );
    assert_eq!(versions[13]["label"], "Winter '24");
    assert_eq!(versions[13]["version"], "59.0");
    assert_eq!(versions[20]["version"], "66.0");
    // every listed version is served
    for v in versions {
        let out = api
            .call(
                Method::GET,
                &format!("{}/limits", v["url"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(out.status, StatusCode::OK);
    }
    let out = api
        .call(Method::GET, "/services/data/v45.0/limits", None)
        .await;
    insta::assert_json_snapshot!("unsupported_version", snap(out.status, &out.body));
    let out = api.call(Method::GET, V, None).await;
    insta::assert_json_snapshot!("resources", snap(out.status, &out.body));
    let out = api.call(Method::GET, &format!("{V}/limits"), None).await;
    let info = out.header("sforce-limit-info").unwrap();
    assert!(
        info.starts_with("api-usage=") && info.ends_with("/15000"),
        "{info}"
    );
    let used: u64 = info["api-usage=".len()..info.find('/').unwrap()]
        .parse()
        .unwrap();
    assert_eq!(
        out.body["DailyApiRequests"],
        json!({"Max": 15000, "Remaining": 15000 - used})
    );
    let mut limits = out.body.clone();
    limits["DailyApiRequests"]["Remaining"] = json!("[remaining]");
    insta::assert_json_snapshot!("limits", limits);
    let out = api.call(Method::GET, "/nothing/here", None).await;
    insta::assert_json_snapshot!("unknown_path", snap(out.status, &out.body));
}

#[tokio::test]
async fn describes_come_from_the_seed() {
    let api = start().await;
    let out = api.call(Method::GET, &format!("{V}/sobjects/"), None).await;
    assert_eq!(out.status, StatusCode::OK);
    let names: Vec<&str> = out.body["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    insta::assert_json_snapshot!(
        "global_describe_names",
        json!({"encoding": out.body["encoding"], "maxBatchSize": out.body["maxBatchSize"], "names": names})
    );
    let lead = out.body["sobjects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "Lead")
        .unwrap();
    insta::assert_json_snapshot!("global_describe_lead_entry", lead);

    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/describe"), None)
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body["keyPrefix"], "00Q");
    assert_eq!(
        out.body["urls"]["describe"],
        "/services/data/v66.0/sobjects/Lead/describe"
    );
    let fields: Vec<Value> = out.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            json!(format!(
                "{} {} len={} nillable={} createable={} ext={}",
                f["name"].as_str().unwrap(),
                f["type"].as_str().unwrap(),
                f["length"],
                f["nillable"],
                f["createable"],
                f["externalId"]
            ))
        })
        .collect();
    insta::assert_json_snapshot!("lead_describe_fields", fields);
    // every field keeps the full set of describe attributes
    assert!(out.body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f.as_object().unwrap().len() >= 50));

    let out = api
        .call(
            Method::GET,
            "/services/data/v50.0/sobjects/Program__c/describe",
            None,
        )
        .await;
    assert_eq!(
        out.body["urls"]["sobject"],
        "/services/data/v50.0/sobjects/Program__c"
    );
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Account"), None)
        .await;
    assert_eq!(out.body["objectDescribe"]["name"], "Account");
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Nope__c/describe"), None)
        .await;
    insta::assert_json_snapshot!("describe_unknown_object", snap(out.status, &out.body));
}

#[tokio::test]
async fn create_read_update_delete() {
    let api = start().await;
    let out = api
        .call(Method::POST, &format!("{V}/sobjects/Lead/"), Some(json!({"LastName": "Okafor", "FirstName": "Ada", "Company": "Harbor Food Bank", "Email": "ada@harbor.org", "Multi_Industry__c": "Education;Healthcare", "Sector__c": "Nonprofit", "AnnualRevenue": 125000.5, "NumberOfEmployees": 12})))
        .await;
    insta::assert_json_snapshot!("create_201", snap(out.status, &out.body));
    let id = out.body["id"].as_str().unwrap().to_string();
    assert_eq!(
        out.header("location").unwrap(),
        format!("{V}/sobjects/Lead/{id}")
    );
    assert!(mock_salesforce::ids::is_valid(&id) && id.starts_with("00Q") && id.len() == 18);

    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body["Name"], "Ada Okafor");
    assert_eq!(out.body["IsDeleted"], false);
    assert_eq!(
        out.body["Status"], "Open - Not Contacted",
        "picklist default from the describe"
    );
    assert_eq!(out.body["CreatedDate"], out.body["LastModifiedDate"]);
    insta::assert_json_snapshot!("get_200", snap(out.status, &out.body));
    // 15-character form reads the same record
    let out15 = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/{}", &id[..15]),
            None,
        )
        .await;
    assert_eq!(out15.body["Id"], json!(id));

    let out = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/{id}?fields=Name,Email"),
            None,
        )
        .await;
    insta::assert_json_snapshot!("get_fields_200", snap(out.status, &out.body));
    let out = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/{id}?fields=Name,Bogus__c"),
            None,
        )
        .await;
    insta::assert_json_snapshot!("get_fields_invalid", snap(out.status, &out.body));

    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"Title": "Director", "Status": "Working - Contacted"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert!(out.text.is_empty());
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(out.body["Title"], "Director");

    let out = api
        .call(Method::DELETE, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    insta::assert_json_snapshot!("get_deleted_404", snap(out.status, &out.body));
    let out = api
        .call(Method::DELETE, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    insta::assert_json_snapshot!("delete_deleted", snap(out.status, &out.body));
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"Title": "x"})),
        )
        .await;
    assert_eq!(out.body[0]["errorCode"], "ENTITY_IS_DELETED");
    let out = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/00Q5g00000zzzzzAAA"),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/not-an-id"), None)
        .await;
    insta::assert_json_snapshot!("get_bad_id", snap(out.status, &out.body));
    let out = api
        .call(
            Method::PUT,
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({})),
        )
        .await;
    insta::assert_json_snapshot!("method_not_allowed", snap(out.status, &out.body));
}

#[tokio::test]
async fn data_rules_and_error_bodies() {
    let api = start().await;
    let account = api
        .create("Account", json!({"Name": "Cedar Literacy Project"}))
        .await;
    let lead_ok = api
        .create("Lead", json!({"LastName": "A", "Company": "B"}))
        .await;
    let cases: Vec<(&str, &str, Value)> = vec![
        (
            "required_missing",
            "Lead",
            json!({"FirstName": "No", "Email": "x@y.org"}),
        ),
        (
            "invalid_field",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Foo__c": 1}),
        ),
        (
            "not_createable",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Name": "X", "IsConverted": true}),
        ),
        (
            "string_too_long",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Title": "x".repeat(129)}),
        ),
        (
            "bad_email",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Email": "not an email"}),
        ),
        (
            "restricted_picklist",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Sector__c": "Aliens"}),
        ),
        (
            "restricted_multipicklist",
            "Program__c",
            json!({"Name": "P", "Status__c": "Active;Bogus"}),
        ),
        (
            "bad_boolean",
            "Program__c",
            json!({"Name": "P", "Is_Flagship__c": "yes"}),
        ),
        (
            "bad_number",
            "Lead",
            json!({"LastName": "A", "Company": "B", "AnnualRevenue": "lots"}),
        ),
        (
            "number_out_of_range",
            "Program__c",
            json!({"Name": "P", "Participants__c": 12345678}),
        ),
        (
            "bad_date",
            "Program__c",
            json!({"Name": "P", "Start_Date__c": "31/01/2025"}),
        ),
        (
            "malformed_reference",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Linked_Account__c": "xyz"}),
        ),
        (
            "reference_wrong_object",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Linked_Account__c": lead_ok}),
        ),
        (
            "reference_missing_record",
            "Lead",
            json!({"LastName": "A", "Company": "B", "Linked_Account__c": "0015g00000zzzzzAAA"}),
        ),
        (
            "array_for_string",
            "Lead",
            json!({"LastName": ["A"], "Company": "B"}),
        ),
        ("array_body", "Lead", json!([{"LastName": "A"}])),
        ("unknown_object", "Foo__c", json!({"Name": "x"})),
    ];
    let mut all = serde_json::Map::new();
    for (name, object, body) in cases {
        let out = api
            .call(Method::POST, &format!("{V}/sobjects/{object}"), Some(body))
            .await;
        assert!(out.status.is_client_error(), "{name}: {}", out.status);
        all.insert(name.into(), snap(out.status, &out.body));
    }
    // a valid reference works
    let ok = api
        .call(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "A", "Company": "B", "Linked_Account__c": &account[..15]})),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED);
    let lead = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/{}", ok.body["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        lead.body["Linked_Account__c"],
        json!(account),
        "references are stored as 18-character Ids"
    );
    // unique external id
    api.create(
        "Lead",
        json!({"LastName": "A", "Company": "B", "Monday_Item_Id__c": "123"}),
    )
    .await;
    let out = api
        .call(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "C", "Company": "D", "Monday_Item_Id__c": "123"})),
        )
        .await;
    all.insert("duplicate_value".into(), snap(out.status, &out.body));
    // clearing a required field on update
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{lead_ok}"),
            Some(json!({"LastName": null})),
        )
        .await;
    all.insert("update_clears_required".into(), snap(out.status, &out.body));
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{lead_ok}"),
            Some(json!({"CreatedDate": "2020-01-01T00:00:00Z"})),
        )
        .await;
    all.insert("update_not_updateable".into(), snap(out.status, &out.body));
    insta::assert_json_snapshot!("data_rule_errors", all);
}

/// An update is refused when it gives a unique field another record's value, and accepted when
/// it leaves a record's own unique value as it was (only changed values are searched for).
#[tokio::test]
async fn updates_keep_unique_values_unique() {
    let api = start().await;
    let first = api
        .create(
            "Lead",
            json!({"LastName": "A", "Company": "B", "Monday_Item_Id__c": "501"}),
        )
        .await;
    let second = api
        .create(
            "Lead",
            json!({"LastName": "C", "Company": "D", "Monday_Item_Id__c": "502"}),
        )
        .await;
    let patch = |id: &str, body: Value| {
        let path = format!("{V}/sobjects/Lead/{id}");
        let api = &api;
        async move { api.call(Method::PATCH, &path, Some(body)).await }
    };
    let taken = patch(&second, json!({"Monday_Item_Id__c": "501"})).await;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST, "{}", taken.text);
    assert_eq!(taken.body[0]["errorCode"], "DUPLICATE_VALUE");
    let unchanged = patch(
        &first,
        json!({"FirstName": "Ada", "Monday_Item_Id__c": "501"}),
    )
    .await;
    assert_eq!(
        unchanged.status,
        StatusCode::NO_CONTENT,
        "{}",
        unchanged.text
    );
    let other = patch(&first, json!({"FirstName": "Grace"})).await;
    assert_eq!(other.status, StatusCode::NO_CONTENT, "{}", other.text);
    let moved = patch(&first, json!({"Monday_Item_Id__c": "503"})).await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT, "{}", moved.text);
    let freed = patch(&second, json!({"Monday_Item_Id__c": "501"})).await;
    assert_eq!(
        freed.status,
        StatusCode::NO_CONTENT,
        "a value freed by an update can be taken: {}",
        freed.text
    );
}

#[tokio::test]
async fn bad_input_never_500() {
    let api = start_with(MockSalesforce::builder().max_body_bytes(4096)).await;
    let mut all = serde_json::Map::new();
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "application/json",
            b"{\"LastName\": ".to_vec(),
        )
        .await;
    all.insert("truncated_json".into(), snap(out.status, &out.body));
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "application/json",
            b"{'LastName': 'x'}".to_vec(),
        )
        .await;
    all.insert("single_quoted_json".into(), snap(out.status, &out.body));
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "application/json",
            Vec::new(),
        )
        .await;
    all.insert("empty_body".into(), snap(out.status, &out.body));
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "text/plain",
            b"LastName=x".to_vec(),
        )
        .await;
    all.insert("wrong_content_type".into(), snap(out.status, &out.body));
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "application/json",
            vec![b' '; 5000],
        )
        .await;
    all.insert("oversized_body".into(), snap(out.status, &out.body));
    let out = api
        .raw(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            "application/json",
            vec![0xff, 0xfe, 0x00],
        )
        .await;
    all.insert("binary_garbage".into(), snap(out.status, &out.body));
    let out = api.query("SELEKT Id FROM Lead").await;
    all.insert("garbage_query".into(), snap(out.status, &out.body));
    let out = api
        .call(
            Method::GET,
            &format!("{}{V}/query?q=%FF%FE%00", api.mock.base_url),
            None,
        )
        .await;
    all.insert("binary_query".into(), snap(out.status, &out.body));
    let out = api.call(Method::GET, &format!("{V}/query"), None).await;
    all.insert("missing_q".into(), snap(out.status, &out.body));
    let out = api
        .call(Method::GET, &format!("{V}/query/01gNOPE-2000"), None)
        .await;
    all.insert("bad_locator".into(), snap(out.status, &out.body));
    let out = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/%E2%9C%93/%FF"),
            None,
        )
        .await;
    all.insert("odd_path".into(), snap(out.status, &out.body));
    for (_, v) in &all {
        let status = v["status"].as_u64().unwrap();
        assert!((400..500).contains(&status), "{v}");
    }
    insta::assert_json_snapshot!("bad_input", all);
}

#[tokio::test]
async fn upsert_by_external_id() {
    let api = start().await;
    let url = format!("{V}/sobjects/Lead/Monday_Item_Id__c/9378000505-1");
    let out = api
        .call(
            Method::PATCH,
            &url,
            Some(json!({"LastName": "Nguyen", "Company": "Bright Arts Center"})),
        )
        .await;
    insta::assert_json_snapshot!("upsert_created_201", snap(out.status, &out.body));
    let id = out.body["id"].as_str().unwrap().to_string();
    assert!(out.header("location").unwrap().ends_with(&id));
    let out = api
        .call(Method::PATCH, &url, Some(json!({"Title": "Board Chair"})))
        .await;
    insta::assert_json_snapshot!("upsert_updated_200", snap(out.status, &out.body));
    assert_eq!(out.body["id"], json!(id));
    let rec = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    assert_eq!(rec.body["Title"], "Board Chair");
    assert_eq!(rec.body["Monday_Item_Id__c"], "9378000505-1");
    // before v46 an update answers 204
    let out = api
        .call(
            Method::PATCH,
            "/services/data/v45.0/sobjects/Lead/Monday_Item_Id__c/9378000505-1",
            Some(json!({"Title": "x"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NOT_FOUND, "v45 is not served");
    let out = api
        .call(
            Method::PATCH,
            "/services/data/v46.0/sobjects/Lead/Monday_Item_Id__c/9378000505-1",
            Some(json!({"Title": "x"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK);
    // updateOnly
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/Monday_Item_Id__c/none-such?updateOnly=true"),
            Some(json!({"LastName": "X", "Company": "Y"})),
        )
        .await;
    insta::assert_json_snapshot!("upsert_update_only_404", snap(out.status, &out.body));
    // not an external id field
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/Title/abc"),
            Some(json!({"LastName": "X", "Company": "Y"})),
        )
        .await;
    insta::assert_json_snapshot!("upsert_not_external_id", snap(out.status, &out.body));
    // several matches on an idLookup field -> 300
    api.create(
        "Contact",
        json!({"LastName": "Twin", "Email": "twin@x.org"}),
    )
    .await;
    api.create(
        "Contact",
        json!({"LastName": "Twin", "Email": "twin@x.org"}),
    )
    .await;
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Contact/Email/twin@x.org"),
            Some(json!({"Title": "x"})),
        )
        .await;
    insta::assert_json_snapshot!("upsert_multiple_300", snap(out.status, &out.body));
    // create through upsert still validates
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/Monday_Item_Id__c/new-2"),
            Some(json!({"FirstName": "X"})),
        )
        .await;
    assert_eq!(out.body[0]["errorCode"], "REQUIRED_FIELD_MISSING");
    // GET by external id
    let out = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Lead/Monday_Item_Id__c/9378000505-1"),
            None,
        )
        .await;
    assert_eq!(out.body["Id"], json!(id));
}

#[tokio::test]
async fn query_paging_relationships_and_errors() {
    let api = start().await;
    // default page size 2000: all 450 seeded leads in one page
    let out = api.query("SELECT Id, Name FROM Lead").await;
    assert_eq!(out.body["totalSize"], 450);
    assert_eq!(out.body["done"], true);
    assert_eq!(out.body["records"].as_array().unwrap().len(), 450);
    // batchSize=200 -> 3 pages
    let first = api
        .call_with(
            Method::GET,
            &format!(
                "{}{V}/query?q={}",
                api.mock.base_url,
                urlencode("SELECT Id FROM Lead ORDER BY Id")
            ),
            None,
            &[("Sforce-Query-Options", "batchSize=200")],
        )
        .await;
    assert_eq!(first.body["done"], false);
    let mut ids: Vec<String> = first.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 200);
    let mut next = first.body["nextRecordsUrl"].as_str().map(str::to_owned);
    let mut pages = 1;
    while let Some(n) = next {
        assert!(n.starts_with("/services/data/v66.0/query/01g"), "{n}");
        let page = api.call(Method::GET, &n, None).await;
        pages += 1;
        ids.extend(
            page.body["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Id"].as_str().unwrap().to_string()),
        );
        next = page.body["nextRecordsUrl"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    let mut sorted = ids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 450);
    assert!(sorted == ids, "pages are in ORDER BY Id order");
    // batchSize below 200 is raised to 200
    let small = api
        .call_with(
            Method::GET,
            &format!(
                "{}{V}/query?q={}",
                api.mock.base_url,
                urlencode("SELECT Id FROM Lead")
            ),
            None,
            &[("Sforce-Query-Options", "batchSize=5")],
        )
        .await;
    assert_eq!(small.body["records"].as_array().unwrap().len(), 200);

    let out = api.query("SELECT Id, LastName, Account.Name, Account.Owner.Name, Owner.Alias FROM Contact WHERE Account.Name != null ORDER BY LastName ASC, Id LIMIT 2").await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    insta::assert_json_snapshot!("query_relationships", snap(out.status, &out.body));
    let out = api
        .query("SELECT COUNT() FROM Opportunity WHERE StageName IN ('Closed Won', 'Closed Lost')")
        .await;
    let closed = out.body["totalSize"].as_u64().unwrap();
    let out2 = api.query("SELECT COUNT() FROM Opportunity WHERE NOT (StageName = 'Closed Won' OR StageName = 'Closed Lost')").await;
    assert_eq!(closed + out2.body["totalSize"].as_u64().unwrap(), 200);
    let out = api
        .query("SELECT Id FROM Opportunity WHERE IsClosed = true")
        .await;
    assert_eq!(out.body["totalSize"].as_u64().unwrap(), closed);
    let out = api.query("SELECT Name, Amount FROM Opportunity WHERE Amount >= 100000 AND CloseDate > 2025-06-30 ORDER BY Amount DESC NULLS LAST LIMIT 3 OFFSET 1").await;
    let amounts: Vec<f64> = out.body["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["Amount"].as_f64().unwrap())
        .collect();
    assert!(amounts.windows(2).all(|w| w[0] >= w[1]) && amounts.iter().all(|a| *a >= 100000.0));
    let out = api
        .query("SELECT Id FROM Lead WHERE Email LIKE '%.ORG' AND Company LIKE 'Harbor%'")
        .await;
    assert!(out.body["totalSize"].as_u64().unwrap() > 0);
    let out = api
        .query("SELECT Id FROM Lead WHERE CreatedDate = LAST_N_DAYS:36500 AND CreatedDate < TODAY")
        .await;
    assert_eq!(out.body["totalSize"], 450);
    let out = api
        .query("select id from lead where createddate > 2024-01-01T00:00:00Z limit 1")
        .await;
    assert_eq!(out.body["totalSize"], 1);

    let mut errors = serde_json::Map::new();
    for (name, q) in [
        ("malformed", "SELECT Id FROM Lead WHERE"),
        ("unsupported_clause", "SELECT Id FROM Lead GROUP BY Status"),
        ("invalid_field", "SELECT Foo__c FROM Lead"),
        ("invalid_relationship", "SELECT Nope.Name FROM Contact"),
        ("invalid_type", "SELECT Id FROM Foo"),
        (
            "quoted_number",
            "SELECT Id FROM Opportunity WHERE Amount > '5'",
        ),
        ("unquoted_string", "SELECT Id FROM Lead WHERE LastName = 5"),
    ] {
        let out = api.query(q).await;
        assert_eq!(out.status, StatusCode::BAD_REQUEST, "{name}");
        errors.insert(name.into(), snap(out.status, &out.body));
    }
    insta::assert_json_snapshot!("query_errors", errors);

    // queryAll sees deleted records, query does not
    let id = api
        .create("Lead", json!({"LastName": "Gone", "Company": "Soon"}))
        .await;
    api.call(Method::DELETE, &format!("{V}/sobjects/Lead/{id}"), None)
        .await;
    let q = format!("SELECT Id, IsDeleted FROM Lead WHERE Id = '{id}'");
    let out = api.query(&q).await;
    assert_eq!(out.body["totalSize"], 0);
    let out = api
        .call(
            Method::GET,
            &format!("{}{V}/queryAll?q={}", api.mock.base_url, urlencode(&q)),
            None,
        )
        .await;
    assert_eq!(out.body["records"][0]["IsDeleted"], true);
}

#[tokio::test]
async fn collections() {
    let api = start().await;
    let url = format!("{V}/composite/sobjects");
    let out = api.call(Method::POST, &url, Some(json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "Name": "Sitwell Housing Coalition"},
        {"attributes": {"type": "Contact"}, "FirstName": "No", "Email": "no@x.org"},
        {"attributes": {"type": "Lead"}, "LastName": "Ali", "Company": "Unity Youth Alliance"},
    ]}))).await;
    insta::assert_json_snapshot!("collections_create_partial", snap(out.status, &out.body));
    let ok_id = out.body[0]["id"].as_str().unwrap().to_string();

    let before = api.query("SELECT COUNT() FROM Account").await.body["totalSize"].clone();
    let out = api
        .call(
            Method::POST,
            &url,
            Some(json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "Name": "Rolled Back One"},
                {"attributes": {"type": "Account"}, "Website": "x"},
            ]})),
        )
        .await;
    insta::assert_json_snapshot!("collections_all_or_none", snap(out.status, &out.body));
    assert_eq!(
        api.query("SELECT COUNT() FROM Account").await.body["totalSize"],
        before
    );

    let out = api
        .call(
            Method::PATCH,
            &url,
            Some(json!({"records": [
                {"attributes": {"type": "Account"}, "Id": ok_id, "Phone": "(555) 555-0100"},
                {"attributes": {"type": "Account"}, "Id": "0015g00000zzzzzAAA", "Phone": "1"},
            ]})),
        )
        .await;
    insta::assert_json_snapshot!("collections_update", snap(out.status, &out.body));

    // Field names in bodies are case-insensitive, `Id` included (jsforce 3 sends `"id"`).
    let out = api
        .call(
            Method::PATCH,
            &url,
            Some(json!({"allOrNone": true, "records": [
                {"attributes": {"type": "Account"}, "id": ok_id, "Phone": "(555) 555-0199"},
            ]})),
        )
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.body);
    assert_eq!(
        out.body,
        json!([{"id": ok_id, "success": true, "errors": []}])
    );
    let read = api
        .call(
            Method::GET,
            &format!("{V}/sobjects/Account/{ok_id}?fields=Phone"),
            None,
        )
        .await;
    assert_eq!(read.body["Phone"], "(555) 555-0199");
    let out = api
        .call(
            Method::POST,
            &url,
            Some(json!({"records": [
                {"attributes": {"type": "Account"}, "iD": ok_id, "Name": "Not inserted"},
            ]})),
        )
        .await;
    assert_eq!(
        out.body[0]["errors"][0]["statusCode"], "INVALID_FIELD",
        "{}",
        out.body
    );

    let out = api.call(Method::PATCH, &format!("{url}/Account/Monday_Item_Id__c"), Some(json!({"allOrNone": false, "records": [
        {"attributes": {"type": "Account"}, "Monday_Item_Id__c": "m-1", "Name": "Upserted"},
        {"attributes": {"type": "Account"}, "Monday_Item_Id__c": "m-1", "Name": "Upserted again"},
    ]}))).await;
    insta::assert_json_snapshot!("collections_upsert", snap(out.status, &out.body));
    assert_eq!(out.body[0]["created"], true);
    assert_eq!(out.body[1]["created"], false);

    let many: Vec<Value> = (0..201).map(|i| json!({"attributes": {"type": "Lead"}, "LastName": format!("L{i}"), "Company": "C"})).collect();
    let out = api
        .call(Method::POST, &url, Some(json!({"records": many})))
        .await;
    insta::assert_json_snapshot!("collections_too_many", snap(out.status, &out.body));

    let out = api
        .call(
            Method::GET,
            &format!("{url}/Account?ids={ok_id}&fields=Name,Phone"),
            None,
        )
        .await;
    assert_eq!(out.body[0]["Phone"], "(555) 555-0199");

    let out = api
        .call(
            Method::DELETE,
            &format!("{url}?ids={ok_id},001BOGUS&allOrNone=false"),
            None,
        )
        .await;
    insta::assert_json_snapshot!("collections_delete", snap(out.status, &out.body));
}

#[tokio::test]
async fn composite_with_references() {
    let api = start().await;
    let body = json!({"allOrNone": false, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "refAccount", "body": {"Name": "Beacon Mentoring Program"}},
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "refContact", "body": {"LastName": "Mensah", "AccountId": "@{refAccount.id}"}},
        {"method": "GET", "url": format!("{V}/sobjects/Contact/@{{refContact.id}}?fields=AccountId,LastName"), "referenceId": "readBack"},
        {"method": "GET", "url": format!("{V}/query?q=SELECT+Id+FROM+Contact+WHERE+AccountId='@{{refAccount.id}}'"), "referenceId": "q"},
    ]});
    let out = api
        .call(Method::POST, &format!("{V}/composite"), Some(body))
        .await;
    insta::assert_json_snapshot!("composite_ok", snap(out.status, &out.body));
    let r = &out.body["compositeResponse"];
    assert_eq!(r[2]["body"]["AccountId"], r[0]["body"]["id"]);
    assert_eq!(r[3]["body"]["totalSize"], 1);

    let body = json!({"allOrNone": true, "compositeRequest": [
        {"method": "POST", "url": format!("{V}/sobjects/Account"), "referenceId": "a", "body": {"Name": "Will Roll Back"}},
        {"method": "POST", "url": format!("{V}/sobjects/Contact"), "referenceId": "c", "body": {"FirstName": "NoLastName", "AccountId": "@{a.id}"}},
        {"method": "GET", "url": format!("{V}/sobjects/Account/@{{a.id}}"), "referenceId": "g"},
    ]});
    let out = api
        .call(Method::POST, &format!("{V}/composite"), Some(body))
        .await;
    insta::assert_json_snapshot!("composite_all_or_none", snap(out.status, &out.body));
    let gone = api
        .query("SELECT COUNT() FROM Account WHERE Name = 'Will Roll Back'")
        .await;
    assert_eq!(gone.body["totalSize"], 0);
}

#[tokio::test]
async fn bulk_query_jobs() {
    let api = start().await;
    let out = api.call(Method::POST, &format!("{V}/jobs/query"), Some(json!({"operation": "query", "query": "SELECT Id, Name, Account.Name FROM Contact ORDER BY Id"}))).await;
    insta::assert_json_snapshot!("bulk_job_created", snap(out.status, &out.body));
    let job = out.body["id"].as_str().unwrap().to_string();
    let out = api
        .call(Method::GET, &format!("{V}/jobs/query/{job}"), None)
        .await;
    insta::assert_json_snapshot!("bulk_job_complete", snap(out.status, &out.body));
    assert_eq!(out.body["state"], "JobComplete");
    assert_eq!(out.body["numberRecordsProcessed"], 300);
    let first = api
        .call(
            Method::GET,
            &format!("{V}/jobs/query/{job}/results?maxRecords=3"),
            None,
        )
        .await;
    insta::assert_snapshot!("bulk_results_csv_first_page", redact_str(&first.text));
    let mut locator: Option<String> = None;
    let mut rows = 0;
    let mut pages = 0;
    loop {
        let url = match &locator {
            Some(l) => format!("{V}/jobs/query/{job}/results?maxRecords=120&locator={l}"),
            None => format!("{V}/jobs/query/{job}/results?maxRecords=120"),
        };
        let out = api.call(Method::GET, &url, None).await;
        assert_eq!(out.status, StatusCode::OK);
        assert!(out.header("content-type").unwrap().starts_with("text/csv"));
        let mut lines = out.text.lines();
        assert_eq!(lines.next(), Some("Id,Name,Account.Name"));
        let n = lines.count();
        assert_eq!(out.header("sforce-numberofrecords").unwrap(), n.to_string());
        rows += n;
        pages += 1;
        match out.header("sforce-locator").as_deref() {
            Some("null") | None => break,
            Some(l) => locator = Some(l.to_string()),
        }
    }
    assert_eq!((rows, pages), (300, 3));
    let out = api
        .call(
            Method::POST,
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "query", "query": "SELECT FROM"})),
        )
        .await;
    insta::assert_json_snapshot!("bulk_job_bad_query", snap(out.status, &out.body));
    let out = api
        .call(
            Method::POST,
            &format!("{V}/jobs/query"),
            Some(json!({"operation": "insert", "query": "SELECT Id FROM Lead"})),
        )
        .await;
    insta::assert_json_snapshot!("bulk_job_bad_operation", snap(out.status, &out.body));
    let out = api
        .call(Method::DELETE, &format!("{V}/jobs/query/{job}"), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let out = api
        .call(Method::GET, &format!("{V}/jobs/query/{job}"), None)
        .await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn admin_faults_journal_limits_locks_reset() {
    let api = start().await;
    let base = api.mock.base_url.clone();
    let http = &api.http;
    // a fault for the next request only
    http.post(format!("{base}/__mock/faults")).json(&json!({"method": "GET", "path": "/services/data/*/sobjects/Lead/*", "status": 503, "times": 1, "latencyMs": 5})).send().await.unwrap();
    let lead = "00Q5g00000000G9EAI";
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{lead}"), None)
        .await;
    insta::assert_json_snapshot!("fault_503", snap(out.status, &out.body));
    assert!(out.header("sforce-limit-info").is_some());
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{lead}"), None)
        .await;
    assert_eq!(out.status, StatusCode::OK);
    // probability 1 with a custom body, until cleared
    api.mock.handle.add_fault(Fault {
        method: None,
        path: "*/query*".into(),
        status: Some(500),
        body: Some(json!([{"message": "boom", "errorCode": "UNKNOWN_EXCEPTION"}])),
        latency_ms: None,
        times: None,
        probability: Some(1.0),
        headers: None,
        after: false,
    });
    for _ in 0..2 {
        assert_eq!(
            api.query("SELECT Id FROM Lead").await.status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
    http.delete(format!("{base}/__mock/faults"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.query("SELECT Id FROM Lead LIMIT 1").await.status,
        StatusCode::OK
    );

    // journal
    let journal: Value = http
        .get(format!("{base}/__mock/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entries = journal.as_array().unwrap();
    assert!(entries.iter().any(
        |e| e["path"] == "/services/oauth2/token" && e["body"]["client_secret"] == "[REDACTED]"
    ));
    assert!(entries.iter().any(|e| e["status"] == 503));
    assert!(!journal.to_string().contains("mock-client-secret"));

    // row locks
    http.post(format!("{base}/__mock/locks"))
        .json(&json!({"ids": [lead]}))
        .send()
        .await
        .unwrap();
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{lead}"),
            Some(json!({"Title": "x"})),
        )
        .await;
    insta::assert_json_snapshot!("unable_to_lock_row", snap(out.status, &out.body));
    http.delete(format!("{base}/__mock/locks"))
        .send()
        .await
        .unwrap();
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{lead}"),
            Some(json!({"Title": "x"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);

    // state dump and reset
    let state: Value = http
        .get(format!("{base}/__mock/state?object=Lead"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(state
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["Id"] == lead && r["Title"] == "x"));
    http.post(format!("{base}/__mock/reset"))
        .send()
        .await
        .unwrap();
    let out = api
        .call(Method::GET, &format!("{V}/sobjects/Lead/{lead}"), None)
        .await;
    let seeded: Vec<Value> = serde_json::from_str(
        &std::fs::read_to_string(mock_salesforce::default_seed_dir().join("records/Lead.json"))
            .unwrap(),
    )
    .unwrap();
    let seeded_title = seeded
        .iter()
        .find(|r| r["Id"] == lead)
        .map(|r| r["Title"].clone())
        .unwrap();
    assert!(seeded_title.is_string() && seeded_title != "x");
    assert_eq!(out.body["Title"], seeded_title);

    // daily limit
    http.post(format!("{base}/__mock/limits/exhaust"))
        .send()
        .await
        .unwrap();
    let out = api.call(Method::GET, &format!("{V}/limits"), None).await;
    insta::assert_json_snapshot!("request_limit_exceeded", snap(out.status, &out.body));
    assert_eq!(
        out.header("sforce-limit-info").unwrap(),
        "api-usage=15000/15000"
    );
    http.post(format!("{base}/__mock/limits"))
        .json(&json!({"used": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        api.call(Method::GET, &format!("{V}/limits"), None)
            .await
            .status,
        StatusCode::OK
    );

    // sessions
    http.post(format!("{base}/__mock/sessions/expire"))
        .send()
        .await
        .unwrap();
    let out = api.call(Method::GET, &format!("{V}/limits"), None).await;
    insta::assert_json_snapshot!("session_expired", snap(out.status, &out.body));
}

#[tokio::test]
async fn query_cursors_are_reused_across_pages_and_the_oldest_is_closed() {
    let api = start().await;
    let first = open_paged_lead_query(&api).await;
    let second_page = api.call(Method::GET, &first, None).await;
    let third_url = second_page.body["nextRecordsUrl"].as_str().unwrap();
    // the same cursor continues: only the offset changes
    assert_eq!(
        first.rsplit_once('-').unwrap().0,
        third_url.rsplit_once('-').unwrap().0
    );
    for _ in 0..mock_salesforce::MAX_OPEN_CURSORS {
        open_paged_lead_query(&api).await;
    }
    let out = api.call(Method::GET, &first, None).await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "INVALID_QUERY_LOCATOR");
}

async fn open_paged_lead_query(api: &Api) -> String {
    let url = format!(
        "{}{V}/query?q={}",
        api.mock.base_url,
        urlencode("SELECT Id FROM Lead")
    );
    api.call_with(
        Method::GET,
        &url,
        None,
        &[("Sforce-Query-Options", "batchSize=200")],
    )
    .await
    .body["nextRecordsUrl"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn post_fault(api: &Api, fault: Value) {
    let resp = api
        .http
        .post(format!("{}/__mock/faults", api.mock.base_url))
        .json(&fault)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

async fn leads_named(api: &Api, last_name: &str) -> u64 {
    let out = api
        .query(&format!(
            "SELECT Id FROM Lead WHERE LastName = '{last_name}'"
        ))
        .await;
    assert_eq!(out.status, StatusCode::OK, "{}", out.text);
    out.body["totalSize"].as_u64().unwrap()
}

#[tokio::test]
async fn an_after_fault_creates_the_record_and_answers_the_fault() {
    let api = start().await;
    post_fault(
        &api,
        json!({"method": "POST", "path": "/services/data/*/sobjects/Lead", "status": 503, "after": true, "times": 1}),
    )
    .await;
    let out = api
        .call(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "AfterFault", "Company": "Acme"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(out.body[0]["errorCode"], "SERVER_UNAVAILABLE");
    assert_eq!(leads_named(&api, "AfterFault").await, 1);
    // The journal shows what the client saw.
    let journal = api.mock.handle.requests();
    let create = journal
        .iter()
        .find(|e| e.method == "POST" && e.path.ends_with("/sobjects/Lead"))
        .unwrap();
    assert_eq!(create.status, 503);
    // times: 1 — the next create answers normally, and there are two records.
    api.create("Lead", json!({"LastName": "AfterFault", "Company": "Acme"}))
        .await;
    assert_eq!(leads_named(&api, "AfterFault").await, 2);
}

#[tokio::test]
async fn a_fault_without_after_does_not_apply_the_create() {
    let api = start().await;
    post_fault(
        &api,
        json!({"method": "POST", "path": "/services/data/*/sobjects/Lead", "status": 503, "times": 1}),
    )
    .await;
    let out = api
        .call(
            Method::POST,
            &format!("{V}/sobjects/Lead"),
            Some(json!({"LastName": "BeforeFault", "Company": "Acme"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(leads_named(&api, "BeforeFault").await, 0);
}

#[tokio::test]
async fn an_after_fault_applies_an_update_and_a_latency_only_one_answers_late() {
    let api = start().await;
    let id = api
        .create("Lead", json!({"LastName": "Before", "Company": "Acme"}))
        .await;
    post_fault(
        &api,
        json!({"method": "PATCH", "path": "/services/data/*/sobjects/Lead/*", "status": 500, "body": [{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}], "after": true, "times": 1}),
    )
    .await;
    let out = api
        .call(
            Method::PATCH,
            &format!("{V}/sobjects/Lead/{id}"),
            Some(json!({"LastName": "Patched"})),
        )
        .await;
    assert_eq!(out.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        out.body,
        json!([{"errorCode": "UNKNOWN_EXCEPTION", "message": "boom"}])
    );
    assert_eq!(
        api.mock.handle.record("Lead", &id).unwrap()["LastName"],
        "Patched"
    );
    // Without a status, an after fault is the real answer, late: the write is already done
    // when the delay starts (a client timing out here has lost the answer of a committed write).
    post_fault(
        &api,
        json!({"method": "PATCH", "path": "/services/data/*/sobjects/Lead/*", "latencyMs": 2000, "after": true, "times": 1}),
    )
    .await;
    let patch = api
        .http
        .patch(format!("{}{V}/sobjects/Lead/{id}", api.mock.base_url))
        .bearer_auth(&api.token)
        .json(&json!({"LastName": "Late"}))
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(patch.unwrap_err().is_timeout());
    assert_eq!(
        api.mock.handle.record("Lead", &id).unwrap()["LastName"],
        "Late"
    );
}

const LEAD_A: &str = "00Q5g00000000G9EAI";
const LEAD_B: &str = "00Q5g00000000GAEAY";
const LEAD_C: &str = "00Q5g00000000GBEAY";
const ACCOUNT_A: &str = "0015g00000000G9AAI";

#[tokio::test]
async fn collections_retrieve_answers_records_in_id_order_and_null_for_missing() {
    let api = start().await;
    let out = api
        .call(Method::DELETE, &format!("{V}/sobjects/Lead/{LEAD_C}"), None)
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    // B before A (order of the ids), a 15-character id, a deleted lead, an Account id, garbage.
    let ids = [LEAD_B, &LEAD_A[..15], LEAD_C, ACCOUNT_A, "not-an-id"];
    let post = api
        .call(
            Method::POST,
            &format!("{V}/composite/sobjects/Lead"),
            Some(json!({"ids": ids, "fields": ["Id", "lastname", "Company"]})),
        )
        .await;
    insta::assert_json_snapshot!("collections_retrieve", snap(post.status, &post.body));
    assert_eq!(post.status, StatusCode::OK);
    let records = post.body.as_array().unwrap();
    assert_eq!(records.len(), ids.len());
    assert_eq!(records[0]["Id"], LEAD_B);
    assert_eq!(records[1]["Id"], LEAD_A);
    assert_eq!(records[1]["LastName"], "Kim");
    assert_eq!(
        records[1]["attributes"],
        json!({"type": "Lead", "url": format!("{V}/sobjects/Lead/{LEAD_A}")})
    );
    assert!(records[2..].iter().all(Value::is_null), "{}", post.body);
    // GET answers the same.
    let get = api
        .call(
            Method::GET,
            &format!(
                "{V}/composite/sobjects/Lead?ids={}&fields=Id,lastname,Company",
                ids.join(",")
            ),
            None,
        )
        .await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.body, post.body);
}

#[tokio::test]
async fn collections_retrieve_errors() {
    let api = start().await;
    let post = |object: &str, body: Value| {
        let path = format!("{V}/composite/sobjects/{object}");
        let api = &api;
        async move { api.call(Method::POST, &path, Some(body)).await }
    };
    // An unknown field fails the whole call, in both forms.
    let out = post(
        "Lead",
        json!({"ids": [LEAD_A], "fields": ["Id", "Nope__c"]}),
    )
    .await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "INVALID_FIELD");
    let out = api
        .call(
            Method::GET,
            &format!("{V}/composite/sobjects/Lead?ids={LEAD_A}&fields=Id,Nope__c"),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "INVALID_FIELD");
    // An unknown sObject.
    let out = post("Nope__c", json!({"ids": [LEAD_A], "fields": ["Id"]})).await;
    assert_eq!(out.status, StatusCode::NOT_FOUND);
    assert_eq!(out.body[0]["errorCode"], "NOT_FOUND");
    // ids and fields are required.
    let out = post("Lead", json!({"ids": [LEAD_A]})).await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "MISSING_ARGUMENT");
    let out = post("Lead", json!({"fields": ["Id"]})).await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "MISSING_ARGUMENT");
    // POST takes up to 2,000 ids.
    let many: Vec<String> = (0..2000).map(|_| LEAD_A.to_string()).collect();
    let out = post("Lead", json!({"ids": many, "fields": ["Id"]})).await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body.as_array().unwrap().len(), 2000);
    let too_many: Vec<String> = (0..2001).map(|_| LEAD_A.to_string()).collect();
    let out = post("Lead", json!({"ids": too_many, "fields": ["Id"]})).await;
    assert_eq!(out.status, StatusCode::BAD_REQUEST);
    assert_eq!(out.body[0]["errorCode"], "EXCEEDED_ID_LIMIT");
    // GET: about 800 ids fit in the URL; 1,000 do not.
    let ids = |n: usize| vec![LEAD_A; n].join(",");
    let out = api
        .call(
            Method::GET,
            &format!("{V}/composite/sobjects/Lead?ids={}&fields=Id", ids(800)),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::OK);
    assert_eq!(out.body.as_array().unwrap().len(), 800);
    let out = api
        .call(
            Method::GET,
            &format!("{V}/composite/sobjects/Lead?ids={}&fields=Id", ids(1000)),
            None,
        )
        .await;
    assert_eq!(out.status, StatusCode::URI_TOO_LONG);
}
