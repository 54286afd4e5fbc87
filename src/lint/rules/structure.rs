//! (being written)

use super::{Check, Sink};

pub fn check(_check: &Check, _sink: &mut Sink) {}

pub fn duplicates(_corpus: &super::super::Corpus, _options: &super::super::RuleOptions, _enabled: &dyn Fn(&str) -> bool) -> Vec<super::Located> {
    Vec::new()
}
