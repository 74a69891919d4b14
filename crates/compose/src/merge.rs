//! Merging normalized compose documents (several `-f` files, `extends`):
//! mappings merge key by key, scalars and `command`/`entrypoint`/
//! `healthcheck.test` are replaced, `volumes` merge by target, `secrets`
//! and `configs` by source, other lists append what they lack.

use serde_json::Value;

/// The key a list's items are merged by (`None`: append unique).
fn list_key(field: &str) -> Option<&'static str> {
    match field {
        "volumes" => Some("target"),
        "secrets" | "configs" => Some("source"),
        "env_file" => Some("path"),
        _ => None,
    }
}

fn replaced(field: &str) -> bool {
    matches!(field, "command" | "entrypoint" | "test")
}

/// Merges `over` into `base`; `field` is the key `base` sits under.
pub fn merge(base: &mut Value, over: Value, field: &str) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) if !v.is_null() => merge(existing, v, &k),
                    _ => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(o)) if !replaced(field) => match list_key(field) {
            Some(key) => {
                for item in o {
                    match b
                        .iter_mut()
                        .find(|x| x.get(key).is_some() && x.get(key) == item.get(key))
                    {
                        Some(existing) => *existing = item,
                        None => b.push(item),
                    }
                }
            }
            None => {
                for item in o {
                    if !b.contains(&item) {
                        b.push(item);
                    }
                }
            }
        },
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn override_rules() {
        let mut base = json!({
            "image": "a", "command": ["x", "y"], "environment": {"A": "1", "B": "2"},
            "ports": [{"target": "80"}], "volumes": [{"target": "/d", "source": "one"}],
            "healthcheck": {"test": ["CMD", "a"], "retries": 3}, "dns": ["1.1.1.1"]
        });
        merge(
            &mut base,
            json!({
                "image": "b", "command": ["z"], "environment": {"B": "3", "C": "4"},
                "ports": [{"target": "80"}, {"target": "81"}],
                "volumes": [{"target": "/d", "source": "two"}, {"target": "/e", "source": "x"}],
                "healthcheck": {"test": ["CMD", "b"]}, "dns": ["8.8.8.8"]
            }),
            "",
        );
        assert_eq!(
            base,
            json!({
                "image": "b", "command": ["z"], "environment": {"A": "1", "B": "3", "C": "4"},
                "ports": [{"target": "80"}, {"target": "81"}],
                "volumes": [{"target": "/d", "source": "two"}, {"target": "/e", "source": "x"}],
                "healthcheck": {"test": ["CMD", "b"], "retries": 3}, "dns": ["1.1.1.1", "8.8.8.8"]
            })
        );
    }
}
