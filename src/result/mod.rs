//! `stepkit result`: the Konflux test-stream results (TEST_OUTPUT, SCAN_OUTPUT,
//! IMAGES_PROCESSED): writing them from counts or tool outputs, and validating them.

pub mod convert;
pub mod emit;
pub mod test_output;
pub mod validate;

pub use emit::{emit, EmitOptions, Emitted};
pub use validate::{validate, Validation};
