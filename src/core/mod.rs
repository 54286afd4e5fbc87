//! Machinery every command shares and that knows no command.

pub mod duration;
pub mod error;
pub mod glob;
pub mod http;
pub mod image_ref;
pub mod input;
pub mod logging;
pub mod plural;
pub mod poll;
pub mod progress;
pub mod retry;
pub mod secret;
pub mod tekton;
pub mod timestamp;
