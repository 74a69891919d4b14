//! Query parameters as Docker parses them: repeated keys, loose booleans,
//! and JSON `filters` in both of its historical shapes.

use std::collections::HashMap;

use crate::error::ApiError;

#[derive(Debug, Default, Clone)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<&str>) -> Params {
        Params(
            query
                .map(|q| {
                    q.split('&')
                        .filter(|kv| !kv.is_empty())
                        .map(|kv| {
                            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
                            (decode(k), decode(v))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        )
    }

    /// The first value of `key`, as Go's `FormValue` reads it (docker-py
    /// sends `dockerfile` twice for a Dockerfile outside the context: the
    /// name first, then its text).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean: absent, "", "0", "false", "False", "no" are false.
    pub fn flag(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => !matches!(
                v.to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "none"
            ),
        }
    }

    /// Flag that defaults to true when absent.
    pub fn flag_or(&self, key: &str, default: bool) -> bool {
        if self.get(key).is_some() {
            self.flag(key)
        } else {
            default
        }
    }

    /// `repo` and `tag` as one familiar reference (`busybox:latest`), as
    /// tag, import and commit read them; none without `repo`.
    pub fn repo_tag(&self) -> Result<Option<String>, ApiError> {
        berth_engine::images::repo_tag(
            self.get("repo").unwrap_or(""),
            self.get("tag").unwrap_or(""),
        )
        .map_err(|e| ApiError::bad_request(e.to_string()))
    }

    /// `platform`, parsed as Docker parses it; only Linux images run here.
    pub fn platform(&self) -> Result<Option<berth_engine::images::Platform>, ApiError> {
        let Some(spec) = self.get("platform").filter(|p| !p.is_empty()) else {
            return Ok(None);
        };
        let p = berth_engine::images::parse_platform(spec).map_err(ApiError::bad_request)?;
        if p.os != "linux" {
            return Err(ApiError::bad_request("operating system is not supported"));
        }
        Ok(Some(p))
    }

    pub fn number<T: std::str::FromStr>(&self, key: &str) -> Result<Option<T>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| ApiError::bad_request(format!("invalid value for {key}: {v}"))),
        }
    }

    /// `filters={"status":["exited"]}` or the old `{"status":{"exited":true}}`.
    pub fn filters(&self) -> Result<HashMap<String, Vec<String>>, ApiError> {
        let Some(raw) = self.get("filters").filter(|s| !s.is_empty()) else {
            return Ok(HashMap::new());
        };
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filters: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::bad_request("invalid filters: not an object"))?;
        let mut out = HashMap::new();
        for (k, v) in obj {
            let values: Vec<String> = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, on)| on.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filters: bad value for {k}"
                    )))
                }
            };
            out.insert(k.clone(), values);
        }
        Ok(out)
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_docker_queries() {
        let p = Params::parse(Some("all=1&filters=%7B%22status%22%3A%5B%22exited%22%5D%7D&names=a&names=b%3Alatest&q=False"));
        assert!(p.flag("all"));
        assert!(!p.flag("q"));
        assert!(!p.flag("missing"));
        assert_eq!(p.all("names"), vec!["a", "b:latest"]);
        assert_eq!(
            p.get("names"),
            Some("a"),
            "the first value, as Go's FormValue"
        );
        assert_eq!(p.filters().unwrap()["status"], vec!["exited"]);
        let old = Params::parse(Some("filters=%7B%22label%22%3A%7B%22a%3Db%22%3Atrue%7D%7D"));
        assert_eq!(old.filters().unwrap()["label"], vec!["a=b"]);
        assert!(Params::parse(Some("filters=nope")).filters().is_err());
        assert_eq!(decode("a%2"), "a%2");
        assert_eq!(decode("a+b%20c"), "a b c");
    }
}
