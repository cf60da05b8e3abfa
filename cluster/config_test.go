package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/distsync/distsync/nodes"
)

const goodToken = "00112233445566778899aabbccddeeff"

const goodFile = `
name: test
token: ` + goodToken + `
caches: {capacity: 16}
nodes:
  - {id: n1, peer: 127.0.0.1:7101, http: 127.0.0.1:7001, dir: n1}
  - {id: n2, peer: 127.0.0.1:7102, http: 127.0.0.1:7002, dir: n2, services: [locks, caches]}
`

func TestParseGood(t *testing.T) {
	f, err := Parse("c.yaml", []byte(goodFile))
	require.NoError(t, err)
	require.Equal(t, []string{"locks", "queues", "caches"}, f.Nodes[0].Services)
	require.Equal(t, []nodes.NodeID{"n1", "n2"}, f.Running(ServiceLocks))
	require.Equal(t, []nodes.NodeID{"n1"}, f.Running(ServiceQueues))
	require.Equal(t, 16, f.Caches.Capacity)
	require.Equal(t, "directory", f.Caches.Protocol)
	sec, err := f.Secret()
	require.NoError(t, err)
	require.Len(t, sec, 16)
	_, err = f.Node("n9")
	require.ErrorContains(t, err, `"n9" is not in the cluster file`)
}

func TestParseBad(t *testing.T) {
	node := "\nnodes:\n  - {id: n1, peer: 127.0.0.1:7101, http: 127.0.0.1:7001, dir: n1}\n"
	for _, tc := range []struct {
		name, file, want string
	}{
		{"no token", "name: x" + node, "token, token_file: exactly one"},
		{"short token", "token: abcd" + node, "token: 2 bytes"},
		{"not hex", "token: zz" + node, "token: not hex"},
		{"unknown field", "token: " + goodToken + "\ncolour: red" + node, "field colour not found"},
		{"no nodes", "token: " + goodToken + "\nnodes: []\n", "nodes: 0 listed"},
		{"bad id", "token: " + goodToken + "\nnodes:\n  - {id: 'n 1', peer: 127.0.0.1:1, http: 127.0.0.1:2, dir: d}\n", "nodes[0]: id"},
		{"bad peer", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: nowhere, http: 127.0.0.1:2, dir: d}\n", "nodes[0]: peer: address \"nowhere\""},
		{"dup addr", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:1, dir: d}\n", "already used by n1.peer"},
		{"dup id", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:2, dir: d}\n  - {id: n1, peer: 127.0.0.1:3, http: 127.0.0.1:4, dir: e}\n", "nodes[1]: id: \"n1\" listed twice"},
		{"no dir", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:2}\n", "nodes[0]: dir: empty"},
		{"bad service", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:2, dir: d, services: [kv]}\n", `services: "kv" unknown`},
		{"public admin", "token: " + goodToken + "\nnodes:\n  - {id: n1, peer: 127.0.0.1:1, http: 127.0.0.1:2, admin: 0.0.0.0:3, dir: d}\n", "admin: address \"0.0.0.0:3\" is not a loopback"},
		{"broadcast", "token: " + goodToken + "\ncaches: {protocol: broadcast}" + node, "caches.protocol: broadcast needs a memory node"},
		{"bad policy", "token: " + goodToken + "\ncaches: {write_policy: sometimes}" + node, "caches.write_policy"},
		{"bad duration", "token: " + goodToken + "\nlocks: {tick: soon}" + node, `duration "soon"`},
		{"replicas", "token: " + goodToken + "\nqueues: {replicas: 9}" + node, "queues.replicas: 9"},
		{"two docs", "token: " + goodToken + node + "---\nname: y\n", "more than one YAML document"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tc.file))
			require.ErrorContains(t, err, tc.want)
			require.ErrorContains(t, err, "cluster file c.yaml")
		})
	}
}

func TestWriteLocal(t *testing.T) {
	dir := t.TempDir()
	path, err := WriteLocal(LocalSpec{Nodes: 3, Dir: dir, BasePort: 20000})
	require.NoError(t, err)
	f, err := Load(path)
	require.NoError(t, err)
	require.Len(t, f.Nodes, 3)
	require.Equal(t, "127.0.0.1:20002", f.Nodes[1].HTTP)
	require.Equal(t, "127.0.0.1:20102", f.Nodes[1].Peer)
	require.Equal(t, filepath.Join(dir, "n2"), f.DataDir(&f.Nodes[1]))
	st, err := os.Stat(filepath.Join(dir, TokenFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	sec1, err := f.Secret()
	require.NoError(t, err)

	// Writing again keeps the token.
	_, err = WriteLocal(LocalSpec{Nodes: 2, Dir: dir, BasePort: 20000})
	require.NoError(t, err)
	f2, err := Load(path)
	require.NoError(t, err)
	sec2, err := f2.Secret()
	require.NoError(t, err)
	require.Equal(t, sec1, sec2)

	_, err = WriteLocal(LocalSpec{Nodes: 0, Dir: dir, BasePort: 20000})
	require.ErrorContains(t, err, "nodes: 0 outside")
	_, err = WriteLocal(LocalSpec{Nodes: 3, Dir: dir, BasePort: 80})
	require.ErrorContains(t, err, "base-port: 80")
}
