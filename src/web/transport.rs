//! Fetch from the worker to the instance: credentials included, a timeout on every request,
//! and a clear split between a network fault (no answer: retry later, or answer from the
//! cache) and an HTTP answer (the instance said something, which the caller must respect).
//!
//! The cache feed is read chunk by chunk from the response body into the core's
//! [`FeedDecoder`], so memory stays bounded by one chunk and one line however large the
//! cache is.

use crate::api::ApiError;
use crate::download::FeedSource;
use crate::feed::{FeedDecoder, FeedError, FeedLine, FeedSummary};
use crate::sync::{SyncRequest, SyncResponse, SyncTransport, TransportError};
use crate::web::global_sys::{clear_timeout, fetch_request, set_timeout};
use js_sys::{Reflect, Uint8Array};
use serde_json::Value;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Headers, ReadableStreamDefaultReader, Request, RequestCredentials,
    RequestInit, RequestMode, Response,
};

/// How long a request may take to answer (headers) before it counts as a network fault.
pub const REQUEST_TIMEOUT_MS: i32 = 20_000;
/// How long a download may go without a chunk before it counts as a network fault.
pub const CHUNK_TIMEOUT_MS: i32 = 30_000;

/// Why a request got no usable answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FetchError {
    /// No answer at all: the device is offline, the instance is down or unreachable.
    #[error("the instance could not be reached: {0}")]
    Network(String),
    /// No answer in time; the request may or may not have reached the instance.
    #[error("the instance did not answer within {0} ms")]
    Timeout(i32),
    /// The instance answered with an error status.
    #[error("the instance answered {status}: {message}")]
    Http {
        /// The HTTP status.
        status: u16,
        /// The error code from the instance's error JSON, or `http`.
        code: String,
        /// The instance's message.
        message: String,
        /// The instance's error detail, passed on as it is.
        detail: Value,
    },
    /// The instance answered success with a body that is not what was expected.
    #[error("the instance's answer could not be read: {0}")]
    BadBody(String),
}

impl FetchError {
    /// Whether the request got no answer (worth retrying, or answering from the cache).
    pub fn is_network(&self) -> bool {
        matches!(self, Self::Network(_) | Self::Timeout(_))
    }
}

/// Why a cache download did not complete. The cache being built is discarded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DownloadError {
    /// The request failed or was refused.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The stream is not a valid, complete feed.
    #[error(transparent)]
    Feed(#[from] FeedError),
}

/// The instance, as the worker reaches it.
#[derive(Clone, Debug)]
pub struct Transport {
    base: String,
}

impl Transport {
    /// The instance at `base` (`""`: the worker's own origin; tests pass the instance's
    /// address, such as `http://127.0.0.1:18080`).
    pub fn new(base: &str) -> Self {
        Self {
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The instance's URL for `path_and_query` (which starts with `/`).
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// Sends `method path` with an optional JSON body and returns the raw response, whatever
    /// its status; `Err` only when no answer came.
    pub async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Response, FetchError> {
        let headers = Headers::new().map_err(js_text_network)?;
        // Marks the request as the app's own (the instance's CSRF guard for cookie sessions).
        headers
            .set("X-Offgrid-Request", "1")
            .map_err(js_text_network)?;
        let body = match body {
            Some(value) => {
                headers
                    .set("Content-Type", "application/json")
                    .map_err(js_text_network)?;
                Some(JsValue::from_str(&value.to_string()))
            }
            None => None,
        };
        let init = self.init(method, &headers, body.as_ref());
        let request = Request::new_with_str_and_init(&self.url(path_and_query), &init)
            .map_err(js_text_network)?;
        fetch_with_timeout(&request, REQUEST_TIMEOUT_MS).await
    }

    /// Sends a request and reads a successful JSON answer; an error status becomes
    /// [`FetchError::Http`] with the instance's code and message.
    pub async fn json(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Value, FetchError> {
        let response = self.send(method, path_and_query, body).await?;
        let ok = response.ok();
        let status = response.status();
        let text = response_text(&response).await?;
        if !ok {
            return Err(http_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|e| FetchError::BadBody(e.to_string()))
    }

    /// Forwards the page's request to the instance: same method, headers and body, with the
    /// user's credentials. `path_and_query` replaces the page's origin with the instance's.
    pub async fn forward(
        &self,
        request: &Request,
        path_and_query: &str,
    ) -> Result<Response, FetchError> {
        let method = request.method();
        let body = if matches!(method.as_str(), "GET" | "HEAD") {
            None
        } else {
            let buffer = request.array_buffer().map_err(js_text_network)?;
            let bytes = JsFuture::from(buffer).await.map_err(js_text_network)?;
            Some(Uint8Array::new(&bytes).into())
        };
        let headers = Headers::new_with_headers(&request.headers()).map_err(js_text_network)?;
        let init = self.init(&method, &headers, body.as_ref());
        let forwarded = Request::new_with_str_and_init(&self.url(path_and_query), &init)
            .map_err(js_text_network)?;
        fetch_with_timeout(&forwarded, REQUEST_TIMEOUT_MS).await
    }

    /// Starts downloading the cache feed: the whole offline scope, or what changed since
    /// `since`.
    pub async fn download(&self, since: Option<&str>) -> Result<FeedDownload, DownloadError> {
        let path = match since {
            Some(w) => format!("/api/offgrid/cache?since={}", encode_component(w)),
            None => "/api/offgrid/cache".to_string(),
        };
        let controller = AbortController::new().map_err(js_text_network)?;
        let headers = Headers::new().map_err(js_text_network)?;
        let init = self.init("GET", &headers, None);
        init.set_signal(Some(&controller.signal()));
        let request =
            Request::new_with_str_and_init(&self.url(&path), &init).map_err(js_text_network)?;
        let response = {
            let _deadline = Deadline::arm(&controller, REQUEST_TIMEOUT_MS);
            fetch_response(&request, &controller, REQUEST_TIMEOUT_MS).await?
        };
        if !response.ok() {
            let status = response.status();
            let text = response_text(&response).await?;
            return Err(http_error(status, &text).into());
        }
        FeedDownload::reading(&response, controller)
    }

    fn init(&self, method: &str, headers: &Headers, body: Option<&JsValue>) -> RequestInit {
        let init = RequestInit::new();
        init.set_method(method);
        init.set_headers(headers);
        // The session cookie must flow to the instance, also when tests put it on another
        // port (same site, so the cookie is sent).
        init.set_credentials(RequestCredentials::Include);
        init.set_mode(RequestMode::Cors);
        if let Some(body) = body {
            init.set_body(body);
        }
        init
    }
}

/// A cache feed being downloaded. Dropping it mid-way cancels the download.
pub struct FeedDownload {
    reader: ReadableStreamDefaultReader,
    controller: AbortController,
    /// `None` once finished.
    decoder: Option<FeedDecoder>,
}

impl FeedDownload {
    /// Reads a feed from a response the caller already has.
    pub fn from_response(response: &Response) -> Result<FeedDownload, DownloadError> {
        let controller = AbortController::new().map_err(js_text_network)?;
        Self::reading(response, controller)
    }

    fn reading(
        response: &Response,
        controller: AbortController,
    ) -> Result<FeedDownload, DownloadError> {
        let body = response
            .body()
            .ok_or_else(|| FetchError::BadBody("the cache feed has no body".into()))?;
        let reader: ReadableStreamDefaultReader = body
            .get_reader()
            .dyn_into()
            .map_err(|_| FetchError::BadBody("the cache feed cannot be read as a stream".into()))?;
        Ok(FeedDownload {
            reader,
            controller,
            decoder: Some(FeedDecoder::new()),
        })
    }
}

impl FeedSource for FeedDownload {
    type Error = DownloadError;

    /// The next lines of the feed; `None` when the stream ended (then call
    /// [`FeedDownload::finish`]). A chunk that completes no line gives an empty batch.
    async fn next_lines(&mut self) -> Result<Option<Vec<FeedLine>>, DownloadError> {
        let chunk = {
            let _deadline = Deadline::arm(&self.controller, CHUNK_TIMEOUT_MS);
            JsFuture::from(self.reader.read())
                .await
                .map_err(|e| stream_error(&self.controller, CHUNK_TIMEOUT_MS, e))?
        };
        let done = Reflect::get(&chunk, &"done".into())
            .map(|d| d.is_truthy())
            .unwrap_or(true);
        if done {
            return Ok(None);
        }
        let value = Reflect::get(&chunk, &"value".into()).map_err(js_text_network)?;
        let bytes = value
            .dyn_into::<Uint8Array>()
            .map_err(|_| {
                FetchError::BadBody("the cache feed sent a chunk that is not bytes".into())
            })?
            .to_vec();
        let decoder = self
            .decoder
            .as_mut()
            .ok_or_else(|| FetchError::BadBody("the cache feed was already finished".into()))?;
        Ok(Some(decoder.push(&bytes)?))
    }

    /// `(done, total)`: records and deletions received, and the total announced.
    fn progress(&self) -> (u64, u64) {
        self.decoder.as_ref().map_or((0, 0), FeedDecoder::progress)
    }

    /// The stream ended: checks it was a complete feed and returns what it announced.
    fn finish(mut self) -> Result<FeedSummary, DownloadError> {
        let decoder = self
            .decoder
            .take()
            .ok_or_else(|| FetchError::BadBody("the cache feed was already finished".into()))?;
        Ok(decoder.finish()?)
    }
}

impl Drop for FeedDownload {
    fn drop(&mut self) {
        if self.decoder.is_some() {
            // An unfinished download: stop the transfer rather than let it run on unread.
            let _cancelled = self.reader.cancel();
            self.controller.abort();
        }
    }
}

/// Aborts a controller when a timeout passes; disarmed when dropped.
struct Deadline {
    handle: JsValue,
    _abort: Closure<dyn FnMut()>,
}

impl Deadline {
    fn arm(controller: &AbortController, ms: i32) -> Self {
        let controller = controller.clone();
        let abort = Closure::<dyn FnMut()>::new(move || controller.abort());
        let handle = set_timeout(abort.as_ref().unchecked_ref(), ms);
        Self {
            handle,
            _abort: abort,
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        clear_timeout(&self.handle);
    }
}

/// Fetches `request` (without a signal of its own) with a timeout.
async fn fetch_with_timeout(request: &Request, ms: i32) -> Result<Response, FetchError> {
    let controller = AbortController::new().map_err(js_text_network)?;
    let init = RequestInit::new();
    init.set_signal(Some(&controller.signal()));
    let request = Request::new_with_request_and_init(request, &init).map_err(js_text_network)?;
    let _deadline = Deadline::arm(&controller, ms);
    fetch_response(&request, &controller, ms).await
}

async fn fetch_response(
    request: &Request,
    controller: &AbortController,
    ms: i32,
) -> Result<Response, FetchError> {
    let promise = fetch_request(request).map_err(js_text_network)?;
    let value = JsFuture::from(promise)
        .await
        .map_err(|e| stream_error(controller, ms, e))?;
    value
        .dyn_into()
        .map_err(|_| FetchError::BadBody("fetch gave something that is not a Response".into()))
}

/// A rejected fetch or read: a timeout when our deadline aborted it, else a network fault.
fn stream_error(controller: &AbortController, ms: i32, e: JsValue) -> FetchError {
    if controller.signal().aborted() {
        FetchError::Timeout(ms)
    } else {
        js_text_network(e)
    }
}

/// The whole body as text; a failure to read it is a network fault (the connection broke).
pub async fn response_text(response: &Response) -> Result<String, FetchError> {
    let promise = response.text().map_err(js_text_network)?;
    let text = JsFuture::from(promise).await.map_err(js_text_network)?;
    Ok(text.as_string().unwrap_or_default())
}

/// The instance's error answer as a [`FetchError::Http`]: its envelope when it sent one,
/// else the status with the start of whatever it sent.
pub fn http_error(status: u16, body: &str) -> FetchError {
    let error = ApiError::from_envelope(status, body).unwrap_or_else(|| {
        let snippet: String = body.chars().take(200).collect();
        let message = if snippet.is_empty() {
            format!("HTTP {status}")
        } else {
            snippet
        };
        ApiError::new(status, "http", message)
    });
    FetchError::Http {
        status,
        code: error.code,
        message: error.message,
        detail: error.detail,
    }
}

/// A JavaScript error's message, as a network fault.
fn js_text_network(e: JsValue) -> FetchError {
    FetchError::Network(js_text(&e))
}

/// The text of a thrown JavaScript value: an `Error`'s message, or its string form.
pub fn js_text(e: &JsValue) -> String {
    if let Some(error) = e.dyn_ref::<js_sys::Error>() {
        return String::from(error.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// Percent-encodes a query parameter value.
pub fn encode_component(text: &str) -> String {
    String::from(js_sys::encode_uri_component(text))
}

impl SyncTransport for Transport {
    async fn send(&mut self, request: &SyncRequest) -> Result<SyncResponse, TransportError> {
        let body = serde_json::to_value(request)
            .map_err(|e| TransportError::Network(format!("the batch could not be encoded: {e}")))?;
        match self.json("POST", "/api/offgrid/sync", Some(&body)).await {
            Ok(answer) => serde_json::from_value(answer).map_err(|e| TransportError::Server {
                status: 200,
                message: format!("the sync answer is not valid: {e}"),
            }),
            Err(e @ (FetchError::Network(_) | FetchError::Timeout(_))) => {
                Err(TransportError::Network(e.to_string()))
            }
            Err(FetchError::Http {
                status, message, ..
            }) if status >= 500 => Err(TransportError::Server { status, message }),
            Err(FetchError::Http {
                status, message, ..
            }) => Err(TransportError::Refused { status, message }),
            Err(FetchError::BadBody(message)) => Err(TransportError::Server {
                status: 200,
                message,
            }),
        }
    }
}
