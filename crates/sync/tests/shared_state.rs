//! State every process on one store must share (issue 10, defect 7): two engines on one store
//! behave like one — one pause, one alert per storm.

use std::time::Duration;

use crmsync_store::NewEvent;
use crmsync_sync::{EngineConfig, EventOutcome};
use crmsync_testkit::*;
use serde_json::json;

/// Stores a `create_pulse` event for `item` directly (no webhook, no inline processing), so the
/// test decides which engine claims it.
async fn store_create(app: &TestApp, board: &str, item: &str, key: &str) {
    app.store
        .insert_event_if_new(&NewEvent {
            trigger_uuid: key.into(),
            board_id: board.parse().unwrap(),
            item_id: item.parse().unwrap(),
            event_type: "create_pulse".into(),
            payload:
                json!({"event": {"type": "create_pulse", "boardId": board.parse::<i64>().unwrap(),
                "pulseId": item.parse::<i64>().unwrap(), "pulseName": "x", "triggerUuid": key}})
                .to_string(),
        })
        .await
        .unwrap();
}

fn engine_b() -> EngineConfig {
    EngineConfig {
        worker_id: "engine-b".into(),
        ..EngineConfig::for_tests()
    }
}

both_stores!(
    a_rate_limit_seen_by_one_engine_pauses_the_other,
    |db| async move {
        let app = spawn_app_with(Options {
            worker: false,
            engine: EngineConfig {
                rate_limit_pause: Duration::from_secs(600),
                ..EngineConfig::for_tests()
            },
            ..Options::new(db)
        })
        .await;
        app.drop_all_webhooks().await;
        let a = app.engine.clone();
        let b = app.second_engine(engine_b());
        let first = app.create_item(ACCOUNTS, "Limit One", json!({})).await;
        let second = app.create_item(ACCOUNTS, "Limit Two", json!({})).await;
        store_create(&app, ACCOUNTS, &first, "limit-1").await;
        store_create(&app, ACCOUNTS, &second, "limit-2").await;

        app.salesforce.handle.exhaust_daily_limit();
        let p = a
            .process_next()
            .await
            .unwrap()
            .expect("engine A claims one");
        assert!(matches!(p.outcome, EventOutcome::Paused { .. }), "{p:?}");
        let until = b.paused_until().await.unwrap();
        assert!(until.is_some(), "engine B sees engine A's pause");
        // B claims nothing while paused, although the other item's event is due.
        assert!(b.process_next().await.unwrap().is_none());
        assert_eq!(b.drain().await.unwrap(), 0);
        let open = app
            .store
            .recent_events(10)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.trigger_uuid == "limit-2")
            .map(|e| e.status)
            .collect::<Vec<_>>();
        assert_eq!(open, vec![crmsync_store::EventStatus::Pending]);

        // Resumed by B (e.g. after the limit was raised): A sees it too, and B applies the event.
        app.salesforce.handle.set_api_usage(Some(0), None);
        assert!(b.resume().await.unwrap());
        assert!(a.paused_until().await.unwrap().is_none());
        assert!(b.drain().await.unwrap() >= 1);
        app.wait_for_record("Account", "Name", &second).await;
        app.stop().await;
    }
);

both_stores!(
    a_dead_letter_storm_across_two_engines_is_one_alert_and_one_summary,
    |db| async move {
        let window = Duration::from_millis(1500);
        let app = spawn_app_with(Options {
            worker: false,
            alert_window: window,
            ..Options::new(db)
        })
        .await;
        app.drop_all_webhooks().await;
        let a = app.engine.clone();
        let b = app.second_engine(engine_b());
        app.salesforce.handle.add_fault(
            serde_json::from_value(json!({"path": "/services/data/*/sobjects/Contact/*", "status": 400,
                "body": [{"errorCode": "REQUIRED_FIELD_MISSING", "message": "Required fields are missing: [LastName]", "fields": ["LastName"]}]}))
            .unwrap(),
        );
        for n in 0..6 {
            let item = app
                .create_item(CONTACTS, &format!("Storm Person{n}"), json!({}))
                .await;
            store_create(&app, CONTACTS, &item, &format!("storm-{n}")).await;
        }
        let mut dead = 0;
        for n in 0..6 {
            let engine = if n % 2 == 0 { &a } else { &b };
            let p = engine
                .process_next()
                .await
                .unwrap()
                .expect("an event is due");
            assert!(matches!(p.outcome, EventOutcome::Dead { .. }), "{p:?}");
            dead += 1;
        }
        assert_eq!(dead, 6);
        assert_eq!(app.telegram.texts().len(), 1, "{:?}", app.telegram.texts());
        // After the window, the summary goes out once, whichever engine flushes first.
        tokio::time::sleep(window + Duration::from_millis(200)).await;
        let sent = b.alerter().flush().await + a.alerter().flush().await;
        assert_eq!(sent, 1);
        let texts = app.telegram.texts();
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(texts[1].contains("5 more alert(s)"), "{}", texts[1]);
        assert!(texts[1].contains("REQUIRED_FIELD_MISSING"), "{}", texts[1]);
        app.stop().await;
    }
);
