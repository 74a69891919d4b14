//! YAML in and out: YAML 1.2 booleans (`yes` stays a string), anchors and
//! merge keys (`<<: *base`), duplicate keys refused.

use serde_json::Value;

/// Parses a compose document into a JSON-like tree.
pub fn parse(text: &str) -> Result<Value, String> {
    let opts = serde_saphyr::options! {
        strict_booleans: true,
        legacy_octal_numbers: true,
    };
    let v: Value = serde_saphyr::from_str_with_options(text, opts).map_err(|e| {
        // The first line carries the position and the reason.
        e.to_string().lines().next().unwrap_or_default().to_string()
    })?;
    Ok(v)
}

/// Renders a value as YAML.
pub fn render(v: &impl serde::Serialize) -> Result<String, String> {
    serde_saphyr::to_string(v).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn anchors_merge_keys_and_plain_scalars() {
        let v = parse(
            "x-base: &base\n  image: busybox\n  labels: {a: b}\nservices:\n  web:\n    <<: *base\n    ports: [80:80]\n    environment: {FLAG: yes, MODE: 0640}\n",
        )
        .unwrap();
        assert_eq!(v["services"]["web"]["image"], "busybox");
        assert_eq!(v["services"]["web"]["labels"], json!({"a": "b"}));
        assert_eq!(v["services"]["web"]["ports"], json!(["80:80"]));
        assert_eq!(v["services"]["web"]["environment"]["FLAG"], "yes");
        assert_eq!(v["services"]["web"]["environment"]["MODE"], 416);
    }

    #[test]
    fn errors_have_a_position() {
        let e = parse("services:\n  web:\n    image: [1,\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        let e = parse("a: 1\na: 2\n").unwrap_err();
        assert!(e.contains("duplicate"), "{e}");
    }
}
