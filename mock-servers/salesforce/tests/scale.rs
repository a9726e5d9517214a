//! `--scale N` / `MockSalesforce::builder().scale(N)`: N copies of the seed with unique names and
//! emails, each copy's references pointing at the same copy's records, Users not copied.

mod common;

use std::collections::{HashMap, HashSet};

use mock_salesforce::MockSalesforce;
use serde_json::Value;

fn rows<'a>(dump: &'a Value, object: &str) -> &'a Vec<Value> {
    dump[object].as_array().unwrap()
}

fn s<'a>(r: &'a Value, f: &str) -> &'a str {
    r[f].as_str().unwrap_or_default()
}

#[tokio::test]
async fn scaled_seed_multiplies_records_with_unique_names_emails_and_consistent_relations() {
    let one = common::start().await.mock.handle.dump();
    let api = common::start_with(MockSalesforce::builder().scale(3)).await;
    let three = api.mock.handle.dump();
    for object in ["Lead", "Account", "Contact", "Opportunity", "Program__c"] {
        assert_eq!(
            rows(&three, object).len(),
            3 * rows(&one, object).len(),
            "{object}"
        );
        let ids: HashSet<&str> = rows(&three, object).iter().map(|r| s(r, "Id")).collect();
        assert_eq!(
            ids.len(),
            rows(&three, object).len(),
            "{object}: unique Ids"
        );
    }
    assert_eq!(rows(&three, "User").len(), rows(&one, "User").len());
    // The seed itself is copy 1, unchanged.
    assert_eq!(
        &rows(&three, "Contact")[..rows(&one, "Contact").len()],
        &rows(&one, "Contact")[..]
    );

    for object in ["Lead", "Contact"] {
        let emails: Vec<&str> = rows(&three, object)
            .iter()
            .map(|r| s(r, "Email"))
            .filter(|e| !e.is_empty())
            .collect();
        let unique: HashSet<&str> = emails.iter().copied().collect();
        let seed_unique: HashSet<&str> = rows(&one, object)
            .iter()
            .map(|r| s(r, "Email"))
            .filter(|e| !e.is_empty())
            .collect();
        assert_eq!(
            unique.len(),
            3 * seed_unique.len(),
            "{object}: unique emails"
        );
        assert!(emails.iter().any(|e| e.contains("+3@")), "{object}");
    }
    for object in ["Account", "Opportunity", "Contact", "Lead"] {
        let names: HashSet<&str> = rows(&three, object).iter().map(|r| s(r, "Name")).collect();
        let seed_names: HashSet<&str> = rows(&one, object).iter().map(|r| s(r, "Name")).collect();
        assert_eq!(names.len(), 3 * seed_names.len(), "{object}: unique names");
    }

    // Relations: a copied Contact's Account is the copy (same suffix) of the seed Contact's Account.
    let accounts: HashMap<&str, &str> = rows(&three, "Account")
        .iter()
        .map(|r| (s(r, "Id"), s(r, "Name")))
        .collect();
    let users: HashSet<&str> = rows(&three, "User").iter().map(|r| s(r, "Id")).collect();
    let mut checked = 0;
    for c in rows(&three, "Contact") {
        let Some(account) = c["AccountId"].as_str() else {
            continue;
        };
        let account_name = accounts.get(account).expect("the contact's account exists");
        let copy = s(c, "LastName")
            .rsplit_once(' ')
            .map(|(_, k)| k)
            .filter(|k| *k == "2" || *k == "3");
        match copy {
            Some(k) => assert!(account_name.ends_with(&format!(" {k}")), "{c}"),
            None => assert!(
                !account_name.ends_with(" 2") && !account_name.ends_with(" 3"),
                "{c}"
            ),
        }
        assert!(users.contains(s(c, "OwnerId")), "owners stay seed users");
        checked += 1;
    }
    assert!(checked > 300);
    let opp_accounts: HashSet<&str> = rows(&three, "Opportunity")
        .iter()
        .filter_map(|o| o["AccountId"].as_str())
        .collect();
    assert!(opp_accounts.iter().all(|a| accounts.contains_key(a)));

    // Served through the API like any record, and SOQL sees all copies.
    let out = api.query("SELECT COUNT() FROM Account").await;
    assert_eq!(out.body["totalSize"], 3 * rows(&one, "Account").len());
    let out = api
        .query("SELECT Id, Account.Name FROM Contact WHERE LastName LIKE '% 3' LIMIT 5")
        .await;
    for r in out.body["records"].as_array().unwrap() {
        assert!(
            r["Account"]["Name"].as_str().unwrap().ends_with(" 3"),
            "{r}"
        );
    }
}

#[tokio::test]
async fn scale_zero_is_refused_with_a_clear_error() {
    let err = MockSalesforce::builder().scale(0).build().err().unwrap();
    assert!(
        err.to_string().contains("--scale must be at least 1"),
        "{err}"
    );
}
