//! Reply contents that need no session: `kernel_info_reply`, `shutdown_reply`, and the
//! cursor conversions of completion and inspection requests.

use serde_json::{Value, json};

use crate::message::Message;

/// The `shutdown_reply` content.
pub(super) fn shutdown_content(msg: &Message) -> Value {
    let restart = msg
        .content
        .get("restart")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    json!({ "status": "ok", "restart": restart })
}

/// The `kernel_info_reply` content.
pub(super) fn kernel_info() -> Value {
    json!({
        "status": "ok",
        "protocol_version": crate::message::PROTOCOL_VERSION,
        "implementation": "paralelo-kernel",
        "implementation_version": env!("CARGO_PKG_VERSION"),
        "language_info": {
            "name": "rust",
            "version": rustc_version(),
            "mimetype": "text/rust",
            "file_extension": ".rs",
            "pygments_lexer": "rust",
            "codemirror_mode": "rust",
            "nbconvert_exporter": "rust",
        },
        "banner": format!(
            "paralelo-kernel {}: Rust (evcxr) with paralelo preloaded. %lsmagic lists the magics, :help the evcxr commands.",
            env!("CARGO_PKG_VERSION")
        ),
        "help_links": [],
        "debugger": false,
    })
}

fn rustc_version() -> String {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION
        .get_or_init(|| {
            std::process::Command::new("rustc")
                .arg("--version")
                .output()
                .ok()
                .and_then(|o| String::from_utf8(o.stdout).ok())
                .and_then(|s| s.split_whitespace().nth(1).map(str::to_owned))
                .unwrap_or_default()
        })
        .clone()
}

pub(super) fn code_and_cursor(content: &Value) -> (String, usize) {
    let code = content
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let pos = content
        .get("cursor_pos")
        .and_then(Value::as_u64)
        .map(|p| p as usize)
        .unwrap_or_else(|| code.chars().count());
    (code, pos)
}

/// Jupyter counts cursor positions in characters (code points); evcxr in bytes.
pub(super) fn char_to_byte(text: &str, chars: usize) -> usize {
    text.char_indices()
        .nth(chars)
        .map(|(b, _)| b)
        .unwrap_or(text.len())
}

pub(super) fn byte_to_char(text: &str, byte: usize) -> usize {
    match text.get(..byte) {
        Some(prefix) => prefix.chars().count(),
        None => text.chars().count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_conversions() {
        let s = "é = 1";
        assert_eq!(char_to_byte(s, 1), 2);
        assert_eq!(byte_to_char(s, 2), 1);
        assert_eq!(char_to_byte(s, 99), s.len());
    }

    #[test]
    fn kernel_info_names_rust() {
        let info = kernel_info();
        assert_eq!(info["language_info"]["name"], "rust");
        assert_eq!(info["language_info"]["file_extension"], ".rs");
    }
}
