//! The engine's event bus: what `GET /events` streams. Recent events are kept
//! so `--since` can replay them; live subscribers get new ones as they happen.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;

/// How many past events are kept for `since` queries.
const HISTORY: usize = 1024;

/// One event, in the Engine API's shape (with the legacy `status`/`id`/`from`).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    /// A container event; attributes carry the image, name and labels as Docker does.
    pub fn container(
        action: &str,
        id: &str,
        image: &str,
        name: &str,
        labels: &BTreeMap<String, String>,
    ) -> Event {
        let mut attributes = labels.clone();
        attributes.insert("image".into(), image.into());
        attributes.insert("name".into(), name.into());
        let now = chrono::Utc::now();
        let nanos = now.timestamp_nanos_opt().unwrap_or_default();
        Event {
            kind: "container".into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: now.timestamp(),
            time_nano: nanos,
            status: Some(action.into()),
            id: Some(id.into()),
            from: Some(image.into()),
        }
    }

    /// An image event (`tag`, `untag`, `delete`, `import`, `load`, `save`).
    pub fn image(action: &str, id: &str, name: &str) -> Event {
        let mut attributes = BTreeMap::new();
        attributes.insert("name".into(), name.into());
        let now = chrono::Utc::now();
        Event {
            kind: "image".into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: now.timestamp(),
            time_nano: now.timestamp_nanos_opt().unwrap_or_default(),
            status: Some(action.into()),
            id: Some(id.into()),
            from: None,
        }
    }

    /// A volume event (`create`, `destroy`, `mount`, `unmount`).
    pub fn volume(action: &str, name: &str) -> Event {
        let mut e = Event::image(action, name, name);
        e.kind = "volume".into();
        e.actor.attributes.insert("driver".into(), "local".into());
        e.actor.attributes.remove("name");
        e.from = None;
        e
    }

    /// A network event (`create`, `destroy`, `connect`, `disconnect`).
    pub fn network(action: &str, id: &str, name: &str, driver: &str) -> Event {
        let mut e = Event::image(action, id, name);
        e.kind = "network".into();
        e.actor.attributes.insert("type".into(), driver.into());
        e
    }

    pub fn with(mut self, key: &str, value: impl Into<String>) -> Event {
        self.actor.attributes.insert(key.into(), value.into());
        self
    }
}

/// Publishes events and hands out subscriptions.
#[derive(Clone)]
pub struct Events {
    inner: Arc<Inner>,
}

struct Inner {
    history: Mutex<VecDeque<Event>>,
    live: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            inner: Arc::new(Inner {
                history: Mutex::new(VecDeque::new()),
                live: broadcast::channel(256).0,
            }),
        }
    }
}

impl Events {
    pub fn publish(&self, event: Event) {
        {
            let mut h = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
            if h.len() == HISTORY {
                h.pop_front();
            }
            h.push_back(event.clone());
        }
        let _ = self.inner.live.send(event);
    }

    /// Past events at or after `since_nanos`, and a receiver for what follows.
    /// Taken under one lock so nothing falls between the two.
    pub fn subscribe(&self, since_nanos: Option<i64>) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let h = self.inner.history.lock().unwrap_or_else(|p| p.into_inner());
        let rx = self.inner.live.subscribe();
        let past = match since_nanos {
            Some(since) => h.iter().filter(|e| e.time_nano >= since).cloned().collect(),
            None => Vec::new(),
        };
        (past, rx)
    }
}

/// The `filters` of `GET /events`: each key's values are alternatives; all
/// keys must match.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    filters: BTreeMap<String, Vec<String>>,
}

impl EventFilter {
    pub fn parse(
        filters: &std::collections::HashMap<String, Vec<String>>,
    ) -> Result<EventFilter, crate::Error> {
        const KNOWN: &[&str] = &["container", "event", "image", "label", "type", "scope"];
        for k in filters.keys() {
            if !KNOWN.contains(&k.as_str()) {
                return Err(crate::Error::InvalidArgument(format!(
                    "invalid filter '{k}'"
                )));
            }
        }
        Ok(EventFilter {
            filters: filters
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        })
    }

    pub fn matches(&self, e: &Event) -> bool {
        self.filters.iter().all(|(key, values)| {
            values.is_empty()
                || values.iter().any(|v| match key.as_str() {
                    "type" => &e.kind == v,
                    "event" => &e.action == v || e.action.split(':').next() == Some(v.as_str()),
                    "container" => {
                        e.kind == "container"
                            && (e.actor.id.starts_with(v.as_str())
                                || e.actor.attributes.get("name").map(String::as_str)
                                    == Some(v.as_str()))
                    }
                    "image" => {
                        e.actor.attributes.get("image").map(String::as_str) == Some(v.as_str())
                            || (e.kind == "image"
                                && (e.actor.id == *v
                                    || e.actor.attributes.get("name").map(String::as_str)
                                        == Some(v.as_str())))
                    }
                    "label" => match v.split_once('=') {
                        Some((k, val)) => {
                            e.actor.attributes.get(k).map(String::as_str) == Some(val)
                        }
                        None => e.actor.attributes.contains_key(v.as_str()),
                    },
                    "scope" => v == "local",
                    _ => false,
                })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(key: &str, value: &str) -> EventFilter {
        EventFilter::parse(
            &[(key.to_string(), vec![value.to_string()])]
                .into_iter()
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn replays_and_filters() {
        let events = Events::default();
        let labels = BTreeMap::from([("team".to_string(), "a".to_string())]);
        events.publish(Event::container("create", "abc", "busybox", "web", &labels));
        events.publish(Event::container("start", "abc", "busybox", "web", &labels));
        events.publish(Event::image("tag", "sha256:1", "x:1"));
        let (past, _rx) = events.subscribe(Some(0));
        assert_eq!(past.len(), 3);
        let f = filter("event", "start");
        assert_eq!(past.iter().filter(|e| f.matches(e)).count(), 1);
        let f = filter("label", "team=a");
        assert_eq!(past.iter().filter(|e| f.matches(e)).count(), 2);
        let f = filter("container", "web");
        assert_eq!(past.iter().filter(|e| f.matches(e)).count(), 2);
        assert!(
            EventFilter::parse(&[("bogus".to_string(), vec![])].into_iter().collect()).is_err()
        );
        let json = serde_json::to_value(&past[0]).unwrap();
        assert_eq!(json["Type"], "container");
        assert_eq!(json["Actor"]["Attributes"]["name"], "web");
        assert_eq!(json["status"], "create");
    }
}
