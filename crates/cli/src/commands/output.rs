//! How the user commands print: `--output table` (aligned columns for people) or `--output json`
//! (the API's JSON, pretty-printed, for scripts).

use serde_json::Value;

/// `--output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// The API's JSON.
    Json,
}

/// The longest cell a table shows (longer text is cut with `…`; `--output json` has it whole).
pub const MAX_CELL_CHARS: usize = 120;

/// Prints `value` as pretty JSON on stdout.
pub fn print_json(value: &Value) {
    println!("{}", json_text(value));
}

/// `value` as pretty JSON.
pub fn json_text(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// A field of an API object as a cell: strings as they are, numbers and booleans as JSON,
/// `-` for null or missing.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => clean(s),
        other => clean(&other.to_string()),
    }
}

/// Text from the API made safe for a terminal (control characters, escape sequences included,
/// shown as `?`) and cut to [`MAX_CELL_CHARS`].
pub fn clean(text: &str) -> String {
    let mut out: String = text
        .chars()
        .take(MAX_CELL_CHARS)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if text.chars().count() > MAX_CELL_CHARS {
        out.pop();
        out.push('…');
    }
    out
}

/// Rows under headers, each column as wide as its widest cell, two spaces apart.
#[derive(Debug, Default)]
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table {
            headers: headers.to_vec(),
            rows: Vec::new(),
        }
    }

    pub fn push(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    pub fn render(&self) -> String {
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(c.chars().count());
            }
        }
        let mut lines = vec![render_line(&self.headers, &widths)];
        for row in &self.rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            lines.push(render_line(&cells, &widths));
        }
        lines.join("\n")
    }

    pub fn print(&self) {
        println!("{}", self.render());
    }
}

/// One row: each cell padded to its column's width, two spaces apart (the last one unpadded).
fn render_line(cells: &[&str], widths: &[usize]) -> String {
    let mut out = String::new();
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        out.push_str(c);
        if i + 1 < widths.len() {
            let pad = w.saturating_sub(c.chars().count()) + 2;
            out.extend(std::iter::repeat_n(' ', pad));
        }
    }
    out.trim_end().to_string()
}

/// `name  value` lines, names aligned (one object, for people).
pub fn pairs(items: &[(&str, String)]) -> String {
    let width = items.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    items
        .iter()
        .map(|(n, v)| format!("{n:width$}  {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The line a table prints after a page that has a next one.
pub fn print_next(page: &Value) {
    if let Some(next) = page["nextCursor"].as_str() {
        println!("next: --cursor {}", clean(next));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn columns_are_aligned_to_the_widest_cell() {
        let mut t = Table::new(&["ID", "PROVIDER", "STATUS"]);
        t.push(vec!["1".into(), "hubspot".into(), "active".into()]);
        t.push(vec!["22".into(), "jobber".into(), "-".into()]);
        assert_eq!(
            t.render(),
            "ID  PROVIDER  STATUS\n1   hubspot   active\n22  jobber    -"
        );
    }

    #[test]
    fn cells_show_api_values_safely() {
        assert_eq!(cell(&json!(null)), "-");
        assert_eq!(cell(&json!(3)), "3");
        assert_eq!(cell(&json!(true)), "true");
        assert_eq!(cell(&json!("evil\u{1b}[31mred")), "evil?[31mred");
        let long = "x".repeat(500);
        let c = cell(&json!(long));
        assert_eq!(c.chars().count(), MAX_CELL_CHARS);
        assert!(c.ends_with('…'));
    }

    #[test]
    fn pairs_align_their_names() {
        assert_eq!(
            pairs(&[("status", "completed".into()), ("read", "5".into())]),
            "status  completed\nread    5"
        );
    }

    #[test]
    fn json_output_is_the_value_itself() {
        let v = json!({"counts": {"read": 2}, "status": "completed"});
        let back: Value = serde_json::from_str(&json_text(&v)).unwrap();
        assert_eq!(back, v);
    }
}
