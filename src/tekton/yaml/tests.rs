//! The reader against the forms go-yaml (so Kubernetes) accepts, the positions it reports and
//! the budgets it keeps.

use super::*;
use serde_json::json;

fn json_of(src: &str) -> serde_json::Value {
    let stream = parse_stream(src);
    assert!(stream.error.is_none(), "{src:?}: {:?}", stream.error);
    stream.documents[0].root.to_json()
}

/// The position of the first occurrence of `needle` in a scalar's value.
fn position_of(src: &str, path: &[&str], needle: &str) -> Pos {
    let stream = parse_stream(src);
    let mut node = &stream.documents[0].root;
    for key in path {
        node = match key.parse::<usize>() {
            Ok(i) => &node.as_seq().unwrap()[i],
            Err(_) => node.get(key).unwrap(),
        };
    }
    let text = node.as_str().unwrap();
    let at = text.find(needle).unwrap();
    let line = text[..at].matches('\n').count();
    let column = text[..at].rsplit('\n').next().unwrap().chars().count();
    node.position_in_scalar(src, line, column)
}

/// Where `needle` is in the source: its nth (0-based) occurrence.
fn source_pos(src: &str, needle: &str, nth: usize) -> Pos {
    let at = src.match_indices(needle).nth(nth).unwrap().0;
    Pos {
        line: 1 + src[..at].matches('\n').count(),
        column: 1 + src[..at].rsplit('\n').next().unwrap().chars().count(),
    }
}

#[test]
fn positions_are_one_based_and_point_at_values() {
    let stream = parse_stream("kind: Task\nspec:\n  steps:\n    - name: a\n      image: alpine\n");
    let root = &stream.documents[0].root;
    let step = &root
        .get("spec")
        .unwrap()
        .get("steps")
        .unwrap()
        .as_seq()
        .unwrap()[0];
    assert_eq!(step.pos, Pos { line: 4, column: 7 });
    let image = step.get("image").unwrap();
    assert_eq!(
        image.pos,
        Pos {
            line: 5,
            column: 14
        }
    );
    assert_eq!(
        &"kind: Task\nspec:\n  steps:\n    - name: a\n      image: alpine\n"
            [image.span.start..image.span.end],
        "alpine"
    );
}

#[test]
fn a_flow_sequence_may_close_at_its_keys_indentation() {
    let src = "spec:\n  args: [\n    \"hello\",\n    world\n  ]\n  next: 1\n";
    assert_eq!(
        json_of(src),
        json!({"spec": {"args": ["hello", "world"], "next": 1}})
    );
    let src = "params:\n- name: p\n  value: {\n    a: 1,\n    b: [x,\n  z]\n}\n";
    assert_eq!(
        json_of(src),
        json!({"params": [{"name": "p", "value": {"a": 1, "b": ["x", "z"]}}]})
    );
}

#[test]
fn forms_go_yaml_accepts() {
    // indentless sequences
    assert_eq!(
        json_of("steps:\n- a\n- b\nx: 1\n"),
        json!({"steps": ["a", "b"], "x": 1})
    );
    // tabs inside scalars and after values
    assert_eq!(
        json_of("a: x\ty\nb: \"t\\tu\"\t\n"),
        json!({"a": "x\ty", "b": "t\tu"})
    );
    // multi-line plain scalars fold
    assert_eq!(
        json_of("a: one\n  two\n\n  three\n"),
        json!({"a": "one two\nthree"})
    );
    // document markers, comments, an empty document
    let stream = parse_stream("# c\n---\na: 1\n...\n---\n---\nb: 2\n");
    assert!(stream.error.is_none());
    assert_eq!(stream.documents.len(), 3);
    assert!(stream.documents[1].root.is_null());
    // a byte order mark, and CRLF line ends
    assert_eq!(
        json_of("\u{feff}a: 1\r\nb: |\r\n  x\r\n  y\r\n"),
        json!({"a": 1, "b": "x\ny\n"})
    );
    // merge keys, aliases
    assert_eq!(
        json_of("base: &b {x: 1, y: 2}\nuse:\n  <<: *b\n  y: 3\nlist: &l [1]\nagain: *l\n")["use"],
        json!({"y": 3, "x": 1})
    );
    // YAML 1.1 scalars as go-yaml v2 reads them
    assert_eq!(
        json_of("a: yes\nb: 'yes'\nc: 0777\nd: ~\ne: 1.5\nf: 0.1.0\ng: on\n"),
        json!({"a": true, "b": "yes", "c": 511, "d": null, "e": 1.5, "f": "0.1.0", "g": true})
    );
}

#[test]
fn a_bom_and_crlf_keep_positions_exact() {
    let src = "\u{feff}a: 1\r\nscript: |\r\n  echo one\r\n  echo two\r\n";
    let stream = parse_stream(src);
    let root = &stream.documents[0].root;
    assert_eq!(root.get("a").unwrap().pos, Pos { line: 1, column: 4 });
    assert_eq!(
        position_of(src, &["script"], "two"),
        Pos { line: 4, column: 8 }
    );
}

#[test]
fn block_scalar_lines_map_onto_the_source() {
    let src = "script: |\n  #!/bin/sh\n  echo $(params.x)\n";
    let stream = parse_stream(src);
    let script = stream.documents[0].root.get("script").unwrap();
    assert_eq!(script.as_str(), Some("#!/bin/sh\necho $(params.x)\n"));
    assert_eq!(script.pos, Pos { line: 2, column: 3 });
    assert_eq!(
        script.position_in_scalar(src, 1, 5),
        Pos { line: 3, column: 8 }
    );
}

#[test]
fn folded_scalars_map_through_their_folding() {
    let src = "steps:\n- script: >\n    kubectl config set-cluster x\n    --server=$(params.url)\n    --token=$(params.token)\n\n    echo done\n";
    for (needle, nth) in [("$(params.url)", 0), ("$(params.token)", 0), ("done", 0)] {
        assert_eq!(
            position_of(src, &["steps", "0", "script"], needle),
            source_pos(src, needle, nth),
            "{needle}"
        );
    }
}

#[test]
fn multi_line_quoted_and_plain_scalars_map_exactly() {
    let src = "a: \"first line \\\n  $(params.x) and \\\"q\\\"\n  $(params.y)\"\nb: 'it''s\n  $(params.z)'\nc: plain\n   $(params.w) end\n";
    assert_eq!(
        position_of(src, &["a"], "$(params.x)"),
        source_pos(src, "$(params.x)", 0)
    );
    assert_eq!(
        position_of(src, &["a"], "$(params.y)"),
        source_pos(src, "$(params.y)", 0)
    );
    assert_eq!(
        position_of(src, &["b"], "$(params.z)"),
        source_pos(src, "$(params.z)", 0)
    );
    assert_eq!(
        position_of(src, &["c"], "$(params.w)"),
        source_pos(src, "$(params.w)", 0)
    );
    assert_eq!(position_of(src, &["c"], "end"), source_pos(src, "end", 0));
}

#[test]
fn a_syntax_error_keeps_earlier_documents_and_reports_where() {
    let stream = parse_stream("a: 1\n---\nb: [1, 2\n");
    assert_eq!(stream.documents.len(), 1);
    let error = stream.error.unwrap();
    assert_eq!(error.kind, ErrorKind::Syntax);
    assert!(error.pos.line >= 3, "{error:?}");
}

#[test]
fn duplicate_keys_are_recorded() {
    let stream = parse_stream("a: 1\nb: 2\na: 3\n");
    let dups = &stream.documents[0].duplicate_keys;
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].key, "a");
    assert_eq!(dups[0].pos.line, 3);
}

/// Nine levels of nine aliases: 9^9 nodes if expanded.
fn billion_laughs() -> String {
    let mut src = String::from(
        "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for level in 1..=8 {
        let prev = format!("*a{}", level - 1);
        let items = [prev.as_str(); 9].join(",");
        src.push_str(&format!("a{level}: &a{level} [{items}]\n"));
    }
    src
}

#[test]
fn alias_bombs_stop_with_a_limit_error() {
    let stream = parse_stream(&billion_laughs());
    let error = stream.error.expect("refused");
    assert_eq!(error.kind, ErrorKind::Limit);
    assert!(
        error.message.contains("excessive aliasing"),
        "{}",
        error.message
    );
    // Ordinary reuse is fine.
    let ok = "base: &b {x: 1}\n".to_string()
        + &(0..200).map(|i| format!("k{i}: *b\n")).collect::<String>();
    assert!(parse_stream(&ok).error.is_none());
}

#[test]
fn nesting_bombs_stop_with_a_limit_error() {
    let src = "[".repeat(100_000);
    let error = parse_stream(&src).error.expect("refused");
    assert_eq!(error.kind, ErrorKind::Limit);
    let shallow = "a: ".to_string() + &"[".repeat(50) + &"]".repeat(50);
    assert!(parse_stream(&shallow).error.is_none());
    let limited = parse_stream_with(&shallow, &Limits { max_depth: 10 });
    assert_eq!(limited.error.unwrap().kind, ErrorKind::Limit);
}

#[test]
fn files_may_end_anywhere() {
    assert_eq!(json_of("a: |\n  x"), json!({"a": "x"}));
    assert_eq!(json_of("- >\n  a\n  b"), json!(["a b"]));
    for truncated in ["a: \"x\\", "a: 'x", "a: [1,", "a: {b", "\"\\u12"] {
        let stream = parse_stream(truncated);
        assert_eq!(
            stream.error.map(|e| e.kind),
            Some(ErrorKind::Syntax),
            "{truncated:?}"
        );
    }
    let control = parse_stream("a: 1\nb: x\u{1}y\n");
    assert_eq!(control.error.unwrap().pos.line, 2);
}

#[test]
fn typed_reading_of_whole_files() {
    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Config {
        name: String,
        enabled: bool,
    }
    let config: Config = from_str("name: x\nenabled: yes\n").unwrap();
    assert_eq!(
        config,
        Config {
            name: "x".into(),
            enabled: true
        }
    );
    let empty: serde_json::Value = from_str("").unwrap();
    assert!(empty.is_null());
    let error = from_str::<Config>("name: x\nname: y\n").unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 2, column 1: key \"name\" appears twice in one mapping"
    );
    let error = from_str::<Config>("name: [x\n").unwrap_err();
    assert!(error.to_string().starts_with("line 2"), "{error}");
    let error = from_str::<Config>("name: x\nenabled: 5\n").unwrap_err();
    assert!(
        error.to_string().starts_with("enabled: invalid type"),
        "{error}"
    );
    let all: Vec<serde_json::Value> = from_str_all("a: 1\n---\nb: 2\n").unwrap();
    assert_eq!(all.len(), 2);
}
