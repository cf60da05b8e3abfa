// Package reports renders what runs and sweeps produced: text and Markdown
// tables now; plots and an HTML report build on the same results.
package reports

import (
	"fmt"
	"io"

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

// Table writes header and rows to w in the given format.
func Table(w io.Writer, f Format, header []string, rows [][]string) error {
	var opts []tablewriter.Option
	if f == Markdown {
		opts = append(opts, tablewriter.WithRenderer(renderer.NewMarkdown()))
	}
	opts = append(opts, tablewriter.WithHeaderAutoFormat(tw.Off))
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
