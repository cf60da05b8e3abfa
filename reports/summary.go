package reports

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distsync/distsync/scenarios"
)

// Section is one table of a summary, with its title, and optionally a list
// of items (a line each; an item may span lines) and a note printed under
// it. The same sections make the terminal output, summary.md and the
// tables of index.html.
type Section struct {
	Title  string
	Header []string
	Rows   [][]string
	List   []string
	Note   string
}

// WriteSections writes sections to w, each a title line, a table and its
// note.
func WriteSections(w io.Writer, f Format, secs []Section) error {
	for _, s := range secs {
		title := s.Title
		if f == Markdown {
			title = "## " + title
		}
		if _, err := fmt.Fprintf(w, "%s\n\n", title); err != nil {
			return err
		}
		if len(s.Rows) > 0 {
			if err := Table(w, f, s.Header, s.Rows); err != nil {
				return err
			}
		}
		for _, item := range s.List {
			if f == Markdown {
				item = "- " + strings.ReplaceAll(item, "\n", "  \n  ")
			}
			if _, err := fmt.Fprintln(w, item); err != nil {
				return err
			}
		}
		if s.Note != "" {
			if _, err := fmt.Fprintf(w, "\n%s\n", s.Note); err != nil {
				return err
			}
		}
		if _, err := fmt.Fprintln(w); err != nil {
			return err
		}
	}
	return nil
}

// Headline is the one-line account of a run: scenario, seed, virtual and
// wall time, events.
func Headline(r *scenarios.Result) string {
	if r.Real {
		return fmt.Sprintf("scenario %s against a real cluster: %v wall clock, %d operations — NOT deterministic: "+
			"the kernel and the network decide what the seed decides in the simulator, so there is no trace-hash and no replay",
			r.Scenario, r.Wall.Round(time.Millisecond), len(r.Ops))
	}
	return fmt.Sprintf("scenario %s, seed %d: %v virtual in %v (%d events, %.0f sim-s per wall-s)",
		r.Scenario, r.Seed, r.Virtual, r.Wall.Round(time.Millisecond), r.Stats.Events,
		r.Virtual.Seconds()/max(r.Wall.Seconds(), 1e-9))
}

// RunSummary returns the summary tables of one run: operations per
// service and kind, availability, faults, the simulator's counters, one
// section per service that ran, and the checks.
func RunSummary(r *scenarios.Result) []Section {
	secs := []Section{opsSection(r), availabilitySection(r)}
	if len(r.Faults) > 0 || len(r.Swarm) > 0 {
		secs = append(secs, faultsSection(r))
	}
	if r.Real {
		// The simulator's and the services' counters are read from
		// inside the nodes, which a run against a real cluster cannot do.
		return append(secs, checksSection(r))
	}
	secs = append(secs, simSection(r))
	for _, svc := range Services(r) {
		if f := serviceSections[svc]; f != nil {
			secs = append(secs, f(r)...)
		}
	}
	return append(secs, checksSection(r))
}

// serviceSections are the tables of each service, keyed by its name in
// OpRecord.Service. A service's tables appear only when it ran.
var serviceSections = map[string]func(*scenarios.Result) []Section{
	"locks":  lockSections,
	"queues": queueSections,
	"caches": cacheSections,
}

// Services returns the services a run exercised, sorted.
func Services(r *scenarios.Result) []string {
	seen := map[string]bool{}
	for _, o := range r.Ops {
		seen[o.Service] = true
	}
	switch {
	case r.Caches != nil:
		seen["caches"] = true
	case r.Queues != nil:
		seen["queues"] = true
	case r.Locks != nil || len(r.Elections) > 0:
		seen["locks"] = true
	}
	return sortedKeys(seen)
}

// kindOrder is the order operation kinds are listed in: the lock
// service's life cycle first, then any other kind alphabetically.
var kindOrder = []string{"open", "keepalive", "acquire", "release", "close"}

// Kinds returns the operation kinds of service in r, in kindOrder.
func Kinds(r *scenarios.Result, service string) []string {
	seen := map[string]bool{}
	for _, o := range r.Ops {
		if service == "" || o.Service == service {
			seen[o.Kind] = true
		}
	}
	var out []string
	for _, k := range kindOrder {
		if seen[k] {
			out = append(out, k)
			delete(seen, k)
		}
	}
	return append(out, sortedKeys(seen)...)
}

func opsSection(r *scenarios.Result) Section {
	s := Section{Title: "Operations",
		Header: []string{"service", "op", "ok", "failed", "unknown", "ok/s", "p50", "p95", "p99", "max"}}
	for _, svc := range Services(r) {
		for _, k := range Kinds(r, svc) {
			var n [3]int
			var lat []time.Duration
			for _, o := range r.Ops {
				if o.Service != svc || o.Kind != k {
					continue
				}
				switch o.Outcome {
				case scenarios.OutcomeOK:
					n[0]++
				case scenarios.OutcomeFail:
					n[1]++
				default:
					n[2]++
				}
				if o.Outcome != scenarios.OutcomeUnknown {
					lat = append(lat, o.Latency())
				}
			}
			slices.Sort(lat)
			s.Rows = append(s.Rows, []string{svc, k, strconv.Itoa(n[0]), strconv.Itoa(n[1]), strconv.Itoa(n[2]),
				fmt.Sprintf("%.1f", float64(n[0])/max(r.Virtual.Seconds(), 1e-9)),
				Dur(pct(lat, 50)), Dur(pct(lat, 95)), Dur(pct(lat, 99)), Dur(pct(lat, 100))})
		}
	}
	if len(s.Rows) == 0 {
		s.Note = "no operations"
	}
	return s
}

// pct is the p-th percentile of sorted latencies, as Result.Percentile
// computes it (0 when there are none).
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[int(p/100*float64(len(sorted)-1))]
}

func availabilitySection(r *scenarios.Result) Section {
	s := Section{Title: "Availability (operations invoked in or out of fault windows that completed ok)",
		Header: []string{"service", "in faults", "ok in faults", "outside", "ok outside"}}
	for _, svc := range Services(r) {
		var n, ok [2]int
		for _, o := range r.Ops {
			if o.Service != svc {
				continue
			}
			i := 1
			if r.InFault(o.Call) {
				i = 0
			}
			n[i]++
			if o.Outcome == scenarios.OutcomeOK {
				ok[i]++
			}
		}
		s.Rows = append(s.Rows, []string{svc, strconv.Itoa(n[0]), Percent(ok[0], n[0]), strconv.Itoa(n[1]), Percent(ok[1], n[1])})
	}
	return s
}

func faultsSection(r *scenarios.Result) Section {
	s := Section{Title: "Faults", Header: []string{"#", "line", "fault", "target", "start", "end", "applied", "note"}}
	for _, f := range r.Faults {
		applied := "yes"
		if !f.Applied {
			applied = "NO"
		}
		line := "-"
		if f.Line > 0 {
			line = strconv.Itoa(f.Line)
		}
		s.Rows = append(s.Rows, []string{strconv.Itoa(f.Index), line, f.Kind, f.Target, Dur(f.Start), Dur(f.End), applied, f.Note})
	}
	if len(r.Swarm) > 0 {
		s.Note = "swarm: this seed switched on " + strings.Join(r.Swarm, ", ")
	}
	return s
}

func simSection(r *scenarios.Result) Section {
	st := r.Stats
	return Section{Title: "Simulator", Header: []string{"counter", "value", "counter", "value"}, Rows: pairs([][2]string{
		{"events", u(st.Events)}, {"timers fired", u(st.Timers)},
		{"messages sent", u(st.Net.Sent)}, {"delivered", u(st.Net.Delivered)},
		{"dropped (loss)", u(st.Net.DroppedLoss)}, {"dropped (partition)", u(st.Net.DroppedPartition)},
		{"dropped (dead node)", u(st.Net.DroppedDead)}, {"duplicated", u(st.Net.Duplicated)},
		{"reordered", u(st.Net.Reordered)}, {"clogged", u(st.Net.Clogged)},
		{"partitions", u(st.Partitions)}, {"crashes", u(st.Crashes)},
		{"restarts", u(st.Restarts)}, {"pauses", u(st.Pauses)},
		{"clock faults", u(st.ClockFaults)}, {"disk syncs", u(st.Disk.Syncs)},
		{"torn writes", u(st.Disk.TornWrites)}, {"corrupt reads", u(st.Disk.CorruptReads)},
		{"bytes lost at crashes", u(st.Disk.LostBytes)},
	})}
}

// pairs lays name/value pairs out two to a row, so long lists stay short.
func pairs(kv [][2]string) [][]string {
	var rows [][]string
	for i := 0; i < len(kv); i += 2 {
		row := []string{kv[i][0], kv[i][1], "", ""}
		if i+1 < len(kv) {
			row[2], row[3] = kv[i+1][0], kv[i+1][1]
		}
		rows = append(rows, row)
	}
	return rows
}

func checksSection(r *scenarios.Result) Section {
	passed, failed, skipped := 0, 0, 0
	s := Section{Header: []string{"check", "result", "detail"}}
	for _, c := range r.Checks {
		v := "pass"
		switch {
		case c.Skipped:
			v = "n/a"
			skipped++
		case c.Passed:
			passed++
		default:
			v = "FAIL"
			failed++
		}
		s.Rows = append(s.Rows, []string{c.Name, v, c.Detail})
	}
	s.Title = fmt.Sprintf("Checks: %d passed, %d failed", passed, failed)
	if skipped > 0 {
		s.Title += fmt.Sprintf(", %d not checked", skipped)
	}
	return s
}

// Dur formats a duration for a table: "-" for zero, rounded to 10µs.
func Dur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Microsecond).String()
}

// Percent formats ok of n as a percentage ("-" when n is 0).
func Percent(ok, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(ok)/float64(n))
}

func u(v uint64) string { return strconv.FormatUint(v, 10) }

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
