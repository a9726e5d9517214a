//! The harness itself: what it promises tests (clean-up after a failing test).

use crmsync_testkit::*;

// A PostgreSQL test that panics still drops its `crmsync_e2e_*` database (Drop guard).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_failing_postgres_test_drops_its_database() {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let failing = tokio::spawn(async move {
        let app = spawn_app(Db::Postgres).await;
        let name = app.pg_db_name().expect("postgres database").to_string();
        assert!(pg_database_exists(&name).await);
        tx.send(name).unwrap();
        panic!("a deliberately failing test");
    });
    assert!(failing.await.unwrap_err().is_panic());
    let name = rx.await.unwrap();
    assert!(
        !pg_database_exists(&name).await,
        "database {name} was left behind"
    );
}
