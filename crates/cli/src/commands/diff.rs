//! `berth diff CONTAINER` (`container diff`): the container's changes to
//! its image's filesystem, one `A`/`C`/`D` line per path as Docker prints.

use berth_api::container::Change;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
}

/// Docker's lines: the kind's letter and the path.
pub fn lines(changes: &[Change]) -> Vec<String> {
    changes
        .iter()
        .map(|c| format!("{} {}", c.letter(), c.path))
        .collect()
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match client.container_changes(&a.container).await {
        Ok(v) => {
            for l in lines(&v) {
                println!("{l}");
            }
            0
        }
        Err(e) => super::fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters() {
        let v: Vec<Change> = serde_json::from_value(serde_json::json!([
            {"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/a", "Kind": 1}, {"Path": "/x", "Kind": 2}
        ]))
        .expect("changes");
        assert_eq!(lines(&v), vec!["C /tmp", "A /tmp/a", "D /x"]);
        assert!(lines(&[]).is_empty());
    }
}
