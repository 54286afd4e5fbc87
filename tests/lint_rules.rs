//! `task lint` against its fixtures, through the library:
//! - `tests/fixtures/lint/rules/<rule-id>/bad*` (a file or a directory) must report `<rule-id>`,
//!   and `good*` must not. A `# lint: --profile X [--versioning git] [--rule ID=SEVERITY]
//!   [--verbose] [--shellcheck-path PATH]` line in a fixture sets up the run; `# expect-line: N`
//!   lines say on which lines the rule must fire.
//! - `tests/fixtures/lint/valid/*.yaml`: modern, valid Tekton gives no error in the core profile.
//! - `tests/fixtures/lint/golden/*.yaml`: the JSON report equals the `.json` beside it
//!   (`STEPKIT_BLESS=1` rewrites them).
//! - tasks/ and examples/ pass the catalog profile with no error.

use std::path::{Path, PathBuf};

use stepkit::lint::finding::Severity;
use stepkit::lint::{self, report, Config, Profile, Versioning};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lint")
}

/// The first `# lint:` header in the fixture (or in any YAML file of a fixture directory).
fn config_for(fixture: &Path) -> Config {
    let mut config = Config::default();
    let texts: Vec<String> = if fixture.is_dir() {
        walk(fixture)
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect()
    } else {
        // A fixture may be a symlink to nowhere (not-regular-file).
        vec![std::fs::read_to_string(fixture).unwrap_or_default()]
    };
    for line in texts.iter().flat_map(|t| t.lines()) {
        let Some(args) = line.trim().strip_prefix("# lint:") else {
            continue;
        };
        let args: Vec<&str> = args.split_whitespace().collect();
        config.verbose = args.contains(&"--verbose");
        for pair in args.windows(2) {
            match pair[0] {
                "--profile" => config.options.profile = pair[1].parse::<Profile>().unwrap(),
                "--versioning" => {
                    config.options.versioning = if pair[1] == "git" {
                        Versioning::Git
                    } else {
                        Versioning::Directory
                    }
                }
                "--shellcheck-path" => config.options.shellcheck.path = PathBuf::from(pair[1]),
                "--max-file-size" => {
                    config.max_file_size = lint::inputs::parse_size(pair[1]).unwrap()
                }
                "--rule" => {
                    let (id, severity) = pair[1].split_once('=').unwrap();
                    config.set_rule(id, severity).unwrap();
                }
                _ => {}
            }
        }
        break;
    }
    config
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn expected_lines(fixture: &Path) -> Vec<usize> {
    if fixture.is_dir() {
        return Vec::new();
    }
    std::fs::read_to_string(fixture)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().strip_prefix("# expect-line:"))
        .map(|n| n.trim().parse().expect("expect-line takes a line number"))
        .collect()
}

/// The reverse of the test below: no rule of the catalogue goes without a fixture that makes it
/// fire and one that keeps it quiet.
#[test]
fn every_catalogue_rule_has_bad_and_good_fixtures() {
    let mut missing = Vec::new();
    for rule in lint::rules::CATALOGUE {
        let dir = fixtures().join("rules").join(rule.id.as_str());
        let names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        for kind in ["bad", "good"] {
            if !names.iter().any(|n| n.starts_with(kind)) {
                missing.push(format!(
                    "{}: no {kind}* fixture in {}",
                    rule.id,
                    dir.display()
                ));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn every_rule_fixture_fires_on_bad_and_not_on_good() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for rule_dir in std::fs::read_dir(fixtures().join("rules")).unwrap() {
        let rule_dir = rule_dir.unwrap().path();
        let rule = rule_dir.file_name().unwrap().to_string_lossy().to_string();
        assert!(
            lint::rules::find(&rule).is_some(),
            "fixture directory {rule} names no rule"
        );
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&rule_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        let (mut bad, mut good) = (0, 0);
        for fixture in entries {
            let name = fixture.file_name().unwrap().to_string_lossy().to_string();
            let should_fire = if name.starts_with("bad") {
                bad += 1;
                true
            } else if name.starts_with("good") {
                good += 1;
                false
            } else {
                continue;
            };
            checked += 1;
            let config = config_for(&fixture);
            let report = lint::lint(std::slice::from_ref(&fixture), &config).unwrap();
            let hits: Vec<_> = report.findings.iter().filter(|f| f.rule == rule).collect();
            if should_fire && hits.is_empty() {
                problems.push(format!(
                    "{rule}/{name}: expected {rule}, got {:?}",
                    report.findings
                ));
            }
            if !should_fire && !hits.is_empty() {
                problems.push(format!("{rule}/{name}: {rule} must not fire, got {hits:?}"));
            }
            for line in expected_lines(&fixture) {
                if !hits.iter().any(|f| f.line == line) {
                    problems.push(format!(
                        "{rule}/{name}: expected {rule} on line {line}, got {hits:?}"
                    ));
                }
            }
        }
        if bad == 0 || good == 0 {
            problems.push(format!(
                "{rule}: needs at least one bad* and one good* fixture"
            ));
        }
    }
    assert!(checked > 0);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn valid_modern_tekton_has_no_errors_in_the_core_profile() {
    let files = walk(&fixtures().join("valid"));
    assert!(!files.is_empty());
    for file in files {
        let report = lint::lint(std::slice::from_ref(&file), &Config::default()).unwrap();
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", file.display());
        assert!(
            report.documents > 0,
            "{}: no Tekton documents",
            file.display()
        );
    }
}

#[test]
fn golden_json_reports() {
    let bless = std::env::var_os("STEPKIT_BLESS").is_some();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut compared = 0;
    for file in walk(&fixtures().join("golden")) {
        let relative = file.strip_prefix(root).unwrap().to_path_buf();
        let config = config_for(&file);
        let report = lint::lint(std::slice::from_ref(&relative), &config).unwrap();
        // The tool version changes with every release; the findings are what is compared.
        let tool_version = format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION"));
        let actual = report::render(&report, report::Format::Json)
            .replace(&tool_version, "\"version\": \"VERSION\"");
        let expected_path = file.with_extension("json");
        if bless {
            std::fs::write(&expected_path, &actual).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
            panic!(
                "{} missing; run with STEPKIT_BLESS=1",
                expected_path.display()
            )
        });
        assert_eq!(actual, expected, "{}", relative.display());
        compared += 1;
    }
    assert!(compared > 0);
}

#[test]
fn shipped_tasks_examples_and_build_definition_pass_the_catalog_profile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The repository's own config: catalog profile, catalog metadata rules off for examples/
    // and .tekton/. The main job shows no error and no warning; what remains is suppressed in
    // place with a reason.
    let mut config = Config::default();
    config.apply_file(&root.join(".stepkit-lint.yaml")).unwrap();
    assert_eq!(config.options.profile, Profile::Catalog);
    let inputs = [
        root.join("tasks"),
        root.join("examples"),
        root.join(".tekton"),
    ];
    let report = lint::lint(&inputs, &config).unwrap();
    let problems: Vec<_> = report
        .findings
        .iter()
        .filter(|f| matches!(f.severity, Severity::Error | Severity::Warning))
        .collect();
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(report.documents >= 17, "{}", report.documents);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Broken YAML (a truncated file, a line dropped, doubled or re-indented) is reported as
    /// findings at real positions, never a panic.
    #[test]
    fn mangled_definitions_give_findings_not_panics(
        file_index in 0usize..1000,
        cut in 0.0f64..1.0,
        line_pick in 0usize..10_000,
        edit in 0u8..4,
    ) {
        let files = walk(&fixtures().join("valid"));
        let text = std::fs::read_to_string(&files[file_index % files.len()]).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let i = line_pick % lines.len();
        match edit {
            0 => { lines.remove(i); }
            1 => { let copy = lines[i].clone(); lines.insert(i, copy); }
            2 => lines[i] = format!("  {}", lines[i]),
            _ => lines.truncate(((lines.len() as f64) * cut) as usize),
        }
        let mangled = lines.join("\n");
        let line_count = mangled.lines().count().max(1);
        let file = lint::SourceFile::parse(PathBuf::from("mangled.yaml"), mangled);
        let report = lint::lint_files(vec![file], &Config::default());
        for finding in &report.findings {
            proptest::prop_assert!(finding.line >= 1 && finding.line <= line_count + 1, "{finding:?}");
            proptest::prop_assert!(finding.column >= 1, "{finding:?}");
        }
    }
}
