package lockcompare

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/distsync/distsync/reports"
)

// WriteTable writes the report as a table (reports.Text or
// reports.Markdown), then the ratio and the kinds of errors seen.
func (r *Report) WriteTable(w io.Writer, f reports.Format) error {
	header := []string{"system", "clients", "ops", "ops/s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"}
	var rows [][]string
	ms := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
	for _, res := range r.Results {
		rows = append(rows, []string{res.System, strconv.Itoa(res.Clients), strconv.Itoa(res.Ops),
			strconv.FormatFloat(res.OpsPerS, 'f', 0, 64), ms(res.Latency.P50), ms(res.Latency.P95),
			ms(res.Latency.P99), ms(res.Latency.Max), strconv.Itoa(res.Errors)})
	}
	if err := reports.Table(w, f, header, rows); err != nil {
		return err
	}
	if r.Ratio > 0 {
		if _, err := fmt.Fprintf(w, "\ndistsync/etcd ops/s: %.2f\n", r.Ratio); err != nil {
			return err
		}
	}
	for _, res := range r.Results {
		if res.DiskFlushes == 0 || res.Ops == 0 {
			continue
		}
		if _, err := fmt.Fprintf(w, "%s: disk flushes %.2f/op, writes %.2f/op (whole machine, measured window)\n",
			res.System, float64(res.DiskFlushes)/float64(res.Ops), float64(res.DiskWrites)/float64(res.Ops)); err != nil {
			return err
		}
	}
	for _, res := range r.Results {
		if len(res.ErrKinds) == 0 {
			continue
		}
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(res.ErrKinds)) {
			parts = append(parts, fmt.Sprintf("%s: %d", k, res.ErrKinds[k]))
		}
		if _, err := fmt.Fprintf(w, "%s errors: %s\n", res.System, strings.Join(parts, ", ")); err != nil {
			return err
		}
	}
	return nil
}

// WriteJSON writes the report, indented, to path.
func (r *Report) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
