//! Engine API request decoding and `--format` templates.

use std::collections::BTreeMap;

use axum::http::{header, HeaderMap, HeaderValue};
use berth_api::container::CreateRequest;
use berth_engine::container::create::validate;
use berth_engine::filters::Args;
use berth_server::json_body;
use berth_server::params::Params;
use berth_server::routes::build::request as build_request;
use serde_json::json;

use crate::text;

/// A request as the daemon decodes it, chosen by the first byte: a
/// container create body, list filters, build parameters.
pub fn api_request(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    match which % 3 {
        0 => {
            let mut headers = HeaderMap::new();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(Some(req)) = json_body::read::<CreateRequest>(&headers, rest) {
                let _ = validate(&req);
            }
        }
        1 => {
            let Ok(filters) = Params::parse(Some(&text(rest))).filters() else {
                return;
            };
            let args = Args::from(&filters);
            let _ = args.validate(&["label", "name", "dangling", "until", "status"]);
            let _ = (args.dangling(), args.until(), args.bool_or("all", false));
            let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
            let _ = (args.labels_select(&labels), args.matches("name", "web-1"));
        }
        _ => {
            let _ = build_request(&Params::parse(Some(&text(rest))));
        }
    }
}

/// A Go template run over a container's inspect-like data.
pub fn template(data: &[u8]) {
    let Ok(t) = berth_template::Template::parse(&text(data)) else {
        return;
    };
    let value = json!({
        "ID": "0123456789ab", "Names": ["/web"], "Image": "busybox",
        "Labels": {"a": "b", "com.example": ""}, "Ports": [{"PrivatePort": 80, "Type": "tcp"}],
        "State": {"Running": true, "ExitCode": 0, "Pid": 42}, "Size": 1.5e9,
        "Config": {"Env": ["A=1", "B=2"], "Cmd": null}, "Nested": [[1, 2], {"k": [true]}],
    });
    let _ = t.execute(&value);
}
