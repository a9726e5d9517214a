//! A small reader of SOQL conditions (`[board.migration] where`): enough to refuse an unbalanced
//! condition and to find the field names it uses, so that they are checked against the describe.

/// Keywords and literals of a SOQL condition that are not field names.
const WORDS: &[&str] = &[
    "AND", "OR", "NOT", "IN", "LIKE", "NULL", "TRUE", "FALSE", "INCLUDES", "EXCLUDES",
];

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Other,
}

fn tokens(src: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth: i32 = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err("a quoted string is not closed".into()),
                    Some('\\') => i += 2,
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
            out.push(Tok::Other);
        } else if c == '(' || c == ')' {
            depth += if c == '(' { 1 } else { -1 };
            if depth < 0 {
                return Err("a `)` has no matching `(`".into());
            }
            i += 1;
            out.push(Tok::Other);
        } else if c.is_ascii_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // `LAST_N_DAYS:30`: a date literal, not a field.
            if chars.get(i) == Some(&':') {
                i += 1;
                while i < chars.len() && chars[i].is_ascii_digit() {
                    i += 1;
                }
                out.push(Tok::Other);
            } else {
                out.push(Tok::Ident(word));
            }
        } else if c.is_ascii_digit() || c == '-' || c == '+' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "-+:.".contains(chars[i]))
            {
                i += 1;
            }
            out.push(Tok::Other);
        } else if "=<>!,".contains(c) {
            i += 1;
            out.push(Tok::Other);
        } else {
            return Err(format!("unexpected character `{c}`"));
        }
    }
    if depth != 0 {
        return Err("a `(` is not closed".into());
    }
    Ok(out)
}

fn is_date_literal(word: &str) -> bool {
    // TODAY, YESTERDAY, THIS_MONTH, LAST_90_DAYS, … are upper case with underscores.
    word.len() > 2
        && word
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && matches!(
            word,
            "TODAY"
                | "YESTERDAY"
                | "TOMORROW"
                | "LAST_WEEK"
                | "THIS_WEEK"
                | "NEXT_WEEK"
                | "LAST_MONTH"
                | "THIS_MONTH"
                | "NEXT_MONTH"
                | "LAST_90_DAYS"
                | "NEXT_90_DAYS"
                | "THIS_QUARTER"
                | "LAST_QUARTER"
                | "NEXT_QUARTER"
                | "THIS_YEAR"
                | "LAST_YEAR"
                | "NEXT_YEAR"
                | "THIS_FISCAL_QUARTER"
                | "THIS_FISCAL_YEAR"
        )
}

/// Refuses conditions that cannot be a SOQL `WHERE` clause (unbalanced quotes or parentheses,
/// characters SOQL has no use for, a `;` that would end the statement, no comparison at all).
pub fn check_syntax(src: &str) -> Result<(), String> {
    let toks = tokens(src)?;
    if fields(src)?.is_empty() {
        return Err("the condition compares no field".into());
    }
    if toks.is_empty() {
        return Err("empty condition".into());
    }
    Ok(())
}

/// The field names a condition uses (relationship paths such as `Account.Name` are left out:
/// only the object's own fields are checked against its describe).
pub fn fields(src: &str) -> Result<Vec<String>, String> {
    let mut out: Vec<String> = Vec::new();
    for t in tokens(src)? {
        if let Tok::Ident(w) = t {
            if WORDS.iter().any(|k| k.eq_ignore_ascii_case(&w)) || is_date_literal(&w) {
                continue;
            }
            if w.contains('.') {
                continue;
            }
            if !out.iter().any(|o| o.eq_ignore_ascii_case(&w)) {
                out.push(w);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_and_skips_literals() {
        assert_eq!(
            fields("IsDeleted = false AND (Type IN ('A', 'B') OR CreatedDate > LAST_N_DAYS:30) AND CloseDate < TODAY AND Account.Name LIKE 'x%'").unwrap(),
            vec!["IsDeleted", "Type", "CreatedDate", "CloseDate"]
        );
        assert_eq!(
            fields("Amount > 100.5 AND CreatedDate > 2020-01-01T00:00:00Z").unwrap(),
            vec!["Amount", "CreatedDate"]
        );
    }

    #[test]
    fn refuses_broken_conditions() {
        assert!(check_syntax("Name = 'x").is_err());
        assert!(check_syntax("(Name = 'x'").is_err());
        assert!(check_syntax("Name = 'x')").is_err());
        assert!(check_syntax("Name = 'x'; DELETE").is_err());
        assert!(check_syntax("TRUE").is_err());
        assert!(check_syntax("Name != 'it\\'s'").is_ok());
    }
}
