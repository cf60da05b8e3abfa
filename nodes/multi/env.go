package multi

import (
	"math/rand/v2"
	"time"

	"github.com/distsync/distsync/nodes"
)

// maxCachedKinds bounds the prefixed timer kinds a part's Env remembers.
// Nodes use a handful of constant kinds; past the bound, kinds are
// prefixed on every SetTimer (correct, one allocation more).
const maxCachedKinds = 64

// partEnv is the Env of one part of a composite node (see Node.Start).
type partEnv struct {
	env         nodes.Env
	name        string
	timerPrefix string // name + "/"
	logPrefix   string // name + ": "
	disk        *diskView
	// kinds caches timer kinds with their prefix, so that a SetTimer on
	// the hot path (a Raft tick) does not build a string each time.
	kinds map[string]string
}

var _ nodes.Env = (*partEnv)(nil)

func newPartEnv(env nodes.Env, name string) *partEnv {
	return &partEnv{
		env:         env,
		name:        name,
		timerPrefix: name + "/",
		logPrefix:   name + ": ",
		disk:        &diskView{env: env, prefix: name + "."},
		kinds:       map[string]string{},
	}
}

// ID implements nodes.Env: the composite's id.
func (e *partEnv) ID() nodes.NodeID { return e.env.ID() }

// Peers implements nodes.Env: the composite's cluster, not the part's
// service members (those come from the service's own configuration).
func (e *partEnv) Peers() []nodes.NodeID { return e.env.Peers() }

// Now implements nodes.Env.
func (e *partEnv) Now() time.Time { return e.env.Now() }

// Send implements nodes.Env. The receiving composite routes m by its type,
// so a part reaches the part of the same service on another node.
func (e *partEnv) Send(to nodes.NodeID, m nodes.Message) { e.env.Send(to, m) }

// SetTimer implements nodes.Env: the timer is set with Kind
// name+"/"+t.Kind, which Node.Fire strips again.
func (e *partEnv) SetTimer(d time.Duration, t nodes.Timer) nodes.TimerID {
	kind, ok := e.kinds[t.Kind]
	if !ok {
		kind = e.timerPrefix + t.Kind
		if len(e.kinds) < maxCachedKinds {
			e.kinds[t.Kind] = kind
		}
	}
	return e.env.SetTimer(d, nodes.Timer{Kind: kind, Arg: t.Arg})
}

// CancelTimer implements nodes.Env.
func (e *partEnv) CancelTimer(id nodes.TimerID) { e.env.CancelTimer(id) }

// Rand implements nodes.Env: the composite's one random source, shared by
// every part.
func (e *partEnv) Rand() *rand.Rand { return e.env.Rand() }

// Disk implements nodes.Env: the part's view of the composite's Disk.
func (e *partEnv) Disk() nodes.Disk { return e.disk }

// Logf implements nodes.Env: the line is prefixed with the part's name.
func (e *partEnv) Logf(format string, args ...any) { e.env.Logf(e.logPrefix+format, args...) }
