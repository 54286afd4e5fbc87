//! duplicate-resource (rule 69): the same kind and name twice in a file or a directory.

use super::*;

// ---- duplicate-resource -----------------------------------------------------------------------

/// The same kind, namespace and name twice in one directory: applying the directory keeps only
/// the last one. The same name in another directory (another version) is fine.
pub fn duplicates(
    corpus: &Corpus,
    _options: &RuleOptions,
    enabled: &dyn Fn(&str) -> bool,
) -> Vec<Located> {
    if !enabled(RuleId::DuplicateResource.as_str()) {
        return Vec::new();
    }
    let mut first_seen = HashMap::new();
    let mut found = Vec::new();
    for (index, doc) in corpus.docs.iter().enumerate() {
        let name = doc.name();
        if name.is_empty() {
            continue;
        }
        let namespace = doc.metadata.namespace.as_deref().unwrap_or("");
        let key = (
            corpus.file(doc).dir(),
            doc.raw_kind.as_str(),
            namespace,
            name,
        );
        let Some(&first) = first_seen.get(&key) else {
            first_seen.insert(key, index);
            continue;
        };
        let first = &corpus.docs[first];
        // In one file, the second `kubectl apply`s over the first: it cannot work as written.
        // In two files of a directory, each may be applied on its own (examples are): policy.
        let (severity, message) = if first.file == doc.file {
            (
                Some(Severity::Error),
                format!(
                    "{} {name:?} is also defined at line {} of this file; applying the file keeps only one, so rename or remove one",
                    doc.raw_kind,
                    name_line(first)
                ),
            )
        } else {
            (
                None,
                format!(
                    "{} {name:?} is also defined at {}:{}; applied together one replaces the other, so rename or remove one",
                    doc.raw_kind,
                    corpus.file(first).display_path(),
                    name_line(first)
                ),
            )
        };
        let location = Location::Field(FieldPath::root().field("metadata").field("name"));
        found.push((
            doc.file,
            Some(index),
            Diagnostic {
                rule: RuleId::DuplicateResource,
                message,
                location,
                severity,
            },
        ));
    }
    found
}

fn name_line(doc: &TektonDoc) -> usize {
    doc.root
        .get("metadata")
        .and_then(|m| m.get("name"))
        .map_or(doc.root.pos.line, |n| n.pos.line)
}
