//! The one model of Tekton in the crate: YAML read with exact positions (`yaml`), the typed
//! v1/v1beta1 objects (`model`), `$(...)` expressions (`expr`) and field paths into a document
//! (`path`). `task lint` builds on it; so do the commands that run and rewrite Tekton definitions.

pub mod dag;
pub mod doc;
pub mod expr;
pub mod files;
pub mod model;
pub mod path;
pub mod yaml;
