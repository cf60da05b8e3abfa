package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/cluster/admin"
	"github.com/distsync/distsync/httpapi"
	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/runtime"
)

// Options tune a node process beyond its cluster file.
type Options struct {
	// EnableFaultInjection serves the admin endpoint (the transport's
	// fault filter) on the node's loopback admin address.
	EnableFaultInjection bool
	// Logger receives the node's and the runtime's log records (nil: none).
	Logger *slog.Logger
}

// Process is one running node of a cluster: its runtime Host (the node's
// event loop and peer transport), its HTTP API and, if enabled, its admin
// endpoint.
type Process struct {
	// Node is the node's entry in the cluster file.
	Node *Node
	// Host runs the node.
	Host *runtime.Host

	api, admin *http.Server
	served     chan error
}

// readHeaderTimeout bounds how long a client may take to send its headers.
const readHeaderTimeout = 5 * time.Second

// StartProcess starts node id of cluster file f in this process. It
// returns once the node's peer listener and HTTP API listen.
func StartProcess(f *File, id nodes.NodeID, opts Options) (*Process, error) {
	n, err := f.Node(id)
	if err != nil {
		return nil, err
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	fac, err := f.Factory(id)
	if err != nil {
		return nil, err
	}
	secret, err := f.Secret()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	serverTLS, clientTLS, err := f.tlsConfigs()
	if err != nil {
		return nil, err
	}
	peers := map[nodes.NodeID]string{}
	for _, p := range f.Nodes {
		peers[p.ID] = p.Peer
	}
	host, err := runtime.Start(runtime.Config{
		ID: id, Peers: peers, Dir: f.DataDir(n), Factory: fac, Token: secret,
		ServerTLS: serverTLS, ClientTLS: clientTLS, Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: node %s: %w", id, err)
	}
	p := &Process{Node: n, Host: host, served: make(chan error, 2)}
	if err := p.serveAPI(f, serverTLS, logger); err != nil {
		_ = host.Stop()
		return nil, err
	}
	if opts.EnableFaultInjection {
		if err := p.serveAdmin(logger); err != nil {
			_ = p.Stop(context.Background())
			return nil, err
		}
	}
	return p, nil
}

// serveAPI starts the HTTP API on the node's http address.
func (p *Process) serveAPI(f *File, serverTLS *tls.Config, logger *slog.Logger) error {
	n := p.Node
	urls := map[nodes.NodeID]string{}
	for i := range f.Nodes {
		urls[f.Nodes[i].ID] = f.URL(&f.Nodes[i])
	}
	cfg := httpapi.Config{Self: n.ID, Backend: p.Host, Peers: urls, Logger: logger}
	if slices.Contains(n.Services, ServiceLocks) {
		cfg.Locks = &httpapi.LockConfig{Servers: f.Running(ServiceLocks), SessionTTL: f.Locks.SessionTTL.D()}
	}
	if slices.Contains(n.Services, ServiceQueues) {
		cfg.Queues = &httpapi.QueueConfig{Servers: f.Running(ServiceQueues)}
	}
	if slices.Contains(n.Services, ServiceCaches) {
		cfg.Caches = &httpapi.CacheConfig{Servers: f.Running(ServiceCaches), MaxValueBytes: f.Caches.MaxValueBytes}
	}
	api, err := httpapi.New(cfg)
	if err != nil {
		return fmt.Errorf("cluster: node %s: %w", n.ID, err)
	}
	ln, err := net.Listen("tcp", n.HTTP)
	if err != nil {
		return fmt.Errorf("cluster: node %s: http: %w", n.ID, err)
	}
	if serverTLS != nil {
		ln = tls.NewListener(ln, serverTLS)
	}
	p.api = &http.Server{Handler: api, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	go p.serve(p.api, ln)
	return nil
}

// serve runs srv on ln and reports an unexpected end on p.served.
func (p *Process) serve(srv *http.Server, ln net.Listener) {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		p.served <- err
	}
}

// Failed returns a channel that receives an error if an HTTP server of the
// process stops unexpectedly.
func (p *Process) Failed() <-chan error { return p.served }

// Stop shuts the process down cleanly: the HTTP servers stop accepting
// and finish their requests (until ctx ends), then the node's event loop
// ends and its queued frames are flushed.
func (p *Process) Stop(ctx context.Context) error {
	var errs []error
	for _, srv := range []*http.Server{p.api, p.admin} {
		if srv != nil {
			if err := srv.Shutdown(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := p.Host.Stop(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// tlsConfigs loads the cluster's certificates: the server side (HTTP and
// peer listeners) and the client side (dialing peers). Nil, nil without
// TLS. Peers authenticate each other with certificates signed by the CA,
// besides the token.
func (f *File) tlsConfigs() (server, client *tls.Config, err error) {
	if f.TLS == nil {
		return nil, nil, nil
	}
	cert, err := tls.LoadX509KeyPair(f.path(f.TLS.Cert), f.path(f.TLS.Key))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: tls: %w", err)
	}
	pem, err := os.ReadFile(f.path(f.TLS.CA))
	if err != nil {
		return nil, nil, fmt.Errorf("cluster: tls: ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, nil, fmt.Errorf("cluster: tls: ca: %s holds no PEM certificate", f.TLS.CA)
	}
	server = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven, MinVersion: tls.VersionTLS12}
	client = &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool, MinVersion: tls.VersionTLS12}
	return server, client, nil
}

// ClientTLS returns the TLS configuration a client of the cluster's HTTP
// API uses (nil without TLS).
func (f *File) ClientTLS() (*tls.Config, error) {
	_, client, err := f.tlsConfigs()
	return client, err
}

// serveAdmin starts the fault-injection admin endpoint on the node's
// admin address, which must be a loopback address. Requests whose Host
// header is not a loopback name are refused too (a browser tricked by DNS
// rebinding sends the attacker's host name).
func (p *Process) serveAdmin(logger *slog.Logger) error {
	n := p.Node
	if n.Admin == "" {
		return fmt.Errorf("cluster: node %s: --enable-fault-injection needs an admin address in the cluster file", n.ID)
	}
	ln, err := admin.Listen(n.Admin)
	if err != nil {
		return fmt.Errorf("cluster: node %s: %w", n.ID, err)
	}
	h := admin.Handler(p.Host, logger)
	guard := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !isLoopback(strings.Trim(host, "[]")) {
			http.Error(w, `{"error":"admin endpoint: loopback host names only"}`, http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
	p.admin = &http.Server{Handler: guard, ReadHeaderTimeout: readHeaderTimeout}
	go p.serve(p.admin, ln)
	logger.Warn("fault injection enabled", "admin", ln.Addr().String())
	return nil
}
