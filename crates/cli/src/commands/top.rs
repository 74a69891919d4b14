//! `berth top CONTAINER [ps OPTIONS]`.

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
    let mut text = String::new();
    text.push_str(&top.titles.join("\t"));
    text.push('\n');
    for row in &top.processes {
        text.push_str(&row.join("\t"));
        text.push('\n');
    }
    print!("{}", berth_template::tabwrite(&text));
    0
}
