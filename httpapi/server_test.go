package httpapi

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

// compositeNode starts one node running the three services (nodes/multi),
// with a small body limit.
func compositeNode(t *testing.T) *testNode {
	c := newCluster(t, 1, compositeFactory, func(c *Config, ids []nodes.NodeID) {
		c.Locks = &LockConfig{Servers: ids}
		c.Queues = &QueueConfig{Servers: ids}
		c.Caches = &CacheConfig{Servers: ids}
		c.MaxBodyBytes = 512
	})
	n := c.nodes["n1"]
	c.lockLeader(t)
	return n
}

func TestCompositeStatusMetricsAndHealth(t *testing.T) {
	n := compositeNode(t)
	r := call(t, noFollow, http.MethodPost, n.url+"/locks/acquire", map[string]any{"resource": "r", "mode": "shared"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = callOK(t, noFollow, http.MethodPost, n.url+"/queue/enqueue", map[string]any{"queue": "q", "body": []byte("m")})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = callOK(t, noFollow, http.MethodPost, n.url+"/queue/dequeue", map[string]any{"queue": "q"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodPut, n.url+"/cache/k", "v")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodGet, n.url+"/cache/k", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, "true", r.header.Get(HeaderHit))

	r = call(t, noFollow, http.MethodGet, n.url+"/status", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	st := r.json(t)
	require.Equal(t, "n1", st["node"])
	require.Equal(t, []any{"locks", "queues", "caches"}, st["services"])
	locks := st["locks"].(map[string]any)
	require.Equal(t, "leader", locks["role"])
	require.Equal(t, "n1", locks["leader"])
	require.NotZero(t, num(t, locks, "term"))
	require.NotZero(t, num(t, locks, "commit_index"))
	require.Equal(t, uint64(1), num(t, locks, "active_locks"))
	queues := st["queues"].(map[string]any)
	require.Equal(t, uint64(0), num(t, queues, "ring_epoch"))
	require.Equal(t, []any{"n1"}, queues["members"])
	led := queues["led_queues"].([]any)
	require.NotEmpty(t, led)
	require.Equal(t, "q", led[0].(map[string]any)["queue"])
	require.Equal(t, float64(1), led[0].(map[string]any)["in_flight"])
	cachesSt := st["caches"].(map[string]any)
	require.Equal(t, "directory", cachesSt["protocol"])
	require.Equal(t, []string{"E", "I", "M", "S"}, sortedKeys(cachesSt["lines"].(map[string]any)))
	require.Greater(t, cachesSt["hit_rate"].(float64), 0.0)

	r = call(t, noFollow, http.MethodGet, n.url+"/metrics", nil)
	require.Equal(t, http.StatusOK, r.status)
	text := string(r.body)
	for _, name := range []string{MetricUp + " 1", MetricActiveLocks + " 1", MetricWaitingRequests, MetricDeadlocks,
		MetricLockAcquisition + "_bucket", MetricRaftTerm, MetricRaftCommit, MetricRaftLeaderChanges,
		MetricQueueDepth + `{queue="q"} 0`, MetricInFlight + `{queue="q"} 1`, MetricEnqueueLatency + "_count 1", MetricDequeueLatency + "_count 1",
		MetricCacheHitRate, MetricCacheEvictions, MetricCacheLines + `{state="M"}`, MetricCoherenceMessages} {
		require.Contains(t, text, name)
	}

	r = call(t, noFollow, http.MethodGet, n.url+"/health", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.Equal(t, map[string]any{"status": "ok", "node": "n1"}, r.json(t))
	require.NoError(t, n.host.Stop())
	r = call(t, noFollow, http.MethodGet, n.url+"/health", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodGet, n.url+"/status", nil)
	require.Equal(t, http.StatusServiceUnavailable, r.status, "%s", r.body)
	r = call(t, noFollow, http.MethodGet, n.url+"/metrics", nil)
	require.Contains(t, string(r.body), MetricUp+" 0")
}

func TestBadRequests(t *testing.T) {
	n := compositeNode(t)
	long := strings.Repeat("x", 300)
	tests := []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"acquire without resource", "POST", "/locks/acquire", `{"mode":"shared"}`, 400, "resource"},
		{"acquire resource too long", "POST", "/locks/acquire", map[string]any{"resource": long, "mode": "shared"}, 400, "resource"},
		{"acquire bad mode", "POST", "/locks/acquire", `{"resource":"r","mode":"sole"}`, 400, "mode"},
		{"acquire bad wait", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","wait":"soon"}`, 400, "wait"},
		{"acquire negative wait", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","wait":"-1s"}`, 400, "wait"},
		{"acquire wait over max", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","wait":"1h"}`, 400, "wait"},
		{"acquire ttl with session", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","session":5,"ttl":"5s"}`, 400, "ttl"},
		{"acquire ttl over the table's max", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","ttl":"2h"}`, 400, "ttl"},
		{"acquire seq without client", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","session":5,"seq":3}`, 400, "client"},
		{"acquire client without session", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","client":"c","seq":3}`, 400, "session"},
		{"acquire reserved client", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","session":5,"client":"http.x","seq":3}`, 400, "client"},
		{"acquire unknown field", "POST", "/locks/acquire", `{"resource":"r","mode":"shared","colour":"red"}`, 400, "colour"},
		{"acquire wrong type", "POST", "/locks/acquire", `{"resource":7,"mode":"shared"}`, 400, "resource"},
		{"acquire not json", "POST", "/locks/acquire", `resource=r`, 400, ""},
		{"acquire two values", "POST", "/locks/acquire", `{"resource":"r","mode":"shared"}{}`, 400, ""},
		{"release without session", "POST", "/locks/release", `{"resource":"r"}`, 400, "session"},
		{"release without resource", "POST", "/locks/release", `{"session":3}`, 400, "resource"},
		{"renew with resource", "POST", "/locks/renew", `{"session":3,"resource":"r"}`, 400, "resource"},
		{"enqueue without queue", "POST", "/queue/enqueue", `{"body":"aGk="}`, 400, "queue"},
		{"enqueue bad base64", "POST", "/queue/enqueue", `{"queue":"q","body":"not base64!"}`, 400, "body"},
		{"enqueue long dedup id", "POST", "/queue/enqueue", map[string]any{"queue": "q", "dedup_id": long}, 400, "dedup_id"},
		{"dequeue bad visibility", "POST", "/queue/dequeue", `{"queue":"q","visibility":"0s"}`, 400, "visibility"},
		{"ack without receipt", "POST", "/queue/ack", `{"queue":"q"}`, 400, "receipt"},
		{"ack receipt not a number", "POST", "/queue/ack", `{"queue":"q","receipt":"abc"}`, 400, "receipt"},
		{"nack queue too long", "POST", "/queue/nack", map[string]any{"queue": long, "receipt": "1"}, 400, "queue"},
		{"cache key too long", "GET", "/cache/" + long, nil, 400, "key"},
		{"cache empty key", "PUT", "/cache/", "v", 400, "key"},
		{"lock query empty resource", "GET", "/locks/", nil, 400, "resource"},
		{"body over the limit", "POST", "/queue/enqueue", map[string]any{"queue": "q", "body": make([]byte, 600)}, 413, ""},
		{"cache value over the limit", "PUT", "/cache/k", make([]byte, 1<<20), 413, "value"},
		{"unknown route", "GET", "/nowhere", nil, 404, ""},
		{"unknown service route", "POST", "/queue/purge", `{}`, 404, ""},
		{"wrong method on acquire", "GET", "/locks/acquire", nil, 405, ""},
		{"wrong method on lock query", "DELETE", "/locks/r", nil, 405, ""},
		{"wrong method on enqueue", "PUT", "/queue/enqueue", `{}`, 405, ""},
		{"wrong method on cache", "POST", "/cache/k", "v", 405, ""},
		{"wrong method on health", "POST", "/health", nil, 405, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, noFollow, tc.method, n.url+tc.path, tc.body)
			require.Equal(t, tc.status, r.status, "%s", r.body)
			body := r.json(t)
			require.NotEmpty(t, body["error"])
			if tc.field != "" {
				require.Equal(t, tc.field, body["field"], "%s", r.body)
			}
			if tc.status == http.StatusMethodNotAllowed {
				require.NotEmpty(t, r.header.Get("Allow"))
			}
		})
	}
}

func TestServiceNotOnThisNode(t *testing.T) {
	c := newCluster(t, 1, lockFactory, func(c *Config, ids []nodes.NodeID) {
		c.Locks = &LockConfig{Servers: ids}
	})
	url := c.nodes["n1"].url
	for _, p := range []struct{ method, path, service string }{
		{"GET", "/cache/k", "caches"}, {"POST", "/queue/enqueue", "queues"}, {"PUT", "/cache/k", "caches"},
	} {
		r := call(t, noFollow, p.method, url+p.path, `{}`)
		require.Equal(t, http.StatusNotFound, r.status, "%s %s: %s", p.method, p.path, r.body)
		body := r.json(t)
		require.Equal(t, p.service, body["service"])
		require.Contains(t, body["error"], "not on this node")
	}
	r := call(t, noFollow, http.MethodGet, url+"/status", nil)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.NotContains(t, r.json(t), "queues")
}

func TestConfigErrorsNameFieldAndValue(t *testing.T) {
	c := newCluster(t, 1, lockFactory, func(c *Config, ids []nodes.NodeID) { c.Locks = &LockConfig{Servers: ids} })
	host := c.nodes["n1"].host
	ok := func() Config {
		return Config{Self: "n1", Backend: host, Peers: map[nodes.NodeID]string{"n2": "http://127.0.0.1:1"},
			Locks: &LockConfig{Servers: []nodes.NodeID{"n1", "n2"}}}
	}
	tests := []struct {
		name  string
		tweak func(*Config)
		want  []string
	}{
		{"bad self", func(c *Config) { c.Self = "n 1" }, []string{"self", `"n 1"`}},
		{"long self", func(c *Config) { c.Self = nodes.NodeID(strings.Repeat("n", 50)) }, []string{"self", "50 bytes"}},
		{"nil backend", func(c *Config) { c.Backend = nil }, []string{"backend", "nil"}},
		{"peer url scheme", func(c *Config) { c.Peers["n2"] = "ftp://h:1" }, []string{"peers[n2]", `"ftp://h:1"`, "scheme"}},
		{"peer url query", func(c *Config) { c.Peers["n2"] = "http://h:1/?a=b" }, []string{"peers[n2]", "query"}},
		{"lock server without url", func(c *Config) { c.Locks.Servers = []nodes.NodeID{"n1", "n3"} }, []string{"locks.servers", `"n3"`, "no URL"}},
		{"self not a lock server", func(c *Config) { c.Locks.Servers = []nodes.NodeID{"n2"} }, []string{"locks.servers", `"n1"`}},
		{"duplicate server", func(c *Config) { c.Locks.Servers = []nodes.NodeID{"n1", "n1"} }, []string{"locks.servers", `"n1"`, "twice"}},
		{"negative timeout", func(c *Config) { c.RequestTimeout = -time.Second }, []string{"request_timeout", "-1s"}},
		{"negative body limit", func(c *Config) { c.MaxBodyBytes = -1 }, []string{"max_body_bytes", "-1"}},
		{"too many clients", func(c *Config) { c.Clients = MaxClients + 1 }, []string{"clients", "4097"}},
		{"negative wait", func(c *Config) { c.Locks.MaxWait = -time.Second }, []string{"locks.max_wait", "-1s"}},
		{"cache value limit", func(c *Config) { c.Caches = &CacheConfig{Servers: []nodes.NodeID{"n1"}, MaxValueBytes: -3} }, []string{"caches.max_value_bytes", "-3"}},
		{"queue servers empty", func(c *Config) { c.Queues = &QueueConfig{} }, []string{"queues.servers", "empty"}},
		{"gatherer without registerer", func(c *Config) { c.Gatherer = prometheus.NewRegistry() }, []string{"registerer", "nil"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := ok()
			tc.tweak(&cfg)
			srv, err := New(cfg)
			require.Nil(t, srv)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}

	// Two servers on one registry collide; Close frees the names.
	reg := prometheus.NewRegistry()
	cfg := ok()
	cfg.Registerer = reg
	first, err := New(cfg)
	require.NoError(t, err)
	_, err = New(cfg)
	require.ErrorContains(t, err, "registerer")
	first.Close()
	second, err := New(cfg)
	require.NoError(t, err)
	second.Close()
}
