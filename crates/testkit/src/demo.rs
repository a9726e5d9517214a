//! The demo behind `cargo xtask demo`: both mocks in this process, an embedded SQLite store in a
//! temporary directory, the real receiver on 127.0.0.1:0 with the engine's worker, webhooks
//! registered on the mock Monday with [`crmsync_app::webhooks::install`] (challenge and all), then a
//! scripted series of edits made "as a user" on Monday, each read back from the mock Salesforce's
//! REST API (before → after) once it has landed. No credentials, no network besides loopback.

use std::future::Future;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use crmsync_app::{App, ServeOptions};
use crmsync_http::{PendingPolicy, ReceiverConfig, WebhookAuth};
use crmsync_monday::{MondayClient, MondayConfig};
use crmsync_salesforce::{AuthMode, Record, SalesforceClient, SalesforceConfig};
use crmsync_store::Store;
use crmsync_sync::{Alerter, Engine, EngineConfig, RetrySchedule};

use crate::seed::boards::{ACCOUNTS, CONTACTS, LEADS, OPPORTUNITIES};
pub use crate::seed::seed_dir;
use futures::StreamExt;
use secrecy::SecretString;
use serde_json::{json, Value};

const SF_CLIENT_ID: &str = "demo-client-id";
const SF_CLIENT_SECRET: &str = "demo-client-secret";
/// How long one change may take to reach Salesforce before the demo gives up.
const STEP_TIMEOUT: Duration = Duration::from_secs(30);

/// Installs a human-format log subscriber on stderr with this filter (default `warn` in the demo).
pub fn init_logs(filter: &str) -> Result<()> {
    let filter = crmsync_config::parse_filter(Some(filter)).context("parsing RUST_LOG")?;
    let sub = crmsync_config::subscriber(
        crmsync_config::LogFormat::Human,
        filter,
        std::io::stderr,
        false,
    );
    // Already installed (e.g. by a test): keep the existing one.
    let _ = tracing::subscriber::set_global_default(sub);
    Ok(())
}

/// Runs the whole demo, writing its story to `out`. Fails when a change does not reach Salesforce
/// within [`STEP_TIMEOUT`], or when anything ends up failed or dead-lettered.
pub async fn run(out: &mut impl Write) -> Result<()> {
    let started = Instant::now();
    let seed = seed_dir();
    let mapping_path = seed.join("mapping.toml");
    say(
        out,
        "crmsync demo: changes made on Monday.com boards arrive in Salesforce, live.",
    )?;
    say(
        out,
        "Everything runs on this machine: a stand-in Salesforce and a stand-in Monday.com",
    )?;
    say(
        out,
        "(the project's mock servers), no accounts, no passwords, no internet.",
    )?;
    say(out, "")?;
    say(out, "Setting up")?;

    // --- mocks
    let sf_mock = mock_salesforce::MockSalesforce::builder()
        .client_credentials(SF_CLIENT_ID, SF_CLIENT_SECRET)
        .start()
        .await
        .context("starting the mock Salesforce")?;
    let signing_secret = format!(
        "demo-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    );
    let monday_mock = mock_monday::MockMonday::builder()
        .seed_dir(seed.join("monday"))
        .signing_secret(signing_secret.clone())
        .webhook_retries(Duration::from_millis(500), 20)
        // Complexity budget and mutation limit lifted so the migration below takes seconds,
        // not minutes.
        .budget(1_000_000_000_000, Duration::from_secs(60))
        .mutations_per_window(u64::MAX)
        .start()
        .await
        .context("starting the mock Monday")?;
    row(out, "Salesforce (mock)", &sf_mock.base_url)?;
    row(out, "Monday.com (mock)", &monday_mock.base_url)?;

    // --- store
    let dir = tempfile::tempdir().context("creating a temporary directory for the store")?;
    let db_path = dir.path().join("crmsync.db");
    let store = Store::connect(&format!("sqlite://{}", db_path.display()))
        .await
        .context("opening the SQLite store")?;
    store
        .migrate()
        .await
        .context("creating the store's tables")?;
    row(
        out,
        "Sync log",
        &format!("SQLite file {}", db_path.display()),
    )?;

    // --- clients and mapping
    let sf_url = url::Url::parse(&sf_mock.base_url).context("the mock Salesforce's URL")?;
    let sf = SalesforceClient::new(SalesforceConfig::new(
        sf_url,
        SF_CLIENT_ID,
        SecretString::from(SF_CLIENT_SECRET),
        AuthMode::ClientCredentials,
    ))
    .context("configuring the Salesforce client")?;
    let monday = MondayClient::new(
        MondayConfig::new(SecretString::from(monday_mock.token().to_owned()))
            .with_api_url(monday_mock.api_url())
            .with_mutation_limit(None),
    )
    .context("configuring the Monday client")?;
    let mapping = crmsync_sync::load_mapping(&mapping_path, &sf, &monday)
        .await
        .with_context(|| format!("checking the mapping {}", mapping_path.display()))?;
    for (i, b) in mapping.boards.iter().enumerate() {
        let label = if i == 0 { "Mapping (checked)" } else { "" };
        let name = mapping.board_label(&b.board_id);
        row(
            out,
            label,
            &format!("Monday board {name:<14} → Salesforce {}", b.object),
        )?;
    }

    // --- the migration first: every Salesforce record onto its board (a rehearsal on the mocks)
    migrate(out, &store, &sf, &monday, &mapping, &mapping_path).await?;

    // --- engine, receiver, worker
    let engine = Engine::new(
        store.clone(),
        mapping.clone(),
        sf.clone(),
        monday.clone(),
        Alerter::log_only(),
        EngineConfig {
            worker_id: "demo".into(),
            lease: Duration::from_secs(10),
            retry: RetrySchedule {
                base: Duration::from_millis(100),
                max: Duration::from_secs(1),
                max_attempts: 10,
            },
            poll_interval: Duration::from_millis(50),
            rate_limit_pause: Duration::from_secs(5),
            ..EngineConfig::for_tests()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .context("listening on 127.0.0.1:0")?;
    let addr = listener
        .local_addr()
        .context("reading the receiver's address")?;
    let base = url::Url::parse(&format!("http://{addr}")).context("the receiver's URL")?;
    let webhook_url = crmsync_app::webhooks::receiver_url(&base, None);
    let mut rc = ReceiverConfig::new(WebhookAuth::new().with_signing_secret(
        SecretString::from(signing_secret),
        vec![webhook_url.to_string()],
    ));
    rc.pending_policy = PendingPolicy::AckWhenStored;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(crmsync_app::serve(
        listener,
        App::from_parts(engine.clone(), rc),
        ServeOptions {
            close_store: false,
            ..ServeOptions::default()
        },
        async {
            let _ = stop_rx.await;
        },
    ));
    row(out, "crmsync receiver", webhook_url.as_str())?;

    // --- webhooks (same code as `crmsync webhooks install`)
    let installed = crmsync_app::webhooks::install(&monday, &mapping, &webhook_url).await?;
    let events: Vec<String> = {
        let mut e: Vec<String> = installed.iter().map(|r| r.event.clone()).collect();
        e.sort();
        e.dedup();
        e
    };
    row(
        out,
        "Webhooks",
        &format!(
            "{} registered on Monday, each confirmed by Monday's challenge",
            installed.iter().filter(|r| r.action == "created").count(),
        ),
    )?;
    row(
        out,
        "",
        &format!("({} boards × {})", mapping.boards.len(), events.join(", ")),
    )?;

    let demo = Demo {
        sf: &sf,
        admin: &monday_mock.admin,
    };

    // --- records that already exist on both sides before the scripted edits
    say(out, "")?;
    say(
        out,
        "Preparing records the edits below work on (created on Monday, synced to Salesforce)",
    )?;
    let account = demo
        .create(
            ACCOUNTS,
            "Harbor Arts Collective",
            json!({"text_mkry84sc": "Oakland"}),
        )
        .await?;
    let account_id = demo.wait_created("Account", &account).await?;
    row(
        out,
        "Account",
        &format!("\"Harbor Arts Collective\" → Salesforce Account {account_id}"),
    )?;
    let contact = demo
        .create(
            CONTACTS,
            "Mary Ann Smith",
            json!({"text_mks6s3rq": "Director"}),
        )
        .await?;
    let contact_id = demo.wait_created("Contact", &contact).await?;
    row(
        out,
        "Contact",
        &format!("\"Mary Ann Smith\" → Salesforce Contact {contact_id}"),
    )?;
    let opp = demo
        .create(
            OPPORTUNITIES,
            "Spring Gala Sponsorship",
            json!({"numeric_mksjdntv": "2500"}),
        )
        .await?;
    let opp_id = demo.wait_created("Opportunity", &opp).await?;
    row(
        out,
        "Opportunity",
        &format!("\"Spring Gala Sponsorship\" → Salesforce Opportunity {opp_id}"),
    )?;

    // --- 1. create a lead
    let lead_fields = [
        ("Company", "Company"),
        ("FirstName", "First name"),
        ("LastName", "Last name"),
        ("Status", "Status"),
    ];
    step(out, 1, "Create a lead", "On Monday, someone adds \"Riverside Food Bank\" to the Leads board (contact Ada Lovelace, status \"Open - Not Contacted\").")?;
    let t = Instant::now();
    let lead = demo
        .create(
            LEADS,
            "Riverside Food Bank",
            json!({"text_mkry13cw": "Ada", "text_mkry1xy1": "Lovelace", "color_mksj2adq": {"label": "Open - Not Contacted"}}),
        )
        .await?;
    let lead_id = demo.wait_created("Lead", &lead).await?;
    let after = demo
        .wait_record("Lead", &lead_id, "the new lead's status", |r| {
            r.get("Status").and_then(Value::as_str) == Some("Open - Not Contacted")
        })
        .await?;
    landed(out, "Lead", &lead_id, t)?;
    changes(out, &lead_fields, None, &after)?;

    // --- 2. change its status
    step(out, 2, "Change the lead's status", "On Monday, the status of \"Riverside Food Bank\" changes to \"Nurturing\" (mapping.toml translates it to Salesforce's \"Working - Contacted\").")?;
    let before = demo.record("Lead", &lead_id).await?;
    let t = Instant::now();
    demo.admin
        .change_column_value(&lead, "color_mksj2adq", json!({"label": "Nurturing"}))
        .await
        .context("changing the lead's status on Monday")?;
    let after = demo
        .wait_record("Lead", &lead_id, "the lead's new status", |r| {
            r.get("Status").and_then(Value::as_str) == Some("Working - Contacted")
        })
        .await?;
    landed(out, "Lead", &lead_id, t)?;
    changes(out, &[("Status", "Status")], before.as_ref(), &after)?;

    // --- 3. rename an account
    step(out, 3, "Rename an account", "On Monday, \"Harbor Arts Collective\" on the Accounts board is renamed \"Harbor Arts Collective of Oakland\".")?;
    let before = demo.record("Account", &account_id).await?;
    let t = Instant::now();
    demo.admin
        .rename(&account, "Harbor Arts Collective of Oakland")
        .await
        .context("renaming the account on Monday")?;
    let after = demo
        .wait_record("Account", &account_id, "the account's new name", |r| {
            r.get("Name").and_then(Value::as_str) == Some("Harbor Arts Collective of Oakland")
        })
        .await?;
    landed(out, "Account", &account_id, t)?;
    changes(
        out,
        &[("Name", "Account name"), ("BillingCity", "City")],
        before.as_ref(),
        &after,
    )?;

    // --- 4. link a contact to an account
    step(out, 4, "Link a contact to an account", "On Monday, Mary Ann Smith's \"Account\" column is set to Harbor Arts Collective of Oakland.")?;
    let before = demo.record("Contact", &contact_id).await?;
    let t = Instant::now();
    let account_item: i64 = account
        .parse()
        .with_context(|| format!("Monday item id {account:?} is not a number"))?;
    demo.admin
        .change_column_value(
            &contact,
            "board_relation_mks98dnn",
            json!({"item_ids": [account_item]}),
        )
        .await
        .context("linking the contact to the account on Monday")?;
    let after = demo
        .wait_record("Contact", &contact_id, "the contact's account", |r| {
            r.get("AccountId").and_then(Value::as_str) == Some(account_id.as_str())
        })
        .await?;
    landed(out, "Contact", &contact_id, t)?;
    changes(
        out,
        &[
            ("FirstName", "First name"),
            ("LastName", "Last name"),
            ("AccountId", "Account"),
        ],
        before.as_ref(),
        &after,
    )?;
    say(
        out,
        &format!("     (Salesforce Account {account_id} is \"Harbor Arts Collective of Oakland\")"),
    )?;

    // --- 5. delete an opportunity
    step(out, 5, "Delete an opportunity", "On Monday, \"Spring Gala Sponsorship\" is deleted from the Opportunities board (mapping.toml keeps the history: the opportunity is closed as lost, not erased).")?;
    let before = demo.record("Opportunity", &opp_id).await?;
    let t = Instant::now();
    demo.admin
        .delete(&opp)
        .await
        .context("deleting the opportunity on Monday")?;
    let after = demo
        .wait_record("Opportunity", &opp_id, "the opportunity's stage", |r| {
            r.get("StageName").and_then(Value::as_str) == Some("Closed Lost")
        })
        .await?;
    landed(out, "Opportunity", &opp_id, t)?;
    changes(
        out,
        &[
            ("Name", "Opportunity"),
            ("Amount", "Amount"),
            ("StageName", "Stage"),
        ],
        before.as_ref(),
        &after,
    )?;

    // --- summary, once every delivery has been handled
    settle(&monday_mock.admin, &store).await?;
    let counts = store
        .event_counts_since(chrono::DateTime::UNIX_EPOCH)
        .await
        .context("reading the event counts")?;
    let dead_letters = store
        .open_dead_letter_count()
        .await
        .context("counting dead letters")?;
    say(out, "")?;
    say(out, "Summary")?;
    let n = |v: u64| format!("{v:>4}");
    row(out, "Webhook events received", &n(counts.total()))?;
    row(out, "Applied to Salesforce", &n(counts.done))?;
    row(
        out,
        "Skipped (nothing to do)",
        &format!(
            "{}   e.g. Monday echoing back the Salesforce Id crmsync wrote on the item",
            n(counts.skipped)
        ),
    )?;
    row(
        out,
        "Failed",
        &n(counts.failed + counts.dead + counts.pending + counts.processing),
    )?;
    row(out, "Dead letters", &n(dead_letters))?;
    row(
        out,
        "Total time",
        &format!("{:>6.1} s", started.elapsed().as_secs_f64()),
    )?;

    // --- shutdown
    let _ = stop_tx.send(());
    served
        .await
        .context("the receiver's task failed")?
        .context("serving the receiver")?;
    store.close().await;
    drop(dir);

    if counts.failed + counts.dead + dead_letters > 0 {
        bail!(
            "{} event(s) failed and {dead_letters} dead letter(s) were created; run with RUST_LOG=info to see why",
            counts.failed + counts.dead
        );
    }
    say(out, "")?;
    say(out, "Every change reached Salesforce. Next: `crmsync --help`, and README.md for a real deployment.")?;
    Ok(())
}

struct Demo<'a> {
    sf: &'a SalesforceClient,
    admin: &'a mock_monday::AdminClient,
}

impl Demo<'_> {
    /// Creates an item on Monday as a user; returns its id.
    async fn create(&self, board: &str, name: &str, values: Value) -> Result<String> {
        Ok(self
            .admin
            .create_item(board, name, None, values)
            .await
            .with_context(|| format!("creating \"{name}\" on Monday board {board}"))?
            .item
            .id)
    }

    /// Waits for the Salesforce record of a Monday item (by its external id); returns its Id.
    async fn wait_created(&self, object: &str, item: &str) -> Result<String> {
        let soql = format!("SELECT Id FROM {object} WHERE Monday_Item_Id__c = '{item}'");
        poll(&format!("the {object} of Monday item {item}"), || async {
            let rec = self.query_one(&soql).await?;
            Ok(rec.and_then(|r| r.get("Id").and_then(Value::as_str).map(str::to_owned)))
        })
        .await
    }

    async fn query_one(&self, soql: &str) -> Result<Option<Record>> {
        let mut s = self.sf.query::<Record>(soql.to_owned());
        match s.next().await {
            Some(r) => Ok(Some(
                r.with_context(|| format!("querying Salesforce: {soql}"))?,
            )),
            None => Ok(None),
        }
    }

    /// A record read through the Salesforce REST API (`None` when it does not exist).
    async fn record(&self, object: &str, id: &str) -> Result<Option<Record>> {
        match self.sf.get(object, id, &[]).await {
            Ok(r) => Ok(Some(r)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {object} {id} from Salesforce")),
        }
    }

    /// Polls the record until `done` holds.
    async fn wait_record(
        &self,
        object: &str,
        id: &str,
        what: &str,
        done: impl Fn(&Record) -> bool,
    ) -> Result<Record> {
        poll(what, || async {
            let r = self
                .sf
                .get(object, id, &[])
                .await
                .with_context(|| format!("reading {object} {id} from Salesforce"))?;
            Ok(done(&r).then_some(r))
        })
        .await
    }
}

/// Polls `f` every 100 ms until it returns `Some`, for at most [`STEP_TIMEOUT`].
async fn poll<T, F, Fut>(what: &str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            bail!(
                "{what} did not reach Salesforce within {} s",
                STEP_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until Monday has delivered every webhook and no event is open in the store.
async fn settle(admin: &mock_monday::AdminClient, store: &Store) -> Result<()> {
    poll("the last webhook deliveries", || async {
        let deliveries = admin
            .deliveries()
            .await
            .context("reading Monday's deliveries")?;
        let pending = deliveries.iter().any(|d| {
            !matches!(
                d.state,
                mock_monday::DeliveryState::Delivered | mock_monday::DeliveryState::Failed
            )
        });
        let c = store
            .event_counts_since(chrono::DateTime::UNIX_EPOCH)
            .await
            .context("reading the event counts")?;
        if pending || c.pending + c.processing + c.failed > 0 {
            return Ok(None);
        }
        // crmsync's write-back fires webhooks of its own: quiet twice in a row.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let again = admin
            .deliveries()
            .await
            .context("reading Monday's deliveries")?;
        Ok((again.len() == deliveries.len()).then_some(()))
    })
    .await
}

fn say(out: &mut impl Write, line: &str) -> Result<()> {
    writeln!(out, "{line}").context("writing the demo's output")
}

fn row(out: &mut impl Write, label: &str, value: &str) -> Result<()> {
    say(out, &format!("  {label:<26} {value}"))
}

fn step(out: &mut impl Write, n: u32, title: &str, what: &str) -> Result<()> {
    say(out, "")?;
    say(out, &format!("{n}. {title}"))?;
    say(out, &format!("   {what}"))
}

fn landed(out: &mut impl Write, object: &str, id: &str, since: Instant) -> Result<()> {
    say(
        out,
        &format!(
            "   In Salesforce {object} {id}, {:.1} s later:",
            since.elapsed().as_secs_f64()
        ),
    )
}

/// `value` for people: text as is, numbers plainly, empty as `(empty)`.
pub fn display_value(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => "(empty)".to_owned(),
        Some(Value::String(s)) if s.is_empty() => "(empty)".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
            _ => n.to_string(),
        },
        Some(other) => other.to_string(),
    }
}

/// Prints `label  before → after` per field; `before` is `None` for a record that did not exist.
fn changes(
    out: &mut impl Write,
    fields: &[(&str, &str)],
    before: Option<&Record>,
    after: &Record,
) -> Result<()> {
    let width = fields
        .iter()
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(0);
    let olds: Vec<String> = fields
        .iter()
        .map(|(f, _)| match before {
            None => "(no record)".to_owned(),
            Some(r) => display_value(r.get(*f)),
        })
        .collect();
    let old_width = olds.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let news: Vec<String> = fields
        .iter()
        .map(|(f, _)| display_value(after.get(*f)))
        .collect();
    let new_width = news.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    for (((_, label), old), new) in fields.iter().zip(&olds).zip(&news) {
        let line = if old == new {
            format!("     {label:<width$}   {old:<old_width$}  →  {new:<new_width$}   (unchanged)")
        } else {
            format!("     {label:<width$}   {old:<old_width$}  →  {new}")
        };
        say(out, line.trim_end())?;
    }
    Ok(())
}

/// The migration as `crmsync migrate run --stage rehearsal` does it, with progress lines: every
/// Lead, Account, Contact and Opportunity of the mock Salesforce onto its board, relations set,
/// verified. Its items are created before the webhooks are registered, as in a first go-live.
async fn migrate(
    out: &mut impl Write,
    store: &Store,
    sf: &SalesforceClient,
    monday: &MondayClient,
    mapping: &crmsync_core::mapping::Mapping,
    mapping_path: &std::path::Path,
) -> Result<()> {
    use crmsync_migrate::{MigrateOptions, Migrator, Progress, RunOptions, Stage};
    use std::sync::{Arc, Mutex};

    say(out, "")?;
    say(
        out,
        "Migrating Salesforce → Monday.com first (a rehearsal of `crmsync migrate run` on the mocks)",
    )?;
    let src = std::fs::read_to_string(mapping_path)
        .with_context(|| format!("reading {}", mapping_path.display()))?;
    // Progress events arrive on the migration's tasks; lines are collected and printed here.
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let latest: Arc<Mutex<Option<String>>> = Arc::default();
    let (sink_lines, sink_latest) = (lines.clone(), latest.clone());
    let sink = Arc::new(move |p: &Progress| match p {
        Progress::Finished { object, pass, done } => {
            if let Ok(mut l) = sink_lines.lock() {
                l.push(format!("  {object:<12} {pass:<10} {done:>6} done"));
            }
            if let Ok(mut l) = sink_latest.lock() {
                *l = None;
            }
        }
        Progress::Advanced { object, pass, done } => {
            if let Ok(mut l) = sink_latest.lock() {
                *l = Some(format!("  {object:<12} {pass:<10} {done:>6} …"));
            }
        }
        _ => {}
    });
    let migrator = Migrator::new(
        store.clone(),
        sf.clone(),
        monday.clone(),
        mapping.clone(),
        &src,
        MigrateOptions::default(),
        sink,
    );
    let started = Instant::now();
    let run = migrator.run(&RunOptions {
        stage: Stage::Rehearsal,
        resume: false,
        dry_run: false,
        since_last: false,
        objects: None,
    });
    tokio::pin!(run);
    let mut tick = tokio::time::interval(Duration::from_millis(700));
    let flush = |out: &mut dyn Write, with_latest: bool| -> Result<()> {
        let done: Vec<String> = lines
            .lock()
            .map(|mut l| l.drain(..).collect())
            .unwrap_or_default();
        for l in done {
            writeln!(out, "{l}")?;
        }
        if with_latest {
            if let Some(l) = latest.lock().ok().and_then(|mut l| l.take()) {
                writeln!(out, "{l}")?;
            }
        }
        out.flush()?;
        Ok(())
    };
    let report = loop {
        tokio::select! {
            r = &mut run => break r.context("the migration")?,
            _ = tick.tick() => flush(out, true)?,
        }
    };
    flush(out, false)?;
    let sum =
        |f: fn(&crmsync_migrate::ObjectReport) -> u64| report.objects.iter().map(f).sum::<u64>();
    row(
        out,
        "Migrated",
        &format!(
            "{} records read, {} items created, {} adopted, {} relations set in {:.1} s",
            sum(|o| o.read),
            sum(|o| o.created),
            sum(|o| o.adopted),
            sum(|o| o.relations_set),
            started.elapsed().as_secs_f64()
        ),
    )?;
    if !report.failures.is_empty() || report.verify_differences != Some(0) {
        bail!(
            "the migration did not pass: {} failed records, verify differences {:?}",
            report.failures.len(),
            report.verify_differences
        );
    }
    row(
        out,
        "Verified",
        "both sides read back: 0 differences (every mapped field and relation)",
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_shown_plainly() {
        assert_eq!(display_value(None), "(empty)");
        assert_eq!(display_value(Some(&Value::Null)), "(empty)");
        assert_eq!(display_value(Some(&json!(""))), "(empty)");
        assert_eq!(display_value(Some(&json!("Ada"))), "Ada");
        assert_eq!(display_value(Some(&json!(2500.0))), "2500");
        assert_eq!(display_value(Some(&json!(12.5))), "12.5");
    }

    #[test]
    fn changes_are_aligned_before_to_after() {
        let mut before = Record::new();
        before.insert("Status".into(), json!("Open - Not Contacted"));
        before.insert("Company".into(), json!("Riverside"));
        let mut after = before.clone();
        after.insert("Status".into(), json!("Working - Contacted"));
        let mut buf = Vec::new();
        changes(
            &mut buf,
            &[("Company", "Company"), ("Status", "Status")],
            Some(&before),
            &after,
        )
        .unwrap();
        let s = String::from_utf8(buf).unwrap();
        assert_eq!(
            s,
            "     Company   Riverside             →  Riverside             (unchanged)\n     \
             Status    Open - Not Contacted  →  Working - Contacted\n"
        );
        let mut buf = Vec::new();
        changes(&mut buf, &[("Status", "Status")], None, &after).unwrap();
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "     Status   (no record)  →  Working - Contacted\n"
        );
    }
}
