package lockcompare

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/version"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"google.golang.org/grpc/grpclog"
)

// etcdMembers is the size of the etcd cluster.
const etcdMembers = 3

// sessionTTL is the TTL of every client's session, on both systems.
const sessionTTL = 30 * time.Second

// opTimeout bounds one lock or unlock call.
const opTimeout = 10 * time.Second

func etcdVersion() string { return version.Version }

var quietOnce sync.Once

// quietGRPC silences gRPC's global logger (etcd's server and client log
// through it); errors reach the caller as return values.
func quietGRPC() {
	quietOnce.Do(func() { grpclog.SetLoggerV2(grpclog.NewLoggerV2(io.Discard, io.Discard, io.Discard)) })
}

// etcdCluster is an embedded etcd cluster on 127.0.0.1.
type etcdCluster struct {
	members []*embed.Etcd
	clients []string // client URL of each member
}

// freePorts returns n TCP ports free on 127.0.0.1 right now.
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// startEtcd starts a 3-member etcd cluster with its data under dir, with
// etcd's defaults (fsync on: UnsafeNoFsync false) and no logs, and waits
// until every member is ready.
func startEtcd(ctx context.Context, dir string) (*etcdCluster, error) {
	ports, err := freePorts(2 * etcdMembers)
	if err != nil {
		return nil, err
	}
	name := func(i int) string { return "e" + strconv.Itoa(i+1) }
	peerURL := func(i int) url.URL { return url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[2*i])} }
	clientURL := func(i int) url.URL { return url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(ports[2*i+1])} }
	var initial []string
	for i := range etcdMembers {
		u := peerURL(i)
		initial = append(initial, name(i)+"="+u.String())
	}
	c := &etcdCluster{}
	started := make([]*embed.Etcd, etcdMembers)
	errs := make([]error, etcdMembers)
	var wg sync.WaitGroup
	for i := range etcdMembers {
		cfg := embed.NewConfig()
		cfg.Name = name(i)
		cfg.Dir = filepath.Join(dir, name(i))
		cfg.ListenPeerUrls = []url.URL{peerURL(i)}
		cfg.AdvertisePeerUrls = []url.URL{peerURL(i)}
		cfg.ListenClientUrls = []url.URL{clientURL(i)}
		cfg.AdvertiseClientUrls = []url.URL{clientURL(i)}
		cfg.InitialCluster = strings.Join(initial, ",")
		cfg.InitialClusterToken = "lockcompare"
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.UnsafeNoFsync = false // etcd's default, stated: every WAL write is fsynced
		cfg.LogLevel = "error"
		cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
		u := clientURL(i)
		c.clients = append(c.clients, u.String())
		wg.Go(func() { started[i], errs[i] = embed.StartEtcd(cfg) })
	}
	wg.Wait()
	for _, e := range started {
		if e != nil {
			c.members = append(c.members, e)
		}
	}
	if err := errors.Join(errs...); err != nil {
		c.close()
		return nil, err
	}
	ready, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for i, e := range c.members {
		select {
		case <-e.Server.ReadyNotify():
		case err := <-e.Err():
			c.close()
			return nil, fmt.Errorf("member %s: %w", name(i), err)
		case <-ready.Done():
			c.close()
			return nil, fmt.Errorf("member %s not ready: %w", name(i), ready.Err())
		}
	}
	return c, nil
}

func (c *etcdCluster) close() {
	var wg sync.WaitGroup
	for _, e := range c.members {
		wg.Go(e.Close)
	}
	wg.Wait()
}

// newClient connects to the given endpoints, logging nothing.
func newEtcdClient(endpoints ...string) (*clientv3.Client, error) {
	return clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
}

// leader returns the client URL of the current leader, waiting for one.
func (c *etcdCluster) leader(ctx context.Context) (string, error) {
	cli, err := newEtcdClient(c.clients...)
	if err != nil {
		return "", err
	}
	defer cli.Close()
	deadline, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		for _, ep := range c.clients {
			sctx, scancel := context.WithTimeout(deadline, time.Second)
			st, err := cli.Status(sctx, ep)
			scancel()
			if err == nil && st.Leader != 0 && st.Leader == st.Header.MemberId {
				return ep, nil
			}
		}
		select {
		case <-deadline.Done():
			return "", fmt.Errorf("no leader: %w", deadline.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// runEtcd measures etcd: every client opens a concurrency.Session (TTL
// 30s) once, then loops on NewMutex(session, "/locks/<r>").Lock, Unlock.
// The clients share cfg.EtcdConns clientv3 connections to the leader.
func runEtcd(ctx context.Context, cfg Config, dir string) (*Result, error) {
	fmt.Fprintf(cfg.Log, "etcd %s: starting %d members (fsync on) in %s\n", version.Version, etcdMembers, dir)
	c, err := startEtcd(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer c.close()
	leader, err := c.leader(ctx)
	if err != nil {
		return nil, err
	}
	conns := make([]*clientv3.Client, cfg.EtcdConns)
	defer func() {
		for _, cli := range conns {
			if cli != nil {
				cli.Close()
			}
		}
	}()
	for i := range conns {
		if conns[i], err = newEtcdClient(leader); err != nil {
			return nil, err
		}
	}
	sessions := make([]*concurrency.Session, cfg.Clients)
	defer func() {
		for _, s := range sessions {
			if s != nil {
				s.Orphan()
			}
		}
	}()
	names := lockNames("/locks/r", cfg.Resources)
	ops := make([]opFunc, cfg.Clients)
	for i := range ops {
		s, err := concurrency.NewSession(conns[i%len(conns)], concurrency.WithTTL(int(sessionTTL/time.Second)))
		if err != nil {
			return nil, fmt.Errorf("session: %w", err)
		}
		sessions[i] = s
		ops[i] = func(ctx context.Context, r int) error {
			ctx, cancel := context.WithTimeout(ctx, opTimeout)
			defer cancel()
			m := concurrency.NewMutex(s, names[r])
			if err := m.Lock(ctx); err != nil {
				return &kindError{"lock", err}
			}
			if err := m.Unlock(ctx); err != nil {
				return &kindError{"unlock", err}
			}
			return nil
		}
	}
	fmt.Fprintf(cfg.Log, "etcd: leader %s; %d clients over %d connections: %v warm-up, %v measured\n",
		leader, cfg.Clients, len(conns), cfg.Warmup, cfg.Duration)
	res, err := drive(ctx, cfg, Etcd, ops, profiles{cpu: cfg.EtcdCPUProfile, trace: cfg.EtcdTrace})
	if err != nil {
		return nil, err
	}
	res.Leader = leader
	return res, nil
}

// lockNames returns the n resource names prefix0 ... prefix<n-1>.
func lockNames(prefix string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i)
	}
	return names
}
