//! `berth history IMAGE` / `image history`: each step that made the image,
//! newest first.

use berth_api::image::HistoryItem;
use serde_json::{json, Value};

use crate::connect::Target;
use crate::format::render;
use crate::human;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print sizes and dates in human readable format.
    #[arg(long = "human", default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Don't truncate output.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long = "quiet")]
    pub quiet: bool,
    /// Format output using a custom template.
    #[arg(long)]
    pub format: Option<String>,
    pub image: String,
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

/// Docker's truncation of CREATED BY: 45 characters, the last one `…`.
fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n - 1).collect();
    out.push('…');
    out
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let items = match client.image_history(&a.image).await {
        Ok(v) => v,
        Err(e) => return super::fail(e),
    };
    let id = |v: &HistoryItem| {
        let id = v.id.as_str();
        if a.no_trunc || id == "<missing>" {
            id.to_string()
        } else {
            id.trim_start_matches("sha256:").chars().take(12).collect()
        }
    };
    if a.quiet {
        for i in &items {
            println!("{}", id(i));
        }
        return 0;
    }
    let rows: Vec<Value> = items
        .iter()
        .map(|i| {
            let created = i.created;
            let by = i.created_by.replace('\t', " ");
            let size = i.size;
            json!({
                "ID": id(i),
                "CreatedSince": if a.human { human::ago(created) } else { human::go_time(created) },
                "CreatedAt": human::go_time(created),
                "CreatedBy": if a.no_trunc { by } else { truncate(&by, 45) },
                "Size": if a.human { human::size(size) } else { size.to_string() },
                "Comment": i.comment,
            })
        })
        .collect();
    match render(
        &rows,
        a.format.as_deref(),
        "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        HEADERS,
    ) {
        Ok(s) => {
            print!("{s}");
            0
        }
        Err(e) => super::fail(e),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn truncation() {
        assert_eq!(super::truncate("short", 45), "short");
        let long = "x".repeat(50);
        let t = super::truncate(&long, 45);
        assert_eq!(t.chars().count(), 45);
        assert!(t.ends_with('…'));
    }
}
