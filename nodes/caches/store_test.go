package caches

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/distsync/distsync/nodes"
	"github.com/distsync/distsync/protocols/mesi"
	"github.com/stretchr/testify/require"
)

// errInjected is the failure crashDisk injects.
var errInjected = errors.New("injected disk failure")

// crashFile is a file of a crashDisk: what reads see, and what a crash
// keeps.
type crashFile struct {
	data, durable []byte
	created       bool // its creation is durable (synced, or renamed in)
}

// crashDisk is an in-memory nodes.Disk that models crashes: a crash loses
// what was not synced (or keeps a torn prefix of it), and files never
// synced. From the failAt-th write on (Open of a new file, Append,
// Truncate, Sync, Rename, Remove), every write fails, as before a crash.
type crashDisk struct {
	files       map[string]*crashFile
	ops, failAt int
	rng         *rand.Rand
}

func newCrashDisk(seed uint64) *crashDisk {
	return &crashDisk{files: map[string]*crashFile{}, rng: rand.New(rand.NewPCG(seed, 1))}
}

func (d *crashDisk) fault() error {
	d.ops++
	if d.failAt > 0 && d.ops >= d.failAt {
		return errInjected
	}
	return nil
}

// crash keeps the durable state of every file; torn keeps a random
// prefix of the unsynced appends too. Later writes succeed again.
func (d *crashDisk) crash(torn bool) {
	for _, name := range slices.Sorted(maps.Keys(d.files)) {
		f := d.files[name]
		if !f.created {
			delete(d.files, name)
			continue
		}
		keep := f.durable
		if torn && len(f.data) > len(f.durable) && bytes.HasPrefix(f.data, f.durable) {
			keep = f.data[:len(f.durable)+d.rng.IntN(len(f.data)-len(f.durable)+1)]
		}
		f.data, f.durable = slices.Clone(keep), slices.Clone(keep)
	}
	d.ops, d.failAt = 0, 0
}

func (d *crashDisk) Open(name string) (nodes.File, error) {
	if err := nodes.ValidateFileName(name); err != nil {
		return nil, err
	}
	if d.files[name] == nil {
		if err := d.fault(); err != nil {
			return nil, err
		}
		d.files[name] = &crashFile{}
	}
	return &crashHandle{d: d, name: name}, nil
}

func (d *crashDisk) Remove(name string) error {
	if err := d.fault(); err != nil {
		return err
	}
	delete(d.files, name)
	return nil
}

func (d *crashDisk) Rename(oldName, newName string) error {
	if err := d.fault(); err != nil {
		return err
	}
	f := d.files[oldName]
	if f == nil {
		return fmt.Errorf("rename %s: no such file", oldName)
	}
	delete(d.files, oldName)
	d.files[newName] = &crashFile{data: slices.Clone(f.durable), durable: slices.Clone(f.durable), created: true}
	return nil
}

func (d *crashDisk) List() ([]string, error) { return slices.Sorted(maps.Keys(d.files)), nil }

type crashHandle struct {
	d    *crashDisk
	name string
}

func (h *crashHandle) f() *crashFile { return h.d.files[h.name] }
func (h *crashHandle) Name() string  { return h.name }
func (h *crashHandle) Size() int64   { return int64(len(h.f().data)) }
func (h *crashHandle) Close() error  { return nil }

func (h *crashHandle) ReadAt(p []byte, off int64) (int, error) {
	b := h.f().data
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *crashHandle) Append(p []byte) (int, error) {
	if err := h.d.fault(); err != nil {
		return 0, err
	}
	h.f().data = append(h.f().data, p...)
	return len(p), nil
}

func (h *crashHandle) Truncate(size int64) error {
	if err := h.d.fault(); err != nil {
		return err
	}
	h.f().data = h.f().data[:size]
	return nil
}

func (h *crashHandle) Sync() error {
	if err := h.d.fault(); err != nil {
		return err
	}
	f := h.f()
	f.durable, f.created = slices.Clone(f.data), true
	return nil
}

// soloConfig is a one-node directory, home of every key: Put and Get
// change its home side through messages to itself.
var soloConfig = mesi.Config{Self: "n1", Nodes: []mesi.NodeID{"n1"}, Home: func(string) mesi.NodeID { return "n1" }, Capacity: 2}

// solo drives a one-node directory: it runs an operation to its end.
func solo(t *testing.T, d *mesi.Directory, req uint64, put bool, key, value string) {
	if put {
		require.NoError(t, d.Put(req, key, []byte(value), 0))
	} else {
		require.NoError(t, d.Get(req, key, 0))
	}
	settleSolo(d)
}

// settleSolo delivers a one-node directory's messages to itself until
// none is left.
func settleSolo(d *mesi.Directory) {
	for out := d.Outbox(); len(out) > 0; out = d.Outbox() {
		for _, m := range out {
			d.Deliver(m, 0)
		}
	}
	d.Completions()
}

// TestStoreRecovers runs a one-node directory over a crashDisk, persisting
// after every few operations, compacting often (a small slack), and
// crashes it at random, with writes failing from a random point on
// (mid-append, mid-sync, mid-compaction) and torn tails. Each recovery
// must give exactly the state of the last persist that returned, or of
// the one that failed (its records may have become durable before the
// failure), and nothing else.
func TestStoreRecovers(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 2))
			disk := newCrashDisk(seed)
			var committed []byte // the state of the last persist that returned
			req := uint64(0)
			for boot := range 8 {
				d, err := mesi.NewDirectory(soloConfig)
				require.NoError(t, err)
				st, err := openStore(disk, d)
				require.NoError(t, err, "boot %d", boot)
				require.False(t, d.DurableDirty(), "recovery dirties nothing")
				if committed != nil {
					require.Equal(t, committed, d.HomeState(), "boot %d recovers the last committed state", boot)
				}
				// As Server.Start does.
				d.SetTxnBase(uint64(boot+1) << 32)
				d.Restart()
				settleSolo(d)
				require.NoError(t, st.compact())
				st.slackBytes = int64(rng.IntN(400))
				committed = d.HomeState()
				disk.failAt = 0
				if rng.IntN(3) == 0 {
					disk.failAt = 1 + rng.IntN(60)
				}
				for range 1 + rng.IntN(40) {
					for range 1 + rng.IntN(3) {
						req++
						key := fmt.Sprintf("k%d", rng.IntN(6))
						solo(t, d, req, rng.IntN(2) == 0, key, fmt.Sprintf("v%d-%s", req, bytes.Repeat([]byte("x"), rng.IntN(40))))
					}
					err := st.persist()
					state := d.HomeState()
					if err != nil {
						require.ErrorIs(t, err, errInjected)
						// The failed persist's records may or may not be
						// durable: recovery gives one of the two states.
						before := committed
						disk.crash(rng.IntN(2) == 0)
						d2, err := mesi.NewDirectory(soloConfig)
						require.NoError(t, err)
						_, err = openStore(disk, d2)
						require.NoError(t, err)
						committed = d2.HomeState()
						require.True(t, bytes.Equal(committed, before) || bytes.Equal(committed, state),
							"recovered neither the state before the failed persist nor after it")
						break
					}
					committed = state
				}
				disk.crash(rng.IntN(2) == 0)
			}
		})
	}
}

// TestStoreRefusesLostRecords: a snapshot whose log records are gone is
// an error, not a silent rollback.
func TestStoreRefusesLostRecords(t *testing.T) {
	disk := newCrashDisk(1)
	d, err := mesi.NewDirectory(soloConfig)
	require.NoError(t, err)
	st, err := openStore(disk, d)
	require.NoError(t, err)
	solo(t, d, 1, true, "k", "v")
	require.NoError(t, st.persist())
	require.NoError(t, st.compact())
	solo(t, d, 2, true, "k", "w")
	require.NoError(t, st.persist())
	names, _ := disk.List()
	for _, n := range names {
		if n != snapshotFile {
			delete(disk.files, n)
		}
	}
	d2, err := mesi.NewDirectory(soloConfig)
	require.NoError(t, err)
	_, err = openStore(disk, d2)
	require.ErrorContains(t, err, "the snapshot needs them from")
}

// TestStoreReadsLegacySnapshot: the per-event snapshot file of earlier
// versions is restored, then replaced by the first compaction.
func TestStoreReadsLegacySnapshot(t *testing.T) {
	disk := newCrashDisk(1)
	d, err := mesi.NewDirectory(soloConfig)
	require.NoError(t, err)
	solo(t, d, 1, true, "k", "v")
	want := d.HomeState()
	require.NoError(t, writeSealed(disk, durableFile, want))
	d2, err := mesi.NewDirectory(soloConfig)
	require.NoError(t, err)
	st, err := openStore(disk, d2)
	require.NoError(t, err)
	require.Equal(t, want, d2.HomeState())
	require.NoError(t, st.compact())
	names, _ := disk.List()
	require.NotContains(t, names, durableFile)
	d3, err := mesi.NewDirectory(soloConfig)
	require.NoError(t, err)
	_, err = openStore(disk, d3)
	require.NoError(t, err)
	require.Equal(t, want, d3.HomeState())
}
