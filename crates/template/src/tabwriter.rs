//! Column alignment in the manner of Go's `text/tabwriter`, which docker uses
//! to lay out `table` output.
//!
//! Input text is made of lines (ended by `\n`) of cells ended by `\t`. The
//! text after a line's last tab is not a cell of any column and is written as
//! it is. A *column block* is a run of consecutive lines that all have a cell
//! in that column; every cell of the block is padded to the block's widest
//! cell plus `padding`, and to at least `min_width`. Widths are counted in
//! characters. Blocks are found left to right, so a column may be split into
//! several blocks by lines with fewer cells.
//!
//! Also as in Go: `\v` ends a cell like `\t` but the cell is "soft" for
//! [`TabWriter::discard_empty_columns`]; `\f` ends a line like `\n` (and is
//! written as `\n`) and also ends every column block. Go's `FilterHTML`,
//! `StripEscape` and `TabIndent` flags are not supported.
//!
//! docker's tables use `TabWriter::docker()`: minimum width 10, tab width 1,
//! padding 3, padded with spaces.

/// Layout settings, as the arguments of Go's `tabwriter.NewWriter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TabWriter {
    /// Minimum width of a column cell, padding included.
    pub min_width: usize,
    /// Width of a tab character when `pad_char` is `'\t'`.
    pub tab_width: usize,
    /// Added to the widest cell of a column block.
    pub padding: usize,
    /// Character used for padding; with `'\t'` cells are padded with tabs
    /// to multiples of `tab_width` and alignment is always to the left.
    pub pad_char: char,
    /// Pad on the left of cells instead of the right (Go's `AlignRight`).
    pub align_right: bool,
    /// Give zero width to column blocks whose cells are all empty and
    /// `\v`-terminated (Go's `DiscardEmptyColumns`).
    pub discard_empty_columns: bool,
    /// Write `|` between columns (Go's `Debug`).
    pub debug: bool,
}

impl Default for TabWriter {
    fn default() -> Self {
        Self::docker()
    }
}

/// One cell: its text and width in characters.
struct Cell<'t> {
    text: &'t str,
    width: usize,
    /// Ended by `\t` (as opposed to `\v` or the end of the line).
    htab: bool,
}

struct Line<'t> {
    cells: Vec<Cell<'t>>,
    /// Followed by a newline in the output.
    newline: bool,
}

impl TabWriter {
    /// Settings as `tabwriter.NewWriter(w, min_width, tab_width, padding, pad_char, 0)`.
    pub const fn new(min_width: usize, tab_width: usize, padding: usize, pad_char: char) -> Self {
        TabWriter {
            min_width,
            tab_width,
            padding,
            pad_char,
            align_right: false,
            discard_empty_columns: false,
            debug: false,
        }
    }

    /// docker's table settings: `tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)`.
    pub const fn docker() -> Self {
        Self::new(10, 1, 3, ' ')
    }

    /// With Go's `AlignRight` flag set or cleared.
    pub const fn with_align_right(mut self, on: bool) -> Self {
        self.align_right = on;
        self
    }

    /// With Go's `DiscardEmptyColumns` flag set or cleared.
    pub const fn with_discard_empty_columns(mut self, on: bool) -> Self {
        self.discard_empty_columns = on;
        self
    }

    /// With Go's `Debug` flag set or cleared.
    pub const fn with_debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }

    /// Lays out `text` in aligned columns.
    pub fn format(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len() + text.len() / 2);
        let mut widths = Vec::new();
        for section in split_lines(text) {
            self.format_block(&section, 0, section.len(), &mut widths, &mut out);
        }
        out
    }

    /// Lays out `lines[from..to]`, whose columns left of `widths.len()`
    /// already have their widths.
    fn format_block(
        &self,
        lines: &[Line<'_>],
        from: usize,
        to: usize,
        widths: &mut Vec<usize>,
        out: &mut String,
    ) {
        let column = widths.len();
        let in_column = |l: &Line<'_>| l.cells.len() > column + 1;
        let mut written = from;
        let mut i = from;
        while i < to {
            if !in_column(&lines[i]) {
                i += 1;
                continue;
            }
            self.write_lines(&lines[written..i], widths, out);
            let start = i;
            let mut width = self.min_width;
            let mut discardable = true;
            while i < to && in_column(&lines[i]) {
                let c = &lines[i].cells[column];
                width = width.max(c.width + self.padding);
                if c.width > 0 || c.htab {
                    discardable = false;
                }
                i += 1;
            }
            if discardable && self.discard_empty_columns {
                width = 0;
            }
            widths.push(width);
            self.format_block(lines, start, i, widths, out);
            widths.pop();
            written = i;
        }
        self.write_lines(&lines[written..to], widths, out);
    }

    fn write_lines(&self, lines: &[Line<'_>], widths: &[usize], out: &mut String) {
        let align_right = self.align_right && self.pad_char != '\t';
        for line in lines {
            for (j, c) in line.cells.iter().enumerate() {
                if j > 0 && self.debug {
                    out.push('|');
                }
                match widths.get(j) {
                    Some(&w) if align_right => {
                        self.write_padding(c.width, w, out);
                        out.push_str(c.text);
                    }
                    Some(&w) => {
                        out.push_str(c.text);
                        self.write_padding(c.width, w, out);
                    }
                    None => out.push_str(c.text),
                }
            }
            if line.newline {
                out.push('\n');
            }
        }
    }

    fn write_padding(&self, text_width: usize, cell_width: usize, out: &mut String) {
        if self.pad_char == '\t' {
            if self.tab_width == 0 {
                return;
            }
            let cell_width = cell_width.div_ceil(self.tab_width) * self.tab_width;
            let n = cell_width.saturating_sub(text_width);
            out.extend(std::iter::repeat_n('\t', n.div_ceil(self.tab_width)));
        } else {
            out.extend(std::iter::repeat_n(
                self.pad_char,
                cell_width.saturating_sub(text_width),
            ));
        }
    }
}

/// Splits text into cells and lines, in sections separated by `\f`.
fn split_lines(text: &str) -> Vec<Vec<Line<'_>>> {
    fn cell(s: &str, htab: bool) -> Cell<'_> {
        Cell {
            text: s,
            width: s.chars().count(),
            htab,
        }
    }
    let mut sections = Vec::new();
    let mut lines = Vec::new();
    let mut cells = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '\t' | '\u{b}' => {
                cells.push(cell(&text[start..i], c == '\t'));
                start = i + 1;
            }
            '\n' | '\u{c}' => {
                cells.push(cell(&text[start..i], false));
                start = i + 1;
                lines.push(Line {
                    cells: std::mem::take(&mut cells),
                    newline: true,
                });
                if c == '\u{c}' {
                    sections.push(std::mem::take(&mut lines));
                }
            }
            _ => {}
        }
    }
    if start < text.len() {
        cells.push(cell(&text[start..], false));
    }
    if !cells.is_empty() {
        lines.push(Line {
            cells,
            newline: false,
        });
    }
    if !lines.is_empty() {
        sections.push(lines);
    }
    sections
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_doc_example_tab_padding() {
        // tabwriter.Writer.Init(w, 0, 8, 0, '\t', 0)
        let tw = TabWriter::new(0, 8, 0, '\t');
        let got = tw.format("a\tb\tc\td\t.\n123\t12345\t1234567\t123456789\t.\n");
        assert_eq!(got, "a\tb\tc\td\t\t.\n123\t12345\t1234567\t123456789\t.\n");
    }

    #[test]
    fn go_doc_example_align_right() {
        // tabwriter.Writer.Init(w, 5, 0, 1, ' ', tabwriter.AlignRight)
        let tw = TabWriter::new(5, 0, 1, ' ').with_align_right(true);
        let got = tw.format("a\tb\tc\td\t.\n123\t12345\t1234567\t123456789\t.\n");
        assert_eq!(
            got,
            "    a     b       c         d.\n  123 12345 1234567 123456789.\n"
        );
    }

    #[test]
    fn go_doc_example_elastic() {
        // tabwriter.NewWriter(w, 0, 0, 1, '.', tabwriter.AlignRight|tabwriter.Debug)
        let tw = TabWriter::new(0, 0, 1, '.')
            .with_align_right(true)
            .with_debug(true);
        let got = tw.format("a\tb\tc\naa\tbb\tcc\naaa\t\naaaa\tdddd\teeee\n");
        assert_eq!(got, "....a|..b|c\n...aa|.bb|cc\n..aaa|\n.aaaa|.dddd|eeee\n");
    }

    #[test]
    fn discard_empty_columns() {
        let tw = TabWriter::new(0, 0, 1, ' ').with_discard_empty_columns(true);
        assert_eq!(tw.format("a\u{b}\u{b}b\nc\u{b}\u{b}d\n"), "a b\nc d\n");
        let keep = TabWriter::new(0, 0, 1, ' ');
        assert_eq!(keep.format("a\u{b}\u{b}b\nc\u{b}\u{b}d\n"), "a  b\nc  d\n");
    }

    #[test]
    fn form_feed_ends_blocks() {
        let tw = TabWriter::new(0, 0, 1, ' ');
        assert_eq!(tw.format("a\tb\n\u{c}long\tc\n"), "a b\n\nlong c\n");
        assert_eq!(tw.format("a\tb\nlong\tc\n"), "a    b\nlong c\n");
    }
}
