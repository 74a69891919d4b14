//! Request bodies in JSON, read as dockerd reads them (`httputils.ReadJSON`):
//! the `Content-Type` must be `application/json` when there is a body, an
//! empty body is no body, a broken one is `invalid JSON: ...`, and anything
//! after the first value is `unexpected content after JSON`. Every JSON
//! route reads its body here, before it looks anything up.

use axum::http::{header, HeaderMap};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ApiResult};

/// The body's value, or `None` when the request has no body.
pub fn read<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> ApiResult<Option<T>> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if body.is_empty() {
        return Ok(None);
    }
    let mime = ct.split(';').next().unwrap_or_default().trim();
    if mime.is_empty() {
        return Err(ApiError::bad_request(format!(
            "malformed Content-Type header ({ct}): mime: no media type"
        )));
    }
    if !mime.eq_ignore_ascii_case("application/json") {
        return Err(ApiError::bad_request(format!(
            "unsupported Content-Type header ({ct}): must be 'application/json'"
        )));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = T::deserialize(&mut de).map_err(|e| {
        if e.is_eof() {
            ApiError::bad_request("invalid JSON: got EOF while reading request body")
        } else {
            ApiError::bad_request(format!("invalid JSON: {e}"))
        }
    })?;
    de.end()
        .map_err(|_| ApiError::bad_request("unexpected content after JSON"))?;
    Ok(Some(value))
}

/// As [`read`], with the type's default for no body.
pub fn read_or_default<T: DeserializeOwned + Default>(
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<T> {
    Ok(read(headers, body)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with(ct: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h
    }

    fn err(h: &HeaderMap, body: &str) -> String {
        read::<serde_json::Value>(h, body.as_bytes())
            .unwrap_err()
            .message
    }

    #[test]
    fn dockers_rules_and_words() {
        let json = with("application/json; charset=utf-8");
        assert_eq!(
            read::<serde_json::Value>(&json, b"{\"a\":1}").unwrap(),
            Some(serde_json::json!({"a": 1}))
        );
        assert_eq!(
            read::<serde_json::Value>(&HeaderMap::new(), b"").unwrap(),
            None
        );
        assert_eq!(
            err(&with("text/plain"), "{}"),
            "unsupported Content-Type header (text/plain): must be 'application/json'"
        );
        assert_eq!(
            err(&HeaderMap::new(), "{}"),
            "malformed Content-Type header (): mime: no media type"
        );
        assert_eq!(
            err(&json, "{\"a\":"),
            "invalid JSON: got EOF while reading request body"
        );
        assert!(err(&json, "{\"a\" 1}").starts_with("invalid JSON: "));
        assert_eq!(err(&json, "{} {}"), "unexpected content after JSON");
        let none: serde_json::Map<String, serde_json::Value> = read_or_default(&json, b"").unwrap();
        assert!(none.is_empty());
    }
}
