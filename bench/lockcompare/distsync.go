package lockcompare

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/nodes"
)

// distsyncNodes is the size of the distsync cluster.
const distsyncNodes = 3

// distsyncCluster is a distsync cluster whose nodes run in this process.
type distsyncCluster struct {
	f     *cluster.File
	procs []*cluster.Process
}

// startDistsync writes a local cluster file under dir (lock service only)
// and starts its nodes in this process with cluster.StartProcess. Nodes
// fsync their WAL (nodes/runtime.DirDisk: File.Sync is fsync).
func startDistsync(ctx context.Context, dir string, client *http.Client) (*distsyncCluster, error) {
	base, err := cluster.FreeBasePort(distsyncNodes)
	if err != nil {
		return nil, err
	}
	path, err := cluster.WriteLocal(cluster.LocalSpec{Nodes: distsyncNodes, Dir: dir, BasePort: base,
		Services: []string{cluster.ServiceLocks}})
	if err != nil {
		return nil, err
	}
	f, err := cluster.Load(path)
	if err != nil {
		return nil, err
	}
	c := &distsyncCluster{f: f}
	for i := range f.Nodes {
		p, err := cluster.StartProcess(f, f.Nodes[i].ID, cluster.Options{})
		if err != nil {
			c.close()
			return nil, err
		}
		c.procs = append(c.procs, p)
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cluster.WaitHealthy(hctx, f, client); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *distsyncCluster) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, p := range c.procs {
		wg.Go(func() { _ = p.Stop(ctx) })
	}
	wg.Wait()
}

// statusReply is the part of GET /status read here.
type statusReply struct {
	Locks struct {
		Role   string `json:"role"`
		Leader string `json:"leader"`
	} `json:"locks"`
}

// leader returns the HTTP base URL of the lock group's leader, waiting
// until a node reports itself leader.
func (c *distsyncCluster) leader(ctx context.Context, client *http.Client) (string, error) {
	deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		for i := range c.f.Nodes {
			n := &c.f.Nodes[i]
			var st statusReply
			if err := getJSON(deadline, client, c.f.URL(n)+"/status", &st); err != nil {
				continue
			}
			if st.Locks.Role == "leader" && st.Locks.Leader == string(n.ID) {
				return c.f.URL(n), nil
			}
		}
		select {
		case <-deadline.Done():
			return "", fmt.Errorf("no leader: %w", deadline.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func getJSON(ctx context.Context, client *http.Client, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// newHTTPClient returns the client every distsync client shares: one
// keep-alive connection per client, no redirects followed (a 307 means
// the leader moved: counted as an error, and the target updated).
func newHTTPClient(clients int) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 2 * clients
	tr.MaxIdleConnsPerHost = clients
	tr.IdleConnTimeout = 90 * time.Second
	tr.DisableCompression = true
	return &http.Client{Transport: tr, Timeout: opTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// distsyncClient is one benchmark client of the HTTP API.
type distsyncClient struct {
	http    *http.Client
	target  *atomic.Pointer[string] // the leader's base URL
	session uint64
	names   []string
	// id and seq, with Config.DistsyncClientIDs: the client's own id and
	// its last sequence number.
	id  string
	seq uint64
	buf bytes.Buffer
}

// apiError is a non-200 answer.
type apiError struct {
	status int
	code   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d %s", e.status, e.code) }

// post sends body to path on the leader and decodes a 200's body into out
// (if not nil).
func (c *distsyncClient) post(ctx context.Context, path string, body []byte, out any) error {
	cur := c.target.Load()
	target := *cur
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	c.buf.Reset()
	if _, err := c.buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	switch {
	case resp.StatusCode == http.StatusTemporaryRedirect:
		if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Host != "" {
			moved := loc.Scheme + "://" + loc.Host
			c.target.CompareAndSwap(cur, &moved)
		}
		return &apiError{status: resp.StatusCode, code: "redirect"}
	case resp.StatusCode != http.StatusOK:
		var e struct {
			Code string `json:"code"`
		}
		_ = json.Unmarshal(c.buf.Bytes(), &e)
		return &apiError{status: resp.StatusCode, code: e.Code}
	}
	if out != nil {
		return json.Unmarshal(c.buf.Bytes(), out)
	}
	return nil
}

// clientFields appends the client's id and next seq, if it names itself.
func (c *distsyncClient) clientFields(b []byte) []byte {
	if c.id == "" {
		return b
	}
	c.seq++
	b = append(b, `,"client":"`...)
	b = append(b, c.id...)
	b = append(b, `","seq":`...)
	return strconv.AppendUint(b, c.seq, 10)
}

// open opens the client's session (TTL sessionTTL).
func (c *distsyncClient) open(ctx context.Context) error {
	b := append([]byte(`{"ttl":"`), sessionTTL.String()...)
	b = append(b, '"')
	b = append(c.clientFields(b), '}')
	var rep struct {
		Session uint64 `json:"session"`
	}
	if err := c.post(ctx, "/locks/session", b, &rep); err != nil {
		return err
	}
	if rep.Session == 0 {
		return errors.New("session: no id in the answer")
	}
	c.session = rep.Session
	return nil
}

// op acquires resource r exclusively (waiting up to 1s) and releases it.
func (c *distsyncClient) op(ctx context.Context, r int) error {
	b := make([]byte, 0, 160)
	b = append(b, `{"resource":"`...)
	b = append(b, c.names[r]...)
	b = append(b, `","mode":"exclusive","session":`...)
	b = strconv.AppendUint(b, c.session, 10)
	b = append(b, `,"wait":"1s"`...)
	b = append(c.clientFields(b), '}')
	var rep struct {
		Granted bool `json:"granted"`
	}
	if err := c.post(ctx, "/locks/acquire", b, &rep); err != nil {
		return &kindError{"acquire " + errText(err), err}
	}
	if !rep.Granted {
		return &kindError{"acquire not granted", errors.New("granted false")}
	}
	b = append(b[:0], `{"session":`...)
	b = strconv.AppendUint(b, c.session, 10)
	b = append(b, `,"resource":"`...)
	b = append(b, c.names[r]...)
	b = append(b, '"')
	b = append(c.clientFields(b), '}')
	if err := c.post(ctx, "/locks/release", b, nil); err != nil {
		return &kindError{"release " + errText(err), err}
	}
	return nil
}

// errText is a short kind for an error of post.
func errText(err error) string {
	var a *apiError
	if errors.As(err, &a) {
		return a.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline exceeded"
	}
	return "transport"
}

// runDistsync measures distsync: every client opens a session once (POST
// /locks/session), then loops on POST /locks/acquire (exclusive, wait
// 1s) and POST /locks/release, sent to the leader.
func runDistsync(ctx context.Context, cfg Config, dir string) (*Result, error) {
	fmt.Fprintf(cfg.Log, "distsync: starting %d nodes (locks, fsync on) in %s\n", distsyncNodes, dir)
	client := newHTTPClient(cfg.Clients)
	defer client.CloseIdleConnections()
	c, err := startDistsync(ctx, dir, client)
	if err != nil {
		return nil, err
	}
	defer c.close()
	leader, err := c.leader(ctx, client)
	if err != nil {
		return nil, err
	}
	target := &atomic.Pointer[string]{}
	target.Store(&leader)
	names := lockNames("r", cfg.Resources)
	ops := make([]opFunc, cfg.Clients)
	for i := range ops {
		dc := &distsyncClient{http: client, target: target, names: names}
		if cfg.DistsyncClientIDs {
			dc.id = "lockcompare-" + strconv.Itoa(i)
			if err := nodes.NodeID(dc.id).Validate(); err != nil {
				return nil, err
			}
		}
		if err := openWithRetry(ctx, dc); err != nil {
			return nil, fmt.Errorf("session: %w", err)
		}
		ops[i] = dc.op
	}
	fmt.Fprintf(cfg.Log, "distsync: leader %s; %d clients (own client ids: %v): %v warm-up, %v measured\n",
		leader, cfg.Clients, cfg.DistsyncClientIDs, cfg.Warmup, cfg.Duration)
	res, err := drive(ctx, cfg, Distsync, ops, profiles{cpu: cfg.CPUProfile, trace: cfg.Trace})
	if err != nil {
		return nil, err
	}
	res.Leader = leader
	return res, nil
}

// openWithRetry opens a client's session, retrying a few times while a
// freshly elected leader settles (503, or a redirect).
func openWithRetry(ctx context.Context, dc *distsyncClient) error {
	var err error
	for range 50 {
		if err = dc.open(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}
