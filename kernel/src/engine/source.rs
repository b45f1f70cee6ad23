//! A cell's code as sent to evcxr, with the origin of each of its lines, so that a compile
//! error points at what the user wrote (line, column, text), never at code the kernel added.
//!
//! The kernel adds code around a cell (the interrupt hook, the timing magics' wrappers) only
//! as whole lines of its own and copies the user's text verbatim; a user line may be split
//! where a statement starts, which the column shift records.

use std::ops::Range;

/// Where one line of the code sent to evcxr came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Origin {
    /// The user's line, 0-based.
    line: usize,
    /// The user's column (in characters, 0-based) of this line's first character.
    column: usize,
}

/// Code for evcxr plus, for each of its lines, the user's line it copies (or none).
#[derive(Debug, Clone)]
pub(crate) struct CellSource {
    code: String,
    origins: Vec<Option<Origin>>,
    user: String,
}

impl CellSource {
    /// An empty code to build from pieces of `user`.
    pub(crate) fn new(user: &str) -> CellSource {
        CellSource {
            code: String::new(),
            origins: Vec::new(),
            user: user.to_owned(),
        }
    }

    /// The user's code sent as it is.
    pub(crate) fn plain(user: &str) -> CellSource {
        let mut source = CellSource::new(user);
        source.push_user(0..user.len());
        source
    }

    /// The code to send.
    pub(crate) fn code(&self) -> &str {
        &self.code
    }

    /// Starts a new line unless the code is empty or already ends one.
    fn end_line(&mut self) {
        if !self.code.is_empty() && !self.code.ends_with('\n') {
            self.code.push('\n');
        }
    }

    /// Appends the user's text at `range` (byte offsets into the user's code), on a line of
    /// its own.
    pub(crate) fn push_user(&mut self, range: Range<usize>) {
        if range.is_empty() {
            return;
        }
        self.end_line();
        let text = &self.user[range.clone()];
        let before = &self.user[..range.start];
        let line = before.matches('\n').count();
        let column = before
            .rsplit_once('\n')
            .map_or(before, |(_, last)| last)
            .chars()
            .count();
        for (i, _) in text.split_inclusive('\n').enumerate() {
            let column = if i == 0 { column } else { 0 };
            self.origins.push(Some(Origin {
                line: line + i,
                column,
            }));
        }
        self.code.push_str(text);
    }

    /// Appends generated code, as whole lines.
    pub(crate) fn push_generated(&mut self, text: &str) {
        self.end_line();
        for line in text.lines() {
            self.code.push_str(line);
            self.code.push('\n');
            self.origins.push(None);
        }
    }

    /// Inserts one generated line before line `index` (0-based) of the code.
    pub(crate) fn insert_generated_line(&mut self, index: usize, text: &str) {
        let at: usize = self
            .code
            .split_inclusive('\n')
            .take(index)
            .map(str::len)
            .sum();
        self.code.insert_str(at, &format!("{text}\n"));
        self.origins.insert(index.min(self.origins.len()), None);
    }

    /// The user's (1-based) line and the column shift for line `line` (1-based) of the code,
    /// when that line is the user's.
    pub(crate) fn user_position(&self, line: usize, column: usize) -> Option<(usize, usize)> {
        let origin = (*self.origins.get(line.checked_sub(1)?)?)?;
        Some((origin.line + 1, column + origin.column))
    }

    /// The user's line `line` (1-based).
    pub(crate) fn user_line(&self, line: usize) -> Option<&str> {
        self.user.lines().nth(line.checked_sub(1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_map_back_to_the_users() {
        let user = "let a = 1; a +\n  2\n// done";
        let tail = user.find("a +").unwrap();
        let mut s = CellSource::new(user);
        s.push_generated("start();");
        s.push_user(0..tail);
        s.push_generated("wrap(");
        s.push_user(tail..user.len());
        s.push_generated(")");
        assert_eq!(
            s.code(),
            "start();\nlet a = 1; \nwrap(\na +\n  2\n// done\n)\n"
        );
        assert_eq!(s.user_position(1, 1), None);
        assert_eq!(s.user_position(2, 5), Some((1, 5)));
        // `a` of `a +` is column 1 of code line 4, column 12 of the user's line 1.
        assert_eq!(s.user_position(4, 1), Some((1, 12)));
        assert_eq!(s.user_position(5, 3), Some((2, 3)));
        assert_eq!(s.user_line(2), Some("  2"));
        s.insert_generated_line(1, "hook();");
        assert!(s.code().starts_with("start();\nhook();\nlet a"));
        assert_eq!(s.user_position(3, 5), Some((1, 5)));
    }

    #[test]
    fn plain_is_the_identity() {
        let s = CellSource::plain("x\ny");
        assert_eq!(s.code(), "x\ny");
        assert_eq!(s.user_position(2, 1), Some((2, 1)));
    }
}
