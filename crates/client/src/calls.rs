//! Typed calls, one per endpoint the CLI uses.

use berth_api::container::{
    ContainerInspect, ContainerSummary, CreateRequest, CreateResponse, PathStat, WaitResponse,
    PATH_STAT_HEADER,
};
use berth_api::image::{DeleteItem, ImageInspect, ImageSummary};
use berth_api::system::VersionInfo;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Response};
use serde_json::Value;

use crate::transport::{check, empty, encode, query, RequestBody};
use crate::{Client, Error};

/// A response body as a sequence of chunks.
pub struct BodyStream {
    body: Incoming,
}

impl BodyStream {
    pub fn new(resp: Response<Incoming>) -> BodyStream {
        BodyStream {
            body: resp.into_body(),
        }
    }

    /// The next chunk of data; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<Bytes>, Error> {
        loop {
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        return Ok(Some(data));
                    }
                }
            }
        }
    }
}

fn flag(v: bool) -> String {
    if v { "1" } else { "0" }.to_string()
}

impl Client {
    pub async fn ping(&self) -> Result<(), Error> {
        let resp = self
            .send(Method::GET, "/_ping", empty(), None, false)
            .await?;
        check(resp).await?.into_body().collect().await?;
        Ok(())
    }

    pub async fn version(&self) -> Result<VersionInfo, Error> {
        self.get_json("/version").await
    }

    pub async fn info(&self) -> Result<berth_api::system::Info, Error> {
        self.get_json("/info").await
    }

    pub async fn images(&self, all: bool, filters: &str) -> Result<Vec<ImageSummary>, Error> {
        let mut q = vec![("all", flag(all))];
        if !filters.is_empty() {
            q.push(("filters", filters.to_string()));
        }
        self.get_json(&format!("/images/json{}", query(&q))).await
    }

    pub async fn image_inspect(&self, name: &str) -> Result<ImageInspect, Error> {
        self.get_json(&format!("/images/{name}/json")).await
    }

    /// Image inspect as the daemon sent it (see `container_inspect_raw`).
    pub async fn image_inspect_raw(&self, name: &str) -> Result<Value, Error> {
        self.get_json(&format!("/images/{name}/json")).await
    }

    pub async fn image_tag(&self, source: &str, repo: &str, tag: &str) -> Result<(), Error> {
        let q = query(&[("repo", repo.to_string()), ("tag", tag.to_string())]);
        self.request_empty(Method::POST, &format!("/images/{source}/tag{q}"))
            .await
    }

    pub async fn image_remove(
        &self,
        name: &str,
        force: bool,
        no_prune: bool,
    ) -> Result<Vec<DeleteItem>, Error> {
        let q = query(&[("force", flag(force)), ("noprune", flag(no_prune))]);
        let resp = self
            .call(Method::DELETE, &format!("/images/{name}{q}"), empty(), None)
            .await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&bytes)?)
    }

    /// `POST /images/load`; the answer is a JSON message stream.
    pub async fn image_load(&self, body: RequestBody, quiet: bool) -> Result<BodyStream, Error> {
        let q = query(&[("quiet", flag(quiet))]);
        let resp = self
            .call(
                Method::POST,
                &format!("/images/load{q}"),
                body,
                Some("application/x-tar"),
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `POST /build` with the context tar as the body.
    pub async fn build(
        &self,
        body: RequestBody,
        params: &[(&str, String)],
    ) -> Result<BodyStream, Error> {
        let resp = self
            .call(
                Method::POST,
                &format!("/build{}", query(params)),
                body,
                Some("application/x-tar"),
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `GET /images/get?names=...`: the tarball.
    pub async fn image_save(&self, names: &[String]) -> Result<BodyStream, Error> {
        let q: Vec<(&str, String)> = names.iter().map(|n| ("names", n.clone())).collect();
        let resp = self
            .call(
                Method::GET,
                &format!("/images/get{}", query(&q)),
                empty(),
                None,
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `POST /images/create?fromSrc=-`: imports the body.
    pub async fn image_import(
        &self,
        body: RequestBody,
        repo: &str,
        tag: &str,
        message: &str,
        changes: &[String],
    ) -> Result<BodyStream, Error> {
        let mut q = vec![("fromSrc", "-".to_string())];
        if !repo.is_empty() {
            q.push(("repo", repo.to_string()));
        }
        if !tag.is_empty() {
            q.push(("tag", tag.to_string()));
        }
        if !message.is_empty() {
            q.push(("message", message.to_string()));
        }
        for c in changes {
            q.push(("changes", c.clone()));
        }
        let resp = self
            .call(
                Method::POST,
                &format!("/images/create{}", query(&q)),
                body,
                Some("application/x-tar"),
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `POST /images/create?fromImage=`: pulls.
    /// `POST /images/create?fromImage=` for one platform (`""` for the host's).
    pub async fn image_pull_platform(
        &self,
        image: &str,
        tag: &str,
        platform: &str,
    ) -> Result<BodyStream, Error> {
        let q = query(&[
            ("fromImage", image.to_string()),
            ("tag", tag.to_string()),
            ("platform", platform.to_string()),
        ]);
        let resp = self
            .call(Method::POST, &format!("/images/create{q}"), empty(), None)
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `POST /images/{name}/push?tag=`.
    pub async fn image_push(&self, name: &str, tag: &str) -> Result<BodyStream, Error> {
        let q = query(&[("tag", tag.to_string())]);
        let resp = self
            .call(
                Method::POST,
                &format!("/images/{name}/push{q}"),
                empty(),
                None,
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    pub async fn image_pull(&self, image: &str, tag: &str) -> Result<BodyStream, Error> {
        let q = query(&[("fromImage", image.to_string()), ("tag", tag.to_string())]);
        let resp = self
            .call(Method::POST, &format!("/images/create{q}"), empty(), None)
            .await?;
        Ok(BodyStream::new(resp))
    }

    pub async fn container_create(
        &self,
        req: &CreateRequest,
        name: Option<&str>,
    ) -> Result<CreateResponse, Error> {
        let q = match name {
            Some(n) => format!("?name={}", encode(n)),
            None => String::new(),
        };
        self.post_json(&format!("/containers/create{q}"), req).await
    }

    pub async fn container_start(&self, id: &str) -> Result<(), Error> {
        self.request_empty(Method::POST, &format!("/containers/{id}/start"))
            .await
    }

    /// Sends `wait` and returns once the daemon answered with headers; the
    /// returned future resolves when the condition is met.
    pub async fn container_wait(
        &self,
        id: &str,
        condition: &str,
    ) -> Result<impl std::future::Future<Output = Result<WaitResponse, Error>>, Error> {
        let q = query(&[("condition", condition.to_string())]);
        let resp = self
            .call(
                Method::POST,
                &format!("/containers/{id}/wait{q}"),
                empty(),
                None,
            )
            .await?;
        Ok(async move {
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok(serde_json::from_slice(&bytes)?)
        })
    }

    pub async fn containers(
        &self,
        all: bool,
        limit: Option<i64>,
        filters: &str,
    ) -> Result<Vec<ContainerSummary>, Error> {
        let mut q = vec![("all", flag(all))];
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        if !filters.is_empty() {
            q.push(("filters", filters.to_string()));
        }
        self.get_json(&format!("/containers/json{}", query(&q)))
            .await
    }

    pub async fn container_inspect(&self, id: &str) -> Result<ContainerInspect, Error> {
        self.get_json(&format!("/containers/{id}/json")).await
    }

    /// Container inspect as the daemon sent it, every field kept
    /// (`inspect` prints it and its templates read it).
    pub async fn container_inspect_raw(&self, id: &str) -> Result<Value, Error> {
        self.get_json(&format!("/containers/{id}/json")).await
    }

    pub async fn container_remove(
        &self,
        id: &str,
        force: bool,
        volumes: bool,
    ) -> Result<(), Error> {
        let q = query(&[("force", flag(force)), ("v", flag(volumes))]);
        self.request_empty(Method::DELETE, &format!("/containers/{id}{q}"))
            .await
    }

    pub async fn container_logs(
        &self,
        id: &str,
        follow: bool,
        tail: &str,
        timestamps: bool,
        since: &str,
        until: &str,
    ) -> Result<BodyStream, Error> {
        let mut q = vec![
            ("stdout", flag(true)),
            ("stderr", flag(true)),
            ("follow", flag(follow)),
            ("timestamps", flag(timestamps)),
            ("tail", tail.to_string()),
        ];
        if !since.is_empty() {
            q.push(("since", since.to_string()));
        }
        if !until.is_empty() {
            q.push(("until", until.to_string()));
        }
        let resp = self
            .call(
                Method::GET,
                &format!("/containers/{id}/logs{}", query(&q)),
                empty(),
                None,
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// Attaches to stdout and stderr (and stdin when asked) through an
    /// upgraded connection.
    pub async fn container_attach(
        &self,
        id: &str,
        stdin: bool,
        detach_keys: Option<&str>,
    ) -> Result<hyper::upgrade::Upgraded, Error> {
        let mut q = vec![
            ("stream", flag(true)),
            ("stdin", flag(stdin)),
            ("stdout", flag(true)),
            ("stderr", flag(true)),
        ];
        if let Some(k) = detach_keys {
            q.push(("detachKeys", k.to_string()));
        }
        self.upgrade(
            &format!("/containers/{id}/attach{}", query(&q)),
            empty(),
            None,
        )
        .await
    }

    /// Sends a request asking for a connection upgrade and returns the
    /// hijacked stream.
    async fn upgrade(
        &self,
        path: &str,
        body: RequestBody,
        content_type: Option<&str>,
    ) -> Result<hyper::upgrade::Upgraded, Error> {
        let resp = self
            .send(Method::POST, path, body, content_type, true)
            .await?;
        let resp = check(resp).await?;
        if resp.status().as_u16() != 101 {
            return Err(Error::Api {
                status: resp.status().as_u16(),
                message: "the daemon did not upgrade the connection".into(),
            });
        }
        Ok(hyper::upgrade::on(resp).await?)
    }

    /// `POST /containers/{id}/resize`.
    pub async fn container_resize(&self, id: &str, height: u16, width: u16) -> Result<(), Error> {
        let q = query(&[("h", height.to_string()), ("w", width.to_string())]);
        self.request_empty(Method::POST, &format!("/containers/{id}/resize{q}"))
            .await
    }

    /// `POST /containers/{id}/exec`: returns the exec id.
    pub async fn exec_create(
        &self,
        id: &str,
        config: &berth_api::exec::ExecCreate,
    ) -> Result<String, Error> {
        let v: Value = self
            .post_json(&format!("/containers/{id}/exec"), config)
            .await?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }

    /// `POST /exec/{id}/start` attached: the hijacked stream.
    pub async fn exec_start_attached(
        &self,
        exec_id: &str,
        tty: bool,
    ) -> Result<hyper::upgrade::Upgraded, Error> {
        let body = serde_json::to_vec(&serde_json::json!({"Detach": false, "Tty": tty}))?;
        self.upgrade(
            &format!("/exec/{exec_id}/start"),
            crate::transport::full(body),
            Some("application/json"),
        )
        .await
    }

    /// `POST /exec/{id}/start` detached.
    pub async fn exec_start_detached(&self, exec_id: &str) -> Result<(), Error> {
        let body = serde_json::to_vec(&serde_json::json!({"Detach": true, "Tty": false}))?;
        let resp = self
            .call(
                Method::POST,
                &format!("/exec/{exec_id}/start"),
                crate::transport::full(body),
                Some("application/json"),
            )
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    pub async fn exec_inspect(&self, exec_id: &str) -> Result<berth_api::exec::ExecInspect, Error> {
        self.get_json(&format!("/exec/{exec_id}/json")).await
    }

    pub async fn exec_resize(&self, exec_id: &str, height: u16, width: u16) -> Result<(), Error> {
        let q = query(&[("h", height.to_string()), ("w", width.to_string())]);
        self.request_empty(Method::POST, &format!("/exec/{exec_id}/resize{q}"))
            .await
    }

    pub async fn container_stop(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<bool, Error> {
        let mut q = Vec::new();
        if let Some(t) = timeout {
            q.push(("t", t.to_string()));
        }
        if let Some(s) = signal {
            q.push(("signal", s.to_string()));
        }
        let resp = self
            .call(
                Method::POST,
                &format!("/containers/{id}/stop{}", query(&q)),
                empty(),
                None,
            )
            .await?;
        let modified = resp.status().as_u16() != 304;
        resp.into_body().collect().await?;
        Ok(modified)
    }

    pub async fn container_restart(
        &self,
        id: &str,
        timeout: Option<i64>,
        signal: Option<&str>,
    ) -> Result<(), Error> {
        let mut q = Vec::new();
        if let Some(t) = timeout {
            q.push(("t", t.to_string()));
        }
        if let Some(s) = signal {
            q.push(("signal", s.to_string()));
        }
        self.request_empty(
            Method::POST,
            &format!("/containers/{id}/restart{}", query(&q)),
        )
        .await
    }

    pub async fn container_kill(&self, id: &str, signal: &str) -> Result<(), Error> {
        let q = query(&[("signal", signal.to_string())]);
        self.request_empty(Method::POST, &format!("/containers/{id}/kill{q}"))
            .await
    }

    pub async fn container_rename(&self, id: &str, name: &str) -> Result<(), Error> {
        let q = query(&[("name", name.to_string())]);
        self.request_empty(Method::POST, &format!("/containers/{id}/rename{q}"))
            .await
    }

    pub async fn container_top(
        &self,
        id: &str,
        ps_args: &str,
    ) -> Result<berth_api::container::ContainerTop, Error> {
        let q = if ps_args.is_empty() {
            String::new()
        } else {
            query(&[("ps_args", ps_args.to_string())])
        };
        self.get_json(&format!("/containers/{id}/top{q}")).await
    }

    /// `POST /build/prune`.
    pub async fn build_prune(
        &self,
        all: bool,
        filters: &str,
    ) -> Result<berth_api::image::BuildCachePrune, Error> {
        let mut q = vec![("all", if all { "1" } else { "0" }.to_string())];
        if !filters.is_empty() {
            q.push(("filters", filters.to_string()));
        }
        self.prune("build", &query(&q)).await
    }

    /// `POST /<resource>/prune<query>` with no body, its report decoded.
    async fn prune<T: serde::de::DeserializeOwned>(
        &self,
        resource: &str,
        query: &str,
    ) -> Result<T, Error> {
        let resp = self
            .call(
                Method::POST,
                &format!("/{resource}/prune{query}"),
                empty(),
                None,
            )
            .await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        Ok(serde_json::from_slice(&bytes)?)
    }

    pub async fn containers_prune(
        &self,
        filters: &str,
    ) -> Result<berth_api::container::ContainerPrune, Error> {
        let q = if filters.is_empty() {
            String::new()
        } else {
            query(&[("filters", filters.to_string())])
        };
        self.prune("containers", &q).await
    }

    /// `POST /images/prune`; `query` is the encoded query string (`?filters=...`) or empty.
    pub async fn images_prune(&self, query: &str) -> Result<berth_api::image::ImagePrune, Error> {
        self.prune("images", query).await
    }

    /// `POST /volumes/prune` (see `images_prune`).
    pub async fn volumes_prune(
        &self,
        query: &str,
    ) -> Result<berth_api::volume::VolumePrune, Error> {
        self.prune("volumes", query).await
    }

    /// `POST /networks/prune` (see `images_prune`).
    pub async fn networks_prune(
        &self,
        query: &str,
    ) -> Result<berth_api::network::NetworkPrune, Error> {
        self.prune("networks", query).await
    }

    /// `GET /networks` (see `images_prune` for `query`).
    pub async fn networks(
        &self,
        query: &str,
    ) -> Result<Vec<berth_api::network::NetworkInspect>, Error> {
        self.get_json(&format!("/networks{query}")).await
    }

    /// `POST /networks/create`.
    pub async fn network_create(
        &self,
        body: &berth_api::network::NetworkCreate,
    ) -> Result<berth_api::network::NetworkCreated, Error> {
        self.post_json("/networks/create", body).await
    }

    /// `GET /volumes` (see `images_prune` for `query`).
    pub async fn volumes(&self, query: &str) -> Result<berth_api::volume::VolumeList, Error> {
        self.get_json(&format!("/volumes{query}")).await
    }

    /// `GET /images/{name}/history`, newest first.
    pub async fn image_history(
        &self,
        name: &str,
    ) -> Result<Vec<berth_api::image::HistoryItem>, Error> {
        self.get_json(&format!("/images/{name}/history")).await
    }

    /// `GET /containers/{id}/changes`.
    pub async fn container_changes(
        &self,
        id: &str,
    ) -> Result<Vec<berth_api::container::Change>, Error> {
        self.get_json(&format!("/containers/{id}/changes")).await
    }

    /// `GET /system/df`.
    pub async fn system_df(&self) -> Result<berth_api::system::DiskUsage, Error> {
        self.get_json("/system/df").await
    }

    /// `POST /system/check` (Berth's own route).
    pub async fn system_check(
        &self,
        deep: bool,
        repair: bool,
    ) -> Result<berth_api::system::CheckReport, Error> {
        let q = query(&[("deep", flag(deep)), ("repair", flag(repair))]);
        self.post_json(&format!("/system/check{q}"), &serde_json::json!({}))
            .await
    }

    /// `POST /volumes/create`.
    pub async fn volume_create(
        &self,
        body: &berth_api::volume::VolumeCreate,
    ) -> Result<berth_api::volume::Volume, Error> {
        self.post_json("/volumes/create", body).await
    }

    /// `GET /events`: a stream of JSON messages.
    pub async fn events(
        &self,
        since: &str,
        until: &str,
        filters: &str,
    ) -> Result<BodyStream, Error> {
        let mut q = Vec::new();
        if !since.is_empty() {
            q.push(("since", since.to_string()));
        }
        if !until.is_empty() {
            q.push(("until", until.to_string()));
        }
        if !filters.is_empty() {
            q.push(("filters", filters.to_string()));
        }
        let resp = self
            .call(Method::GET, &format!("/events{}", query(&q)), empty(), None)
            .await?;
        Ok(BodyStream::new(resp))
    }

    pub async fn container_pause(&self, id: &str, pause: bool) -> Result<(), Error> {
        let action = if pause { "pause" } else { "unpause" };
        self.request_empty(Method::POST, &format!("/containers/{id}/{action}"))
            .await
    }

    pub async fn container_update(
        &self,
        id: &str,
        body: &berth_api::container::UpdateRequest,
    ) -> Result<berth_api::container::UpdateResponse, Error> {
        self.post_json(&format!("/containers/{id}/update"), body)
            .await
    }

    /// One stats object (`stream=false`), optionally `one-shot`.
    pub async fn container_stats_once(
        &self,
        id: &str,
        one_shot: bool,
    ) -> Result<berth_api::stats::Stats, Error> {
        let q = query(&[("stream", flag(false)), ("one-shot", flag(one_shot))]);
        self.get_json(&format!("/containers/{id}/stats{q}")).await
    }

    /// `HEAD /containers/{id}/archive`: the path's stat, `None` if missing.
    pub async fn archive_stat(&self, id: &str, path: &str) -> Result<Option<PathStat>, Error> {
        let q = query(&[("path", path.to_string())]);
        let resp = self
            .send(
                Method::HEAD,
                &format!("/containers/{id}/archive{q}"),
                empty(),
                None,
                false,
            )
            .await?;
        if resp.status().as_u16() == 404 {
            // A HEAD answer has no body: tell a missing container from a missing path.
            self.container_inspect(id).await?;
            return Ok(None);
        }
        let stat = resp
            .headers()
            .get(PATH_STAT_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(PathStat::from_header);
        let resp = check(resp).await?;
        resp.into_body().collect().await?;
        Ok(stat)
    }

    /// `GET /containers/{id}/archive`: the tar stream.
    pub async fn archive_get(&self, id: &str, path: &str) -> Result<BodyStream, Error> {
        let q = query(&[("path", path.to_string())]);
        let resp = self
            .call(
                Method::GET,
                &format!("/containers/{id}/archive{q}"),
                empty(),
                None,
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `PUT /containers/{id}/archive`: extracts a tar into the directory `path`.
    pub async fn archive_put(
        &self,
        id: &str,
        path: &str,
        body: RequestBody,
        copy_uid_gid: bool,
    ) -> Result<(), Error> {
        let q = query(&[
            ("path", path.to_string()),
            ("noOverwriteDirNonDir", flag(true)),
            ("copyUIDGID", flag(copy_uid_gid)),
        ]);
        let resp = self
            .call(
                Method::PUT,
                &format!("/containers/{id}/archive{q}"),
                body,
                Some("application/x-tar"),
            )
            .await?;
        resp.into_body().collect().await?;
        Ok(())
    }

    /// `GET /containers/{id}/export`.
    pub async fn container_export(&self, id: &str) -> Result<BodyStream, Error> {
        let resp = self
            .call(
                Method::GET,
                &format!("/containers/{id}/export"),
                empty(),
                None,
            )
            .await?;
        Ok(BodyStream::new(resp))
    }

    /// `POST /commit`: returns the new image id.
    pub async fn commit(&self, p: &CommitParams<'_>) -> Result<String, Error> {
        let mut q = vec![
            ("container", p.container.to_string()),
            ("author", p.author.to_string()),
            ("comment", p.comment.to_string()),
            ("pause", flag(p.pause)),
        ];
        if !p.repo.is_empty() {
            q.push(("repo", p.repo.to_string()));
            q.push(("tag", p.tag.to_string()));
        }
        for c in p.changes {
            q.push(("changes", c.clone()));
        }
        let resp = self
            .call(
                Method::POST,
                &format!("/commit{}", query(&q)),
                crate::transport::full("{}"),
                Some("application/json"),
            )
            .await?;
        let bytes = resp.into_body().collect().await?.to_bytes();
        let v: Value = serde_json::from_slice(&bytes)?;
        Ok(v["Id"].as_str().unwrap_or_default().to_string())
    }
}

/// What `commit` sends.
#[derive(Debug, Clone, Default)]
pub struct CommitParams<'a> {
    pub container: &'a str,
    pub repo: &'a str,
    pub tag: &'a str,
    pub author: &'a str,
    pub comment: &'a str,
    pub changes: &'a [String],
    pub pause: bool,
}
