//! A matrixed Pipeline task's fan-out, as Tekton computes it: every combination of the matrix
//! params (the first param varying fastest), then `include` entries either added to the
//! combinations they match or appended as combinations of their own.

use std::collections::BTreeMap;

/// One TaskRun's matrix params, sorted by name.
pub type Combination = BTreeMap<String, String>;

/// The combinations of `params` (name, values) and `include` (each a set of name/value pairs).
pub fn fan_out(params: &[(String, Vec<String>)], include: &[Combination]) -> Vec<Combination> {
    if params.is_empty() {
        return include.to_vec();
    }
    let mut combinations: Vec<Combination> = Vec::new();
    for (name, values) in params {
        if combinations.is_empty() {
            combinations = values
                .iter()
                .map(|v| Combination::from([(name.clone(), v.clone())]))
                .collect();
            continue;
        }
        let mut expanded = Vec::new();
        for value in values {
            for combination in &combinations {
                let mut next = combination.clone();
                next.insert(name.clone(), value.clone());
                expanded.push(next);
            }
        }
        combinations = expanded;
    }
    for combination in &mut combinations {
        for extra in include {
            let compatible = extra
                .iter()
                .all(|(name, value)| combination.get(name).is_none_or(|v| v == value));
            if compatible {
                combination.extend(extra.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
    }
    for extra in include {
        let matches_none = !extra.is_empty()
            && combinations.iter().all(|combination| {
                extra
                    .iter()
                    .all(|(name, value)| combination.get(name) != Some(value))
            });
        if matches_none {
            combinations.push(extra.clone());
        }
    }
    combinations
}

#[cfg(test)]
mod tests {
    use super::*;

    fn combo(pairs: &[(&str, &str)]) -> Combination {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_first_param_varies_fastest() {
        let params = vec![
            (
                "platform".to_string(),
                vec!["linux".to_string(), "mac".to_string()],
            ),
            (
                "browser".to_string(),
                vec!["chrome".to_string(), "safari".to_string()],
            ),
        ];
        let got = fan_out(&params, &[]);
        assert_eq!(
            got,
            vec![
                combo(&[("platform", "linux"), ("browser", "chrome")]),
                combo(&[("platform", "mac"), ("browser", "chrome")]),
                combo(&[("platform", "linux"), ("browser", "safari")]),
                combo(&[("platform", "mac"), ("browser", "safari")]),
            ]
        );
    }

    #[test]
    fn include_extends_matching_combinations_or_adds_its_own() {
        let params = vec![(
            "go".to_string(),
            vec!["1.22".to_string(), "1.23".to_string()],
        )];
        let include = vec![
            combo(&[("go", "1.22"), ("flags", "-race")]),
            combo(&[("go", "1.21")]),
            combo(&[("extra", "yes")]),
        ];
        let got = fan_out(&params, &include);
        assert_eq!(
            got[0],
            combo(&[("go", "1.22"), ("flags", "-race"), ("extra", "yes")])
        );
        assert_eq!(got[1], combo(&[("go", "1.23"), ("extra", "yes")]));
        assert_eq!(got[2], combo(&[("go", "1.21")]));
        assert_eq!(got.len(), 3);
        assert_eq!(fan_out(&[], &include[1..2]), vec![combo(&[("go", "1.21")])]);
    }
}
