// Package client is a Go client of a distsync node's HTTP API (package
// httpapi): locks, queues, the cache, /status and /health, over the JSON
// types of package httpapi/apitypes.
//
// A Client knows several endpoints (the base URLs of a cluster's nodes)
// and hides the cluster's routing:
//
//   - It follows 307 redirects itself, re-sending the body, and remembers
//     where it was sent (the lock leader, a queue's leader), so the next
//     request of that service goes there first.
//   - It retries a 503 (no quorum, busy, a node stopping) and a
//     connection error or an attempt that timed out, on the next endpoint,
//     after a capped, jittered exponential backoff. A redirect to a leader
//     that is gone thus falls back to another node.
//   - Any other answer that is not a 2xx is returned at once as an
//     *Error carrying the HTTP status, the API's error code and the field
//     at fault.
//
// A retry sends the very same body. Without Client and Seq in the request
// a lock or queue command that timed out may have been applied and is
// applied again; name them (see apitypes.AcquireRequest) to have the node
// answer a retry from its exactly-once table instead.
//
// A Client is safe for concurrent use.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout      = 10 * time.Second
	DefaultRetries      = 4
	DefaultMinBackoff   = 25 * time.Millisecond
	DefaultMaxBackoff   = time.Second
	DefaultMaxRedirects = 5
)

// maxAnswerBytes bounds the body of an answer the client reads.
const maxAnswerBytes = 64 << 20

// Config configures a Client.
type Config struct {
	// Endpoints are the base URLs of the nodes ("http://127.0.0.1:7401");
	// at least one. A request goes to the first (or to the node that
	// answered last) and on to the next when it fails.
	Endpoints []string
	// HTTPClient sends the requests (default: one with a transport of its
	// own). The Client follows redirects itself: it uses a copy whose
	// CheckRedirect hands the 307 back. A Timeout set on it bounds every
	// request, an acquire's wait included.
	HTTPClient *http.Client
	// Timeout bounds one attempt, redirects included (default 10s); an
	// acquire's attempt also gets its wait.
	Timeout time.Duration
	// Retries is how many more attempts a request gets after a 503, a
	// connection error or an attempt that timed out (0: DefaultRetries;
	// negative: none).
	Retries int
	// MinBackoff and MaxBackoff pace the retries: before retry i the
	// client sleeps a random duration in [b/2, b], b = min(MaxBackoff,
	// MinBackoff·2^i) (defaults 25ms and 1s). A Retry-After header does
	// not slow it down: the retry goes to another node.
	MinBackoff, MaxBackoff time.Duration
	// MaxRedirects bounds the 307s one attempt follows (default 5).
	MaxRedirects int
}

// Client is a client of a cluster's HTTP API. Create it with New.
type Client struct {
	cfg       Config
	endpoints []string
	http      *http.Client
	pref      atomic.Uint32 // index of the endpoint tried first
	leaders   sync.Map      // route -> base URL a redirect named
}

// New validates cfg and returns a Client.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("client config: endpoints: none given, want at least one base URL such as http://127.0.0.1:7401")
	}
	c := &Client{}
	for i, e := range cfg.Endpoints {
		base, err := normalize(e)
		if err != nil {
			return nil, fmt.Errorf("client config: endpoints[%d]: %w", i, err)
		}
		c.endpoints = append(c.endpoints, base)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{{"timeout", &cfg.Timeout, DefaultTimeout}, {"min_backoff", &cfg.MinBackoff, DefaultMinBackoff}, {"max_backoff", &cfg.MaxBackoff, DefaultMaxBackoff}} {
		if *d.v < 0 {
			return nil, fmt.Errorf("client config: %s: %v is negative", d.name, *d.v)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("client config: max_backoff: %v below min_backoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	switch {
	case cfg.Retries == 0:
		cfg.Retries = DefaultRetries
	case cfg.Retries < 0:
		cfg.Retries = 0
	}
	switch {
	case cfg.MaxRedirects == 0:
		cfg.MaxRedirects = DefaultMaxRedirects
	case cfg.MaxRedirects < 0:
		return nil, fmt.Errorf("client config: max_redirects: %d is negative", cfg.MaxRedirects)
	}
	hc := http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if cfg.HTTPClient != nil {
		hc = *cfg.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.cfg, c.http = cfg, &hc
	c.cfg.Endpoints = c.endpoints
	return c, nil
}

// normalize checks a base URL and drops a trailing slash.
func normalize(e string) (string, error) {
	u, err := url.Parse(e)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%q is not an http:// or https:// base URL", e)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%q: a base URL has no query or fragment", e)
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Endpoints returns the client's base URLs, normalized.
func (c *Client) Endpoints() []string { return append([]string(nil), c.endpoints...) }

// At returns a client that sends every request to endpoint i of
// Endpoints alone (it still follows redirects): for calls about one node,
// such as Status and Health. It panics if i is out of range.
func (c *Client) At(i int) *Client {
	cfg := c.cfg
	cfg.Endpoints = []string{c.endpoints[i]}
	return &Client{cfg: cfg, endpoints: cfg.Endpoints, http: c.http}
}

// call is one API request.
type call struct {
	method      string
	path        string // escaped, from the root: "/locks/acquire"
	route       string // the service's leader key ("locks", "queue:q"), "" if any node serves it
	body        []byte
	contentType string
	extra       time.Duration // added to the attempt's timeout
}

// answer is a 2xx response, read whole.
type answer struct {
	status int
	header http.Header
	body   []byte
}

// target returns the base URL an attempt goes to: the route's remembered
// leader, else the preferred endpoint. A failure moves both on (forget).
func (c *Client) target(route string) string {
	if route != "" {
		if l, ok := c.leaders.Load(route); ok {
			return l.(string)
		}
	}
	return c.endpoints[int(c.pref.Load())%len(c.endpoints)]
}

// do sends a call with redirects and retries, and returns its 2xx answer
// or an error: an *Error for an answer, or ctx's error.
func (c *Client) do(ctx context.Context, cl call) (*answer, error) {
	var last *Error
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if attempt > 0 {
			if err := sleep(ctx, c.backoff(attempt-1)); err != nil {
				return nil, fmt.Errorf("%s %s: %w (after %d attempts, last: %v)", cl.method, cl.path, err, attempt, last)
			}
		}
		base := c.target(cl.route)
		ans, err := c.attempt(ctx, cl, base)
		if err == nil {
			c.prefer(base)
			return ans, nil
		}
		if err.Status == 0 && ctx.Err() != nil {
			return nil, fmt.Errorf("%s %s: %w", cl.method, cl.path, ctx.Err())
		}
		last = err
		last.Attempts = attempt + 1
		if !last.Retryable() {
			return nil, last
		}
		c.forget(cl.route, base, last.URL)
	}
	return nil, last
}

// backoff is the sleep before retry i (from 0): equal jitter over a
// capped exponential.
func (c *Client) backoff(i int) time.Duration {
	b := c.cfg.MaxBackoff
	if i < 30 {
		b = min(c.cfg.MaxBackoff, c.cfg.MinBackoff<<i)
	}
	if b <= 1 {
		return b
	}
	return b/2 + rand.N(b/2+1)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// prefer makes base the first endpoint tried, if it is one.
func (c *Client) prefer(base string) {
	for i, e := range c.endpoints {
		if e == base {
			c.pref.Store(uint32(i))
			return
		}
	}
}

// forget drops what failed: the route's remembered leader if it was the
// node tried or the one that failed behind a redirect, and moves the
// preferred endpoint on if it was the node tried (which may keep
// redirecting to a leader that is gone: another node may know better).
func (c *Client) forget(route, base, failedURL string) {
	failed := baseOf(failedURL)
	if route != "" {
		if l, ok := c.leaders.Load(route); ok && (l == failed || l == base) {
			c.leaders.CompareAndDelete(route, l)
		}
	}
	p := c.pref.Load()
	if c.endpoints[int(p)%len(c.endpoints)] == base {
		c.pref.CompareAndSwap(p, uint32((int(p)+1)%len(c.endpoints)))
	}
}

// attempt sends cl to base, following redirects, within the attempt's
// timeout.
func (c *Client) attempt(ctx context.Context, cl call, base string) (*answer, *Error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout+cl.extra)
	defer cancel()
	target := base + cl.path
	for hop := 0; ; hop++ {
		ans, loc, err := c.send(actx, cl, target)
		if err != nil {
			return nil, err
		}
		if loc == "" {
			return ans, nil
		}
		if hop >= c.cfg.MaxRedirects {
			return nil, &Error{Method: cl.method, URL: target, Status: http.StatusTemporaryRedirect, Code: "redirect",
				Message: fmt.Sprintf("more than %d redirects (last to %s)", c.cfg.MaxRedirects, loc)}
		}
		if cl.route != "" {
			c.leaders.Store(cl.route, baseOf(loc))
		}
		target = loc
	}
}

// send sends one HTTP request. It returns the answer, or the Location of
// a 307 to follow, or an *Error.
func (c *Client) send(ctx context.Context, cl call, target string) (*answer, string, *Error) {
	var body io.Reader
	if cl.body != nil {
		body = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(ctx, cl.method, target, body)
	if err != nil {
		return nil, "", &Error{Method: cl.method, URL: target, Code: CodeUnreachable, Message: err.Error(), Err: err}
	}
	if cl.contentType != "" {
		req.Header.Set("Content-Type", cl.contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", &Error{Method: cl.method, URL: target, Code: CodeUnreachable, Message: err.Error(), Err: err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	if err != nil {
		return nil, "", &Error{Method: cl.method, URL: target, Code: CodeUnreachable, Message: "reading the answer: " + err.Error(), Err: err}
	}
	if resp.StatusCode == http.StatusTemporaryRedirect || resp.StatusCode == http.StatusPermanentRedirect {
		if loc := resp.Header.Get("Location"); loc != "" {
			u, err := req.URL.Parse(loc)
			if err == nil {
				return nil, u.String(), nil
			}
		}
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return &answer{status: resp.StatusCode, header: resp.Header, body: raw}, "", nil
	}
	return nil, "", apiError(cl.method, target, resp, raw)
}

// apiError reads an error answer.
func apiError(method, target string, resp *http.Response, raw []byte) *Error {
	e := &Error{Method: method, URL: target, Status: resp.StatusCode}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if secs, err := strconv.Atoi(s); err == nil && secs >= 0 {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	var body map[string]any
	if json.Unmarshal(raw, &body) == nil && body != nil {
		e.Message, _ = body["error"].(string)
		e.Code, _ = body["code"].(string)
		e.Field, _ = body["field"].(string)
		delete(body, "error")
		delete(body, "code")
		delete(body, "field")
		if len(body) > 0 {
			e.Extra = body
		}
	} else {
		e.Message = strings.TrimSpace(string(raw[:min(len(raw), 512)]))
	}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return e
}

// baseOf returns the scheme and host of a URL ("" if it has none).
func baseOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// doJSON sends in (if not nil) as JSON and decodes the answer into out.
func (c *Client) doJSON(ctx context.Context, cl call, in, out any) error {
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("%s %s: encoding the request: %w", cl.method, cl.path, err)
		}
		cl.body, cl.contentType = b, "application/json"
	}
	ans, err := c.do(ctx, cl)
	if err != nil {
		return err
	}
	return decodeAnswer(cl.method, cl.path, ans, out)
}

// decodeAnswer decodes a 2xx answer's JSON body into out.
func decodeAnswer(method, path string, ans *answer, out any) error {
	if err := json.Unmarshal(ans.body, out); err != nil {
		return &Error{Method: method, URL: path, Status: ans.status, Code: CodeBadAnswer,
			Message: fmt.Sprintf("answer is not the expected JSON: %v", err), Err: err}
	}
	return nil
}
