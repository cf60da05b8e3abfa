package nodes

import (
	"errors"
	"fmt"
)

// Disk is a node's durable storage: a flat directory of named files. It
// models what real disks do: writes are buffered until File.Sync, a crash
// loses what was not synced (the simulator may also keep a torn prefix of
// the last unsynced write, at sector granularity), and a read may return
// corrupted bytes. Code above it (the WAL) must detect each of these.
type Disk interface {
	// Open opens the named file, creating it empty if it does not exist.
	// Creating a file is durable only once the file is synced.
	Open(name string) (File, error)
	// Remove deletes a file; it is durable at once. Removing a missing
	// file is not an error.
	Remove(name string) error
	// Rename atomically and durably replaces newName by oldName's synced
	// content, the usual way to publish a small file atomically.
	Rename(oldName, newName string) error
	// List returns the names of all files, sorted.
	List() ([]string, error)
}

// File is an open file on a Disk. Writes only append; Truncate shortens.
type File interface {
	// Name returns the file's name on its Disk.
	Name() string
	// Size returns the file's current size, unsynced writes included.
	Size() int64
	// ReadAt reads len(p) bytes at off, as io.ReaderAt does.
	ReadAt(p []byte, off int64) (int, error)
	// Append writes p at the end of the file. It is durable only after Sync.
	Append(p []byte) (int, error)
	// Truncate shortens the file to size bytes. It is durable only after Sync.
	Truncate(size int64) error
	// Sync makes every earlier write and truncate of this file durable.
	Sync() error
	// Close releases the file. Unsynced writes are not made durable.
	Close() error
}

// MaxFileNameBytes bounds a file name on a Disk.
const MaxFileNameBytes = 128

// ErrBadFileName reports a file name a Disk refuses.
var ErrBadFileName = errors.New("disk: bad file name")

// ValidateFileName reports whether name is usable on every Disk: non-empty,
// at most MaxFileNameBytes, letters, digits, '-', '_' and '.', and not "." or
// "..". Names are flat: no directories.
func ValidateFileName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > MaxFileNameBytes {
		return fmt.Errorf("%w: %q", ErrBadFileName, name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return fmt.Errorf("%w: %q has byte %q at %d", ErrBadFileName, name, c, i)
		}
	}
	return nil
}
