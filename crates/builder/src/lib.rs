//! Building images from Dockerfiles: parsing into an owned model with line
//! numbers (`dockerfile`), Docker's word processing and variable
//! substitution (`expand`), the stage plan (`plan`) and `.dockerignore`
//! matching (`ignore`). Everything here is pure; the engine executes the
//! plan through the `BuildHost` trait.

pub mod cache;
pub mod config;
pub mod dockerfile;
pub mod expand;
pub mod heredoc;
pub mod ignore;
mod inline;
pub mod mounts;
pub mod plan;
