//! Errors as one line of text, for logs.

/// An error and its causes on one line (our errors' `Display` never repeats the source).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// What a handler (of outcome events, of inbound events) returns when it could not take an
/// event: the event is offered again later.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;
