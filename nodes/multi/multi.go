// Package multi hosts several service nodes under one node id: a composite
// nodes.Node, so that one process (one TCP port, one simulated node) can
// run the lock, queue and cache services at once.
//
// Each hosted service is a Part: a name, the factory of its node and the
// message types it receives. The composite routes every message by its
// type to the one part that claimed it, and every timer back to the part
// that set it. Each part sees its own Env (see Node.Start): the same id,
// peers, clock, network and random source as the composite, but timers,
// files and log lines of its own, so parts cannot collide on a timer kind
// or a file name.
//
// Parts are independent services that happen to share a process: each is
// configured with its own cluster membership (its service's Config), and a
// crash of the composite is a crash of every part.
package multi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distsync/distsync/nodes"
)

// MaxParts bounds the parts of one composite node.
const MaxParts = 16

// MaxNameBytes bounds a part's name.
const MaxNameBytes = 32

// Part is one service hosted by a composite node.
type Part struct {
	// Name names the part: "locks", "queues", "caches". It is made of
	// [a-z0-9-], 1..MaxNameBytes bytes, and unique within a composite; it
	// prefixes the part's timer kinds (Name+"/"), file names (Name+".")
	// and log lines.
	Name string
	// Factory builds the part's node, at every boot of the composite.
	Factory nodes.Factory
	// Types are the message types the part receives, each claimed by one
	// part only. Claim what the part's node receives, not what it sends:
	// for the services, their package's ServerMessageTypes (a server's
	// replies to clients are sent, never received).
	Types []nodes.MessageType
}

// config is a validated list of parts, shared by every node a factory
// builds.
type config struct {
	names     []string
	factories []nodes.Factory
	// routes maps a message type to 1 + the index of the part that
	// claimed it; 0 means unclaimed. A flat table: a lookup per message
	// must be cheap.
	routes [nodes.MaxMessageType]uint8
}

// New returns a factory of composite nodes hosting parts, in the order
// given (they are started in that order). It checks that there is at least
// one part and at most MaxParts, that names are valid and unique, that
// every part has a factory and at least one type, that every type is a
// valid type number, and that no type is claimed twice; errors name the
// field and its value.
func New(parts ...Part) (nodes.Factory, error) {
	if len(parts) == 0 || len(parts) > MaxParts {
		return nil, fmt.Errorf("multi: parts: %d given, want 1..%d", len(parts), MaxParts)
	}
	cfg := &config{}
	for i, p := range parts {
		field := fmt.Sprintf("multi: parts[%d]", i)
		if err := validateName(p.Name); err != nil {
			return nil, fmt.Errorf("%s.name: %w", field, err)
		}
		if j := slices.Index(cfg.names, p.Name); j >= 0 {
			return nil, fmt.Errorf("%s.name: %q already names parts[%d]", field, p.Name, j)
		}
		if p.Factory == nil {
			return nil, fmt.Errorf("%s.factory: nil (part %q)", field, p.Name)
		}
		if len(p.Types) == 0 {
			return nil, fmt.Errorf("%s.types: empty (part %q): a part must receive at least one message type", field, p.Name)
		}
		cfg.names = append(cfg.names, p.Name)
		cfg.factories = append(cfg.factories, p.Factory)
		for k, t := range p.Types {
			if t == 0 || int(t) >= nodes.MaxMessageType {
				return nil, fmt.Errorf("%s.types[%d]: type %d out of range 1..%d (part %q)", field, k, t, nodes.MaxMessageType-1, p.Name)
			}
			if r := cfg.routes[t]; r != 0 {
				owner := int(r) - 1
				return nil, fmt.Errorf("%s.types[%d]: type %d (%s) of part %q is already claimed by parts[%d] %q",
					field, k, t, nodes.TypeName(t), p.Name, owner, cfg.names[owner])
			}
			cfg.routes[t] = uint8(i + 1)
		}
	}
	return func(id nodes.NodeID) nodes.Node { return &Node{id: id, cfg: cfg} }, nil
}

// validateName reports whether name is a usable part name. The characters
// allowed are a subset of both node ids' and file names' (nodes.
// ValidateFileName), and exclude '/' and '.', the separators of timer
// kinds and file names: so a prefixed file name is valid on every Disk
// (the simulator's and nodes/runtime.DirDisk both check
// nodes.ValidateFileName), and a prefix can never be mistaken for another
// part's.
func validateName(name string) error {
	if name == "" || len(name) > MaxNameBytes {
		return fmt.Errorf("%q is %d bytes, want 1..%d", name, len(name), MaxNameBytes)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("%q has byte %q at %d, want [a-z0-9-]", name, c, i)
		}
	}
	return nil
}

// part is one started part: its node and the Env it was given.
type part struct {
	node nodes.Node
	env  *partEnv
}

// Node is a composite node: it hosts the parts its factory was built with
// and routes messages and timers to them. Like every node, it runs on one
// goroutine (or the simulator's thread); so do its parts.
type Node struct {
	id    nodes.NodeID
	cfg   *config
	env   nodes.Env
	parts []part // in cfg order; nil before Start

	droppedMsgs, droppedTimers uint64
}

var _ nodes.Node = (*Node)(nil)

// Part returns the node of the named part, or nil if there is no such part
// or the composite has not started. Callers (an HTTP layer, a test, a
// checker) type-assert it to the service's node type.
func (n *Node) Part(name string) nodes.Node {
	i := slices.Index(n.cfg.names, name)
	if i < 0 || n.parts == nil {
		return nil
	}
	return n.parts[i].node
}

// Parts returns the names of the parts, in the order given to New.
func (n *Node) Parts() []string { return slices.Clone(n.cfg.names) }

// Dropped returns how many events this incarnation of the node dropped:
// messages of a type no part claimed, and timers whose Kind names no part
// (or has no part prefix at all). Each drop is also logged. The count is
// volatile: a crash resets it.
func (n *Node) Dropped() uint64 { return n.droppedMsgs + n.droppedTimers }

// Start implements nodes.Node: it builds every part with its factory, then
// starts each, in the order given to New, with an Env of its own. That Env
// passes ID, Peers, Now, Send, CancelTimer and Rand through to the
// composite's Env; it differs in three ways:
//
//   - SetTimer sets the timer with Kind name+"/"+kind, so that Fire can
//     route it back (traces show the prefixed kind); the part's Fire sees
//     its own kind again.
//   - Disk is a view of the composite's Disk in which the part's files are
//     named name+"."+file: List returns only the part's files (prefix
//     stripped, sorted), and a file name may be at most
//     nodes.MaxFileNameBytes minus the prefix long.
//   - Logf prefixes every line with name+": ".
//
// Rand is shared: every part draws from the composite's one random stream
// (in the simulator, the node's stream derived from the seed), so a draw
// by one part shifts the numbers the others see. Runs stay deterministic,
// but adding a part, or a draw in one part, changes the others' choices
// for a given seed.
func (n *Node) Start(env nodes.Env) {
	if env.ID() != n.id {
		panic(fmt.Sprintf("multi: node built for %q started with the Env of %q", n.id, env.ID()))
	}
	n.env = env
	n.parts = make([]part, len(n.cfg.names))
	for i, name := range n.cfg.names {
		node := n.cfg.factories[i](n.id)
		if node == nil {
			panic(fmt.Sprintf("multi: node %s: the factory of part %q returned nil", n.id, name))
		}
		n.parts[i] = part{node: node, env: newPartEnv(env, name)}
	}
	for _, p := range n.parts {
		p.node.Start(p.env)
	}
}

// Receive implements nodes.Node: m goes to the part that claimed its type.
// A message of a type no part claimed is dropped, counted and logged.
func (n *Node) Receive(from nodes.NodeID, m nodes.Message) {
	t := m.Type()
	var r uint8
	if int(t) < len(n.cfg.routes) {
		r = n.cfg.routes[t]
	}
	if r == 0 {
		n.droppedMsgs++
		n.env.Logf("multi: dropped %s from %s: no part receives type %d", nodes.TypeName(t), from, t)
		return
	}
	n.parts[r-1].node.Receive(from, m)
}

// Fire implements nodes.Node: a timer set by a part (Kind name+"/"+kind)
// goes back to that part with its own Kind. A timer whose Kind names no
// part is dropped, counted and logged.
func (n *Node) Fire(t nodes.Timer) {
	name, kind, ok := strings.Cut(t.Kind, "/")
	i := -1
	if ok {
		i = slices.Index(n.cfg.names, name)
	}
	if i < 0 {
		n.droppedTimers++
		n.env.Logf("multi: dropped timer %v: no part of that name", t)
		return
	}
	n.parts[i].node.Fire(nodes.Timer{Kind: kind, Arg: t.Arg})
}
