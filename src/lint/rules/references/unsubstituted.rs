//! substitution-in-unsupported-field: a `$(params…)` or `$(context…)` where Tekton never
//! substitutes, which stays literal text.

use super::*;

pub(super) fn report_unsubstituted(
    path: &FieldPath,
    text: &str,
    reference: &Reference,
    sink: &mut Sink,
) {
    sink.report(
        RuleId::SubstitutionInUnsupportedField,
        reference.location(path, text),
        format!(
            "Tekton does not substitute variables in {path}, so $({}) stays literal text here; \
             write the value itself, or move it to a field Tekton substitutes (env, args, script)",
            reference.expression
        ),
    );
}

/// `$(params…)` or `$(context…)` in the document's labels or annotations.
pub(super) fn report_metadata_references(root: &Node, sink: &mut Sink) {
    let Some(metadata) = root.get("metadata") else {
        return;
    };
    let path = FieldPath::root().field("metadata");
    for field in ["labels", "annotations"] {
        let Some(map) = metadata.get(field) else {
            continue;
        };
        walk_strings(map, &path.field(field), &mut |path, _, text| {
            for reference in references(text) {
                if param_segments(&reference).is_some() || reference.root() == "context" {
                    report_unsubstituted(path, text, &reference, sink);
                }
            }
        });
    }
}
