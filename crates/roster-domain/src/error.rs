use thiserror::Error;

/// A request value that does not parse. It names the field so the client can fix it
/// (`{"status":"error","message":..,"field":..}` in the contract's conventions).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct InputError {
    pub field: String,
    pub message: String,
}

impl InputError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
