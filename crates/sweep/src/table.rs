//! Markdown tables and the number formats of every REPORT.md and plot axis.

use std::fmt::Write as _;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Text: names, labels.
    Left,
    /// Numbers.
    Right,
}

/// A markdown table, built a row at a time.
///
/// ```
/// use sweep::table::{Align, Table};
/// let mut table = Table::new([("series", Align::Left), ("RPS", Align::Right)]);
/// table.row(["tokio-mt", "413"]);
/// assert_eq!(table.render(), "| series | RPS |\n|---|---:|\n| tokio-mt | 413 |\n");
/// ```
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column headings.
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = (S, Align)>) -> Self {
        Table {
            columns: columns
                .into_iter()
                .map(|(heading, align)| (heading.into(), align))
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are left empty, and a `|` inside a cell is escaped.
    pub fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// Whether no row was added.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table in markdown, ending with a newline.
    pub fn render(&self) -> String {
        let mut md = String::new();
        let cell = |text: &str| text.replace('|', "\\|");
        let headings: Vec<String> = self.columns.iter().map(|(h, _)| cell(h)).collect();
        let _ = writeln!(md, "| {} |", headings.join(" | "));
        let rules: Vec<&str> = self
            .columns
            .iter()
            .map(|(_, align)| match align {
                Align::Left => "---",
                Align::Right => "---:",
            })
            .collect();
        let _ = writeln!(md, "|{}|", rules.join("|"));
        for row in &self.rows {
            let cells: Vec<String> = (0..self.columns.len())
                .map(|i| row.get(i).map_or_else(String::new, |text| cell(text)))
                .collect();
            let _ = writeln!(md, "| {} |", cells.join(" | "));
        }
        md
    }
}

/// The two-column header table that opens a REPORT.md: one `key | value`
/// row per setting, without headings.
pub fn settings<K: AsRef<str>>(rows: impl IntoIterator<Item = (K, String)>) -> String {
    let mut md = String::from("| | |\n|---|---|\n");
    for (key, value) in rows {
        let _ = writeln!(md, "| {} | {} |", key.as_ref(), value.replace('|', "\\|"));
    }
    md
}

/// Milliseconds as a table cell: whole numbers from 100 ms up.
pub fn ms(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// Milliseconds in prose: seconds from 1 s up.
pub fn ms_unit(value: f64) -> String {
    if value >= 1000.0 {
        format!("{:.2} s", value / 1e3)
    } else {
        format!("{value:.0} ms")
    }
}

/// 10000 as "10,000".
pub fn thousands(n: u32) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1000.0 as "1000", 0.25 as "0.25".
pub fn trim_number(value: f64) -> String {
    if value.abs() >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if value.abs() >= 1.0 {
        let text = format!("{value:.1}");
        text.trim_end_matches(".0").to_owned()
    } else {
        let text = format!("{value:.3}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_separated() {
        assert_eq!(thousands(1), "1");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(10_000), "10,000");
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(trim_number(1000.0), "1000");
        assert_eq!(trim_number(2.5), "2.5");
        assert_eq!(trim_number(0.25), "0.25");
        assert_eq!(trim_number(3.0), "3");
    }

    #[test]
    fn tables_escape_pipes_and_pad_short_rows() {
        let mut table = Table::new([("a", Align::Left), ("b", Align::Right)]);
        table.row(["x|y"]);
        assert_eq!(table.render(), "| a | b |\n|---|---:|\n| x\\|y |  |\n");
        assert!(settings([("k", "v|w".to_owned())]).ends_with("| k | v\\|w |\n"));
    }
}
