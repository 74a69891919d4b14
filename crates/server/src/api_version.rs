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

/// The version image answers are shaped for: the request's, except for
/// docker-compose 1.x. Compose v1 negotiates the newest API version, yet
/// reads `ContainerConfig` from image inspect when it recreates a
/// container, a field Docker dropped at 1.45 (compose 1.29 fails against
/// Docker 25 and later for this). Its requests get the 1.44 shape, the
/// newest that still has the field.
#[derive(Debug, Clone, Copy)]
pub struct ImageShapeVersion(pub ApiVersion);

/// The newest version with image inspect's `ContainerConfig`.
const LAST_WITH_CONTAINER_CONFIG: ApiVersion = ApiVersion {
    major: 1,
    minor: 44,
};

/// Whether `user_agent` is docker-compose 1.x (`docker-compose/1.29.2 docker-py/5.0.3 ...`).
pub fn is_compose_v1(user_agent: &str) -> bool {
    user_agent.starts_with("docker-compose/1.")
}

impl<S: Send + Sync> FromRequestParts<S> for ImageShapeVersion {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let RequestVersion(v) = RequestVersion::from_request_parts(parts, state).await?;
        let compose_v1 = parts
            .headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|h| h.to_str().ok())
            .is_some_and(is_compose_v1);
        Ok(ImageShapeVersion(if compose_v1 {
            v.min(LAST_WITH_CONTAINER_CONFIG)
        } else {
            v
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compose_v1_is_recognised() {
        assert!(is_compose_v1(
            "docker-compose/1.29.2 docker-py/5.0.3 Linux/6.1.0"
        ));
        assert!(!is_compose_v1("Docker-Client/28.0.0 (linux)"));
        assert!(!is_compose_v1("docker-compose/2.20.0"));
    }
}
