//! hyper's own answers to requests it cannot parse, put in our shapes: a TOP envelope (HTTP 200, code 43) for
//! the gateway, `{"error": …}` JSON for everything else (INTERFACES §1: every gateway answer is HTTP 200 with a
//! TOP envelope; every admin error is `{"error": …}`).
//!
//! Why at the byte level: hyper answers a request head it cannot parse by itself, before any service runs, with
//! an empty 400, 414 (a URI of 64 KiB or more: `http::Uri` cannot hold it, a hard limit) or 431 (more than 100
//! headers, or a head over the read buffer), then closes the connection. No setting hands those requests to
//! us, and raising the limits only moves them. So the connection's I/O is wrapped: it remembers the first bytes
//! of the request being read (its request line, to tell a gateway call from an admin one), and when hyper's
//! first write of an answer is one of those automatic heads — status 400, 414 or 431, `content-length: 0`, no
//! `content-type` (every answer of ours has one) — it writes our answer instead. hyper closes the connection
//! afterwards as before, so the answer carries `connection: close`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use protocol::{ResponseFormat, TopError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// How much of a request's first bytes is kept: enough for the method and `/router/rest`.
const SNIFF: usize = 32;

/// A connection's I/O that replaces hyper's automatic parse-error answers (module doc).
#[derive(Debug)]
pub struct ParseErrorAnswers {
    stream: TcpStream,
    /// The first bytes read since the last answer began.
    head: [u8; SNIFF],
    head_len: usize,
    /// Bytes were read and no answer has been written since: the next write begins an answer.
    answer_next: bool,
    /// Our replacement answer and how much of it is written.
    replacement: Option<(Vec<u8>, usize)>,
}

impl ParseErrorAnswers {
    pub fn new(stream: TcpStream) -> Self {
        Self { stream, head: [0; SNIFF], head_len: 0, answer_next: false, replacement: None }
    }

    /// Writes what is left of the replacement; ready once it is all out.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, written)) = &mut self.replacement {
            if *written == bytes.len() {
                self.replacement = None;
                break;
            }
            let n = std::task::ready!(Pin::new(&mut self.stream).poll_write(cx, &bytes[*written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *written += n;
        }
        Poll::Ready(Ok(()))
    }

    /// Called with the first buffer of an answer: whether it is hyper's automatic one, replaced.
    fn replaced(&mut self, first: &[u8]) -> bool {
        let Some(status) = automatic_status(first) else { return false };
        let answer = answer(status, &self.head[..self.head_len]);
        self.replacement = Some((answer, 0));
        true
    }
}

/// The status of hyper's automatic parse-error answer, if `head` is one.
fn automatic_status(head: &[u8]) -> Option<u16> {
    let status = match head.get(..13)? {
        b"HTTP/1.1 400 " => 400,
        b"HTTP/1.1 414 " => 414,
        b"HTTP/1.1 431 " => 431,
        _ => return None,
    };
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = head[..end].to_ascii_lowercase();
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    (has(b"\r\ncontent-length: 0") && !has(b"\r\ncontent-type:")).then_some(status)
}

/// Whether the request line begins a gateway call (`METHOD /router/rest`, then `?`, a space or nothing seen).
fn is_gateway(request: &[u8]) -> bool {
    const PATH: &[u8] = b"/router/rest";
    let Some(space) = request.iter().position(|b| *b == b' ') else { return false };
    let target = &request[space + 1..];
    target.starts_with(PATH) && target.get(PATH.len()).is_none_or(|b| matches!(b, b'?' | b' '))
}

/// Our whole answer (head and body) for hyper's `status`, given the request's first bytes.
fn answer(status: u16, request: &[u8]) -> Vec<u8> {
    let (status_line, content_type, body) = if is_gateway(request) {
        // Nothing of the request could be read, so no param can be named (43) and the format is the default.
        let body = TopError::INVALID_PARAMETER.render(ResponseFormat::Xml, &crate::gateway::request_id());
        ("200 OK", ResponseFormat::Xml.content_type(), body)
    } else {
        let (line, what) = match status {
            414 => ("414 URI Too Long", "the request target is too long (64 KiB at most)"),
            431 => ("431 Request Header Fields Too Large", "too many or too large request headers"),
            _ => ("400 Bad Request", "the request line or headers are malformed"),
        };
        (line, "application/json", serde_json::json!({ "error": what }).to_string())
    };
    format!(
        "HTTP/1.1 {status_line}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

impl AsyncRead for ParseErrorAnswers {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        std::task::ready!(Pin::new(&mut this.stream).poll_read(cx, buf))?;
        let read = &buf.filled()[before..];
        if !read.is_empty() {
            if !this.answer_next {
                // The first bytes since the last answer: a new request begins.
                this.answer_next = true;
                this.head_len = 0;
            }
            let n = read.len().min(SNIFF - this.head_len);
            this.head[this.head_len..this.head_len + n].copy_from_slice(&read[..n]);
            this.head_len += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for ParseErrorAnswers {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.poll_replacement(cx))?;
        if std::mem::take(&mut this.answer_next) && this.replaced(buf) {
            // hyper's answer counts as written; ours goes out now or at the flush.
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        std::task::ready!(this.poll_replacement(cx))?;
        let first = bufs.iter().find(|b| !b.is_empty()).map_or(&[][..], |b| &b[..]);
        if std::mem::take(&mut this.answer_next) && this.replaced(first) {
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_replacement(cx))?;
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_empty_automatic_answers_are_recognised() {
        let automatic = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        assert_eq!(automatic_status(automatic), Some(431));
        assert_eq!(automatic_status(b"HTTP/1.1 414 URI Too Long\r\ncontent-length: 0\r\n\r\n"), Some(414));
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 0\r\n\r\n";
        assert_eq!(automatic_status(ours), None);
        assert_eq!(automatic_status(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(automatic_status(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"), None);
    }

    #[test]
    fn gateway_calls_are_told_from_the_request_line() {
        for line in ["GET /router/rest?a=1 HTTP/1.1", "POST /router/rest HTTP/1.1", "PUT /router/rest"] {
            assert!(is_gateway(line.as_bytes()), "{line}");
        }
        for line in ["GET /router/restx HTTP/1.1", "GET /admin/orders HTTP/1.1", "GARBAGE", "GET /router/re"] {
            assert!(!is_gateway(line.as_bytes()), "{line}");
        }
    }

    #[test]
    fn a_gateway_call_gets_a_43_envelope_and_anything_else_json() {
        let gateway = String::from_utf8(answer(414, b"GET /router/rest?pad=")).unwrap();
        assert!(gateway.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/xml"), "{gateway}");
        assert!(gateway.contains("<code>43</code>"), "{gateway}");
        let admin = String::from_utf8(answer(431, b"GET /admin/orders HTTP/1.1")).unwrap();
        assert!(admin.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{admin}");
        assert!(admin.ends_with(r#"{"error":"too many or too large request headers"}"#), "{admin}");
    }
}
