//! `berth diff CONTAINER` (`container diff`): the container's changes to
//! its image's filesystem, one `A`/`C`/`D` line per path as Docker prints.

use serde_json::Value;

use crate::connect::Target;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub container: String,
}

/// `Kind` numbers (0 changed, 1 added, 2 deleted) to Docker's letters.
pub fn lines(changes: &Value) -> Vec<String> {
    changes
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let letter = match c["Kind"].as_u64() {
                Some(1) => 'A',
                Some(2) => 'D',
                _ => 'C',
            };
            format!("{letter} {}", c["Path"].as_str().unwrap_or_default())
        })
        .collect()
}

pub async fn run(a: Args, target: &Target) -> i32 {
    let client = match target.client().await {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    match client
        .get_json(&format!("/containers/{}/changes", a.container))
        .await
    {
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
        let v = serde_json::json!([{"Path": "/tmp", "Kind": 0}, {"Path": "/tmp/a", "Kind": 1}, {"Path": "/x", "Kind": 2}]);
        assert_eq!(lines(&v), vec!["C /tmp", "A /tmp/a", "D /x"]);
        assert!(lines(&Value::Null).is_empty());
    }
}
