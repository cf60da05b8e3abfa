package lockcompare

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/distsync/distsync/reports"
)

// TestBothMakeProgress runs the comparison briefly with a few clients and
// checks that both systems locked and unlocked, and that the report
// renders.
func TestBothMakeProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two real 3-node clusters: skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	rep, err := Run(ctx, Config{Clients: 4, Duration: time.Second, Warmup: 500 * time.Millisecond,
		Resources: 16, Dir: t.TempDir(), Log: &log})
	if err != nil {
		t.Fatalf("run: %v\n%s", err, log.String())
	}
	if len(rep.Results) != 2 {
		t.Fatalf("results: %d, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		t.Logf("%s: %d ops, %.0f ops/s, p50 %.2f ms, p99 %.2f ms, %d errors %v",
			r.System, r.Ops, r.OpsPerS, r.Latency.P50, r.Latency.P99, r.Errors, r.ErrKinds)
		if r.Ops == 0 {
			t.Errorf("%s made no progress (%d errors: %v)", r.System, r.Errors, r.ErrKinds)
		}
		if r.Errors > r.Ops/10 {
			t.Errorf("%s: %d errors for %d ops: %v", r.System, r.Errors, r.Ops, r.ErrKinds)
		}
		if r.Latency.P50 <= 0 || r.Latency.P50 > r.Latency.P99 || r.Latency.P99 > r.Latency.Max {
			t.Errorf("%s: latencies out of order: %+v", r.System, r.Latency)
		}
	}
	if rep.Ratio <= 0 {
		t.Errorf("ratio %v, want > 0", rep.Ratio)
	}
	var out bytes.Buffer
	if err := rep.WriteTable(&out, reports.Text); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out.Bytes(), []byte("distsync/etcd ops/s")) {
		t.Errorf("table misses the ratio:\n%s", out.String())
	}
	if err := rep.WriteJSON(filepath.Join(t.TempDir(), "r.json")); err != nil {
		t.Fatal(err)
	}
}

// TestSummarise checks the percentiles on a known distribution.
func TestSummarise(t *testing.T) {
	var lat []time.Duration
	for i := 100; i >= 1; i-- {
		lat = append(lat, time.Duration(i)*time.Millisecond)
	}
	got := summarise(lat)
	want := Latencies{Mean: 50.5, P50: 50, P95: 95, P99: 99, Max: 100}
	if got != want {
		t.Errorf("summarise: %+v, want %+v", got, want)
	}
	if (summarise(nil) != Latencies{}) {
		t.Error("summarise(nil) not zero")
	}
}
