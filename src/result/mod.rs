//! `stepkit result`: the Konflux test-stream results.

pub mod convert;
pub mod test_output;
