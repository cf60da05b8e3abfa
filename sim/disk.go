package sim

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/distsync/distsync/nodes"
)

// DiskConfig is the behaviour of a simulated disk.
type DiskConfig struct {
	WriteLatency Latency // charged to the node for each Append or Truncate
	SyncLatency  Latency // charged to the node for each Sync
	// SectorBytes is the unit a torn write is cut at (default 512).
	SectorBytes int
	// TornWrites is the probability that a crash keeps a torn prefix of a
	// file's unsynced appends instead of losing them whole.
	TornWrites float64
	// CorruptRead is the probability that one ReadAt returns a flipped bit.
	CorruptRead float64
	// SlowSync multiplies SyncLatency (1 or 0 means normal speed).
	SlowSync float64
}

// Validate reports an impossible disk configuration, naming field.
func (c DiskConfig) Validate(field string) error {
	if err := c.WriteLatency.Validate(field + ".write_latency"); err != nil {
		return err
	}
	if err := c.SyncLatency.Validate(field + ".sync_latency"); err != nil {
		return err
	}
	if c.SectorBytes < 0 || c.SectorBytes > 1<<20 {
		return fmt.Errorf("%s.sector_bytes: %d outside [0, 1MiB]", field, c.SectorBytes)
	}
	if !(c.TornWrites >= 0 && c.TornWrites <= 1) {
		return fmt.Errorf("%s.torn_writes: probability %v outside [0,1]", field, c.TornWrites)
	}
	if !(c.CorruptRead >= 0 && c.CorruptRead <= 1) {
		return fmt.Errorf("%s.corrupt_read: probability %v outside [0,1]", field, c.CorruptRead)
	}
	if !(c.SlowSync >= 0 && c.SlowSync <= 1e6) {
		return fmt.Errorf("%s.slow_sync: factor %v outside [0, 1e6]", field, c.SlowSync)
	}
	return nil
}

// DiskStats counts what a disk did, faults included.
type DiskStats struct {
	Appends      uint64
	BytesWritten uint64
	Syncs        uint64
	Reads        uint64
	LostBytes    uint64 // unsynced bytes a crash threw away
	TornWrites   uint64 // crashes that kept a torn prefix
	CorruptReads uint64 // reads that returned a flipped bit
}

// add accumulates o into s.
func (s *DiskStats) add(o DiskStats) {
	s.Appends += o.Appends
	s.BytesWritten += o.BytesWritten
	s.Syncs += o.Syncs
	s.Reads += o.Reads
	s.LostBytes += o.LostBytes
	s.TornWrites += o.TornWrites
	s.CorruptReads += o.CorruptReads
}

// ErrStaleHandle is returned by a file handle opened before a crash.
var ErrStaleHandle = errors.New("sim disk: file handle from before a crash")

// simFile is one file: what the node sees (data) and what survives a crash
// (durable). data and durable agree on data[:dirtyFrom].
type simFile struct {
	data      []byte
	durable   []byte
	dirtyFrom int // first offset where data may differ from durable
	exists    bool
	synced    bool // has the file's existence been synced
}

// simDisk is one node's disk. Its file table survives crashes; its handles
// do not.
type simDisk struct {
	cfg   DiskConfig
	files map[string]*simFile
	rng   *rand.Rand
	proc  *process // charged for latency
	stats DiskStats
}

func newSimDisk(cfg DiskConfig, rng *rand.Rand, p *process) *simDisk {
	if cfg.SectorBytes == 0 {
		cfg.SectorBytes = 512
	}
	return &simDisk{cfg: cfg, files: map[string]*simFile{}, rng: rng, proc: p}
}

func (d *simDisk) charge(l *Latency, factor float64) {
	if l.Kind == 0 {
		return
	}
	lat := l.Draw(d.rng)
	if factor > 1 {
		lat = time.Duration(float64(lat) * factor)
	}
	d.proc.advance(lat)
}

// Open implements nodes.Disk.
func (d *simDisk) Open(name string) (nodes.File, error) {
	if err := nodes.ValidateFileName(name); err != nil {
		return nil, err
	}
	f := d.files[name]
	if f == nil {
		f = &simFile{}
		d.files[name] = f
	}
	f.exists = true
	return &simHandle{d: d, f: f, name: name, inc: d.proc.incarnation}, nil
}

// Remove implements nodes.Disk.
func (d *simDisk) Remove(name string) error {
	if err := nodes.ValidateFileName(name); err != nil {
		return err
	}
	delete(d.files, name)
	return nil
}

// Rename implements nodes.Disk: newName takes oldName's durable content.
func (d *simDisk) Rename(oldName, newName string) error {
	if err := nodes.ValidateFileName(oldName); err != nil {
		return err
	}
	if err := nodes.ValidateFileName(newName); err != nil {
		return err
	}
	f := d.files[oldName]
	if f == nil || !f.exists {
		return fmt.Errorf("sim disk: rename %s: file does not exist", oldName)
	}
	delete(d.files, oldName)
	d.files[newName] = f
	d.charge(&d.cfg.SyncLatency, d.cfg.SlowSync)
	return nil
}

// List implements nodes.Disk.
func (d *simDisk) List() ([]string, error) {
	names := make([]string, 0, len(d.files))
	for name, f := range d.files {
		if f.exists {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// crash throws away what was not synced. With probability TornWrites a file
// keeps a prefix of its unsynced appends, cut at a sector boundary.
func (d *simDisk) crash() {
	names, _ := d.List()
	for _, name := range names { // sorted: the rng draws are deterministic
		f := d.files[name]
		if !f.synced {
			d.stats.LostBytes += uint64(len(f.data))
			delete(d.files, name)
			continue
		}
		keep := f.durable
		appendsOnly := f.dirtyFrom >= len(f.durable) && len(f.data) > len(f.durable)
		if appendsOnly && d.cfg.TornWrites > 0 && d.rng.Float64() < d.cfg.TornWrites {
			cut := d.tornCut(len(f.durable), len(f.data))
			keep = append(keep, f.data[len(f.durable):cut]...)
			d.stats.TornWrites++
		}
		if len(f.data) > len(keep) {
			d.stats.LostBytes += uint64(len(f.data) - len(keep))
		}
		f.durable = keep
		f.data = append([]byte(nil), keep...)
		f.dirtyFrom = len(keep)
	}
}

// tornCut picks where a torn write ends: a sector boundary strictly inside
// (from, to), or from itself (nothing of the write survived).
func (d *simDisk) tornCut(from, to int) int {
	s := d.cfg.SectorBytes
	first := (from/s + 1) * s
	if first >= to {
		return from
	}
	n := (to-1-first)/s + 1 // boundaries first, first+s, ... below to
	k := d.rng.IntN(n + 1)
	if k == 0 {
		return from
	}
	return first + (k-1)*s
}

// simHandle is an open file. A handle opened before a crash is dead.
type simHandle struct {
	d    *simDisk
	f    *simFile
	name string
	inc  uint32
}

func (h *simHandle) check() error {
	if h.inc != h.d.proc.incarnation || h.d.files[h.name] != h.f {
		return fmt.Errorf("%s: %w", h.name, ErrStaleHandle)
	}
	return nil
}

// Name implements nodes.File.
func (h *simHandle) Name() string { return h.name }

// Size implements nodes.File.
func (h *simHandle) Size() int64 { return int64(len(h.f.data)) }

// ReadAt implements nodes.File; with probability CorruptRead one bit of
// what it returns is flipped (the stored bytes stay intact).
func (h *simHandle) ReadAt(p []byte, off int64) (int, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, fmt.Errorf("sim disk: %s: negative offset %d", h.name, off)
	}
	h.d.stats.Reads++
	if off >= int64(len(h.f.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.data[off:])
	if n > 0 && h.d.cfg.CorruptRead > 0 && h.d.rng.Float64() < h.d.cfg.CorruptRead {
		bit := h.d.rng.IntN(n * 8)
		p[bit/8] ^= 1 << (bit % 8)
		h.d.stats.CorruptReads++
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Append implements nodes.File.
func (h *simHandle) Append(p []byte) (int, error) {
	if err := h.check(); err != nil {
		return 0, err
	}
	h.f.data = append(h.f.data, p...)
	h.d.stats.Appends++
	h.d.stats.BytesWritten += uint64(len(p))
	h.d.charge(&h.d.cfg.WriteLatency, 1)
	return len(p), nil
}

// Truncate implements nodes.File.
func (h *simHandle) Truncate(size int64) error {
	if err := h.check(); err != nil {
		return err
	}
	if size < 0 || size > int64(len(h.f.data)) {
		return fmt.Errorf("sim disk: %s: truncate to %d outside [0, %d]", h.name, size, len(h.f.data))
	}
	h.f.data = h.f.data[:size]
	if int(size) < h.f.dirtyFrom {
		h.f.dirtyFrom = int(size)
	}
	h.d.charge(&h.d.cfg.WriteLatency, 1)
	return nil
}

// Sync implements nodes.File: it copies only what changed since the last
// sync, so a log that syncs often does not pay for its whole length.
func (h *simHandle) Sync() error {
	if err := h.check(); err != nil {
		return err
	}
	f := h.f
	f.durable = append(f.durable[:min(f.dirtyFrom, len(f.durable))], f.data[f.dirtyFrom:]...)
	f.dirtyFrom = len(f.data)
	f.synced = true
	h.d.stats.Syncs++
	h.d.charge(&h.d.cfg.SyncLatency, h.d.cfg.SlowSync)
	return nil
}

// Close implements nodes.File.
func (h *simHandle) Close() error { return nil }
