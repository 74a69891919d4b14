//! The API version a request was made for (`/v1.NN/...`; the current one
//! when the path has none), for the routes whose answers change with it.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use berth_api::ApiVersion;

/// Extracts the request's API version.
#[derive(Debug, Clone, Copy)]
pub struct RequestVersion(pub ApiVersion);

impl<S: Send + Sync> FromRequestParts<S> for RequestVersion {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RequestVersion(
            parts
                .extensions
                .get::<ApiVersion>()
                .copied()
                .unwrap_or(ApiVersion::CURRENT),
        ))
    }
}
