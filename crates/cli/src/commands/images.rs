//! `berth images` / `image ls`.

use berth_api::image::ImageSummary;
use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::render;
use crate::human;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Show all images (default hides intermediate images).
    #[arg(short = 'a', long = "all")]
    pub all: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// Format output using a custom template ('table', 'json', or a Go template).
    #[arg(long)]
    pub format: Option<String>,
    /// Only images matching REPOSITORY[:TAG].
    pub reference: Option<String>,
}

const HEADERS: &[(&str, &str)] = &[
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("ID", "IMAGE ID"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

fn short_id(id: &str, no_trunc: bool) -> String {
    if no_trunc {
        id.to_string()
    } else {
        id.trim_start_matches("sha256:").chars().take(12).collect()
    }
}

/// One row per repository tag (`<none>` for untagged images), as docker.
pub fn rows(images: &[ImageSummary], no_trunc: bool) -> Vec<Value> {
    let mut out = Vec::new();
    for img in images {
        let tags: Vec<(String, String)> = if img.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            img.repo_tags
                .iter()
                .map(|t| {
                    let (r, tag) = super::create::split_tag(t);
                    (r, tag)
                })
                .collect()
        };
        let digest = img
            .repo_digests
            .first()
            .and_then(|d| d.split_once('@'))
            .map_or("<none>".to_string(), |(_, d)| d.to_string());
        for (repo, tag) in tags {
            out.push(json!({
                "Containers": "N/A",
                "CreatedAt": human::go_time(img.created),
                "CreatedSince": human::ago(img.created),
                "Digest": digest,
                "ID": short_id(&img.id, no_trunc),
                "Repository": repo,
                "SharedSize": "N/A",
                "Size": human::size(img.size),
                "Tag": tag,
                "UniqueSize": "N/A",
                "VirtualSize": human::size(img.size),
            }));
        }
    }
    out
}

pub async fn run(args: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut filter = args.filter.clone();
    if let Some(r) = &args.reference {
        filter.push(format!("reference={r}"));
    }
    let filters = match super::filters_json(&filter) {
        Ok(f) => f,
        Err(e) => return super::fail(e),
    };
    let images = match client.images(args.all, &filters).await {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    if args.quiet {
        let mut seen = std::collections::HashSet::new();
        for img in &images {
            if seen.insert(img.id.clone()) {
                println!("{}", short_id(&img.id, args.no_trunc));
            }
        }
        return 0;
    }
    let default = if args.digests {
        "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    } else {
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
    };
    match render(
        &rows(&images, args.no_trunc),
        args.format.as_deref(),
        default,
        HEADERS,
    ) {
        Ok(s) => {
            print!("{s}");
            0
        }
        Err(e) => super::fail(e),
    }
}
