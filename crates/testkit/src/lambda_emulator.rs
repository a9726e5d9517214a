//! An emulator of the AWS Lambda Runtime API (`2018-06-01`), enough to run a real `bootstrap`
//! process as Lambda would: `GET /runtime/invocation/next` (long poll; the event as the body and
//! the `Lambda-Runtime-*` headers), `POST /runtime/invocation/{id}/response`,
//! `POST /runtime/invocation/{id}/error`, `POST /runtime/init/error`, and the environment
//! variables Lambda sets ([`Emulator::lambda_env`]). One invocation at a time, like a classic
//! Lambda container. It records when the first `/next` arrived (the end of init).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

/// Function name the emulated environment announces.
pub const FUNCTION_NAME: &str = "crmsync-emulated";

/// How an invocation ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `/response` with this JSON body.
    Response(Value),
    /// `/error` with this body and `Lambda-Runtime-Function-Error-Type`.
    Error { body: Value, error_type: String },
}

/// One finished invocation.
#[derive(Debug, Clone)]
pub struct Finished {
    /// The request id the runtime was given.
    pub request_id: String,
    /// What it answered.
    pub outcome: Outcome,
    /// From handing the event out (`/next`) to the answer.
    pub elapsed: Duration,
}

struct Pending {
    event: Value,
    done: oneshot::Sender<Finished>,
}

struct Inner {
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Finished>)>>,
    first_next: Mutex<Option<Instant>>,
    init_error: Mutex<Option<(Value, String)>>,
    timeout: Duration,
    counter: Mutex<u64>,
}

/// A running emulator on 127.0.0.1 (ephemeral port).
#[derive(Clone)]
pub struct Emulator {
    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    queue_tx: mpsc::UnboundedSender<Pending>,
    inner: Arc<Inner>,
}

impl Emulator {
    /// Starts it; every invocation gets a deadline `function_timeout` after it is handed out.
    pub async fn start(function_timeout: Duration) -> std::io::Result<Emulator> {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            in_flight: Mutex::new(HashMap::new()),
            first_next: Mutex::new(None),
            init_error: Mutex::new(None),
            timeout: function_timeout,
            counter: Mutex::new(0),
        });
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(inner.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?.to_string();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Emulator {
            address,
            queue_tx,
            inner,
        })
    }

    /// The environment Lambda gives a `provided.al2023` function (plus `AWS_LAMBDA_RUNTIME_API`).
    pub fn lambda_env(&self) -> Vec<(String, String)> {
        [
            ("AWS_LAMBDA_RUNTIME_API", self.address.as_str()),
            ("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
            ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/crmsync-emulated"),
            (
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "2026/12/01/[$LATEST]0123456789abcdef0123456789abcdef",
            ),
            ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "eu-west-1"),
            ("_HANDLER", "bootstrap"),
            ("LAMBDA_TASK_ROOT", "/var/task"),
            ("LAMBDA_RUNTIME_DIR", "/var/runtime"),
            ("TZ", ":UTC"),
            ("LANG", "en_US.UTF-8"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// Invokes the function with `event` and waits (at most the function timeout plus a second)
    /// for its answer.
    pub async fn invoke(&self, event: Value) -> anyhow::Result<Finished> {
        let (done, rx) = oneshot::channel();
        self.queue_tx
            .send(Pending { event, done })
            .map_err(|_| anyhow::anyhow!("the emulator stopped"))?;
        match tokio::time::timeout(self.inner.timeout + Duration::from_secs(1), rx).await {
            Ok(Ok(f)) => Ok(f),
            Ok(Err(_)) => anyhow::bail!("the invocation was dropped"),
            Err(_) => anyhow::bail!(
                "the function did not answer within its timeout ({}s)",
                self.inner.timeout.as_secs()
            ),
        }
    }

    /// When the runtime first asked for an event (the end of its init).
    pub fn first_next(&self) -> Option<Instant> {
        *self
            .inner
            .first_next
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// The init error the runtime reported (body, error type), if any.
    pub fn init_error(&self) -> Option<(Value, String)> {
        self.inner
            .init_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

async fn next(State(inner): State<Arc<Inner>>) -> Response {
    {
        let mut first = inner.first_next.lock().unwrap_or_else(|e| e.into_inner());
        first.get_or_insert_with(Instant::now);
    }
    let pending = {
        let mut rx = inner.queue_rx.lock().await;
        rx.recv().await
    };
    let Some(Pending { event, done }) = pending else {
        return (StatusCode::GONE, "emulator shutting down").into_response();
    };
    let id = {
        let mut c = inner.counter.lock().unwrap_or_else(|e| e.into_inner());
        *c += 1;
        format!("8f3c2a10-0000-4000-8000-{:012}", *c)
    };
    let deadline = SystemTime::now() + inner.timeout;
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    inner
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(id.clone(), (Instant::now(), done));
    let mut headers = HeaderMap::new();
    let mut set = |k: &'static str, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            headers.insert(k, v);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline_ms.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        format!("arn:aws:lambda:eu-west-1:123456789012:function:{FUNCTION_NAME}"),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-67890abc-0123456789abcdef01234567;Parent=0123456789abcdef;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, event.to_string()).into_response()
}

fn finish(inner: &Inner, id: &str, outcome: Outcome) -> Response {
    let entry = inner
        .in_flight
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(id);
    match entry {
        None => (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "errorMessage": format!("unknown request id {id}"),
                "errorType": "InvalidRequestID"
            })),
        )
            .into_response(),
        Some((started, done)) => {
            let _ = done.send(Finished {
                request_id: id.to_owned(),
                outcome,
                elapsed: started.elapsed(),
            });
            (
                StatusCode::ACCEPTED,
                axum::Json(serde_json::json!({"status": "OK"})),
            )
                .into_response()
        }
    }
}

fn json_or_text(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

fn error_type(headers: &HeaderMap) -> String {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("Unhandled")
        .to_owned()
}

async fn response(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    finish(&inner, &id, Outcome::Response(json_or_text(&body)))
}

async fn error(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let outcome = Outcome::Error {
        body: json_or_text(&body),
        error_type: error_type(&headers),
    };
    finish(&inner, &id, outcome)
}

async fn init_error(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    *inner.init_error.lock().unwrap_or_else(|e| e.into_inner()) =
        Some((json_or_text(&body), error_type(&headers)));
    (
        StatusCode::ACCEPTED,
        axum::Json(serde_json::json!({"status": "OK"})),
    )
        .into_response()
}
