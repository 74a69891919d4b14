//! Building images from Dockerfiles: parsing into an owned model with line
//! numbers (`dockerfile`, `heredoc`), Docker's word processing and variable
//! substitution (`expand`), the stage plan (`plan`), the cache keys
//! (`cache`), `RUN --mount` (`mounts`), the image config a build writes
//! (`config`) and `.dockerignore` matching (`ignore`). Everything here is
//! pure; the engine executes the plan (`berth-engine`'s `build` module),
//! touching the host only through the engine's seams (`ContainerRuntime`
//! for RUN, `Snapshots` for image trees), so a plan also runs over their
//! fakes (the server's router tests).

pub mod cache;
pub mod config;
pub mod dockerfile;
pub mod expand;
pub mod heredoc;
pub mod ignore;
mod inline;
pub mod mounts;
pub mod plan;
