//! `berth container prune`.

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Provide filter values (e.g. 'until=<timestamp>', 'label=k=v').
    #[arg(long = "filter")]
    pub filter: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    if let Err(code) = super::confirm(
        args.force,
        "container prune",
        "This will remove all stopped containers.",
    ) {
        return code;
    }
    let filters = match super::filters_json(&args.filter) {
        Ok(f) => f,
        Err(e) => return super::fail(e),
    };
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let report = match client.containers_prune(&filters).await {
        Ok(r) => r,
        Err(e) => return super::fail(e),
    };
    if !report.containers_deleted.is_empty() {
        println!("Deleted Containers:");
        for id in &report.containers_deleted {
            println!("{id}");
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(i64::try_from(report.space_reclaimed).unwrap_or(i64::MAX))
    );
    0
}
