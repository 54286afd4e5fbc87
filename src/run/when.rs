//! `when` expressions once substituted: `input` `in` or `notin` `values`, all of which must hold.
//! CEL expressions are refused where they are read.

use crate::tekton::model::WhenExpression;

/// Whether every expression allows execution; `Err` for an operator Tekton does not have.
pub fn allows(expressions: &[WhenExpression]) -> Result<bool, String> {
    for expression in expressions {
        if let Some(cel) = &expression.cel {
            return Err(format!(
                "a CEL when expression ({cel:?}) is not supported by stepkit task run yet"
            ));
        }
        let input = text(expression.input.as_ref());
        let values: Vec<String> = expression
            .values
            .iter()
            .flatten()
            .map(|v| text(Some(v)))
            .collect();
        let contained = values.contains(&input);
        let holds = match expression.operator.as_deref().unwrap_or("") {
            "in" => contained,
            "notin" => !contained,
            other => {
                return Err(format!(
                    "when operator {other:?}: Tekton accepts in and notin"
                ))
            }
        };
        if !holds {
            return Ok(false);
        }
    }
    Ok(true)
}

fn text(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// The `input in [values]` text of an expression, for messages.
pub fn describe(expressions: &[WhenExpression]) -> String {
    expressions
        .iter()
        .map(|e| {
            format!(
                "{:?} {} {:?}",
                text(e.input.as_ref()),
                e.operator.as_deref().unwrap_or(""),
                e.values
                    .iter()
                    .flatten()
                    .map(|v| text(Some(v)))
                    .collect::<Vec<_>>()
            )
        })
        .collect::<Vec<_>>()
        .join(" and ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn when(input: &str, operator: &str, values: &[&str]) -> WhenExpression {
        serde_json::from_value(json!({"input": input, "operator": operator, "values": values}))
            .unwrap()
    }

    #[test]
    fn in_and_notin_all_must_hold() {
        assert_eq!(allows(&[when("a", "in", &["a", "b"])]), Ok(true));
        assert_eq!(allows(&[when("a", "notin", &["a"])]), Ok(false));
        assert_eq!(
            allows(&[when("a", "in", &["a"]), when("x", "in", &["y"])]),
            Ok(false)
        );
        assert!(allows(&[when("a", "equals", &["a"])]).is_err());
    }
}
