//! The top-level statements of some code as evcxr sees them: rust-analyzer's parser (the one
//! evcxr splits cells with) on the code as a function body, each statement with its byte
//! range in the code, so wrappers copy the user's text verbatim.

use std::ops::Range;

use ra_ap_syntax::ast::{self, HasModuleItem};
use ra_ap_syntax::{AstNode, Edition, SourceFile, SyntaxKind};

/// What a top-level statement is, for the magics that wrap code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// An item (`fn`, `struct`, `use`, …) or an inner attribute: evcxr keeps it for later
    /// cells, so it must stay at the top level.
    Item,
    /// `let`: at the top level evcxr keeps the binding for later cells.
    Let,
    /// Another statement.
    Other,
    /// The final expression (no semicolon): the cell's value.
    Tail,
}

/// One statement and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Statement {
    pub(super) kind: Kind,
    /// Byte range in the code given to [`parse`].
    pub(super) range: Range<usize>,
    /// Whether it uses the `?` operator for the enclosing function (not inside a closure,
    /// an `async` block or a nested `fn` of its own).
    pub(super) question_mark: bool,
}

/// The statements of `code`, or `None` when it does not parse (evcxr then reports the error
/// against the user's text).
pub(super) fn parse(code: &str) -> Option<Vec<Statement>> {
    const PRELUDE: &str = "fn f() {\n";
    let text = format!("{PRELUDE}{code}\n}}");
    let parsed = SourceFile::parse(&text, Edition::Edition2024);
    if !parsed.errors().is_empty() {
        return None;
    }
    let file = parsed.tree();
    let Some(ast::Item::Fn(function)) = file.items().next() else {
        return None;
    };
    let list = function.body()?.stmt_list()?;
    let tail = list.tail_expr().map(|e| e.syntax().clone());
    let mut out = Vec::new();
    for node in list.syntax().children() {
        let kind = if Some(&node) == tail.as_ref() {
            Kind::Tail
        } else if ast::Attr::can_cast(node.kind()) || ast::Item::can_cast(node.kind()) {
            Kind::Item
        } else if ast::LetStmt::can_cast(node.kind()) {
            Kind::Let
        } else {
            Kind::Other
        };
        let range = node.text_range();
        let start = usize::from(range.start()) - PRELUDE.len();
        let end = (usize::from(range.end()) - PRELUDE.len()).min(code.len());
        let question_mark = kind != Kind::Item && uses_question_mark(&node);
        out.push(Statement {
            kind,
            range: start..end,
            question_mark,
        });
    }
    Some(out)
}

/// Whether `node` has a `?` that returns from the function it is a statement of.
fn uses_question_mark(node: &ra_ap_syntax::SyntaxNode) -> bool {
    node.descendants_with_tokens()
        .filter(|e| e.kind() == SyntaxKind::QUESTION)
        .filter_map(|e| e.into_token())
        .any(|token| {
            !token.parent_ancestors().take_while(|a| a != node).any(|a| {
                ast::ClosureExpr::can_cast(a.kind())
                    || ast::Fn::can_cast(a.kind())
                    || ast::BlockExpr::cast(a).is_some_and(|b| {
                        b.async_token().is_some() || b.try_block_modifier().is_some()
                    })
            }) && token
                .parent()
                .is_some_and(|p| ast::TryExpr::can_cast(p.kind()))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(code: &str) -> Vec<(Kind, &str, bool)> {
        parse(code)
            .unwrap()
            .into_iter()
            .map(|s| (s.kind, &code[s.range], s.question_mark))
            .collect()
    }

    #[test]
    fn statements_with_their_text() {
        let code = "use std::fmt;\nfn f() -> u8 { 1 }\nlet x = \"?\".len(); let y = f()?;\n// note\nx + y as usize";
        assert_eq!(
            kinds(code),
            vec![
                (Kind::Item, "use std::fmt;", false),
                (Kind::Item, "fn f() -> u8 { 1 }", false),
                (Kind::Let, "let x = \"?\".len();", false),
                (Kind::Let, "let y = f()?;", true),
                (Kind::Tail, "x + y as usize", false),
            ]
        );
    }

    #[test]
    fn question_marks_of_closures_are_theirs() {
        let code = "let r = (|| -> Option<u8> { Some(1)? ; None })();\nr";
        assert!(kinds(code).iter().all(|(_, _, q)| !q));
        assert_eq!(kinds("x?")[0], (Kind::Tail, "x?", true));
    }

    #[test]
    fn invalid_code_is_none() {
        assert!(parse("let x = ;").is_none());
        assert_eq!(parse("").unwrap(), vec![]);
    }
}
