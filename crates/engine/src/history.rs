//! `GET /images/{name}/history`: the config's history, newest first, each
//! entry with the image it made (for the image and its parents, as a
//! legacy build leaves them; `<missing>` otherwise), its creation time,
//! command, layer size (0 for empty layers), tags and comment.

use berth_image::layer::chain_ids;
use serde_json::Value;

use berth_api::image::HistoryItem;

use crate::images::ImageService;
use crate::Error;

impl ImageService {
    pub async fn history(&self, name: &str) -> Result<Vec<HistoryItem>, Error> {
        let top = self.resolve(name).await?;
        // The image and its parents, by the length of their history.
        let mut owners: Vec<(usize, berth_image::ImageInfo)> = Vec::new();
        let mut cur = Some(top.clone());
        while let Some(img) = cur {
            let cfg = self.config_json(&img.id).await?;
            let n = cfg["history"].as_array().map_or(0, Vec::len);
            let parent = img.parent.clone();
            owners.push((n, img));
            cur = if parent.is_empty() {
                None
            } else {
                self.resolve(&parent).await.ok()
            };
        }
        let cfg = self.config_json(&top.id).await?;
        let history = cfg["history"].as_array().cloned().unwrap_or_default();
        let diff_ids: Vec<berth_image::Digest> = top
            .layers
            .iter()
            .filter_map(|d| berth_image::Digest::parse(d).ok())
            .collect();
        let chains = chain_ids(&diff_ids);
        let store = self.store().clone();
        let mut layer = 0usize;
        let mut out = Vec::new();
        for (i, h) in history.iter().enumerate() {
            let empty = h["empty_layer"].as_bool().unwrap_or(false);
            let size = if empty {
                0
            } else {
                let s = chains
                    .get(layer)
                    .and_then(|c| store.layer_store().record(c).ok())
                    .map_or(0, |r| r.size as i64);
                layer += 1;
                s
            };
            let owner = owners.iter().find(|(n, _)| *n == i + 1).map(|(_, img)| img);
            out.push(HistoryItem {
                id: owner.map_or_else(|| "<missing>".to_string(), |o| o.id.clone()),
                created: h["created"]
                    .as_str()
                    .and_then(crate::time::parse)
                    .map_or(0, |t| t.timestamp()),
                created_by: str_of(&h["created_by"]),
                tags: owner.map(|o| o.repo_tags.clone()).filter(|t| !t.is_empty()),
                size,
                comment: str_of(&h["comment"]),
            });
        }
        out.reverse();
        Ok(out)
    }
}

fn str_of(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}
