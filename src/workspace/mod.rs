//! `stepkit workspace`: carry a Tekton workspace between Tasks as an OCI artifact.
//!
//! `archive` turns a directory into a deterministic, compressed tar stream and back (safely);
//! `registry` moves blobs and manifests, verifying every digest; `reference` and `auth` read
//! what users and Trusted Artifacts write, `helper` runs credential helpers, `state` records
//! what a pull restored and finds what changed since. `push` and `pull` glue them together;
//! `wrap` rewrites a Pipeline to use them, and `restore` is what the Tasks it rewrote run first.

pub mod archive;
pub mod auth;
pub mod helper;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod restore;
pub mod state;
pub mod wrap;
