//! `berth image prune`: removes dangling images (all unused ones with
//! `-a`), and the intermediate images only they were built on.

use berth_api::image::DeleteItem;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Remove all unused images, not just dangling ones.
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let what = if a.all {
        "all images without at least one container associated to them"
    } else {
        "all dangling images"
    };
    if let Err(code) = super::confirm(a.force, "image prune", &format!("This will remove {what}."))
    {
        return code;
    }
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let q = if a.all {
        berth_client::transport::query(&[("filters", r#"{"dangling":["false"]}"#.to_string())])
    } else {
        String::new()
    };
    let v = match client.images_prune(&q).await {
        Ok(v) => v,
        Err(e) => return super::fail(e),
    };
    if !v.images_deleted.is_empty() {
        println!("Deleted Images:");
        for i in &v.images_deleted {
            match i {
                DeleteItem::Untagged(t) => println!("untagged: {t}"),
                DeleteItem::Deleted(d) => println!("deleted: {d}"),
            }
        }
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        crate::human::size(i64::try_from(v.space_reclaimed).unwrap_or(i64::MAX))
    );
    0
}
