package multi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/nodes/caches"
	"github.com/distsync/distsync/nodes/locks"
	"github.com/distsync/distsync/nodes/multi"
	"github.com/distsync/distsync/nodes/queues"
)

// service is what the composite needs of a service package.
type service struct {
	name     string
	all      func() []nodes.MessageType // MessageTypes
	server   func() []nodes.MessageType // ServerMessageTypes
	prefixes []string                   // of the names its types are registered under
}

var services = []service{
	{"locks", locks.MessageTypes, locks.ServerMessageTypes, []string{"raft.msg", "lock."}},
	{"queues", queues.MessageTypes, queues.ServerMessageTypes, []string{"queue."}},
	{"caches", caches.MessageTypes, caches.ServerMessageTypes, []string{"cache."}},
}

func registered(t nodes.MessageType) bool { return nodes.TypeName(t) != fmt.Sprintf("type-%d", t) }

// TestMultiServiceMessageTypes checks the helpers the composite's callers
// use: MessageTypes lists every type the service registers (found in the
// registry by name), ServerMessageTypes the subset its server receives
// (the replies, sent by the server, are not in it), and no type belongs to
// two services, so the three servers can share one composite node.
func TestMultiServiceMessageTypes(t *testing.T) {
	seen := map[nodes.MessageType]string{}
	for _, s := range services {
		t.Run(s.name, func(t *testing.T) {
			all, server := s.all(), s.server()
			require.True(t, slices.IsSorted(all), "%v", all)
			require.True(t, slices.IsSorted(server), "%v", server)
			require.Equal(t, len(all), len(slices.Compact(slices.Clone(all))), "duplicates in %v", all)
			var want []nodes.MessageType
			for ty := nodes.MessageType(1); ty < nodes.MaxMessageType; ty++ {
				name := nodes.TypeName(ty)
				if registered(ty) && slices.ContainsFunc(s.prefixes, func(p string) bool { return strings.HasPrefix(name, p) }) {
					want = append(want, ty)
				}
			}
			require.Equal(t, want, all, "MessageTypes must list every type %s registers", s.name)
			for _, ty := range server {
				require.Contains(t, all, ty)
			}
			for _, ty := range all {
				name := nodes.TypeName(ty)
				isReply := strings.Contains(name, "reply") || strings.HasSuffix(name, ".notify")
				require.Equal(t, !isReply, slices.Contains(server, ty), "%s (%d): a server receives all but the replies", name, ty)
				require.Empty(t, seen[ty], "%s (%d) belongs to %s too", name, ty, seen[ty])
				seen[ty] = s.name
			}
			s.all()[0] = 0
			require.NotZero(t, s.all()[0], "a fresh slice each call")
			s.server()[0] = 0
			require.NotZero(t, s.server()[0], "a fresh slice each call")
		})
	}
	f := func(nodes.NodeID) nodes.Node { return &recNode{} }
	var parts, full []multi.Part
	for _, s := range services {
		parts = append(parts, multi.Part{Name: s.name, Factory: f, Types: s.server()})
		full = append(full, multi.Part{Name: s.name, Factory: f, Types: s.all()})
	}
	_, err := multi.New(parts...)
	require.NoError(t, err)
	_, err = multi.New(full...)
	require.NoError(t, err, "even the full lists are disjoint")
}
