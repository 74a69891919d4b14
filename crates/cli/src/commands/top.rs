//! `berth top CONTAINER [ps OPTIONS]`.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
    /// Options passed to ps (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let top = match client
        .container_top(&args.container, &args.ps_args.join(" "))
        .await
    {
        Ok(t) => t,
        Err(e) => return super::fail(e),
    };
    let cell = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let mut text = String::new();
    let titles: Vec<String> = top["Titles"]
        .as_array()
        .map(|a| a.iter().map(cell).collect())
        .unwrap_or_default();
    text.push_str(&titles.join("\t"));
    text.push('\n');
    for row in top["Processes"].as_array().into_iter().flatten() {
        let cells: Vec<String> = row
            .as_array()
            .map(|a| a.iter().map(cell).collect())
            .unwrap_or_default();
        text.push_str(&cells.join("\t"));
        text.push('\n');
    }
    print!("{}", berth_template::tabwrite(&text));
    0
}
