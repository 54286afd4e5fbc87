//! (being written)

use super::super::{Corpus, RuleOptions};
use super::Located;

pub fn run(_corpus: &Corpus, _options: &RuleOptions, _enabled: &dyn Fn(&str) -> bool) -> Vec<Located> {
    Vec::new()
}
