package wal_test

import (
	"fmt"
	"io"
	"slices"
	"sort"

	"github.com/distsync/distsync/protocols/wal"
)

// memDisk is an in-memory wal.Disk for unit tests, fuzzing and benchmarks:
// every write is durable at once (crashes are the simulator's business).
// Tests reach into files to damage them.
type memDisk struct {
	files map[string]*memData
	// failSync makes every Sync fail, to test sticky failures.
	failSync error
	// discard makes Append count bytes without keeping them, so that a
	// benchmark measures the log and not the growth of byte slices.
	discard bool
	// flipReads is how many of the next reads return one flipped bit
	// (negative: all of them), as a flaky read path would; reads counts
	// reads, to move the flipped bit around.
	flipReads int
	reads     int
}

// memData is a file's content; discarded counts appended bytes not kept
// (then only Size is meaningful).
type memData struct {
	b         []byte
	discarded int64
}

func newMemDisk() *memDisk { return &memDisk{files: map[string]*memData{}} }

func (d *memDisk) Open(name string) (*memFile, error) {
	f := d.files[name]
	if f == nil {
		f = &memData{}
		d.files[name] = f
	}
	return &memFile{d: d, name: name, f: f}, nil
}

func (d *memDisk) Remove(name string) error {
	delete(d.files, name)
	return nil
}

func (d *memDisk) List() ([]string, error) {
	names := make([]string, 0, len(d.files))
	for name := range d.files {
		names = append(names, name)
	}
	sort.Strings(names)
	return names, nil
}

// put replaces a file's content.
func (d *memDisk) put(name string, b []byte) { d.files[name] = &memData{b: slices.Clone(b)} }

// get returns a file's content (nil if it does not exist).
func (d *memDisk) get(name string) []byte {
	if f := d.files[name]; f != nil {
		return f.b
	}
	return nil
}

// memFile is an open file of a memDisk.
type memFile struct {
	d    *memDisk
	name string
	f    *memData
}

var _ wal.File = (*memFile)(nil)

func (f *memFile) Name() string { return f.name }

func (f *memFile) Size() int64 { return int64(len(f.f.b)) + f.f.discarded }

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	if f.f.discarded > 0 {
		return 0, fmt.Errorf("%s: content discarded", f.name)
	}
	if off < 0 {
		return 0, fmt.Errorf("negative offset %d", off)
	}
	if off >= int64(len(f.f.b)) {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := copy(p, f.f.b[off:])
	f.d.reads++
	if n > 0 && f.d.flipReads != 0 {
		bit := (f.d.reads * 7919) % (n * 8)
		p[bit/8] ^= 1 << (bit % 8)
		if f.d.flipReads > 0 {
			f.d.flipReads--
		}
	}
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) Append(p []byte) (int, error) {
	if f.d.discard {
		f.f.discarded += int64(len(p))
		return len(p), nil
	}
	f.f.b = append(f.f.b, p...)
	return len(p), nil
}

func (f *memFile) Truncate(size int64) error {
	if f.f.discarded > 0 {
		return fmt.Errorf("%s: content discarded", f.name)
	}
	if size < 0 || size > int64(len(f.f.b)) {
		return fmt.Errorf("truncate to %d outside [0, %d]", size, len(f.f.b))
	}
	f.f.b = f.f.b[:size]
	return nil
}

func (f *memFile) Sync() error { return f.d.failSync }

func (f *memFile) Close() error { return nil }
