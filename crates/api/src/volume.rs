//! Volumes: `POST /volumes/create`, `GET /volumes`, `GET /volumes/{name}`,
//! `POST /volumes/prune`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::container::null_as_default;

/// The body of `POST /volumes/create`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeCreate {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub driver: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
}

/// A volume as the API shows it (read with defaults: Docker leaves out an
/// empty `CreatedAt`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Volume {
    pub name: String,
    pub driver: String,
    pub mountpoint: String,
    pub created_at: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub options: BTreeMap<String, String>,
    pub scope: String,
}

/// `GET /volumes`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeList {
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes: Vec<Volume>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub warnings: Vec<String>,
}

/// `POST /volumes/prune`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumePrune {
    #[serde(default, deserialize_with = "null_as_default")]
    pub volumes_deleted: Vec<String>,
    pub space_reclaimed: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes() {
        let c: VolumeCreate =
            serde_json::from_value(json!({"Name": "v", "DriverOpts": null, "Labels": {"a": "b"}}))
                .unwrap();
        assert_eq!((c.name.as_str(), c.labels.len()), ("v", 1));
        let v = Volume {
            name: "v".into(),
            driver: "local".into(),
            scope: "local".into(),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(VolumeList {
                volumes: vec![v],
                warnings: vec![]
            })
            .unwrap(),
            json!({"Volumes": [{"Name": "v", "Driver": "local", "Mountpoint": "", "CreatedAt": "",
                                "Labels": {}, "Options": {}, "Scope": "local"}], "Warnings": []})
        );
    }
}
