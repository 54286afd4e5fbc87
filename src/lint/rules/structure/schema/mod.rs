//! The field names Tekton accepts in each object of the five kinds, per API version, and the
//! types of their values (`table.rs`), and the walk over a document's positioned YAML that
//! reports the others (`walk.rs`).
//! Tekton's webhook decodes with unknown fields disallowed, so a typo (`Name:`,
//! `computeResource:`) is rejected on apply; Go's JSON decoder rejects a value of the wrong type
//! (`command: [true]`, `timeout: 5`) — after go-yaml typed it, so `yes` is a boolean there.
//! Field names are case-sensitive where the CRDs' structural schemas describe them: the API server
//! prunes (or, with strict field validation, rejects) `mountpath` before Tekton's Go decoder could
//! see it. An embedded `taskSpec` or `pipelineSpec` is kept as written
//! (`x-kubernetes-preserve-unknown-fields`), and there Go's decoder, which matches names without
//! regard to case, reads `mountpath` as `mountPath`: a `field-case` warning, and a
//! [`FieldRename`] the lint applies to the spec so that the typed model reads it the same way.
//!
//! Free-form Kubernetes objects (securityContext, computeResources, pod templates, volume
//! sources, probes) are not descended into.

mod table;
mod walk;

pub use walk::{check_field_names, FieldRename};
