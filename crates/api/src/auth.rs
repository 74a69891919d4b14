//! Registry credentials: the body of `POST /auth` and the `X-Registry-Auth`
//! header (base64url of the same JSON), with Docker's lower-case keys.

use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Docker's `registry.AuthConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthConfig {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `user:password` in base64, as config files keep it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub serveraddress: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub identitytoken: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub registrytoken: String,
}

impl AuthConfig {
    /// The `X-Registry-Auth` value: base64url of the JSON.
    pub fn to_header(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        base64::engine::general_purpose::URL_SAFE.encode(json)
    }

    /// Reads an `X-Registry-Auth` value as clients send it: base64url with
    /// or without padding, or standard base64 (older clients). `None` when
    /// it is not base64 of a JSON object.
    pub fn from_header(text: &str) -> Option<AuthConfig> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let text = text.trim();
        let bytes = URL_SAFE
            .decode(text)
            .or_else(|_| URL_SAFE_NO_PAD.decode(text))
            .or_else(|_| STANDARD.decode(text))
            .ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

/// The answer of `POST /auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthResponse {
    #[serde(rename = "Status")]
    pub status: String,
    #[serde(rename = "IdentityToken", default)]
    pub identity_token: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_and_client_habits() {
        let a = AuthConfig {
            username: "u".into(),
            password: "p?>".into(),
            serveraddress: "localhost:5000".into(),
            ..Default::default()
        };
        assert_eq!(AuthConfig::from_header(&a.to_header()), Some(a.clone()));
        // Standard base64 and no padding are read too.
        let json = serde_json::to_vec(&a).unwrap();
        let std = base64::engine::general_purpose::STANDARD.encode(&json);
        assert_eq!(AuthConfig::from_header(&std), Some(a.clone()));
        let bare = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&json);
        assert_eq!(AuthConfig::from_header(&bare), Some(a));
        assert_eq!(AuthConfig::from_header("!!"), None);
        assert_eq!(AuthConfig::from_header("bm90IGpzb24="), None);
    }
}
