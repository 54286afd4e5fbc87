//! `stepkit prowjob`: test a Konflux snapshot with an OpenShift CI Prow job through Gangway.
//!
//! `trigger` turns a Snapshot into a patched ci-operator config and a Gangway request; `report`
//! waits for the job and reports it. `snapshot`, `ci_operator` and `gangway` are the pieces they
//! share: the input, the config, and the remote API.

pub mod ci_operator;
pub mod gangway;
pub mod report;
pub mod snapshot;
pub mod trigger;
