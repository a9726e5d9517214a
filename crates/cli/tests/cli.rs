//! The `crmsync` binary driven like a user would: real processes, in-process mocks, SQLite temp
//! files and PostgreSQL (`DATABASE_URL`).

mod common;

use common::*;
use futures::StreamExt;
use serde_json::{json, Value};

const SUBCOMMANDS: &[&[&str]] = &[
    &[],
    &["serve"],
    &["dead-letters"],
    &["dead-letters", "list"],
    &["dead-letters", "show"],
    &["dead-letters", "replay"],
    &["db"],
    &["db", "migrate"],
    &["mapping"],
    &["mapping", "check"],
    &["webhooks"],
    &["webhooks", "install"],
    &["webhooks", "list"],
    &["webhooks", "remove"],
    &["reconcile"],
    &["drift"],
    &["migrate"],
    &["migrate", "snapshot"],
    &["migrate", "plan"],
    &["migrate", "run"],
    &["migrate", "verify"],
    &["migrate", "status"],
];

#[tokio::test]
async fn help_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    for cmd in SUBCOMMANDS {
        let mut args: Vec<&str> = cmd.to_vec();
        args.push("--help");
        let r = run(command(dir.path(), &[], &args)).await;
        r.ok();
        assert!(r.stdout.contains("Usage: crmsync"), "{args:?}:\n{r}");
        let expected = match cmd.last() {
            None => "dead-letters",
            Some(&"serve") => "--addr",
            Some(&"list") if cmd[0] == "dead-letters" => "--json",
            Some(&"show") => "<ID>",
            Some(&"replay") => "[IDS]...",
            Some(&"install") => "--url <PUBLIC_URL>",
            Some(&"remove") => "--all",
            Some(&"check") => "FILE:LINE",
            Some(&"migrate") if cmd[0] == "db" => "schema migrations",
            Some(&"migrate") => "rehearse",
            Some(&"snapshot") => "--redact",
            Some(&"plan") => "--objects",
            Some(&"run") => "--stage <STAGE>",
            Some(&"verify") => "--report <FILE>",
            Some(&"status") => "plan hash",
            Some(other) => other,
        };
        assert!(
            r.stdout.contains(expected),
            "{args:?} help lacks {expected:?}:\n{r}"
        );
    }
}

async fn db_migrate_twice(db: Db) {
    let env = Env::start(db).await;
    for _ in 0..2 {
        let r = env.run(&["db", "migrate"]).await;
        r.ok();
        assert!(r.stdout.contains("database schema is up to date"), "{r}");
    }
    if db == Db::Postgres {
        let r = env.run(&["db", "migrate"]).await;
        assert!(r.stdout.contains("postgres"), "{r}");
        let password = url::Url::parse(&env.database_url)
            .unwrap()
            .password()
            .map(str::to_owned);
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            assert!(
                !r.stdout.contains(&p) && !r.stderr.contains(&p),
                "password printed:\n{r}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_migrate_is_idempotent_sqlite() {
    db_migrate_twice(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn db_migrate_is_idempotent_postgres() {
    db_migrate_twice(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_check_ok_against_the_seeds() {
    let env = Env::start(Db::Sqlite).await;
    let r = env.run(&["mapping", "check"]).await;
    r.ok();
    for (board, object) in [
        ("Leads", "Lead"),
        ("Accounts", "Account"),
        ("Contacts", "Contact"),
        ("Opportunities", "Opportunity"),
    ] {
        let line = r
            .stdout
            .lines()
            .find(|l| l.starts_with("OK") && l.contains(board))
            .unwrap_or_else(|| panic!("no OK line for {board}:\n{r}"));
        assert!(line.contains(object), "{line}");
    }
    assert!(
        r.stdout
            .contains("4 boards checked against Salesforce and Monday: no problems"),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapping_check_names_file_and_line_of_an_unknown_field() {
    let mut env = Env::start(Db::Sqlite).await;
    let src = std::fs::read_to_string(seed_mapping()).unwrap();
    let needle = "column = \"text_mksf27hv\"\nfield = \"Title\"";
    assert!(src.contains(needle));
    let broken = src.replace(
        needle,
        "column = \"text_mksf27hv\"\nfield = \"Job_Titel__c\"",
    );
    let path = env.dir.path().join("mapping.toml");
    std::fs::write(&path, &broken).unwrap();
    let line = broken
        .lines()
        .position(|l| l.contains("Job_Titel__c"))
        .unwrap()
        + 1;
    env.mapping = path.clone();
    let r = env.run(&["mapping", "check"]).await;
    r.failed();
    let expected = format!("{}:{line}:", path.display());
    assert!(r.stdout.contains(&expected), "expected {expected:?}:\n{r}");
    let err_line = r.stdout.lines().find(|l| l.contains(&expected)).unwrap();
    assert!(
        err_line.contains("Job_Titel__c") && err_line.contains("Lead"),
        "{err_line}"
    );
    assert!(r.stderr.contains("mapping check failed: 1 problem"), "{r}");

    // Not even TOML: the parser's position.
    std::fs::write(
        &path,
        "[[board]]\nname = \"Leads\"\nboard_id = 9378000505 x\n",
    )
    .unwrap();
    let r = env.run(&["mapping", "check"]).await;
    r.failed();
    assert!(r.stdout.contains(&format!("{}:3:", path.display())), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_install_is_idempotent_list_and_remove_all() {
    let env = Env::start(Db::Sqlite).await;
    let server = env.serve().await;
    let r = env
        .run(&["webhooks", "install", "--url", &server.base_url])
        .await;
    r.ok();
    let per_board = 5;
    assert!(
        r.stdout
            .contains(&format!("{} created, 0 already present", 4 * per_board)),
        "{r}"
    );
    assert!(
        r.stdout.contains("?token=***"),
        "token masked in the shown URL:\n{r}"
    );
    assert!(
        !r.stdout.contains(WEBHOOK_TOKEN) && !r.stderr.contains(WEBHOOK_TOKEN),
        "token printed:\n{r}"
    );
    for ev in [
        "create_item",
        "change_column_value",
        "change_name",
        "item_deleted",
        "item_archived",
    ] {
        assert_eq!(
            r.stdout
                .lines()
                .filter(|l| l.contains(ev) && l.ends_with("created"))
                .count(),
            4,
            "{ev}:\n{r}"
        );
    }
    // Monday sent the challenge to the receiver before each creation; webhooks carry the token.
    let state = env.monday.admin.state().await.unwrap();
    let hooks = state["webhooks"].as_array().cloned().unwrap_or_default();
    assert_eq!(hooks.len(), 20, "{state:#}");
    for h in &hooks {
        let u = h["url"].as_str().unwrap_or_default();
        assert_eq!(
            u,
            format!("{}/webhooks/monday?token={WEBHOOK_TOKEN}", server.base_url),
            "{h}"
        );
    }

    let again = env
        .run(&["webhooks", "install", "--url", &server.base_url])
        .await;
    again.ok();
    assert!(
        again.stdout.contains("0 created, 20 already present"),
        "{again}"
    );
    assert_eq!(
        env.monday.admin.state().await.unwrap()["webhooks"]
            .as_array()
            .map(Vec::len),
        Some(20)
    );

    let list = env.run(&["webhooks", "list", "--json"]).await;
    list.ok();
    let listed = list.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(20), "{list}");
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w["board"] == "Contacts" && w["event"] == "item_deleted"));
    let table = env.run(&["webhooks", "list"]).await;
    table.ok();
    assert!(table.stdout.contains("20 webhooks"), "{table}");

    let one = listed[0]["webhook_id"].as_str().unwrap().to_owned();
    let rm = env.run(&["webhooks", "remove", &one]).await;
    rm.ok();
    assert!(
        rm.stdout.contains(&format!("removed webhook {one}")),
        "{rm}"
    );
    let left = env.run(&["webhooks", "list", "--json"]).await.json();
    assert_eq!(left.as_array().map(Vec::len), Some(19), "{left}");
    let rm = env.run(&["webhooks", "remove", "--all"]).await;
    rm.ok();
    assert!(rm.stdout.contains("19 removed"), "{rm}");
    let list = env.run(&["webhooks", "list", "--json"]).await;
    assert_eq!(list.json(), json!([]), "{list}");
    // Removing by id, and an unknown id is an error that names it.
    let bad = env.run(&["webhooks", "remove", "424242"]).await;
    bad.failed();
    assert!(
        bad.stdout.contains("424242") && bad.stderr.contains("could not be removed"),
        "{bad}"
    );
    // remove needs ids or --all
    env.run(&["webhooks", "remove"]).await.failed();

    let (code, out, _) = server.terminate().await;
    assert_eq!(code, Some(0), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_healthz_and_stops_cleanly_on_sigterm() {
    let mut env = Env::start(Db::Sqlite).await;
    env.vars
        .push(("CRMSYNC_STATUS_TOKEN".into(), "status-secret".into()));
    let server = env.serve().await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    let st = http
        .get(format!("{}/status?format=json", server.base_url))
        .bearer_auth("status-secret")
        .send()
        .await
        .unwrap();
    assert_eq!(st.status(), 200);
    let unauth = http
        .post(format!("{}/webhooks/monday", server.base_url))
        .json(&json!({"event": {}}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauth.status(), 401, "no token → refused");
    let (code, out, err) = server.terminate().await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(
        out.contains("SIGTERM received, shutting down") && out.contains("crmsync: stopped"),
        "{out}"
    );
    for secret in [SF_CLIENT_SECRET, WEBHOOK_TOKEN, "status-secret"] {
        assert!(
            !out.contains(secret) && !err.contains(secret),
            "{secret} printed:\n{out}\n{err}"
        );
    }
}

/// App webhooks: the mock Monday signs each delivery (JWT, `aud` = the registered URL); `serve`
/// checks it against `--public-url`, and a lead created on Monday lands in Salesforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_signed_app_webhooks_applies_a_change() {
    let secret = "cli-test-signing-secret";
    let mut env = Env::start_with(Db::Sqlite, Some(secret)).await;
    env.vars
        .push(("MONDAY_SIGNING_SECRET".into(), secret.into()));
    let (server, _) = env.serve_public(&[]).await;
    let item = env
        .monday
        .admin
        .create_item(
            LEADS,
            "Signed Webhook Co",
            None,
            json!({"text_mkry1xy1": "Turing"}),
        )
        .await
        .unwrap()
        .item
        .id;
    let sf = env.sf();
    let rec = eventually("the lead in Salesforce", || {
        let sf = sf.clone();
        let item = item.clone();
        async move {
            let mut s = sf.query::<crmsync_salesforce::Record>(format!(
                "SELECT Id, Company, LastName FROM Lead WHERE Monday_Item_Id__c = '{item}'"
            ));
            s.next().await.and_then(Result::ok)
        }
    })
    .await;
    assert_eq!(rec["Company"], "Signed Webhook Co");
    assert_eq!(rec["LastName"], "Turing");
    // Every delivery carried a JWT and was accepted.
    let deliveries = env.monday.admin.deliveries().await.unwrap();
    assert!(!deliveries.is_empty());
    assert!(
        deliveries.iter().all(|d| matches!(
            d.state,
            mock_monday::DeliveryState::Delivered | mock_monday::DeliveryState::Pending
        )),
        "{deliveries:?}"
    );
    let (code, out, err) = server.terminate().await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    assert!(!err.contains(secret) && !out.contains(secret));
}

async fn dead_letters_through_the_engine(db: Db) {
    let mut env = Env::start(db).await;
    let r = env.run(&["db", "migrate"]).await;
    r.ok();
    let none = env.run(&["dead-letters", "list"]).await;
    none.ok();
    assert!(none.stdout.contains("no open dead letters"), "{none}");

    let server = env.serve().await;
    env.run(&["webhooks", "install", "--url", &server.base_url])
        .await
        .ok();
    // The seed mapping copies the free-text column "text_mks6c82k" into Contact.Email: Salesforce
    // rejects what is not an email address (INVALID_EMAIL_ADDRESS), a permanent failure.
    let item = env
        .monday
        .admin
        .create_item(
            CONTACTS,
            "Pat Doe",
            None,
            json!({"text_mks6c82k": "pat at example dot org"}),
        )
        .await
        .unwrap()
        .item
        .id;
    let listed = eventually("a dead letter", || async {
        let r = env.run(&["dead-letters", "list", "--json"]).await;
        let v = r.ok().json();
        (v.as_array().map(Vec::len) == Some(1)).then_some(v)
    })
    .await;
    let (code, out, err) = server.terminate().await;
    assert_eq!(code, Some(0), "stdout:\n{out}\nstderr:\n{err}");
    let dl = &listed[0];
    assert_eq!(dl["status"], "open");
    assert_eq!(
        dl["item_id"].as_i64().map(|i| i.to_string()),
        Some(item.clone())
    );
    assert_eq!(
        dl["board_id"].as_i64().map(|i| i.to_string()).as_deref(),
        Some(CONTACTS)
    );
    let id = dl["id"].as_i64().unwrap().to_string();

    let table = env.run(&["dead-letters", "list"]).await;
    table.ok();
    assert!(
        table.stdout.lines().any(|l| l.starts_with(&id)
            && l.contains("open")
            && l.contains(&item)
            && l.contains("Contacts")
            && l.contains("INVALID_EMAIL_ADDRESS")),
        "{table}"
    );

    let show = env.run(&["dead-letters", "show", &id, "--json"]).await;
    let v = show.ok().json();
    assert!(
        v["salesforce_error"]
            .to_string()
            .contains("INVALID_EMAIL_ADDRESS"),
        "{show}"
    );
    assert_eq!(v["payload"]["event"]["type"], "create_pulse", "{show}");
    // The attempt history: one dead attempt, what it called and what Salesforce answered.
    let attempts = v["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{show}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["outcome"], "dead");
    assert_eq!(attempts[0]["error_class"], "INVALID_EMAIL_ADDRESS");
    assert_eq!(attempts[0]["http_status"], 400);
    assert_eq!(
        attempts[0]["operation"],
        "create_pulse: upsert Contact by Monday_Item_Id__c"
    );
    let text = env.run(&["dead-letters", "show", &id]).await;
    text.ok();
    assert!(
        text.stdout.contains("INVALID_EMAIL_ADDRESS")
            && text.stdout.contains("webhook payload as received"),
        "{text}"
    );
    assert!(
        text.stdout.lines().any(|l| l.contains("#1")
            && l.contains("dead")
            && l.contains("HTTP 400")
            && l.contains("upsert Contact by Monday_Item_Id__c")),
        "{text}"
    );
    let missing = env.run(&["dead-letters", "show", "999999"]).await;
    missing.failed();
    assert!(
        missing.stderr.contains("dead letter 999999 does not exist"),
        "{missing}"
    );

    // Replaying without a fix fails again, says so, and reopens the dead letter.
    let again = env.run(&["dead-letters", "replay", &id]).await;
    again.failed();
    assert!(again.stdout.contains("failed again"), "{again}");
    assert!(
        again.stderr.contains("1 of 1 replays did not succeed"),
        "{again}"
    );

    // Fix the mapping: that column only shows the email on Monday from now on.
    let fixed = std::fs::read_to_string(seed_mapping()).unwrap().replace(
        "column = \"text_mks6c82k\"\nfield = \"Email\"\ntransform = \"text\"\n",
        "column = \"text_mks6c82k\"\nfield = \"Email\"\ntransform = \"text\"\ndirection = \"to_monday\"\n",
    );
    let path = env.dir.path().join("fixed.toml");
    std::fs::write(&path, fixed).unwrap();
    env.mapping = path;
    let replay = env.run(&["dead-letters", "replay"]).await;
    replay.ok();
    assert!(
        replay.stdout.contains(&format!("dead letter {id}: event")),
        "{replay}"
    );
    assert!(
        replay.stdout.contains("applied to Salesforce")
            && replay.stdout.contains("1 replayed successfully"),
        "{replay}"
    );

    let sf = env.sf();
    let recs: Vec<_> = sf
        .query::<crmsync_salesforce::Record>(format!(
            "SELECT Id, FirstName, LastName, Email FROM Contact WHERE Monday_Item_Id__c = '{item}'"
        ))
        .collect()
        .await;
    assert_eq!(recs.len(), 1, "{recs:?}");
    let rec = recs[0].as_ref().unwrap();
    assert_eq!(rec["LastName"], "Doe");
    assert!(rec["Email"].is_null());

    let after = env.run(&["dead-letters", "list"]).await;
    assert!(
        after.ok().stdout.contains("no open dead letters"),
        "{after}"
    );
    let all = env.run(&["dead-letters", "list", "--all", "--json"]).await;
    let v = all.ok().json();
    assert_eq!(v[0]["status"], "replayed", "{all}");
    assert_eq!(v[0]["replay_count"], 2, "{all}");
    // Nothing left to replay.
    let nothing = env.run(&["dead-letters", "replay"]).await;
    assert!(
        nothing
            .ok()
            .stdout
            .contains("no open dead letters to replay"),
        "{nothing}"
    );
    for secret in [SF_CLIENT_SECRET, WEBHOOK_TOKEN] {
        for r in [&replay, &again, &show, &text] {
            assert!(
                !r.stdout.contains(secret) && !r.stderr.contains(secret),
                "{secret} printed:\n{r}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_list_show_replay_sqlite() {
    dead_letters_through_the_engine(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_list_show_replay_postgres() {
    dead_letters_through_the_engine(Db::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_or_malformed_variables_are_named() {
    let base = Env::start(Db::Sqlite).await;

    let mut env = Env::start(Db::Sqlite).await;
    env.removed.push("MONDAY_API_TOKEN".into());
    let r = env.run(&["webhooks", "list"]).await;
    r.failed();
    assert!(r.stderr.contains("MONDAY_API_TOKEN is not set"), "{r}");

    env.removed.clear();
    env.vars.push((
        "DATABASE_URL".into(),
        "mysql://root:hunter2@localhost/crm".into(),
    ));
    let r = env.run(&["db", "migrate"]).await;
    r.failed();
    assert!(r.stderr.contains("DATABASE_URL is invalid"), "{r}");
    assert!(!r.stderr.contains("hunter2"), "password printed:\n{r}");

    env.vars = vec![("SALESFORCE_API_VERSION".into(), "sixty-two".into())];
    let r = env.run(&["mapping", "check"]).await;
    r.failed();
    assert!(
        r.stderr.contains("SALESFORCE_API_VERSION is invalid"),
        "{r}"
    );

    env.vars.clear();
    env.removed = vec!["SALESFORCE_CLIENT_ID".into()];
    let r = env.run(&["mapping", "check"]).await;
    r.failed();
    assert!(r.stderr.contains("SALESFORCE_CLIENT_ID is not set"), "{r}");
    assert!(!r.stderr.contains(SF_CLIENT_SECRET), "secret printed:\n{r}");

    env.removed.clear();
    env.vars = vec![("CRMSYNC_MAPPING".into(), "/nonexistent/mapping.toml".into())];
    let r = env.run(&["mapping", "check"]).await;
    r.failed();
    assert!(
        r.stderr
            .contains("reading the mapping file /nonexistent/mapping.toml (CRMSYNC_MAPPING)"),
        "{r}"
    );

    // serve refuses to start without any webhook authentication.
    env.vars.clear();
    env.removed = vec!["MONDAY_WEBHOOK_TOKEN".into()];
    let r = env.run(&["serve", "--addr", "127.0.0.1:0"]).await;
    r.failed();
    assert!(
        r.stderr.contains("MONDAY_SIGNING_SECRET") && r.stderr.contains("MONDAY_WEBHOOK_TOKEN"),
        "{r}"
    );

    // A wrong Salesforce secret: the error says what failed, without the secret.
    let mut bad = base;
    bad.vars = vec![(
        "SALESFORCE_CLIENT_SECRET".into(),
        "wrong-secret-value".into(),
    )];
    let r = bad.run(&["mapping", "check"]).await;
    r.failed();
    assert!(
        !r.stderr.contains("wrong-secret-value"),
        "secret printed:\n{r}"
    );
    assert!(r.stderr.to_lowercase().contains("salesforce"), "{r}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_install_against_a_dead_receiver_fails_without_printing_the_token() {
    let env = Env::start(Db::Sqlite).await;
    // Nothing listens on this port: Monday's challenge fails and the command reports it; the
    // token-carrying URL must only ever be shown masked.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let r = env
        .run(&[
            "webhooks",
            "install",
            "--url",
            &format!("http://127.0.0.1:{port}"),
        ])
        .await;
    r.failed();
    assert!(
        r.stderr.contains("creating the") && r.stderr.contains("?token=***"),
        "the error names the masked URL:\n{r}"
    );
    assert!(
        !r.stdout.contains(WEBHOOK_TOKEN) && !r.stderr.contains(WEBHOOK_TOKEN),
        "token printed:\n{r}"
    );
}

/// crmsync was never up while items were created on Monday: `crmsync reconcile` (the binary)
/// stores and applies them, a second run stores nothing; `crmsync drift` is clean on the synced
/// board and names the field and both values after a change made directly in Salesforce.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_then_drift_with_the_binary() {
    const ACCOUNTS: &str = crmsync_testkit::ACCOUNTS;
    let env = Env::start(Db::Sqlite).await;
    env.run(&["db", "migrate"]).await.ok();
    let item = env
        .monday
        .admin
        .create_item(
            ACCOUNTS,
            "Quiet Hours Fund",
            None,
            json!({"text_mkry84sc": "Ogden"}),
        )
        .await
        .unwrap()
        .item
        .id;
    // The whole board: nothing was ever swept, so every item is read and compared.
    let first = env
        .run(&[
            "reconcile",
            "--since",
            "all",
            "--boards",
            ACCOUNTS,
            "--json",
        ])
        .await;
    let report = first.ok().json();
    assert!(report["events_stored"].as_u64().unwrap() >= 1, "{first}");
    assert_eq!(report["events_applied"], report["events_stored"], "{first}");
    assert_eq!(report["full_reads"], 1);
    assert!(report["complexity"].as_u64().unwrap() > 0);
    let sf = env.sf();
    let mut s = sf.query::<crmsync_salesforce::Record>(format!(
        "SELECT Id, Name, BillingCity FROM Account WHERE Monday_Item_Id__c = '{item}'"
    ));
    let rec = s
        .next()
        .await
        .and_then(Result::ok)
        .expect("the account was created");
    assert_eq!(rec["Name"], "Quiet Hours Fund");
    assert_eq!(rec["BillingCity"], "Ogden");
    assert!(s.next().await.is_none(), "exactly one account");
    let sf_id = rec["Id"].as_str().unwrap().to_string();

    let second = env
        .run(&["reconcile", "--since", "1h", "--boards", ACCOUNTS])
        .await;
    assert!(second.ok().stdout.contains(" 0 events stored"), "{second}");

    let clean = env.run(&["drift", "--boards", ACCOUNTS, "--json"]).await;
    let clean_report = clean.ok().json();
    assert_eq!(clean_report["drifted"], 0, "{clean}");

    // Someone edits the record in Salesforce directly.
    let mut fields = serde_json::Map::new();
    fields.insert("BillingCity".into(), json!("Provo"));
    sf.update("Account", &sf_id, &fields).await.unwrap();
    let drifted = env.run(&["drift", "--boards", ACCOUNTS]).await;
    drifted.failed();
    for needle in ["BillingCity", "\"Ogden\"", "\"Provo\"", &sf_id, &item] {
        assert!(
            drifted.stdout.contains(needle),
            "drift names {needle}:\n{drifted}"
        );
    }
    assert!(drifted.stderr.contains("1 drifted"), "{drifted}");
    let json_run = env.run(&["drift", "--boards", ACCOUNTS, "--json"]).await;
    json_run.failed();
    let v: Value = serde_json::from_str(&json_run.stdout).unwrap();
    let f = &v["boards"][0]["fields"][0];
    assert_eq!(
        (
            f["field"].as_str(),
            f["monday"].as_str(),
            f["salesforce"].as_str()
        ),
        (Some("BillingCity"), Some("Ogden"), Some("Provo"))
    );
    assert!(f["fix"].as_str().unwrap().contains("Account.BillingCity"));

    let bad = env.run(&["reconcile", "--since", "yesterday"]).await;
    assert!(bad.failed().stderr.contains("--since"), "{bad}");
}
