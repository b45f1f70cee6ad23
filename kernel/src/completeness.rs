//! `is_complete`: is a cell ready to run, does it need more lines, or can it never parse?
//!
//! Magic and evcxr command lines are set aside; the rest is scanned for open delimiters,
//! strings and comments, then parsed by `syn` as the statements of a block. Unclosed
//! delimiters or a parse error at the very end mean "incomplete"; a stray closing delimiter
//! or a parse error elsewhere means "invalid".

/// The answer to `is_complete_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Completeness {
    Complete,
    Incomplete,
    Invalid,
}

impl Completeness {
    /// The protocol's status string.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Completeness::Complete => "complete",
            Completeness::Incomplete => "incomplete",
            Completeness::Invalid => "invalid",
        }
    }
}

/// Classifies `code`.
pub(crate) fn is_complete(code: &str) -> Completeness {
    let trimmed = code.trim_start();
    if trimmed.starts_with("%%") {
        // A cell magic takes the whole cell; judge its body.
        let body = trimmed.split_once('\n').map(|(_, b)| b).unwrap_or("");
        return is_complete(body);
    }
    let rust: String = code
        .lines()
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with('%') || l.starts_with(':'))
        })
        .collect::<Vec<_>>()
        .join("\n");
    match scan(&rust) {
        Scan::Unbalanced => return Completeness::Invalid,
        Scan::Open => return Completeness::Incomplete,
        Scan::Balanced => {}
    }
    if rust.trim().is_empty() {
        return Completeness::Complete;
    }
    match syn::parse_str::<BlockBody>(&rust) {
        Ok(_) => Completeness::Complete,
        Err(e) => {
            // syn reports "unexpected end of input" when more tokens would have helped.
            if e.to_string().contains("end of input") {
                Completeness::Incomplete
            } else {
                Completeness::Invalid
            }
        }
    }
}

/// The statements of a block, without its braces.
struct BlockBody;

impl syn::parse::Parse for BlockBody {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        syn::Block::parse_within(input)?;
        Ok(BlockBody)
    }
}

enum Scan {
    Balanced,
    Open,
    Unbalanced,
}

/// Tracks delimiters outside strings, chars and comments.
fn scan(code: &str) -> Scan {
    let chars: Vec<char> = code.chars().collect();
    let mut stack = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 1;
                i += 2;
                while depth > 0 {
                    match (chars.get(i), chars.get(i + 1)) {
                        (None, _) => return Scan::Open,
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                        }
                        (Some('/'), Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        _ => i += 1,
                    }
                }
                continue;
            }
            'r' if matches!(next, Some('#') | Some('"')) && (i == 0 || !is_ident(chars[i - 1])) => {
                let mut hashes = 0;
                let mut j = i + 1;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) == Some(&'"') {
                    j += 1;
                    loop {
                        match chars.get(j) {
                            None => return Scan::Open,
                            Some('"') if (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) => {
                                i = j + hashes;
                                break;
                            }
                            _ => j += 1,
                        }
                    }
                }
            }
            '"' => {
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Scan::Open,
                        Some('\\') => i += 2,
                        Some('"') => break,
                        _ => i += 1,
                    }
                }
            }
            '\'' => {
                // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
                if next == Some('\\') {
                    let mut j = i + 2;
                    while j < chars.len() && chars[j] != '\'' {
                        j += 1;
                    }
                    i = j;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 2;
                }
            }
            '(' | '[' | '{' => stack.push(c),
            ')' | ']' | '}' => {
                let open = match c {
                    ')' => '(',
                    ']' => '[',
                    _ => '{',
                };
                if stack.pop() != Some(open) {
                    return Scan::Unbalanced;
                }
            }
            _ => {}
        }
        i += 1;
    }
    if stack.is_empty() {
        Scan::Balanced
    } else {
        Scan::Open
    }
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::Completeness::*;
    use super::*;

    #[test]
    fn answers() {
        for code in [
            "1 + 1",
            "let x = 1;",
            "fn f() {}\nf()",
            "let s = \"}\";",
            "let c = '{';",
            "fn f<'a>(x: &'a str) -> &'a str { x }",
            "// {\n1",
            "let r = r#\"{\"#;",
            ":dep rand\nlet x = 2;",
            "%%time\nlet x = 3;",
            "%lsmagic",
            "",
        ] {
            assert_eq!(is_complete(code), Complete, "{code:?}");
        }
        for code in [
            "fn f() {",
            "let x = (1,",
            "let s = \"abc",
            "/* open",
            "let x = 1 +",
            "let x =",
        ] {
            assert_eq!(is_complete(code), Incomplete, "{code:?}");
        }
        for code in ["fn f() }", "let x = 1 )", "let = = 3;", "1 2 3"] {
            assert_eq!(is_complete(code), Invalid, "{code:?}");
        }
    }
}
