// Package reports renders what runs and sweeps produced: summary tables
// (text for terminals, Markdown for files), plots (gonum/plot, PNG and
// SVG) and an HTML report that links them, Jepsen style.
package reports

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/renderer"
	"github.com/olekukonko/tablewriter/tw"
)

// Format selects how a table is drawn.
type Format int

// Table formats.
const (
	Text     Format = iota // box-drawn, for terminals
	Markdown               // GitHub-flavoured Markdown, for summary.md and README
)

// MaxWidth is the widest a table may be, in columns: tables fit a
// 100-column terminal. Cells with spaces are wrapped (Text) or cut short
// with "…" (Markdown, whose cells cannot hold a line break); a word is
// never broken unless it is longer than maxWord, so a table of long
// unbreakable values (hashes, paths) may stay wider.
const MaxWidth = 100

// minColumn is the narrowest a column is squeezed to; maxWord the longest
// word kept whole.
const (
	minColumn = 6
	maxWord   = 40
)

// Table writes header and rows to w in the given format, at most MaxWidth
// columns wide.
func Table(w io.Writer, f Format, header []string, rows [][]string) error {
	if f == Markdown {
		header, rows = mdEscape(header), mdEscapeRows(rows)
	}
	limits := columnLimits(header, rows, MaxWidth)
	header, rows = fitCells(f, header, limits), fitRows(f, rows, limits)
	var opts []tablewriter.Option
	if f == Markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithRowAutoWrap(tw.WrapNone), tablewriter.WithHeaderAutoWrap(tw.WrapNone))
	t := tablewriter.NewTable(w, opts...)
	t.Header(header)
	if err := t.Bulk(rows); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	if err := t.Render(); err != nil {
		return fmt.Errorf("table: %w", err)
	}
	return nil
}

// width is the display width of the widest line of s.
func width(s string) int {
	n := 0
	for _, line := range strings.Split(s, "\n") {
		n = max(n, utf8.RuneCountInString(line))
	}
	return n
}

// columnLimits returns the widest each column may be so that the table,
// with its borders ("│ a │ b │": 3 per column and 1), fits in total:
// the widest columns are narrowed first, none below its longest word.
func columnLimits(header []string, rows [][]string, total int) []int {
	limits := make([]int, len(header))
	floors := make([]int, len(header))
	see := func(i int, cell string) {
		limits[i] = max(limits[i], width(cell))
		floors[i] = max(floors[i], min(longestWord(cell), maxWord))
	}
	for i, h := range header {
		see(i, h)
	}
	for _, r := range rows {
		for i := 0; i < len(r) && i < len(limits); i++ {
			see(i, r[i])
		}
	}
	for i := range floors {
		floors[i] = min(limits[i], max(floors[i], minColumn))
	}
	room := total - 1 - 3*len(limits)
	for {
		sum, widest := 0, -1
		for i, l := range limits {
			sum += l
			if l > floors[i] && (widest < 0 || l > limits[widest]) {
				widest = i
			}
		}
		if sum <= room || widest < 0 {
			return limits
		}
		limits[widest] = max(floors[widest], limits[widest]-(sum-room))
	}
}

// longestWord is the width of the longest space-separated word of s.
func longestWord(s string) int {
	n := 0
	for _, w := range strings.Fields(s) {
		n = max(n, utf8.RuneCountInString(w))
	}
	return n
}

func fitRows(f Format, rows [][]string, limits []int) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = fitCells(f, r, limits)
	}
	return out
}

// fitCells wraps (Text) or cuts (Markdown) each cell to its column's limit.
func fitCells(f Format, cells []string, limits []int) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		limit := MaxWidth
		if i < len(limits) {
			limit = limits[i]
		}
		if f == Markdown {
			out[i] = truncate(c, limit)
		} else {
			out[i] = wrap(c, limit)
		}
	}
	return out
}

// mdEscape makes cells safe in a Markdown table: one line, pipes escaped.
func mdEscape(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(c, "\n", " "), "|", `\|`)
	}
	return out
}

func mdEscapeRows(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = mdEscape(r)
	}
	return out
}

// truncate cuts s to limit runes, ending in "…" when it was cut.
func truncate(s string, limit int) string {
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	return string(r[:max(0, limit-1)]) + "…"
}

// wrap breaks s into lines of at most limit runes, at spaces where it can.
func wrap(s string, limit int) string {
	var lines []string
	for _, para := range strings.Split(s, "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			for utf8.RuneCountInString(word) > limit {
				if line != "" {
					lines, line = append(lines, line), ""
				}
				r := []rune(word)
				lines, word = append(lines, string(r[:limit])), string(r[limit:])
			}
			switch {
			case line == "":
				line = word
			case utf8.RuneCountInString(line)+1+utf8.RuneCountInString(word) <= limit:
				line += " " + word
			default:
				lines, line = append(lines, line), word
			}
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}
