//! Splitting input: SQL text into `;`-terminated statements, dot-command lines into arguments.
//!
//! ```text
//! SELECT 'a;b' -- c;          ──►  "SELECT 'a;b' -- c;\n..."  (one statement: the `;` inside a
//!   FROM t;                        string and the one in a comment do not end it)
//! ```
//!
//! The splitter knows SQL's lexical states that can hide a `;`, as the SQL parser (sqlparser's
//! generic dialect) reads them: `'string'` (with `''` escapes), `"identifier"` and
//! `` `identifier` `` (a doubled quote escapes itself), `-- line comment` and
//! `/* block comment */`, which nests (`/* a /* b */ ; */` is one comment). Text after the last
//! `;` is kept as the start of the next statement, which is how multi-line statements are
//! entered.

/// Lexical state between calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Normal,
    Single,
    Double,
    Backtick,
    Line,
    /// Inside this many nested block comments (at least 1).
    Block(u32),
}

/// Accumulates SQL text and hands out complete statements.
///
/// ```text
/// buffer.push("SELECT 1;\nSELECT"); buffer.take_complete() == ["SELECT 1;"], pending "SELECT"
/// ```
#[derive(Debug, Default)]
pub struct StatementBuffer {
    text: String,
}

impl StatementBuffer {
    /// Appends a line (a newline is added).
    pub fn push_line(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
    }

    /// Whether nothing but whitespace and comments is pending.
    pub fn is_blank(&self) -> bool {
        !has_code(&self.text)
    }

    /// Removes and returns every complete statement (with its `;`), skipping empty ones.
    pub fn take_complete(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        let mut state = State::Normal;
        let mut start = 0;
        let mut chars = self.text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            let next = chars.peek().map(|&(_, n)| n);
            state = match (state, c) {
                (State::Normal, '\'') => State::Single,
                (State::Normal, '"') => State::Double,
                (State::Normal, '`') => State::Backtick,
                (State::Normal, '-') if next == Some('-') => {
                    chars.next();
                    State::Line
                }
                (State::Normal, '/') if next == Some('*') => {
                    chars.next();
                    State::Block(1)
                }
                (State::Normal, ';') => {
                    let statement = &self.text[start..=i];
                    if has_code(statement) {
                        out.push(statement.trim().to_owned());
                    }
                    start = i + 1;
                    State::Normal
                }
                // A doubled quote is the same quote state left and entered again.
                (State::Single, '\'')
                | (State::Double, '"')
                | (State::Backtick, '`')
                | (State::Line, '\n') => State::Normal,
                (State::Block(depth), '/') if next == Some('*') => {
                    chars.next();
                    State::Block(depth.saturating_add(1))
                }
                (State::Block(depth), '*') if next == Some('/') => {
                    chars.next();
                    match depth {
                        1 => State::Normal,
                        _ => State::Block(depth - 1),
                    }
                }
                (s, _) => s,
            };
        }
        self.text.drain(..start);
        out
    }

    /// Removes and returns what is pending (the last statement of a script may lack its `;`).
    pub fn take_rest(&mut self) -> Option<String> {
        let rest = std::mem::take(&mut self.text);
        has_code(&rest).then(|| rest.trim().to_owned())
    }
}

/// Whether `sql` holds anything but whitespace, comments and `;`.
fn has_code(sql: &str) -> bool {
    let mut rest = sql;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ';');
        if let Some(after) = rest.strip_prefix("--") {
            rest = after.split_once('\n').map_or("", |(_, r)| r);
        } else if rest.starts_with("/*") {
            rest = after_block_comment(rest);
        } else {
            return !rest.is_empty();
        }
    }
}

/// What follows the (nested) block comment that `text` starts with; empty if it does not end.
fn after_block_comment(text: &str) -> &str {
    let mut depth = 0u32;
    let mut chars = text.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match (c, chars.peek().map(|&(_, n)| n)) {
            ('/', Some('*')) => {
                chars.next();
                depth += 1;
            }
            ('*', Some('/')) => {
                if let Some((end, _)) = chars.next() {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return text.get(end + 1..).unwrap_or("");
                    }
                }
            }
            _ => {}
        }
    }
    ""
}

/// Splits a dot-command line into words; `"..."` and `'...'` group words with spaces
/// (`\"` and `\\` escape inside double quotes).
pub fn split_args(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(args);
        };
        let mut word = String::new();
        if first == '"' || first == '\'' {
            chars.next();
            loop {
                match chars.next() {
                    None => return Err(format!("unterminated {first}quote{first}")),
                    Some(c) if c == first => break,
                    Some('\\') if first == '"' => match chars.next() {
                        Some(e) => word.push(e),
                        None => return Err("a backslash ends the line".into()),
                    },
                    Some(c) => word.push(c),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                word.push(c);
            }
        }
        args.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str) -> (Vec<String>, Option<String>) {
        let mut b = StatementBuffer::default();
        b.push_line(text);
        let done = b.take_complete();
        (done, b.take_rest())
    }

    #[test]
    fn statements_end_at_semicolons_outside_strings_and_comments() {
        let (done, rest) = split("SELECT 'a;b', \"c;d\" -- e;\n FROM t; /* ; */ SELECT 2; SELECT");
        assert_eq!(
            done,
            ["SELECT 'a;b', \"c;d\" -- e;\n FROM t;", "/* ; */ SELECT 2;"]
        );
        assert_eq!(rest.as_deref(), Some("SELECT"));
    }

    #[test]
    fn backtick_identifiers_and_nested_comments_hide_semicolons() {
        let (done, rest) =
            split("SELECT 1 AS `a;b`, 2 AS `c``;`; SELECT 1 /* x /* y */ ; */ AS z; SELECT");
        assert_eq!(
            done,
            [
                "SELECT 1 AS `a;b`, 2 AS `c``;`;",
                "SELECT 1 /* x /* y */ ; */ AS z;"
            ]
        );
        assert_eq!(rest.as_deref(), Some("SELECT"));
        // A statement that is only a nested comment is no statement.
        let (done, rest) = split("/* a /* b */ ; */ ; /* c */");
        assert!(done.is_empty(), "{done:?}");
        assert_eq!(rest, None);
    }

    #[test]
    fn escaped_quotes_and_empty_statements() {
        let (done, rest) = split("SELECT 'it''s;'; ; -- only a comment\n");
        assert_eq!(done, ["SELECT 'it''s;';"]);
        assert_eq!(rest, None);
    }

    #[test]
    fn multi_line_statements_accumulate() {
        let mut b = StatementBuffer::default();
        b.push_line("SELECT *");
        assert!(b.take_complete().is_empty());
        assert!(!b.is_blank());
        b.push_line("FROM t;");
        assert_eq!(b.take_complete(), ["SELECT *\nFROM t;"]);
        assert!(b.is_blank());
    }

    #[test]
    fn dot_command_arguments() {
        assert_eq!(
            split_args(r#".put "my key" 'a b' c\"d "e\"f""#).unwrap(),
            [".put", "my key", "a b", "c\\\"d", "e\"f"]
        );
        assert!(split_args(".put \"open").is_err());
    }
}
