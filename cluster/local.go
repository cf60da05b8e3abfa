package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/distsync/distsync/nodes"
)

// Local cluster layout: what `distsync cluster up` writes in its directory.
const (
	// FileName is the cluster file in a local cluster's directory.
	FileName = "cluster.yaml"
	// TokenFileName holds the cluster token (mode 0600).
	TokenFileName = "token"
	// MaxLocalNodes bounds `cluster up --nodes`.
	MaxLocalNodes = 9
)

// LocalSpec describes a local cluster of real processes on 127.0.0.1.
type LocalSpec struct {
	// Nodes is the number of nodes (1..MaxLocalNodes).
	Nodes int
	// Dir holds the cluster file, the token, and each node's data
	// directory, log and pid file.
	Dir string
	// BasePort numbers the ports: node i (from 1) serves HTTP on
	// BasePort+i, peers on BasePort+100+i and, with fault injection, its
	// admin endpoint on BasePort+200+i.
	BasePort int
	// Services each node runs (default: all).
	Services []string
}

// WriteLocal writes the cluster file and token of a local cluster into
// spec.Dir (creating it) and returns the cluster file's path. An existing
// token is kept, so restarting a cluster keeps its secret.
func WriteLocal(spec LocalSpec) (string, error) {
	if spec.Nodes < 1 || spec.Nodes > MaxLocalNodes {
		return "", fmt.Errorf("cluster up: nodes: %d outside [1, %d]", spec.Nodes, MaxLocalNodes)
	}
	if spec.BasePort < 1024 || spec.BasePort+200+spec.Nodes > 65535 {
		return "", fmt.Errorf("cluster up: base-port: %d outside [1024, %d]", spec.BasePort, 65535-200-spec.Nodes)
	}
	if err := os.MkdirAll(spec.Dir, 0o755); err != nil {
		return "", fmt.Errorf("cluster up: dir: %w", err)
	}
	tokPath := filepath.Join(spec.Dir, TokenFileName)
	if _, err := os.Stat(tokPath); errors.Is(err, os.ErrNotExist) {
		tok := make([]byte, 32)
		if _, err := rand.Read(tok); err != nil {
			return "", fmt.Errorf("cluster up: token: %w", err)
		}
		if err := os.WriteFile(tokPath, []byte(hex.EncodeToString(tok)+"\n"), 0o600); err != nil {
			return "", fmt.Errorf("cluster up: token: %w", err)
		}
	}
	f := File{Name: "local", TokenFile: TokenFileName}
	for i := 1; i <= spec.Nodes; i++ {
		f.Nodes = append(f.Nodes, Node{
			ID:       nodes.NodeID(fmt.Sprintf("n%d", i)),
			HTTP:     "127.0.0.1:" + strconv.Itoa(spec.BasePort+i),
			Peer:     "127.0.0.1:" + strconv.Itoa(spec.BasePort+100+i),
			Admin:    "127.0.0.1:" + strconv.Itoa(spec.BasePort+200+i),
			Dir:      fmt.Sprintf("n%d", i),
			Services: spec.Services,
		})
	}
	data, err := yaml.Marshal(&f)
	if err != nil {
		return "", fmt.Errorf("cluster up: %w", err)
	}
	path := filepath.Join(spec.Dir, FileName)
	if _, err := Parse(path, data); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		return "", fmt.Errorf("cluster up: %w", err)
	}
	return path, nil
}

// Launch starts one `distsync node` process per node of the cluster file,
// detached (its own session), logging to DIR/ID.log and recording its pid
// in DIR/ID.pid, where DIR is the cluster file's directory. binary is the
// distsync executable; extra flags are passed to every node. It refuses to
// start a node whose pid file names a live process.
func Launch(f *File, binary string, extra ...string) error {
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if pid, alive := pidAlive(f.pidFile(n.ID)); alive {
			return fmt.Errorf("cluster up: %s already runs as pid %d (cluster down first)", n.ID, pid)
		}
	}
	for i := range f.Nodes {
		if err := f.launch(&f.Nodes[i], binary, extra); err != nil {
			return err
		}
	}
	return nil
}

// LaunchNode starts node id alone (a restart after Kill), as Launch does.
func LaunchNode(f *File, id nodes.NodeID, binary string, extra ...string) error {
	n, err := f.Node(id)
	if err != nil {
		return err
	}
	if pid, alive := pidAlive(f.pidFile(id)); alive {
		return fmt.Errorf("cluster: %s already runs as pid %d", id, pid)
	}
	return f.launch(n, binary, extra)
}

func (f *File) launch(n *Node, binary string, extra []string) error {
	log, err := os.OpenFile(f.path(string(n.ID)+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("cluster up: %s: log: %w", n.ID, err)
	}
	defer log.Close()
	args := append([]string{"node", "--config", f.path(FileName), "--id", string(n.ID)}, extra...)
	cmd := exec.Command(binary, args...)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster up: %s: %w", n.ID, err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release()
	return os.WriteFile(f.pidFile(n.ID), []byte(strconv.Itoa(pid)+"\n"), 0o644)
}

// WaitHealthy polls every node's /health until all answer 200 or ctx
// ends.
func WaitHealthy(ctx context.Context, f *File, client *http.Client) error {
	for i := range f.Nodes {
		n := &f.Nodes[i]
		for {
			if healthy(ctx, client, f.URL(n)+"/health") {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("cluster: %s (%s) not healthy: %w (see %s)", n.ID, n.HTTP, ctx.Err(), f.path(string(n.ID)+".log"))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

func healthy(ctx context.Context, client *http.Client, url string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// URL returns node n's HTTP base URL.
func (f *File) URL(n *Node) string {
	scheme := "http"
	if f.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + n.HTTP
}

// Down stops the processes of a local cluster: SIGTERM (a clean shutdown),
// then SIGKILL for any still alive after grace. It returns the ids it
// stopped.
func Down(f *File, grace time.Duration) ([]nodes.NodeID, error) {
	var stopped []nodes.NodeID
	var errs []error
	for i := range f.Nodes {
		id := f.Nodes[i].ID
		pid, alive := pidAlive(f.pidFile(id))
		if pid == 0 {
			continue
		}
		if alive {
			if err := stop(pid, grace); err != nil {
				errs = append(errs, fmt.Errorf("%s (pid %d): %w", id, pid, err))
				continue
			}
			stopped = append(stopped, id)
		}
		_ = os.Remove(f.pidFile(id))
	}
	return stopped, errors.Join(errs...)
}

// Kill sends SIGKILL to node id of a local cluster (a crash) and waits
// until it is gone.
func Kill(f *File, id nodes.NodeID) error {
	pid, alive := pidAlive(f.pidFile(id))
	if !alive {
		return fmt.Errorf("cluster: %s is not running", id)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("cluster: kill %s (pid %d): %w", id, pid, err)
	}
	return waitGone(pid, 5*time.Second)
}

// stop terminates pid: SIGTERM, then SIGKILL after grace.
func stop(pid int, grace time.Duration) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	if waitGone(pid, grace) == nil {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return waitGone(pid, 5*time.Second)
}

// waitGone waits until pid no longer exists (or is a zombie of ours).
func waitGone(pid int, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if !processAlive(pid) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("pid %d still alive after %v", pid, limit)
}

// pidFile is the pid file of node id.
func (f *File) pidFile(id nodes.NodeID) string { return f.path(string(id) + ".pid") }

// pidAlive reads a pid file: the pid (0 if none) and whether it runs.
func pidAlive(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, processAlive(pid)
}

// processAlive reports whether pid runs (a zombie counts as gone).
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true // no procfs: trust the signal
	}
	// The state follows the parenthesised command name.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// FreeBasePort finds a base port whose HTTP, peer and admin ports for n
// nodes are all free on 127.0.0.1 right now (tests use it).
func FreeBasePort(n int) (int, error) {
	for try := 0; try < 50; try++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		base := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if base < 1024 || base+200+n > 65535 {
			continue
		}
		if portsFree(base, n) {
			return base, nil
		}
	}
	return 0, errors.New("cluster: no free base port found")
}

func portsFree(base, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		for _, p := range []int{base + i, base + 100 + i, base + 200 + i} {
			l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
			if err != nil {
				return false
			}
			ls = append(ls, l)
		}
	}
	return true
}

// Signal sends sig to node id of a local cluster (SIGSTOP pauses it,
// SIGCONT resumes it).
func Signal(f *File, id nodes.NodeID, sig syscall.Signal) error {
	pid, alive := pidAlive(f.pidFile(id))
	if !alive {
		return fmt.Errorf("cluster: %s is not running", id)
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("cluster: signal %v to %s (pid %d): %w", sig, id, pid, err)
	}
	return nil
}

// IsRunning reports whether node id of a local cluster runs.
func IsRunning(f *File, id nodes.NodeID) bool {
	_, alive := pidAlive(f.pidFile(id))
	return alive
}
