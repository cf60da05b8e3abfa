// Package gossip is a small anti-entropy node: every node starts with one
// token (its own id) and gossips until every node knows every token. Tokens
// are kept on disk, so a node that crashes and restarts keeps what it
// synced.
//
// It exists to prove the node contract on both sides: the same type runs in
// the simulator (package sim) and as real processes (package
// nodes/runtime), and must reach the same outcome in both. It uses every
// part of Env: messages, timers, the random source, the disk and the log.
package gossip

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/wire"
)

// TypePush is the wire type of Push.
const TypePush nodes.MessageType = 1

// MaxTokens bounds the tokens one node keeps and one Push carries.
const MaxTokens = 1024

// Push carries the sender's whole token set.
type Push struct {
	Tokens []string
}

// Type implements nodes.Message.
func (*Push) Type() nodes.MessageType { return TypePush }

// Encode implements nodes.Message.
func (p *Push) Encode(e *wire.Encoder) {
	e.Uvarint(uint64(len(p.Tokens)))
	for _, t := range p.Tokens {
		e.String(t)
	}
}

// String renders the message for traces.
func (p *Push) String() string { return "push[" + strings.Join(p.Tokens, ",") + "]" }

func decodePush(d *wire.Decoder) nodes.Message {
	n := d.ListLen(1)
	if n > MaxTokens {
		d.Fail(fmt.Errorf("gossip push: %d tokens > %d", n, MaxTokens))
		return nil
	}
	p := &Push{Tokens: make([]string, 0, n)}
	for i := 0; i < n; i++ {
		p.Tokens = append(p.Tokens, d.String())
	}
	return p
}

func init() { nodes.Register(TypePush, "gossip.push", decodePush) }

// DefaultInterval is how often a node pushes to a random peer.
const DefaultInterval = 50 * time.Millisecond

const timerGossip = "gossip"
const logFile = "tokens.log"

// Node is one gossiping node.
type Node struct {
	env      nodes.Env
	interval time.Duration
	known    []string // sorted
	file     nodes.File
	peers    []nodes.NodeID
	done     bool
	unsynced int // batches appended since the last sync
}

// New returns a node factory with the given push interval (0 means
// DefaultInterval).
func New(interval time.Duration) nodes.Factory {
	if interval <= 0 {
		interval = DefaultInterval
	}
	return func(nodes.NodeID) nodes.Node { return &Node{interval: interval} }
}

// Start implements nodes.Node: recover tokens from disk, add our own, and
// start gossiping.
func (n *Node) Start(env nodes.Env) {
	n.env = env
	for _, p := range env.Peers() {
		if p != env.ID() {
			n.peers = append(n.peers, p)
		}
	}
	f, err := env.Disk().Open(logFile)
	if err != nil {
		panic(fmt.Sprintf("gossip %s: open %s: %v", env.ID(), logFile, err))
	}
	n.file = f
	recovered, err := n.recover()
	if err != nil {
		env.Logf("recovery: %v", err)
	}
	env.Logf("recovered %d tokens", recovered)
	n.merge([]string{string(env.ID())})
	env.SetTimer(n.jitter(), nodes.Timer{Kind: timerGossip})
}

// recover reads the token log, keeps every whole record, and truncates a
// torn or corrupt tail.
func (n *Node) recover() (int, error) {
	size := n.file.Size()
	buf := make([]byte, size)
	if _, err := n.file.ReadAt(buf, 0); err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read %s: %w", logFile, err)
	}
	off, count := 0, 0
	var bad error
	for off < len(buf) {
		tok, next, err := decodeRecord(buf, off)
		if err != nil {
			bad = fmt.Errorf("%s: record at byte %d: %w (truncated)", logFile, off, err)
			break
		}
		i, found := slices.BinarySearch(n.known, tok)
		if !found {
			n.known = slices.Insert(n.known, i, tok)
			count++
		}
		off = next
	}
	if off < len(buf) {
		if err := n.file.Truncate(int64(off)); err != nil {
			return count, fmt.Errorf("truncate %s to %d: %w", logFile, off, err)
		}
		if err := n.file.Sync(); err != nil {
			return count, fmt.Errorf("sync %s: %w", logFile, err)
		}
	}
	return count, bad
}

func decodeRecord(buf []byte, off int) (string, int, error) {
	l, k := binary.Uvarint(buf[off:])
	if k <= 0 || l == 0 || l > 256 {
		return "", 0, errors.New("bad length")
	}
	end := off + k + int(l) + 4
	if end > len(buf) {
		return "", 0, errors.New("short record")
	}
	body := buf[off+k : off+k+int(l)]
	if crc32.ChecksumIEEE(body) != binary.LittleEndian.Uint32(buf[end-4:end]) {
		return "", 0, errors.New("checksum mismatch")
	}
	return string(body), end, nil
}

// merge adds tokens, persists the new ones (synced before anything else
// happens), and reports whether any was new.
func (n *Node) merge(tokens []string) bool {
	var rec []byte
	for _, t := range tokens {
		if t == "" || len(t) > 256 {
			continue
		}
		i, found := slices.BinarySearch(n.known, t)
		if found || len(n.known) >= MaxTokens {
			continue
		}
		n.known = slices.Insert(n.known, i, t)
		rec = binary.AppendUvarint(rec, uint64(len(t)))
		rec = append(rec, t...)
		rec = binary.LittleEndian.AppendUint32(rec, crc32.ChecksumIEEE([]byte(t)))
	}
	if rec == nil {
		return false
	}
	if _, err := n.file.Append(rec); err != nil {
		panic(fmt.Sprintf("gossip %s: append: %v", n.env.ID(), err))
	}
	// Sync every other batch only: tokens are cheap to learn again, and a
	// crash then has unsynced bytes to lose or tear, which exercises the
	// recovery path (a torn record fails its checksum and is cut).
	n.unsynced++
	if n.unsynced >= 2 {
		if err := n.file.Sync(); err != nil {
			panic(fmt.Sprintf("gossip %s: sync: %v", n.env.ID(), err))
		}
		n.unsynced = 0
	}
	if !n.done && len(n.known) == len(n.peers)+1 {
		n.done = true
		n.env.Logf("converged: %s", strings.Join(n.known, ","))
	}
	return true
}

func (n *Node) jitter() time.Duration {
	return n.interval/2 + time.Duration(n.env.Rand().Int64N(int64(n.interval)))
}

// Fire implements nodes.Node: push our tokens to one random peer.
func (n *Node) Fire(t nodes.Timer) {
	if t.Kind != timerGossip {
		panic(fmt.Sprintf("gossip %s: unknown timer %v", n.env.ID(), t))
	}
	if len(n.peers) > 0 {
		to := n.peers[n.env.Rand().IntN(len(n.peers))]
		n.env.Send(to, &Push{Tokens: slices.Clone(n.known)})
	}
	n.env.SetTimer(n.jitter(), nodes.Timer{Kind: timerGossip})
}

// Receive implements nodes.Node: merge, and answer if the sender lacks
// something we know.
func (n *Node) Receive(from nodes.NodeID, m nodes.Message) {
	p, ok := m.(*Push)
	if !ok {
		n.env.Logf("ignored %s from %s", nodes.TypeName(m.Type()), from)
		return
	}
	n.merge(p.Tokens)
	if len(p.Tokens) < len(n.known) {
		n.env.Send(from, &Push{Tokens: slices.Clone(n.known)})
	}
}

// Known returns the tokens this node knows, sorted.
func (n *Node) Known() []string { return slices.Clone(n.known) }

// Converged reports whether the node knows a token from every node.
func (n *Node) Converged() bool { return n.env != nil && len(n.known) == len(n.peers)+1 }
