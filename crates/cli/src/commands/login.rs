//! `berth login [SERVER]` and `berth logout [SERVER]`: the daemon checks the
//! credentials against the registry (`POST /auth`), then they are stored
//! where Docker keeps them (see [`crate::dockercfg`]).

use std::io::Read;

use crate::connect::Target;
use crate::dockercfg;

#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// Username.
    #[arg(short = 'u', long = "username")]
    pub username: Option<String>,
    /// Password.
    #[arg(short = 'p', long = "password")]
    pub password: Option<String>,
    /// Take the password from stdin.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// The registry (Docker Hub when omitted).
    pub server: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

pub async fn login(a: LoginArgs, target: &Target) -> i32 {
    let server = dockercfg::normalize_server(a.server.as_deref().unwrap_or(""));
    let Some(user) = a.username.clone() else {
        return super::fail(
            "berth login needs --username (interactive prompts are not supported yet)",
        );
    };
    let password = match (a.password.clone(), a.password_stdin) {
        (Some(_), true) => return super::fail("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => {
            eprintln!("WARNING! Using --password via the CLI is insecure. Use --password-stdin.");
            p
        }
        (None, true) => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                return super::fail(format!("reading the password from stdin: {e}"));
            }
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => return super::fail("berth login needs --password or --password-stdin (interactive prompts are not supported yet)"),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let body = berth_api::auth::AuthConfig {
        username: user.clone(),
        password: password.clone(),
        serveraddress: server.clone(),
        ..Default::default()
    };
    match client
        .post_json::<_, berth_api::auth::AuthResponse>("/auth", &body)
        .await
    {
        Ok(v) => {
            if let Err(e) = dockercfg::store(&dockercfg::config_dir(), &server, &user, &password) {
                return super::fail(format!("storing the credentials: {e}"));
            }
            println!("{}", v.status);
            0
        }
        Err(e) => super::fail(e),
    }
}

pub async fn logout(a: LogoutArgs) -> i32 {
    let server = dockercfg::normalize_server(a.server.as_deref().unwrap_or(""));
    match dockercfg::erase(&dockercfg::config_dir(), &server) {
        Ok(true) => {
            println!("Removing login credentials for {server}");
            0
        }
        Ok(false) => {
            println!("Not logged in to {server}");
            0
        }
        Err(e) => super::fail(e),
    }
}
