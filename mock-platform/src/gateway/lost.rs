//! The two ways a `lost_answer` fault loses the answer of a call the platform applied (INTERFACES §1.1,
//! PROTOCOL §6.1 C13): a closed connection with no HTTP response, or a transient error in its place.

use axum::body::{Body, Bytes};
use axum::response::Response;
use protocol::{ResponseFormat, SubCode};

/// 15 `isp.top-remote-connection-timeout`, rendered as the call asked: what the merchant gets instead of the
/// applied answer.
pub fn transient_answer(format: ResponseFormat, request_id: &str) -> String {
    SubCode::RemoteConnectionTimeout.error().render(format, request_id)
}

/// A response whose body fails before its first byte. hyper has only buffered the status line and headers
/// when it polls the body; the body's error makes it drop the connection without flushing them, so the client
/// reads end-of-stream with no HTTP response at all (a tested property: `tests/it/lost_answer.rs`).
pub fn close_without_answer() -> Response {
    let severed =
        futures_util::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("lost_answer: close")) });
    Response::new(Body::from_stream(severed))
}
