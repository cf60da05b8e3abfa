package loadgen_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/httpapi/client/clienttest"
	"github.com/distsync/distsync/loadgen"
	"github.com/distsync/distsync/reports"
)

// TestRunEachServiceOnARealCluster runs about a second of each service's
// load against three nodes in this process.
func TestRunEachServiceOnARealCluster(t *testing.T) {
	cl := clienttest.Start(t, 3)
	// The errors each load may meet: a lock wait that runs out under
	// contention. Nothing else is expected of a healthy cluster.
	expected := map[string][]string{
		loadgen.ServiceLocks: {apitypes.CodeWaitTimeout},
		loadgen.ServiceQueue: nil,
		loadgen.ServiceCache: nil,
	}
	for _, service := range loadgen.Services {
		t.Run(service, func(t *testing.T) {
			cfg := loadgen.Config{Endpoints: cl.Endpoints, Service: service, Clients: 4, Duration: time.Second,
				Resources: 8, ValueBytes: 64, Writes: 0.3, Seed: 7}
			r, err := loadgen.Run(context.Background(), cfg)
			require.NoError(t, err)
			assert.Equal(t, service, r.Service)
			assert.GreaterOrEqual(t, time.Duration(r.Elapsed), time.Second)
			main := r.Op(loadgen.MainKind(service))
			require.NotNil(t, main)
			assert.Positive(t, main.OK, "no %s succeeded", main.Kind)
			for _, o := range r.Ops {
				for code := range o.Errors {
					assert.Contains(t, expected[service], code, "%s: unexpected errors %v", o.Kind, o.Errors)
				}
				if o.OK == 0 {
					continue
				}
				h := o.Latency
				assert.Equal(t, uint64(o.OK), h.Count())
				p50, p95, p99 := h.Quantile(0.5), h.Quantile(0.95), h.Quantile(0.99)
				assert.Positive(t, p50)
				assert.LessOrEqual(t, p50, p95, o.Kind)
				assert.LessOrEqual(t, p95, p99, o.Kind)
				assert.LessOrEqual(t, p99, h.Max(), o.Kind)
				var ok int64
				for _, s := range o.Timeline {
					ok += s.OK
					if s.OK > 0 {
						assert.LessOrEqual(t, s.P50, s.P99)
						assert.LessOrEqual(t, s.P99, s.Max)
					}
				}
				assert.Equal(t, o.OK, ok, "%s: the timeline counts every ok operation", o.Kind)
			}
			switch service {
			case loadgen.ServiceLocks:
				assert.Equal(t, main.OK, r.Op(loadgen.KindRelease).OK, "every ok acquire+release released")
			case loadgen.ServiceQueue:
				assert.Positive(t, r.Op(loadgen.KindDequeue).OK)
				assert.Positive(t, r.Op(loadgen.KindAck).OK)
			case loadgen.ServiceCache:
				assert.Positive(t, r.Op(loadgen.KindPut).OK)
			}
			if service == loadgen.ServiceCache {
				checkReport(t, r)
			}
		})
	}
}

// checkReport writes a run's report and reads it back.
func checkReport(t *testing.T, r *loadgen.Result) {
	var b bytes.Buffer
	require.NoError(t, loadgen.WriteSummary(&b, reports.Text, r))
	out := b.String()
	assert.True(t, strings.HasPrefix(out, "WARNING: real processes, not a simulation."), out)
	for _, col := range loadgen.TableHeader {
		assert.Contains(t, out, col)
	}
	for _, line := range strings.Split(out, "\n") {
		assert.LessOrEqual(t, len([]rune(line)), reports.MaxWidth, "line wider than %d columns: %q", reports.MaxWidth, line)
	}
	dir := t.TempDir()
	files, err := loadgen.WriteReport(dir, r)
	require.NoError(t, err)
	for _, f := range []string{"summary.txt", "summary.md", "result.json", "latency.png", "latency.svg",
		"latency-cdf.png", "latency-cdf.svg", "throughput.png", "throughput.svg"} {
		assert.Contains(t, files, f)
		info, err := os.Stat(filepath.Join(dir, f))
		require.NoError(t, err)
		assert.Positive(t, info.Size(), f)
	}
	data, err := os.ReadFile(filepath.Join(dir, "result.json"))
	require.NoError(t, err)
	var back loadgen.Result
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, r.Op(loadgen.KindGet).OK, back.Op(loadgen.KindGet).OK)
	assert.Equal(t, r.Op(loadgen.KindGet).Latency.Quantile(0.99), back.Op(loadgen.KindGet).Latency.Quantile(0.99))
}

func TestConfigErrorsNameTheField(t *testing.T) {
	base := loadgen.Config{Endpoints: []string{"http://127.0.0.1:1"}, Service: "locks", Clients: 1, Duration: time.Second}
	for _, tc := range []struct {
		change func(c *loadgen.Config)
		want   string
	}{
		{func(c *loadgen.Config) { c.Service = "gossip" }, `service: "gossip"`},
		{func(c *loadgen.Config) { c.Clients = 0 }, "clients: 0"},
		{func(c *loadgen.Config) { c.Duration = 0 }, "duration: 0s"},
		{func(c *loadgen.Config) { c.Writes = 1.5 }, "writes: 1.5"},
		{func(c *loadgen.Config) { c.ValueBytes = -1 }, "value_bytes: -1"},
		{func(c *loadgen.Config) { c.Endpoints = nil }, "endpoints"},
		{func(c *loadgen.Config) { c.Zipf = 0.5 }, "zipf: 0.5"},
	} {
		cfg := base
		tc.change(&cfg)
		_, err := loadgen.Run(context.Background(), cfg)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
}
