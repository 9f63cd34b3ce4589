//! Retries of DynamoDB calls: throttling and transient failures are retried with jittered
//! exponential backoff until a per-call deadline, everything else fails at once.
//!
//! The SDK's own retry layer is switched off (see `mod.rs`) so that this is the only place that
//! decides: one policy, one deadline, and a transaction conflict (which the SDK would not retry)
//! treated like throttling. A call that runs out of time fails with the last error and how long
//! it tried, which the HTTP layer turns into a 5xx.

use std::error::Error;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use rand::Rng;

use super::super::StorageError;

/// The first backoff; each retry doubles it, up to `MAX_BACKOFF`, and sleeps a random fraction.
const FIRST_BACKOFF: Duration = Duration::from_millis(20);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Error codes DynamoDB documents as worth retrying.
const TRANSIENT_CODES: &[&str] = &[
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "InternalServerError",
    "ServiceUnavailable",
    "TransactionConflictException",
    "TransactionInProgressException",
];

/// How one attempt failed.
#[derive(Debug)]
pub(super) enum Failure {
    /// Try again after a backoff (the message is kept for when time runs out).
    Transient(String),
    /// Give up now with this error.
    Permanent(StorageError),
}

/// Runs `attempt` until it succeeds, fails permanently, or `deadline` has passed.
pub(super) async fn with_retries<T, F, Fut>(
    deadline: Duration,
    op: &str,
    mut attempt: F,
) -> Result<T, StorageError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let start = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        let message = match attempt().await {
            Ok(out) => return Ok(out),
            Err(Failure::Permanent(err)) => return Err(err),
            Err(Failure::Transient(message)) => message,
        };
        let sleep = jittered(backoff);
        if start.elapsed() + sleep >= deadline {
            return Err(StorageError::Backend(format!(
                "dynamodb {op} failed after {attempts} attempts in {:.1?}: {message}",
                start.elapsed()
            )));
        }
        tracing::debug!(op, attempts, ?sleep, "retrying dynamodb call: {message}");
        tokio::time::sleep(sleep).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// "Full jitter": a uniformly random sleep up to `backoff`, so that processes that collided
/// once do not collide again in lockstep.
fn jittered(backoff: Duration) -> Duration {
    let max = u64::try_from(backoff.as_micros())
        .unwrap_or(u64::MAX)
        .max(1);
    Duration::from_micros(rand::thread_rng().gen_range(0..=max))
}

/// Classifies an SDK error: transport failures, timeouts, 5xx and throttling are transient;
/// anything else (validation, missing table, access denied) is permanent.
pub(super) fn sdk_failure<E>(op: &str, err: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    let transient = match &err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            service
                .err()
                .code()
                .is_some_and(|code| TRANSIENT_CODES.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => false,
    };
    let message = format!("{op}: {}", DisplayErrorContext(&err));
    if transient {
        Failure::Transient(message)
    } else {
        Failure::Permanent(StorageError::Backend(format!("dynamodb {message}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn transient_failures_are_retried_until_success() {
        let calls = AtomicU32::new(0);
        let out = with_retries(Duration::from_secs(5), "Test", || async {
            if calls.fetch_add(1, Ordering::Relaxed) < 3 {
                Err(Failure::Transient("throttled".into()))
            } else {
                Ok(7)
            }
        })
        .await
        .unwrap();
        assert_eq!(out, 7);
        assert_eq!(calls.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn permanent_failures_are_not_retried() {
        let calls = AtomicU32::new(0);
        let err = with_retries(Duration::from_secs(5), "Test", || async {
            calls.fetch_add(1, Ordering::Relaxed);
            Err::<(), _>(Failure::Permanent(StorageError::ConditionFailed {
                key: "k".into(),
            }))
        })
        .await
        .unwrap_err();
        assert!(matches!(err, StorageError::ConditionFailed { .. }));
        assert_eq!(calls.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn retries_stop_at_the_deadline_with_the_last_error() {
        let start = Instant::now();
        let err = with_retries(Duration::from_millis(300), "GetItem", || async {
            Err::<(), _>(Failure::Transient("connection refused".into()))
        })
        .await
        .unwrap_err();
        assert!(start.elapsed() < Duration::from_secs(2));
        let message = err.to_string();
        assert!(
            message.contains("GetItem") && message.contains("connection refused"),
            "{message}"
        );
    }
}
