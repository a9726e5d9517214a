//! The AWS Lambda side of crmsync (binary `bootstrap`): the same Router as `crmsync serve`,
//! built through the composition root, behind API Gateway (REST v1 and HTTP API v2 payloads,
//! Function URLs), plus the scheduled drain (an EventBridge schedule invokes the same artifact).
//!
//! * [`settings`] — what a Lambda needs beyond the shared configuration, and the checks that make
//!   the shared configuration Lambda-safe (no SQLite, a small PostgreSQL pool without prepared
//!   statement cache, no migrations, a lease longer than the function timeout).
//! * [`event`] — what an invocation is (HTTP request or scheduled drain), pure.
//! * [`handler`] — one invocation: the router's answer, with inline processing awaited inside the
//!   invocation, or a bounded drain of due events plus the alert summaries.
//!
//! On Lambda nothing may run between invocations: the container is frozen as soon as the runtime
//! asks for the next event, and a task frozen while holding an item lease would hold that item
//! until the lease expires. So the receiver answers 503 (Monday redelivers) for an event still
//! open at the inline budget, and the invocation waits for the inline task to settle before it
//! returns.

pub mod event;
pub mod handler;
pub mod settings;
pub mod sqs;
