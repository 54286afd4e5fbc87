//! pipeline-refs and pipeline-taskref-pinned on small Pipelines and runs.

use crate::lint::finding::{Finding, Severity};
use crate::lint::{Config, Profile, SourceFile};

fn lint_files(files: &[(&str, &str)], profile: Profile) -> Vec<Finding> {
    let mut config = Config::default();
    config.options.profile = profile;
    let files = files
        .iter()
        .map(|(path, text)| SourceFile::parse(path.into(), text.to_string()))
        .collect();
    crate::lint::lint_files(files, &config).findings
}

/// (line, message) of the findings of `rule`.
fn hits(yaml: &str, rule: &str) -> Vec<(usize, String)> {
    hits_in(&[("t.yaml", yaml)], rule)
}

fn hits_in(files: &[(&str, &str)], rule: &str) -> Vec<(usize, String)> {
    lint_files(files, Profile::Core)
        .into_iter()
        .filter(|f| f.rule == rule)
        .map(|f| (f.line, f.message))
        .collect()
}

fn refs(yaml: &str) -> Vec<(usize, String)> {
    hits(yaml, "pipeline-refs")
}

/// Asserts that one of `found` is on `line` with a message containing `needle`.
fn assert_found(found: &[(usize, String)], line: usize, needle: &str) {
    assert!(
        found.iter().any(|(l, m)| *l == line && m.contains(needle)),
        "no finding on line {line} containing {needle:?}: {found:?}"
    );
}

const TASK_A: &str = "
    - name: a
      taskSpec:
        results:
          - name: digest
          - name: obj
            type: object
            properties:
              url: {type: string}
          - name: list
            type: array
        steps:
          - name: s
            image: registry.io/x@sha256:0000000000000000000000000000000000000000000000000000000000000000
            script: echo";

fn pipeline(tasks: &str) -> String {
    format!("apiVersion: tekton.dev/v1\nkind: Pipeline\nmetadata:\n  name: p\nspec:\n  tasks:{TASK_A}{tasks}\n")
}

const STEPS: &str = "
        steps:
          - name: s
            image: registry.io/x:1
            script: echo";

#[test]
fn a_cycle_is_reported_once_with_its_path_at_the_closing_dependency() {
    let yaml = pipeline(&format!(
        "
    - name: b
      runAfter: [c]
      taskSpec:
        results: [{{name: r}}]{STEPS}
    - name: c
      params:
        - name: x
          value: $(tasks.b.results.r)
      taskSpec:
        params:
          - name: x{STEPS}"
    ));
    let found = refs(&yaml);
    let cycles: Vec<_> = found.iter().filter(|(_, m)| m.contains("cycle")).collect();
    assert_eq!(cycles.len(), 1, "{found:?}");
    assert!(cycles[0].1.contains("b -> c -> b"), "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(cycles[0].0, 32, "{found:?}");
}

#[test]
fn a_task_that_both_runs_after_and_uses_a_result_of_another_closes_one_cycle() {
    let yaml = pipeline(&format!(
        "
    - name: b
      runAfter: [c]
      taskSpec:
        results: [{{name: r}}]{STEPS}
    - name: c
      runAfter: [b]
      params:
        - name: x
          value: $(tasks.b.results.r)
      taskSpec:
        params:
          - name: x{STEPS}"
    ));
    let found = refs(&yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 30, "{found:?}");
}

#[test]
fn a_pipeline_result_names_finally_tasks_through_finally() {
    let yaml = format!(
        "{}  finally:
    - name: f
      taskSpec:
        results: [{{name: x}}]{STEPS}
  results:
    - name: wrong-root
      value: $(tasks.f.results.x)
    - name: also-wrong
      value: $(finally.a.results.digest)
    - name: constant
      value: done
",
        pipeline("")
    );
    let found = refs(&yaml);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [31, 33, 35], "{found:?}");
    assert!(
        found[0].1.contains("write $(finally.f.results.x) instead"),
        "{found:?}"
    );
    assert!(
        found[1]
            .1
            .contains("write $(tasks.a.results.digest) instead"),
        "{found:?}"
    );
    assert!(found[2].1.contains("takes no task result"), "{found:?}");
}

#[test]
fn a_task_that_runs_after_itself_is_a_cycle() {
    let found = refs(&pipeline(&format!(
        "\n    - name: b\n      runAfter: [b]\n      taskSpec:{STEPS}"
    )));
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("b -> b"), "{found:?}");
}

#[test]
fn run_after_names_a_task_not_a_finally_task_and_finally_has_none() {
    let yaml = format!(
        "{}  finally:
    - name: f
      runAfter: [a]
      taskSpec:{STEPS}
",
        pipeline(&format!(
            "\n    - name: b\n      runAfter: [nope, f, a]\n      taskSpec:{STEPS}"
        ))
    );
    let found = refs(&yaml);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_found(&found, 22, "\"nope\", which is not a task");
    assert_found(&found, 22, "\"f\", a finally task");
    assert_found(&found, 30, "finally task \"f\" has runAfter");
}

#[test]
fn result_references_name_a_task_and_a_declared_result() {
    let yaml = pipeline(&format!(
        "
    - name: b
      params:
        - name: ok
          value: $(tasks.a.results.digest) $(tasks.a.results.obj.url) $(tasks.a.results.list[*])
        - name: typo
          value: x-$(tasks.a.results.digset)
        - name: key
          value: $(tasks.a.results.obj.uri)
        - name: ghost
          value: $(tasks.ghost.results.x)
      taskSpec:
        params: [{{name: ok}}, {{name: typo}}, {{name: key}}, {{name: ghost}}]{STEPS}"
    ));
    let found = refs(&yaml);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_found(&found, 26, "result \"digset\" of \"a\"");
    assert!(
        found[0].1.contains("it declares digest, obj, list"),
        "{found:?}"
    );
    assert_found(&found, 28, "key \"uri\"");
    assert_found(&found, 30, "\"ghost\", which is not a task");
}

#[test]
fn execution_status_is_for_finally_tasks_and_results_for_pipeline_results() {
    let yaml = format!(
        "{}  finally:
    - name: f
      params:
        - name: all
          value: $(tasks.status)
        - name: one
          value: $(tasks.a.status) $(tasks.a.reason) $(tasks.a.results.digest)
        - name: bad
          value: $(tasks.nope.status)
      taskSpec:
        params: [{{name: all}}, {{name: one}}, {{name: bad}}]
        results: [{{name: x}}]{STEPS}
  results:
    - name: ok
      value: $(tasks.a.results.digest)
    - name: from-finally
      value: $(finally.f.results.x)
    - name: status
      value: $(tasks.status)
",
        pipeline(&format!(
            "
    - name: b
      when:
        - input: $(tasks.a.status)
          operator: in
          values: [Succeeded]
      taskSpec:{STEPS}"
        ))
    );
    let found = refs(&yaml);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_found(&found, 23, "only available in finally");
    assert_found(&found, 39, "\"nope\", which is not a task");
    assert_found(&found, 53, "can only take task results");
}

const REFERENCED: &str = "---
apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: build
spec:
  params:
    - name: IMAGE
    - name: CONTEXT
      default: .
  workspaces:
    - name: source
    - name: cache
      optional: true
  steps:
    - name: build
      image: registry.io/x:1
      script: echo $(params.IMAGE)
";

fn referencing(params: &str, workspaces: &str) -> String {
    format!(
        "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  workspaces:
    - name: shared
  tasks:
    - name: build
      taskRef:
        name: build
      params:{params}
      workspaces:{workspaces}
{REFERENCED}"
    )
}

#[test]
fn a_referenced_task_gets_its_required_params_and_workspaces() {
    let found = refs(&referencing(" []", " []"));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found
        .iter()
        .any(|(l, m)| *l == 12 && m.contains("param \"IMAGE\", which Task \"build\" requires")));
    assert_found(&found, 13, "workspace \"source\"");
    let good = referencing(
        "\n        - name: IMAGE\n          value: x",
        "\n        - name: source\n          workspace: shared",
    );
    assert!(refs(&good).is_empty(), "{:?}", refs(&good));
}

#[test]
fn extra_params_and_workspaces_for_a_referenced_task_are_reported() {
    let yaml = referencing(
            "\n        - name: IMAGE\n          value: x\n        - name: IMAGES\n          value: y",
            "\n        - name: source\n          workspace: shared\n        - name: output\n          workspace: shared",
        );
    let found = refs(&yaml);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_found(&found, 15, "passes param \"IMAGES\"");
    assert_found(&found, 20, "binds workspace \"output\"");
}

#[test]
fn matrix_params_supply_required_params() {
    let yaml = referencing(
            "\n        - name: CONTEXT\n          value: x\n      matrix:\n        params:\n          - name: IMAGE\n            value: [a, b]",
            "\n        - name: source\n          workspace: shared",
        );
    assert!(refs(&yaml).is_empty(), "{:?}", refs(&yaml));
}

#[test]
fn the_nearest_task_of_a_name_is_used_and_ambiguity_skips() {
    let pipeline = referencing(
        " []",
        "\n        - name: source\n          workspace: shared",
    );
    let pipeline = pipeline.split("---").next().unwrap();
    let task = REFERENCED.trim_start_matches("---\n");
    let other = task.replace("- name: IMAGE\n", "- name: IMAGE\n      default: x\n");
    let files = [
        ("task/build/0.2/tests/run.yaml", pipeline),
        ("task/build/0.2/build.yaml", task),
        ("task/build/0.1/build.yaml", &other),
    ];
    let found = hits_in(&files, "pipeline-refs");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].1.contains("\"IMAGE\""), "{found:?}");
    let files = [
        ("run.yaml", pipeline),
        ("a/build.yaml", task),
        ("b/build.yaml", &other),
    ];
    assert!(hits_in(&files, "pipeline-refs").is_empty());
    // A Task of the same name elsewhere in the tree (a test fixture, say) is not the one meant.
    let files = [
        ("pipelines/ci/ci.yaml", pipeline),
        ("generator/golden/build.yaml", task),
    ];
    assert!(hits_in(&files, "pipeline-refs").is_empty());
    let files = [("ci.yaml", pipeline), (".tekton/tasks/build.yaml", task)];
    assert!(hits_in(&files, "pipeline-refs").is_empty());
    let files = [
        (".tekton/ci.yaml", pipeline),
        (".tekton/tasks/build.yaml", task),
    ];
    assert_eq!(hits_in(&files, "pipeline-refs").len(), 1);
}

#[test]
fn a_templated_task_ref_with_a_version_is_not_resolved_locally() {
    let yaml = referencing(" []", " []").replace(
        "        name: build\n      params",
        "        name: build\n        version: \"0.1\"\n      params",
    );
    assert!(yaml.contains("version: \"0.1\""));
    assert!(refs(&yaml).is_empty(), "{:?}", refs(&yaml));
}

#[test]
fn an_extra_param_is_a_warning_because_tekton_ignores_it() {
    let yaml = referencing(
        "\n        - name: IMAGE\n          value: x\n        - name: IMAGES\n          value: y",
        "\n        - name: source\n          workspace: shared",
    );
    let findings = lint_files(&[("t.yaml", &yaml)], Profile::Core);
    let hit: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "pipeline-refs")
        .collect();
    assert_eq!(hit.len(), 1, "{hit:?}");
    assert_eq!(hit[0].severity, Severity::Warning);
}

#[test]
fn inline_task_specs_get_pipeline_params_and_workspaces_propagated() {
    let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  params:
    - name: url
  workspaces:
    - name: src
  tasks:
    - name: clone
      params:
        - name: extra
          value: $(params.url)
      taskSpec:
        params:
          - name: url
          - name: revision
        workspaces:
          - name: src
          - name: out
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
    let found = refs(yaml);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(
        found
            .iter()
            .any(|(l, m)| *l == 12 && m.contains("\"revision\"") && !m.contains("\"url\"")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|(_, m)| m.contains("workspace \"out\"") && !m.contains("\"src\"")),
        "{found:?}"
    );
    assert_found(&found, 13, "passes param \"extra\"");
    let used = yaml.replace("script: echo", "script: echo $(params.extra)");
    assert_eq!(refs(&used).len(), 2, "{:?}", refs(&used));
}

#[test]
fn a_pipeline_run_propagates_its_own_params_and_workspaces() {
    let yaml = "apiVersion: tekton.dev/v1
kind: PipelineRun
metadata:
  generateName: r-
spec:
  params:
    - name: message
      value: hi
  workspaces:
    - name: data
      emptyDir: {}
  pipelineSpec:
    tasks:
      - name: echo
        workspaces:
          - name: data
        taskSpec:
          params:
            - name: message
          workspaces:
            - name: data
          steps:
            - name: s
              image: registry.io/x:1
              script: echo
      - name: after
        runAfter: [ech0]
        taskSpec:
          steps:
            - name: s
              image: registry.io/x:1
              script: echo
";
    let found = refs(yaml);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 27, "{found:?}");
}

#[test]
fn names_on_error_finally_and_pipeline_workspaces() {
    let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: Build
      onError: continue
      retries: 2
      workspaces:
        - name: src
          workspace: source
      taskSpec:
        workspaces:
          - name: src
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
    - name: Build
      taskSpec:
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
    let found = refs(yaml);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [7, 8, 12, 20], "{found:?}");
    assert!(
        found[1].1.contains("onError: continue with retries"),
        "{found:?}"
    );
    assert!(
        found[2].1.contains("pipeline workspace \"source\""),
        "{found:?}"
    );

    let only_finally = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  finally:
    - name: f
      taskSpec:
        steps:
          - name: s
            image: registry.io/x:1
            script: echo
";
    let found = refs(only_finally);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 6);
}

#[test]
fn remote_custom_and_unknown_tasks_are_not_second_guessed() {
    let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  tasks:
    - name: remote
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1@sha256:0000000000000000000000000000000000000000000000000000000000000000'}
          - {name: name, value: y}
          - {name: kind, value: task}
      params:
        - {name: anything, value: x}
    - name: custom
      taskRef:
        apiVersion: example.dev/v1
        kind: Wait
      params:
        - {name: duration, value: 1s}
    - name: elsewhere
      taskRef:
        name: not-linted-here
      params:
        - {name: x, value: $(tasks.remote.results.whatever)}
";
    assert!(refs(yaml).is_empty(), "{:?}", refs(yaml));
}

fn pinned(yaml: &str) -> Vec<(usize, String)> {
    hits(yaml, "pipeline-taskref-pinned")
}

#[test]
fn bundle_and_git_references_must_be_pinned() {
    let yaml = "apiVersion: tekton.dev/v1
kind: Pipeline
metadata:
  name: p
spec:
  params:
    - name: rev
  tasks:
    - name: by-tag
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1'}
    - name: by-digest
      taskRef:
        resolver: bundles
        params:
          - {name: bundle, value: 'quay.io/x/task-y:0.1@sha256:0000000000000000000000000000000000000000000000000000000000000000'}
    - name: branch
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
          - {name: revision, value: main}
    - name: commit
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
          - {name: revision, value: 0123456789abcdef0123456789abcdef01234567}
    - name: default-branch
      taskRef:
        resolver: git
        params:
          - {name: url, value: 'https://github.com/o/r'}
    - name: from-param
      taskRef:
        resolver: git
        params:
          - {name: revision, value: $(params.rev)}
";
    let found = pinned(yaml);
    let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [13, 24, 33], "{found:?}");
    assert!(
        found[0].1.contains("pipeline task \"by-tag\"") && found[0].1.contains("@sha256"),
        "{found:?}"
    );
    assert!(found[1].1.contains("revision \"main\""), "{found:?}");
}

#[test]
fn step_action_refs_and_v1beta1_bundles_are_checked_with_the_profile_severity() {
    let task = "apiVersion: tekton.dev/v1
kind: Task
metadata:
  name: t
spec:
  steps:
    - name: fetch
      ref:
        resolver: git
        params:
          - {name: revision, value: v1.0.0}
";
    let findings = lint_files(&[("t.yaml", task)], Profile::Konflux);
    let hit: Vec<_> = findings
        .iter()
        .filter(|f| f.rule == "pipeline-taskref-pinned")
        .collect();
    assert_eq!(hit.len(), 1, "{findings:?}");
    assert_eq!((hit[0].line, hit[0].severity), (11, Severity::Error));
    assert!(
        hit[0]
            .message
            .starts_with("step \"fetch\" takes its StepAction"),
        "{hit:?}"
    );

    let beta = "apiVersion: tekton.dev/v1beta1
kind: TaskRun
metadata:
  name: r
spec:
  taskRef:
    name: t
    bundle: quay.io/x/t:1
";
    let found = pinned(beta);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, 8);
}
