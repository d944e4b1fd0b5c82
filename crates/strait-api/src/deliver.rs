//! Every answer is delivered. When straitd answers before it has read a request's body
//! (401 from authentication, 404 for a bad path, 405, 429), the client is still sending;
//! closing the connection then, or resetting the HTTP/2 stream, loses the answer: the
//! client sees a TLS EOF or a stream error instead of the status. So the body always
//! passes through here: what the handler does not read is read and thrown away (up to
//! [`DRAIN_MAX_BYTES`], for at most [`DRAIN_WAIT`]) before the answer goes out. A body
//! beyond that ends the connection after the answer (`Connection: close` on HTTP/1.1).

use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{header, HeaderValue, Version};
use axum::middleware::Next;
use axum::response::Response;
use http_body_util::BodyExt;
use tokio::sync::mpsc;

/// Bytes read and discarded after the handler answered.
pub const DRAIN_MAX_BYTES: usize = 16 * 1024 * 1024;
/// How long the answer waits for the rest of the body.
pub const DRAIN_WAIT: Duration = Duration::from_secs(10);

/// The middleware (outermost layer).
pub async fn read_before_answering(req: Request, next: Next) -> Response {
    if HttpBody::is_end_stream(req.body()) {
        return next.run(req).await;
    }
    let version = req.version();
    let (parts, mut body) = req.into_parts();
    let (tx, rx) = mpsc::channel::<Result<Bytes, axum::Error>>(4);
    // Forward the body to the handler while it reads; once it stops (answered, or dropped
    // the body), discard the rest. Returns whether the body was read to its end.
    let pump = tokio::spawn(async move {
        let mut forwarding = true;
        let mut discarded = 0usize;
        while let Some(frame) = body.frame().await {
            let data = match frame {
                Ok(f) => match f.into_data() {
                    Ok(d) => d,
                    Err(_) => continue, // trailers
                },
                Err(e) => {
                    if forwarding {
                        let _ = tx.send(Err(e)).await;
                    }
                    return false;
                }
            };
            if forwarding {
                let len = data.len();
                if tx.send(Ok(data)).await.is_ok() {
                    continue;
                }
                forwarding = false;
                discarded = len;
            } else {
                discarded = discarded.saturating_add(data.len());
            }
            if discarded > DRAIN_MAX_BYTES {
                return false;
            }
        }
        true
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    let mut resp = next
        .run(Request::from_parts(parts, Body::from_stream(stream)))
        .await;
    let read_to_end = matches!(tokio::time::timeout(DRAIN_WAIT, pump).await, Ok(Ok(true)));
    if !read_to_end && version <= Version::HTTP_11 {
        resp.headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
