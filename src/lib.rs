//! stepkit: the library behind the `stepkit` binary.
//!
//! `core` holds the machinery every command shares (errors, secrets, Tekton results, HTTP, polling,
//! progress, logging); each command group is one module on top of it. The binary in `main.rs` and
//! the clap definitions in `cli/` only turn arguments into option structs and call into here.

pub mod cli;
pub mod core;
pub mod gate;
pub mod lint;
pub mod prowjob;
pub mod result;
pub mod run;
pub mod tekton;
pub mod workspace;
