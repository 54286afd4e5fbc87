//! Who hands a workspace to whom: for every Pipeline task that uses a chosen workspace, whether
//! it pushes (it does unless the Task mounts the workspace `readOnly`) and which earlier writers
//! it restores from, on the DAG Tekton builds (`runAfter` and result references).
//!
//! A task restores from its last writers: the writers among its ancestors that no other such
//! writer comes after. One is the common case; several that do not order among themselves are a
//! fan-in, merged at run time. A writer that may not push (it has `when` expressions, or the
//! reader is a `finally` task, which runs even when a writer failed) is looked up by its tag at
//! run time, and its own last writers stand in for it when it did not push (a skipped Task
//! changes nothing), so the candidates are the closure of that rule; each lists the candidates
//! its content already holds (its ancestors), which drop out when it pushed.

use std::collections::{BTreeMap, BTreeSet};

use crate::core::error::Error;
use crate::tekton::dag::{parents, topological_order};
use crate::tekton::doc::Doc;
use crate::tekton::model::{PipelineSpec, PipelineTask};

/// A writer a task may restore from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub task: String,
    /// Looked up by tag at run time: the task may not have pushed.
    pub optional: bool,
    /// The other candidates this one's content already holds.
    pub covers: Vec<String>,
}

/// How one Pipeline task uses one chosen workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    /// The Pipeline's workspace.
    pub workspace: String,
    /// The name the Task declares it under.
    pub task_workspace: String,
    pub writes: bool,
    /// A matrix fans the task out: each instance pushes under its own tag.
    pub matrix: bool,
    /// Candidates in DAG order (earlier writers first).
    pub sources: Vec<Candidate>,
    /// With several candidates, the last writer before all of them, if there is one: what a
    /// fan-in merges their changes against.
    pub merge_base: Option<Candidate>,
}

/// Every usage, by Pipeline task name.
pub type Plan = BTreeMap<String, Vec<Usage>>;

struct Graph<'a> {
    /// DAG tasks in an order where parents come first (declaration order otherwise).
    order: Vec<&'a PipelineTask>,
    ancestors: BTreeMap<&'a str, BTreeSet<String>>,
}

fn graph<'a>(spec: &'a PipelineSpec, owner: &str) -> anyhow::Result<Graph<'a>> {
    let order = topological_order(&spec.tasks, owner)?;
    let mut ancestors: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for task in &order {
        let mut all = BTreeSet::new();
        for parent in parents(task) {
            all.extend(ancestors[parent.as_str()].iter().cloned());
            all.insert(parent);
        }
        ancestors.insert(task.name.as_str(), all);
    }
    Ok(Graph { order, ancestors })
}

/// The Task a Pipeline task runs, by name, as a `taskSpec` (inline or resolved).
pub type TaskSpecs = BTreeMap<String, Doc>;

pub fn plan(
    spec: &PipelineSpec,
    chosen: &BTreeSet<String>,
    task_specs: &TaskSpecs,
    owner: &str,
) -> anyhow::Result<Plan> {
    let graph = graph(spec, owner)?;
    let all_dag: BTreeSet<String> = spec.tasks.iter().map(|t| t.name.clone()).collect();
    let mut plan = Plan::new();
    for workspace in chosen {
        // Each user: (task, is_finally, usage without sources).
        let mut users: Vec<(&PipelineTask, bool, Usage)> = Vec::new();
        let finally = spec.finally.iter().map(|t| (t, true));
        for (task, is_finally) in graph.order.iter().map(|t| (*t, false)).chain(finally) {
            for binding in &task.workspaces {
                if binding.workspace.as_deref() != Some(workspace.as_str()) {
                    continue;
                }
                let what = format!(
                    "{owner}: task {:?}, workspace {:?}",
                    task.name, binding.name
                );
                if task.pipeline_ref.is_some() || task.pipeline_spec.is_some() {
                    return Err(Error::usage(format!(
                        "{what}: a Pipeline in a Pipeline cannot carry {workspace:?} over OCI; \
                         wrap the inner Pipeline on its own"
                    ))
                    .into());
                }
                if binding.sub_path.as_deref().is_some_and(|s| !s.is_empty()) {
                    return Err(Error::usage(format!(
                        "{what}: subPath on a workspace carried over OCI is not supported \
                         (each Task gets the whole workspace); drop --workspace {workspace} or the subPath"
                    ))
                    .into());
                }
                let Some(task_spec) = task_specs.get(&task.name) else {
                    return Err(
                        Error::usage(format!("{what}: the task has no Task to wrap")).into(),
                    );
                };
                let declared = task_spec
                    .get("workspaces")
                    .map(Doc::as_seq)
                    .unwrap_or_default()
                    .iter()
                    .find(|w| w.get("name").and_then(Doc::as_str) == Some(binding.name.as_str()));
                let Some(declared) = declared else {
                    return Err(Error::usage(format!(
                        "{what}: its Task declares no workspace {:?}",
                        binding.name
                    ))
                    .into());
                };
                let read_only = declared.get("readOnly") == Some(&Doc::Bool(true));
                users.push((
                    task,
                    is_finally,
                    Usage {
                        workspace: workspace.clone(),
                        task_workspace: binding.name.clone(),
                        writes: !read_only,
                        matrix: task.matrix.is_some(),
                        sources: Vec::new(),
                        merge_base: None,
                    },
                ));
            }
        }
        let writers: Vec<&PipelineTask> = users
            .iter()
            .filter(|(_, is_finally, usage)| usage.writes && !is_finally)
            .map(|(task, _, _)| *task)
            .collect();
        let writer_names: BTreeSet<&str> = writers.iter().map(|t| t.name.as_str()).collect();
        let ancestors_of = |name: &str, is_finally: bool| -> BTreeSet<String> {
            if is_finally {
                all_dag.clone()
            } else {
                graph.ancestors.get(name).cloned().unwrap_or_default()
            }
        };
        // The writers among `ancestors` that no other of them comes after.
        let last_writers = |ancestors: &BTreeSet<String>| -> Vec<String> {
            let among: Vec<&str> = ancestors
                .iter()
                .map(String::as_str)
                .filter(|a| writer_names.contains(a))
                .collect();
            among
                .iter()
                .filter(|w| {
                    !among
                        .iter()
                        .any(|other| graph.ancestors[other].contains(**w))
                })
                .map(|w| w.to_string())
                .collect()
        };
        let by_name: BTreeMap<&str, &PipelineTask> =
            spec.tasks.iter().map(|t| (t.name.as_str(), t)).collect();
        for (task, is_finally, mut usage) in users {
            let ancestors = ancestors_of(&task.name, is_finally);
            let mut candidates: BTreeSet<String> = BTreeSet::new();
            let mut queue = last_writers(&ancestors);
            while let Some(next) = queue.pop() {
                if !candidates.insert(next.clone()) {
                    continue;
                }
                let writer = by_name[next.as_str()];
                if is_finally || !writer.when.is_empty() {
                    queue.extend(last_writers(&graph.ancestors[next.as_str()]));
                }
            }
            for candidate in &candidates {
                if by_name[candidate.as_str()].matrix.is_some() {
                    return Err(Error::usage(format!(
                        "{owner}: task {:?} restores workspace {workspace:?} after {candidate:?}, \
                         a matrix whose instances each push their own content; merging them is \
                         not supported: mount the workspace readOnly in {candidate:?}, or add a \
                         task after it that writes the result",
                        task.name
                    ))
                    .into());
                }
            }
            usage.sources = graph
                .order
                .iter()
                .filter(|t| candidates.contains(&t.name))
                .map(|t| Candidate {
                    task: t.name.clone(),
                    optional: is_finally || !t.when.is_empty(),
                    covers: graph.ancestors[t.name.as_str()]
                        .iter()
                        .filter(|a| candidates.contains(*a))
                        .cloned()
                        .collect(),
                })
                .collect();
            if candidates.len() > 1 {
                let mut common: Option<BTreeSet<String>> = None;
                for candidate in &candidates {
                    let before = &graph.ancestors[candidate.as_str()];
                    common = Some(match common {
                        None => before.clone(),
                        Some(common) => common.intersection(before).cloned().collect(),
                    });
                }
                if let [base] = last_writers(&common.unwrap_or_default()).as_slice() {
                    usage.merge_base = Some(Candidate {
                        task: base.clone(),
                        optional: is_finally || !by_name[base.as_str()].when.is_empty(),
                        covers: Vec::new(),
                    });
                }
            }
            plan.entry(task.name.clone()).or_default().push(usage);
        }
    }
    Ok(plan)
}
