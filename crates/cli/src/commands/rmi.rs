//! `berth rmi` / `image rm`.

use berth_api::image::DeleteItem;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Force removal of the image.
    #[arg(short = 'f', long = "force")]
    pub force: bool,
    /// Do not delete untagged parents.
    #[arg(long = "no-prune")]
    pub no_prune: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut code = 0;
    for img in &args.images {
        match client.image_remove(img, args.force, args.no_prune).await {
            Ok(items) => {
                for item in items {
                    match item {
                        DeleteItem::Untagged(t) => println!("Untagged: {t}"),
                        DeleteItem::Deleted(d) => println!("Deleted: {d}"),
                    }
                }
            }
            Err(e) => {
                eprintln!("{e}");
                code = 1;
            }
        }
    }
    code
}
