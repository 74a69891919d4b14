//! `berth system check [--repair]`: the image store, the containers and
//! the network leftovers, each checked by the service that owns them (see
//! [`berth_image::check`], `ContainerService::check`,
//! `NetworkService::check`). The daemon runs the quick form at start and
//! logs what it finds.

pub use berth_image::check::{CheckOptions, Problem};

use crate::{Engine, Error};

/// Runs every check; `opts.deep` hashes every blob.
pub async fn check(engine: &Engine, opts: CheckOptions) -> Result<Vec<Problem>, Error> {
    let store = engine.images.store().clone();
    let mut problems = tokio::task::spawn_blocking(move || store.check(opts))
        .await
        .map_err(|e| Error::Internal(format!("image check failed: {e}")))?;
    problems.extend(engine.containers.check(opts.repair).await);
    let networks = engine.networks.clone();
    problems.extend(
        tokio::task::spawn_blocking(move || networks.check(opts.repair))
            .await
            .map_err(|e| Error::Internal(format!("network check failed: {e}")))?,
    );
    Ok(problems)
}

/// The quick check at daemon start: presence only, nothing repaired; each
/// problem is logged.
pub async fn at_start(engine: &Engine) {
    match check(engine, CheckOptions::default()).await {
        Ok(problems) => {
            for p in &problems {
                tracing::warn!(object = %p.object, "system check: {}", p.message);
            }
            if !problems.is_empty() {
                tracing::warn!(
                    count = problems.len(),
                    "system check found problems; `berth system check --repair` fixes what it safely can"
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "system check at start failed"),
    }
}
