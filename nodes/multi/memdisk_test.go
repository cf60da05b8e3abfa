package multi_test

import (
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/distsync/distsync/nodes"
)

// memDisk is an in-memory nodes.Disk for the unit tests. Like the
// simulator's Disk and nodes/runtime.DirDisk, it refuses every name
// nodes.ValidateFileName refuses; it has no crashes (writes are durable at
// once).
type memDisk struct{ files map[string][]byte }

func newMemDisk() *memDisk { return &memDisk{files: map[string][]byte{}} }

func (d *memDisk) Open(name string) (nodes.File, error) {
	if err := nodes.ValidateFileName(name); err != nil {
		return nil, err
	}
	if _, ok := d.files[name]; !ok {
		d.files[name] = []byte{}
	}
	return &memFile{d: d, name: name}, nil
}

func (d *memDisk) Remove(name string) error {
	if err := nodes.ValidateFileName(name); err != nil {
		return err
	}
	delete(d.files, name)
	return nil
}

func (d *memDisk) Rename(oldName, newName string) error {
	for _, n := range []string{oldName, newName} {
		if err := nodes.ValidateFileName(n); err != nil {
			return err
		}
	}
	b, ok := d.files[oldName]
	if !ok {
		return fmt.Errorf("mem disk: rename %s: no such file", oldName)
	}
	delete(d.files, oldName)
	d.files[newName] = b
	return nil
}

func (d *memDisk) List() ([]string, error) { return slices.Sorted(maps.Keys(d.files)), nil }

type memFile struct {
	d    *memDisk
	name string
}

func (f *memFile) Name() string { return f.name }
func (f *memFile) Size() int64  { return int64(len(f.d.files[f.name])) }
func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	b := f.d.files[f.name]
	if off >= int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}
func (f *memFile) Append(p []byte) (int, error) {
	f.d.files[f.name] = append(f.d.files[f.name], p...)
	return len(p), nil
}
func (f *memFile) Truncate(size int64) error {
	f.d.files[f.name] = f.d.files[f.name][:size]
	return nil
}
func (f *memFile) Sync() error  { return nil }
func (f *memFile) Close() error { return nil }
