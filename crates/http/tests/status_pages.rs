//! The status pages on a socket through the test kit (both mocks, both stores): sign-in and the
//! session cookie, search, the item page with its history and Salesforce link, a dead letter's
//! error and advice, board pages, 404s, odd input, JSON mirrors, and the token never showing up.

use crmsync_testkit::both_stores;
use crmsync_testkit::*;
use reqwest::header;
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::{json, Value};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// Signs in with the form; returns the `Cookie` header value to send.
async fn sign_in(app: &TestApp) -> String {
    let r = client()
        .post(format!("{}/status/sign-in", app.base_url))
        .form(&[("token", STATUS_TOKEN), ("next", "/status/search?q=x")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()[header::LOCATION], "/status/search?q=x");
    let set = r.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    assert!(set.contains("HttpOnly"), "{set}");
    assert!(set.contains("SameSite=Strict"), "{set}");
    assert!(!set.contains("Secure"), "plain HTTP on loopback: {set}");
    assert!(
        !set.contains(STATUS_TOKEN),
        "the cookie holds no token: {set}"
    );
    set.split(';').next().unwrap().to_owned()
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let r = client()
        .get(format!("{}{path}", app.base_url))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.text().await.unwrap())
}

async fn get_json(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let r = client()
        .get(format!("{}{path}", app.base_url))
        .bearer_auth(STATUS_TOKEN)
        .header(header::ACCEPT, "application/json")
        .send()
        .await
        .unwrap();
    let s = r.status();
    (s, r.json().await.unwrap())
}

both_stores!(
    status_pages_answer_did_my_change_reach_salesforce,
    |db| async move {
        let app = spawn_app(db).await;
        let lead = app.create_item(LEADS, "Harbor Arts", json!({})).await;
        // Contact.Email gets a free-text column: Salesforce refuses this value (INVALID_EMAIL_ADDRESS).
        let contact = app
            .create_item(
                CONTACTS,
                "Pat O'Doe",
                json!({"text_mks6c82k": "pat at example dot org"}),
            )
            .await;
        app.settle().await;
        let sf = app.wait_for_record("Lead", "LastName", &lead).await;
        let sf_id = sf["Id"].as_str().unwrap().to_owned();

        // Without credentials a browser gets the sign-in form (401), a script a JSON error.
        let (s, body) = get(&app, "x=y", "/status").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert!(
            body.contains("<label for=\"token\">Status token</label>"),
            "{body}"
        );
        let r = client()
            .get(format!("{}/status/items/1/2", app.base_url))
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        // A wrong token is refused and sets no cookie.
        let r = client()
            .post(format!("{}/status/sign-in", app.base_url))
            .form(&[("token", "wrong"), ("next", "/status")])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        assert!(r.text().await.unwrap().contains("That token is not right"));
        // A forged cookie is refused.
        let (s, _) = get(&app, "crmsync_status=v1.99999999999.00", "/status").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);

        let cookie = sign_in(&app).await;
        let (s, overview) = get(&app, &cookie, "/status").await;
        assert_eq!(s, StatusCode::OK);
        assert!(overview.contains("<svg"), "charts are inline SVG");
        assert!(overview.contains("Changes received from Monday"));
        assert!(overview.contains("http-equiv=\"refresh\""));
        assert!(overview.contains(&format!("href=\"/status/boards/{LEADS}\"")));

        // Search by name, item id, Salesforce Id.
        for q in ["harbor arts", lead.as_str(), sf_id.as_str()] {
            let (s, page) = get(&app, &cookie, &format!("/status/search?q={q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}");
            assert!(
                page.contains(&format!("href=\"/status/items/{LEADS}/{lead}\"")),
                "{q}: {page}"
            );
        }
        let (_, v) = get_json(&app, "/status/search?q=Harbor").await;
        assert_eq!(
            v["results"][0]["item_id"].as_i64().unwrap().to_string(),
            lead,
            "{v}"
        );
        assert_eq!(v["results"][0]["salesforce_id"], sf_id.as_str(), "{v}");
        assert_eq!(v["results"][0]["state"], "in_sync", "{v}");
        let (_, v) = get_json(&app, "/status/search?q=pat%20o'doe").await;
        assert_eq!(v["results"][0]["state"], "needs_fix", "{v}");
        // an exact item id comes first
        let (_, v) = get_json(&app, &format!("/status/search?q={contact}")).await;
        assert_eq!(
            v["results"][0]["item_id"].as_i64().unwrap().to_string(),
            contact,
            "{v}"
        );

        // The item page: board, Salesforce record with its Lightning link, history.
        let item_path = format!("/status/items/{LEADS}/{lead}");
        let (s, page) = get(&app, &cookie, &item_path).await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("<h1>Harbor Arts</h1>"), "{page}");
        let lightning = format!(
            "{}/lightning/r/Lead/{sf_id}/view",
            app.salesforce.base_url.trim_end_matches('/')
        );
        assert!(page.contains(&lightning), "{lightning} in {page}");
        assert!(page.contains("Item created as “Harbor Arts”"), "{page}");
        assert!(page.contains("Copied to Salesforce"), "{page}");
        let (_, v) = get_json(&app, &item_path).await;
        assert_eq!(v["state"], "in_sync", "{v}");
        assert_eq!(v["salesforce"]["url"], lightning.as_str());
        let created = v["history"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["event_type"] == "create_pulse")
            .unwrap();
        assert_eq!(created["outcome"], "done");
        assert!(
            created["fields"]
                .as_array()
                .unwrap()
                .contains(&json!("LastName")),
            "{v}"
        );

        // The dead-lettered contact: the error and what to do.
        let (s, page) = get(
            &app,
            &cookie,
            &format!("/status/items/{CONTACTS}/{contact}"),
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("INVALID_EMAIL_ADDRESS"), "{page}");
        assert!(page.contains("What to do:"), "{page}");
        assert!(
            page.contains("Correct the email on the Monday item"),
            "{page}"
        );
        assert!(page.contains("crmsync dead-letters replay"), "{page}");
        assert!(page.contains("Pat O&#39;Doe"), "escaped: {page}");
        let (_, v) = get_json(&app, &format!("/status/items/{CONTACTS}/{contact}")).await;
        assert_eq!(v["state"], "needs_fix", "{v}");

        // Board pages.
        let (s, page) = get(&app, &cookie, &format!("/status/boards/{CONTACTS}")).await;
        assert_eq!(s, StatusCode::OK);
        assert!(page.contains("Open problems (1)"), "{page}");
        let (_, v) = get_json(&app, &format!("/status/boards/{LEADS}")).await;
        assert!(v["last_24h"]["done"].as_u64().unwrap() >= 1, "{v}");
        assert!(v["last_applied_at"].is_string(), "{v}");
        assert!(v["last_7d"]["received"].as_u64().unwrap() >= 1, "{v}");

        // The overview JSON keeps every field of the old /status report and adds the pages' data.
        let (_, v) = get_json(&app, "/status").await;
        for k in [
            "generated_at",
            "window_hours",
            "counts",
            "latency",
            "open_dead_letters",
            "recent_failures",
            "dead_letters",
            "rejected_deliveries",
            "recent_rejections",
            "boards",
            "hourly",
            "migration_runs",
        ] {
            assert!(v.get(k).is_some(), "{k} in {v}");
        }
        assert_eq!(v["hourly"].as_array().unwrap().len(), 24);
        assert_eq!(v["open_dead_letters"], 1);

        // Unknown board or item: 404 with a helpful message, in HTML and JSON.
        for (path, says) in [
            (
                "/status/boards/123".to_owned(),
                "Board 123 is not one crmsync syncs",
            ),
            (
                "/status/boards/abc".to_owned(),
                "board pages are /status/boards/BOARD-ID",
            ),
            (
                format!("/status/items/{LEADS}/42"),
                "received no change for item 42",
            ),
            (
                "/status/items/1/2".to_owned(),
                "Board 1 is not one crmsync syncs",
            ),
            ("/status/items/%FF/%FE".to_owned(), "not an item address"),
            ("/status/nope".to_owned(), "no such page"),
        ] {
            let (s, page) = get(&app, &cookie, &path).await;
            assert_eq!(s, StatusCode::NOT_FOUND, "{path}");
            assert!(page.contains(says), "{path}: {page}");
            assert!(
                page.contains("<form class=\"search\""),
                "offers the search: {path}"
            );
        }
        let (s, v) = get_json(&app, "/status/boards/123").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        assert!(
            v["error"].as_str().unwrap().contains("Leads"),
            "lists the boards: {v}"
        );

        // Odd search input: a normal page, never a 5xx.
        let long = "x".repeat(5000);
        for q in [
            "%22%27%3C%3E",
            "%25",
            "%FF%FE%00",
            "%",
            "a%2",
            "%E2%82",
            &long,
            "100%25%20off",
            "%5C%5C",
        ] {
            let (s, page) = get(&app, &cookie, &format!("/status/search?q={q}")).await;
            assert_eq!(s, StatusCode::OK, "{q}: {page}");
            assert!(!page.contains("<script>alert"), "{q}");
        }
        let (_, page) = get(&app, &cookie, &format!("/status/search?q={long}")).await;
        assert!(page.contains("Only the first 200 characters were searched for"));
        let (_, page) = get(
            &app,
            &cookie,
            "/status/search?q=%3Cscript%3Ealert(1)%3C/script%3E",
        )
        .await;
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );

        // The old ?token= still works for scripts; a browser is moved to a clean URL with a cookie.
        let r = client()
            .get(format!(
                "{}/status?format=json&token={STATUS_TOKEN}",
                app.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let r = client()
            .get(format!(
                "{}/status/search?q=harbor&token={STATUS_TOKEN}",
                app.base_url
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert_eq!(r.headers()[header::LOCATION], "/status/search?q=harbor");
        assert!(r.headers().get(header::SET_COOKIE).is_some());

        // The token appears in no page.
        for path in [
            "/status",
            "/status/search?q=harbor",
            item_path.as_str(),
            "/status/sign-in",
        ] {
            let (_, page) = get(&app, &cookie, path).await;
            assert!(!page.contains(STATUS_TOKEN), "{path}");
        }
        // Security headers: nothing loads from elsewhere.
        let r = client()
            .get(format!("{}/status", app.base_url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        let csp = r.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'"), "{csp}");
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");

        // Signing out clears the cookie.
        let r = client()
            .post(format!("{}/status/sign-out", app.base_url))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        assert!(r.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0"));
        app.stop().await;
    }
);

both_stores!(migration_runs_show_on_the_overview, |db| async move {
    let app = spawn_app(db).await;
    let run = app
        .store
        .start_run(
            crmsync_store::MigrationStage::Rehearsal,
            "0123456789abcdef0123",
        )
        .await
        .unwrap();
    app.store
        .update_run_counts(
            run,
            &crmsync_store::RunCounts {
                records_read: 10,
                items_created: 7,
                items_updated: 1,
                records_skipped: 1,
                records_failed: 1,
            },
        )
        .await
        .unwrap();
    app.store
        .checkpoint(run, "Account", "001000000000001AAA", 5)
        .await
        .unwrap();
    let (_, v) = get_json(&app, "/status").await;
    let r = &v["migration_runs"][0];
    assert_eq!(r["stage"], "rehearsal", "{v}");
    assert_eq!(r["outcome"], "running");
    assert_eq!(r["plan_hash"], "0123456789abcdef0123");
    assert_eq!(
        (r["records_read"].as_u64(), r["records_failed"].as_u64()),
        (Some(10), Some(1))
    );
    assert_eq!(r["records_checkpointed"], 1);
    let r = client()
        .get(format!("{}/status", app.base_url))
        .bearer_auth(STATUS_TOKEN)
        .send()
        .await
        .unwrap();
    let page = r.text().await.unwrap();
    assert!(page.contains("Migration runs"), "{page}");
    assert!(
        page.contains("<code title=\"0123456789abcdef0123\">0123456789ab</code>"),
        "{page}"
    );
    assert!(page.contains("still running"), "{page}");
    app.stop().await;
});

// Reconciliation on the status pages: the overview lists the sweep with its complexity and links
// the last drift report; `/status/drift` names the field and both values (JSON mirror too).
both_stores!(
    sweeps_and_the_last_drift_report_on_the_status_pages,
    |db| async move {
        let app = spawn_app(db).await;
        let cookie = sign_in(&app).await;
        let (_, html) = get(&app, &cookie, "/status").await;
        assert!(
            html.contains("No reconciliation sweep has run yet"),
            "{html}"
        );
        assert!(html.contains("No drift report yet"));
        let (_, html) = get(&app, &cookie, "/status/drift").await;
        assert!(html.contains("No drift report yet"), "{html}");

        let item = app
            .create_item(ACCOUNTS, "Page Fund", json!({"text_mkry84sc": "Lodi"}))
            .await;
        app.settle().await;
        let report = crmsync_sync::reconcile::sweep(
            &app.engine,
            &crmsync_sync::reconcile::SweepOptions {
                since: crmsync_sync::reconcile::Since::Ago(std::time::Duration::from_secs(600)),
                boards: Some(vec![ACCOUNTS.to_string()]),
                ..Default::default()
            },
            &|_| {},
        )
        .await
        .unwrap();
        let rec = app.sf.by_item("Account", "Name", &item).await;
        let sf_id = rec[0]["Id"].as_str().unwrap().to_string();
        let mut fields = serde_json::Map::new();
        fields.insert("BillingCity".into(), json!("Chico"));
        app.engine
            .salesforce()
            .update("Account", &sf_id, &fields)
            .await
            .unwrap();
        let drift = crmsync_sync::drift::drift(&app.engine, Some(&[ACCOUNTS.to_string()]))
            .await
            .unwrap();
        assert!(drift.drifted >= 1);

        let (status, o) = get_json(&app, "/status").await;
        assert_eq!(status, StatusCode::OK);
        let sweep = &o["reconcile"]["sweeps"][0];
        assert_eq!(sweep["id"], json!(report.run_id.unwrap()));
        assert_eq!(sweep["outcome"], "passed");
        assert_eq!(sweep["complexity"], json!(report.complexity));
        assert!(report.complexity > 0);
        assert_eq!(
            o["reconcile"]["last_drift"]["drifted"],
            json!(drift.drifted)
        );
        let (_, html) = get(&app, &cookie, "/status").await;
        assert!(
            html.contains("href=\"/status/drift\""),
            "the overview links the report"
        );
        assert!(html.contains(&format!("#{}", report.run_id.unwrap())));
        let (status, html) = get(&app, &cookie, "/status/drift").await;
        assert_eq!(status, StatusCode::OK);
        for needle in [
            "BillingCity",
            "Lodi",
            "Chico",
            &format!("/status/items/{ACCOUNTS}/{item}"),
        ] {
            assert!(
                html.contains(needle),
                "the drift page shows {needle}: {html}"
            );
        }
        let (_, j) = get_json(&app, "/status/drift").await;
        let fields = j["last_report"]["boards"][0]["fields"].as_array().unwrap();
        assert!(
            fields
                .iter()
                .any(|f| f["field"] == "BillingCity" && f["salesforce"] == "Chico"),
            "{j}"
        );
        app.stop().await;
    }
);
