package main

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/distsync/distsync/cluster"
	"github.com/distsync/distsync/httpapi/apitypes"
	"github.com/distsync/distsync/httpapi/client"
)

// defaultEndpoint is the endpoint of `distsync client` and `load` when
// neither --endpoint nor --cluster is given and there is no local cluster
// file: node 1 of `cluster up`'s default ports.
const defaultEndpoint = "http://127.0.0.1:7401"

// target is where client commands send their requests: --endpoint or
// --cluster, or the default.
type target struct {
	endpoints   []string
	clusterFile string
}

// addFlags registers --endpoint and --cluster.
func (tg *target) addFlags(fs interface {
	StringSliceVar(*[]string, string, []string, string)
	StringVar(*string, string, string, string)
}) {
	fs.StringSliceVar(&tg.endpoints, "endpoint", nil, "a node's base URL (repeat or comma-separate for several; default: every node of "+
		filepath.Join(defaultClusterDir, cluster.FileName)+" if it exists, else "+defaultEndpoint+")")
	fs.StringVar(&tg.clusterFile, "cluster", "", "a cluster file: every node's HTTP address, and its TLS settings")
}

// resolve returns the endpoints and the TLS configuration to use; bad
// flags are usage errors naming the flag.
func (tg *target) resolve() ([]string, *tls.Config, error) {
	if len(tg.endpoints) > 0 && tg.clusterFile != "" {
		return nil, nil, usageError{errors.New("--endpoint, --cluster: give one or the other")}
	}
	if len(tg.endpoints) > 0 {
		for _, e := range tg.endpoints {
			u, err := url.Parse(e)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return nil, nil, usageError{fmt.Errorf("--endpoint: %q is not a base URL such as %s", e, defaultEndpoint)}
			}
		}
		return tg.endpoints, nil, nil
	}
	path := tg.clusterFile
	if path == "" {
		path = filepath.Join(defaultClusterDir, cluster.FileName)
		if _, err := os.Stat(path); err != nil {
			return []string{defaultEndpoint}, nil, nil
		}
	}
	f, err := cluster.Load(path)
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--cluster: %w", err)}
	}
	tlsCfg, err := f.ClientTLS()
	if err != nil {
		return nil, nil, usageError{fmt.Errorf("--cluster: %w", err)}
	}
	eps := make([]string, len(f.Nodes))
	for i := range f.Nodes {
		eps[i] = f.URL(&f.Nodes[i])
	}
	return eps, tlsCfg, nil
}

// clientOpts are the flags of every `distsync client` command.
type clientOpts struct {
	target
	timeout time.Duration
	retries int
	compact bool
}

// newClient builds the API client the flags describe.
func (o *clientOpts) newClient() (*client.Client, error) {
	eps, tlsCfg, err := o.resolve()
	if err != nil {
		return nil, err
	}
	if o.timeout <= 0 {
		return nil, usageError{fmt.Errorf("--timeout: %v, want a positive duration", o.timeout)}
	}
	if o.retries < 0 {
		return nil, usageError{fmt.Errorf("--retries: %d is negative", o.retries)}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = tlsCfg
	retries := o.retries
	if retries == 0 {
		retries = -1 // none
	}
	c, err := client.New(client.Config{Endpoints: eps, HTTPClient: &http.Client{Transport: tr}, Timeout: o.timeout, Retries: retries})
	if err != nil {
		return nil, usageError{err}
	}
	return c, nil
}

// print writes v as JSON, indented unless --compact.
func (o *clientOpts) print(cmd *cobra.Command, v any) error {
	var b []byte
	var err error
	if o.compact {
		b, err = json.Marshal(v)
	} else {
		b, err = json.MarshalIndent(v, "", "  ")
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cmd.OutOrStdout(), "%s\n", b)
	return err
}

// run wraps a subcommand: it builds the client, calls fn and prints its
// result as JSON. An API error is returned as is (exit 1).
func (o *clientOpts) run(fn func(cmd *cobra.Command, c *client.Client, args []string) (any, error)) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		c, err := o.newClient()
		if err != nil {
			return err
		}
		out, err := fn(cmd, c, args)
		if err != nil {
			return err
		}
		return o.print(cmd, out)
	}
}

func newClientCmd() *cobra.Command {
	o := &clientOpts{}
	cmd := &cobra.Command{
		Use:   "client [--endpoint URL ... | --cluster cluster.yaml] COMMAND",
		Short: "Talk to a real cluster's HTTP API: locks, queues, the cache, status and health",
		Long: `client sends one request to a real cluster's HTTP API and prints the answer as
JSON (indented; --compact for one line). It follows redirects to the leader and
retries 503s and connection errors on the other nodes.

The nodes: --endpoint URL (repeatable), or every node of --cluster FILE; by
default every node of out/cluster/cluster.yaml if it exists (the cluster
'distsync cluster up' starts), else http://127.0.0.1:7401.

Exit codes: 0 the request succeeded, 1 the API answered an error (printed with
its HTTP status, code and field) or no node answered, 2 bad usage.`,
		Example: `  distsync client locks acquire orders --wait 2s --ttl 30s
  distsync client locks release orders --session 12
  distsync client queue enqueue jobs 'hello'
  distsync client --endpoint http://127.0.0.1:7402 cache get user:1
  distsync client --cluster /tmp/c/cluster.yaml status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	pf := cmd.PersistentFlags()
	o.addFlags(pf)
	pf.DurationVar(&o.timeout, "timeout", client.DefaultTimeout, "how long one attempt may take (an acquire's also gets its --wait)")
	pf.IntVar(&o.retries, "retries", client.DefaultRetries, "attempts after a 503 or a connection error, on the next node (0: none)")
	pf.BoolVar(&o.compact, "compact", false, "print the JSON on one line")
	cmd.AddCommand(newClientLocksCmd(o), newClientQueueCmd(o), newClientCacheCmd(o), newClientStatusCmd(o), newClientHealthCmd(o))
	return cmd
}

// group is a command that only holds subcommands.
func group(use, short string, subs ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() }}
	cmd.AddCommand(subs...)
	return cmd
}

// sessionFlag reads a required --session.
func sessionFlag(cmd *cobra.Command, session uint64) error {
	if !cmd.Flags().Changed("session") || session == 0 {
		return usageError{errors.New("--session: required (the id an acquire or open-session printed), at least 1")}
	}
	return nil
}

// durationFlag returns a duration flag as a request field: nil unless
// given; negative is a usage error.
func durationFlag(cmd *cobra.Command, name string, d time.Duration) (*string, error) {
	if !cmd.Flags().Changed(name) {
		return nil, nil
	}
	if d < 0 {
		return nil, usageError{fmt.Errorf("--%s: %v is negative", name, d)}
	}
	return apitypes.Duration(d), nil
}

func newClientLocksCmd(o *clientOpts) *cobra.Command {
	var (
		mode      string
		session   uint64
		wait, ttl time.Duration
	)
	acquire := &cobra.Command{
		Use:   "acquire RESOURCE [--mode exclusive|shared] [--session N] [--wait 2s] [--ttl 30s]",
		Short: "Acquire a lock; without --session a new session (TTL --ttl) is opened and printed",
		Args:  cobra.ExactArgs(1),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			if mode != apitypes.ModeExclusive && mode != apitypes.ModeShared {
				return nil, usageError{fmt.Errorf("--mode: %q, want exclusive or shared", mode)}
			}
			req := apitypes.AcquireRequest{Resource: args[0], Mode: mode, Session: session}
			var err error
			if req.Wait, err = durationFlag(cmd, "wait", wait); err != nil {
				return nil, err
			}
			if req.TTL, err = durationFlag(cmd, "ttl", ttl); err != nil {
				return nil, err
			}
			if req.TTL != nil && session != 0 {
				return nil, usageError{errors.New("--ttl: only for a new session, not with --session")}
			}
			return c.Acquire(cmd.Context(), req)
		}),
	}
	acquire.Flags().StringVar(&mode, "mode", apitypes.ModeExclusive, "exclusive or shared")
	acquire.Flags().Uint64Var(&session, "session", 0, "the session to acquire on (default: open a new one)")
	acquire.Flags().DurationVar(&wait, "wait", 0, "how long to queue for the lock; 0s is a try-lock (default: the server's)")
	acquire.Flags().DurationVar(&ttl, "ttl", 0, "the new session's TTL (default: the cluster's)")

	release := &cobra.Command{
		Use:   "release RESOURCE --session N",
		Short: "Release a lock the session holds",
		Args:  cobra.ExactArgs(1),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			if err := sessionFlag(cmd, session); err != nil {
				return nil, err
			}
			return c.Release(cmd.Context(), apitypes.SessionRequest{Session: session, Resource: args[0]})
		}),
	}
	release.Flags().Uint64Var(&session, "session", 0, "the session holding the lock (required)")

	renew := &cobra.Command{
		Use:   "renew --session N",
		Short: "Keep a session alive for another TTL",
		Args:  cobra.NoArgs,
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, _ []string) (any, error) {
			if err := sessionFlag(cmd, session); err != nil {
				return nil, err
			}
			return c.Renew(cmd.Context(), apitypes.SessionRequest{Session: session})
		}),
	}
	renew.Flags().Uint64Var(&session, "session", 0, "the session (required)")

	show := &cobra.Command{
		Use:   "show RESOURCE",
		Short: "Print a lock's holders and waiters",
		Args:  cobra.ExactArgs(1),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			return c.Lock(cmd.Context(), args[0])
		}),
	}

	open := &cobra.Command{
		Use:   "open-session [--ttl 30s]",
		Short: "Open a session",
		Args:  cobra.NoArgs,
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, _ []string) (any, error) {
			t, err := durationFlag(cmd, "ttl", ttl)
			if err != nil {
				return nil, err
			}
			return c.OpenSession(cmd.Context(), apitypes.SessionRequest{TTL: t})
		}),
	}
	open.Flags().DurationVar(&ttl, "ttl", 0, "the session's TTL (default: the cluster's)")

	closeCmd := &cobra.Command{
		Use:   "close-session --session N",
		Short: "Close a session, releasing its locks",
		Args:  cobra.NoArgs,
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, _ []string) (any, error) {
			if err := sessionFlag(cmd, session); err != nil {
				return nil, err
			}
			return c.CloseSession(cmd.Context(), apitypes.SessionRequest{Session: session})
		}),
	}
	closeCmd.Flags().Uint64Var(&session, "session", 0, "the session (required)")
	return group("locks", "Acquire, release and inspect locks; open, renew and close sessions",
		acquire, release, renew, show, open, closeCmd)
}

// dequeued is a dequeue's answer as the client prints it: the API's, plus
// the body as text when it is UTF-8.
type dequeued struct {
	apitypes.DequeueReply
	BodyText *string `json:"body_text,omitempty"`
}

// receiptArg reads a RECEIPT argument.
func receiptArg(s string) (apitypes.Decimal, error) {
	r, err := apitypes.ParseDecimal(s)
	if err != nil || r == 0 {
		return 0, usageError{fmt.Errorf("RECEIPT: %q is not a receipt (the decimal number a dequeue printed)", s)}
	}
	return r, nil
}

// bodyArg returns the body: the argument, or the file's content.
func bodyArg(args []string, i int, file, what string) ([]byte, error) {
	switch {
	case file != "" && len(args) > i:
		return nil, usageError{fmt.Errorf("--file: give %s as an argument or --file, not both", what)}
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError{fmt.Errorf("--file: %w", err)}
		}
		return b, nil
	case len(args) > i:
		return []byte(args[i]), nil
	}
	return nil, usageError{fmt.Errorf("%s: missing (an argument, or --file)", what)}
}

func newClientQueueCmd(o *clientOpts) *cobra.Command {
	var (
		dedup, file string
		visibility  time.Duration
	)
	enqueue := &cobra.Command{
		Use:   "enqueue QUEUE BODY [--dedup ID] | enqueue QUEUE --file F",
		Short: "Enqueue a message; answers once it is committed on a majority of the queue's group",
		Args:  cobra.RangeArgs(1, 2),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			body, err := bodyArg(args, 1, file, "BODY")
			if err != nil {
				return nil, err
			}
			return c.Enqueue(cmd.Context(), apitypes.EnqueueRequest{Queue: args[0], Body: body, DedupID: dedup})
		}),
	}
	enqueue.Flags().StringVar(&dedup, "dedup", "", "a deduplication id: a second enqueue with it is a duplicate")
	enqueue.Flags().StringVar(&file, "file", "", "read the body from this file")

	dequeue := &cobra.Command{
		Use:   "dequeue QUEUE [--visibility 30s]",
		Short: `Dequeue the oldest ready message (or {"empty": true}); ack or nack it with its receipt`,
		Args:  cobra.ExactArgs(1),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			vis, err := durationFlag(cmd, "visibility", visibility)
			if err != nil {
				return nil, err
			}
			d, err := c.Dequeue(cmd.Context(), apitypes.DequeueRequest{Queue: args[0], Visibility: vis})
			if err != nil {
				return nil, err
			}
			out := dequeued{DequeueReply: *d}
			if !d.Empty && utf8.Valid(d.Body) {
				s := string(d.Body)
				out.BodyText = &s
			}
			return out, nil
		}),
	}
	dequeue.Flags().DurationVar(&visibility, "visibility", 0, "how long the message stays invisible unless acked (default: the server's, 30s)")

	receipt := func(name, short string, fn func(*client.Client) func(*cobra.Command, apitypes.ReceiptRequest) (any, error)) *cobra.Command {
		return &cobra.Command{
			Use:   name + " QUEUE RECEIPT",
			Short: short,
			Args:  cobra.ExactArgs(2),
			RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
				r, err := receiptArg(args[1])
				if err != nil {
					return nil, err
				}
				return fn(c)(cmd, apitypes.ReceiptRequest{Queue: args[0], Receipt: r})
			}),
		}
	}
	ack := receipt("ack", "Delete the message delivered under RECEIPT", func(c *client.Client) func(*cobra.Command, apitypes.ReceiptRequest) (any, error) {
		return func(cmd *cobra.Command, r apitypes.ReceiptRequest) (any, error) { return c.Ack(cmd.Context(), r) }
	})
	nack := receipt("nack", "Make the message delivered under RECEIPT ready again at once", func(c *client.Client) func(*cobra.Command, apitypes.ReceiptRequest) (any, error) {
		return func(cmd *cobra.Command, r apitypes.ReceiptRequest) (any, error) { return c.Nack(cmd.Context(), r) }
	})
	return group("queue", "Enqueue, dequeue, ack and nack messages", enqueue, dequeue, ack, nack)
}

// cached is a cache value as the client prints it: as text when it is
// UTF-8, else in base64.
type cached struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
	Version     uint64  `json:"version"`
	Hit         bool    `json:"hit"`
}

func newClientCacheCmd(o *clientOpts) *cobra.Command {
	var (
		raw  bool
		file string
	)
	get := &cobra.Command{
		Use:   "get KEY [--raw]",
		Short: `Read a key: {"key", "value" (or "value_base64"), "version", "hit"}; a key never written is an error (404)`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			v, err := c.CacheGet(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if raw {
				_, err := cmd.OutOrStdout().Write(v.Value)
				return err
			}
			out := cached{Key: v.Key, Version: v.Version, Hit: v.Hit}
			if utf8.Valid(v.Value) {
				s := string(v.Value)
				out.Value = &s
			} else {
				out.ValueBase64 = v.Value
			}
			return o.print(cmd, out)
		},
	}
	get.Flags().BoolVar(&raw, "raw", false, "write the value's bytes alone, not JSON")

	put := &cobra.Command{
		Use:   "put KEY VALUE | put KEY --file F",
		Short: "Write a key",
		Args:  cobra.RangeArgs(1, 2),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			value, err := bodyArg(args, 1, file, "VALUE")
			if err != nil {
				return nil, err
			}
			return c.CachePut(cmd.Context(), args[0], value)
		}),
	}
	put.Flags().StringVar(&file, "file", "", "read the value from this file")

	del := &cobra.Command{
		Use:   "delete KEY",
		Short: "Delete a key",
		Args:  cobra.ExactArgs(1),
		RunE: o.run(func(cmd *cobra.Command, c *client.Client, args []string) (any, error) {
			return c.CacheDelete(cmd.Context(), args[0])
		}),
	}
	return group("cache", "Get, put and delete cache keys", get, put, del)
}

// nodeAnswer is one node's answer to status or health.
type nodeAnswer struct {
	Endpoint string           `json:"endpoint"`
	Status   *apitypes.Status `json:"status,omitempty"`
	Health   *apitypes.Health `json:"health,omitempty"`
	Error    *nodeError       `json:"error,omitempty"`
}

// nodeError is a node's failure, as status and health print it.
type nodeError struct {
	Status  int    `json:"status,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// eachNode asks every endpoint and prints an array of answers; it fails
// (exit 1) if any node did.
func eachNode(o *clientOpts, what string, ask func(cmd *cobra.Command, c *client.Client, a *nodeAnswer) error) *cobra.Command {
	return &cobra.Command{
		Use:   what,
		Short: fmt.Sprintf("Print every node's %s, as a JSON array; exit 1 if a node does not answer 200", what),
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := o.newClient()
			if err != nil {
				return err
			}
			eps := c.Endpoints()
			out := make([]nodeAnswer, len(eps))
			failed := 0
			for i, ep := range eps {
				out[i].Endpoint = ep
				if err := ask(cmd, c.At(i), &out[i]); err != nil {
					failed++
					ne := &nodeError{Code: client.Code(err), Message: err.Error()}
					var e *client.Error
					if errors.As(err, &e) {
						ne.Status, ne.Message = e.Status, e.Message
					}
					out[i].Error = ne
				}
			}
			if err := o.print(cmd, out); err != nil {
				return err
			}
			if failed > 0 {
				return fmt.Errorf("%s: %d of %d node(s) failed", what, failed, len(eps))
			}
			return nil
		},
	}
}

func newClientStatusCmd(o *clientOpts) *cobra.Command {
	return eachNode(o, "status", func(cmd *cobra.Command, c *client.Client, a *nodeAnswer) error {
		st, err := c.Status(cmd.Context())
		a.Status = st
		return err
	})
}

func newClientHealthCmd(o *clientOpts) *cobra.Command {
	return eachNode(o, "health", func(cmd *cobra.Command, c *client.Client, a *nodeAnswer) error {
		h, err := c.Health(cmd.Context())
		a.Health = h
		return err
	})
}
