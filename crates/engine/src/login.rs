//! `POST /auth`: checks credentials against a registry, as `docker login`
//! asks the daemon to.

use berth_registry::client::{endpoint, Credentials, Remote};

use crate::Error;

/// The registry `serveraddress` names (Docker Hub's v1 URL included).
fn domain(server: &str) -> String {
    let s = server
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "" | "index.docker.io" | "docker.io" | "registry-1.docker.io" => "docker.io".into(),
        other => other.to_string(),
    }
}

/// Succeeds when the registry accepts the credentials.
pub async fn login(
    images: &crate::images::ImageService,
    server: &str,
    username: &str,
    password: &str,
) -> Result<(), Error> {
    let remote = Remote {
        endpoint: endpoint(&domain(server), &[]),
        repo: String::new(),
        credentials: Some(Credentials {
            username: username.to_string(),
            password: password.to_string(),
        }),
    };
    let client = images.registry_client()?;
    client.ping(&remote).await.map_err(|e| {
        if e.is_unauthorized() {
            Error::Unauthorized(format!(
                "login attempt to {server} failed: unauthorized: incorrect username or password"
            ))
        } else {
            Error::Registry(e.to_string())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_domains() {
        assert_eq!(domain("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(domain("127.0.0.1:5000"), "127.0.0.1:5000");
        assert_eq!(domain("http://reg.example/v2/"), "reg.example");
    }
}
