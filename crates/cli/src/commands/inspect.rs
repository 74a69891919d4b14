//! `berth inspect`, `container inspect`, `image inspect`.

use berth_client::Client;
use serde_json::Value;

use crate::connect::Target;
use crate::format::pretty_json;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Format output using a Go template or 'json'.
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    /// Only inspect objects of this type (container or image).
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ContainerArgs {
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ImageArgs {
    #[arg(short = 'f', long = "format")]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Any,
    Container,
    Image,
}

async fn fetch(client: &Client, name: &str, kind: Kind) -> Result<Value, String> {
    if kind != Kind::Image {
        match client.container_inspect_raw(name).await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_not_found() => {
                if kind == Kind::Container {
                    return Err(format!("Error: No such container: {name}"));
                }
            }
            Err(e) => return Err(e.to_string()),
        }
    }
    match client.image_inspect_raw(name).await {
        Ok(v) => Ok(v),
        Err(e) if e.is_not_found() => Err(match kind {
            Kind::Image => format!("Error: No such image: {name}"),
            _ => format!("Error: No such object: {name}"),
        }),
        Err(e) => Err(e.to_string()),
    }
}

async fn inspect(target: &Target, names: &[String], format: Option<&str>, kind: Kind) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let template = match format.filter(|f| !f.is_empty() && *f != "json") {
        Some(f) => {
            match berth_template::Template::parse(&f.replace("\\t", "\t").replace("\\n", "\n")) {
                Ok(t) => Some(t),
                Err(e) => return super::fail(format!("template parsing error: {e}")),
            }
        }
        None => None,
    };
    let mut found = Vec::new();
    let mut code = 0;
    for n in names {
        match fetch(&client, n, kind).await {
            Ok(v) => found.push(v),
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    match template {
        Some(t) => {
            for v in &found {
                match t.execute(v) {
                    Ok(s) => println!("{s}"),
                    Err(e) => return super::fail(format!("template: {e}")),
                }
            }
        }
        None => println!("{}", pretty_json(&Value::Array(found))),
    }
    code
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let kind = match args.kind.as_deref() {
        None | Some("") => Kind::Any,
        Some("container") => Kind::Container,
        Some("image") => Kind::Image,
        Some(other) => return super::fail(format!("\"{other}\" is not a valid value for --type")),
    };
    inspect(target, &args.names, args.format.as_deref(), kind).await
}

pub async fn run_container(args: ContainerArgs, target: &Target) -> i32 {
    inspect(target, &args.names, args.format.as_deref(), Kind::Container).await
}

pub async fn run_image(args: ImageArgs, target: &Target) -> i32 {
    inspect(target, &args.names, args.format.as_deref(), Kind::Image).await
}
