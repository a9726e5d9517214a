//! Ambiguous creates: Salesforce creates the record but its answer is lost (a 5xx after the write,
//! a timeout, a crash before the link is stored). On a board without `external_id_field` the retry
//! must find that record (by `item_id_field`) instead of creating a second one.

use crmsync_testkit::both_stores;

use crmsync_testkit::*;
use serde_json::json;

/// The seed mapping with the Leads board mapped without an external id: the item id goes to
/// `Monday_Item_Id__c` as a plain field (`item_id_field`), as in an org whose admin cannot mark it
/// External ID.
fn mapping_without_external_id(dir: &std::path::Path) -> std::path::PathBuf {
    let seed = std::fs::read_to_string(seed_mapping()).unwrap();
    let leads = "board_id = \"9378000505\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_mkryhch5\"\nexternal_id_field = \"Monday_Item_Id__c\"\n";
    assert!(seed.contains(leads), "the seed's Leads board changed");
    let changed = seed.replace(
        leads,
        "board_id = \"9378000505\"\nobject = \"Lead\"\nsalesforce_id_column = \"text_mkryhch5\"\nitem_id_field = \"Monday_Item_Id__c\"\n",
    );
    let path = dir.join("mapping.toml");
    std::fs::write(&path, changed).unwrap();
    path
}

both_stores!(
    create_applied_but_answered_500_is_one_record_after_the_retry,
    |db| async move {
        let dir = tempfile::tempdir().unwrap();
        let app = spawn_app_with(Options {
            mapping_path: mapping_without_external_id(dir.path()),
            ..Options::new(db)
        })
        .await;
        assert!(
            app.engine
                .mapping()
                .board(LEADS)
                .unwrap()
                .external_id_field
                .is_none(),
            "the Leads board has no external id in this test"
        );
        // Salesforce creates the lead, then the answer is a 500: crmsync cannot know it exists.
        app.salesforce.handle.add_fault(
            serde_json::from_value(json!({"method": "POST",
                "path": "/services/data/*/sobjects/Lead", "status": 500,
                "body": [{"errorCode": "UNKNOWN_EXCEPTION", "message": "An unexpected error occurred"}],
                "after": true, "times": 1}))
            .unwrap(),
        );
        let item = app
            .create_item(
                LEADS,
                "Harborview Mutual Aid",
                json!({"text_mkry1xy1": "Castillo"}),
            )
            .await;
        app.settle().await;
        let posts = app
            .salesforce
            .handle
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/sobjects/Lead"))
            .map(|r| r.status)
            .collect::<Vec<_>>();
        assert_eq!(posts, vec![500], "one create, answered 500, never re-sent");
        let recs = app.sf.by_item("Lead", "Company", &item).await;
        assert_eq!(recs.len(), 1, "exactly one Lead: {recs:?}");
        assert_eq!(recs[0]["Company"], "Harborview Mutual Aid");
        let sf_id = recs[0]["Id"].as_str().unwrap().to_string();
        let link = app
            .store
            .find_link_by_monday(LEADS.parse().unwrap(), item.parse().unwrap())
            .await
            .unwrap()
            .expect("linked to the record the first attempt created");
        assert_eq!(link.sf_id, sf_id);
        let view = app.monday.admin.item(&item).await.unwrap();
        let id_col = view
            .column_values
            .iter()
            .find(|c| c.id == "text_mkryhch5")
            .and_then(|c| c.text.clone());
        assert_eq!(id_col.as_deref(), Some(sf_id.as_str()));
        let s = app.status_json().await;
        assert_eq!(s["counts"]["dead"], 0, "{s}");
        app.stop().await;
    }
);

both_stores!(
    a_board_without_external_id_or_item_id_field_is_refused_at_load,
    |db| async move {
        let app = spawn_app(db).await;
        let dir = tempfile::tempdir().unwrap();
        let seed = std::fs::read_to_string(seed_mapping()).unwrap();
        let without = seed.replacen("external_id_field = \"Monday_Item_Id__c\"\n", "", 1);
        let path = dir.path().join("mapping.toml");
        std::fs::write(&path, &without).unwrap();
        let line = without
            .lines()
            .position(|l| l == "[[board]]")
            .expect("a board")
            + 1;
        let err = crmsync_sync::load_mapping(&path, app.engine.salesforce(), app.engine.monday())
            .await
            .unwrap_err()
            .to_string();
        let at = format!(
            "{}:{line}:1: board Leads (Lead): creates are not idempotent",
            path.display()
        );
        assert!(err.contains(&at), "{err}");
        assert!(
            err.contains("external_id_field = \"Monday_Item_Id__c\""),
            "{err}"
        );
        app.stop().await;
    }
);
