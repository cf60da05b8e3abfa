package wal

import (
	"fmt"
	"io"
)

// File is what the log needs of an open file. Its method set is exactly
// that of nodes.File, which therefore satisfies it; the package does not
// import nodes, as protocol packages never do.
type File interface {
	// Name returns the file's name on its Disk.
	Name() string
	// Size returns the file's size, unsynced appends included.
	Size() int64
	// ReadAt reads len(p) bytes at off, as io.ReaderAt does.
	ReadAt(p []byte, off int64) (int, error)
	// Append writes p at the end of the file; durable only after Sync.
	Append(p []byte) (int, error)
	// Truncate shortens the file to size bytes; durable only after Sync.
	Truncate(size int64) error
	// Sync makes every earlier Append and Truncate of the file durable,
	// and the file's existence too.
	Sync() error
	// Close releases the file without syncing it.
	Close() error
}

// Disk is what the log needs of a node's storage: a flat directory of
// files. Its methods are those of nodes.Disk (Rename is not needed).
//
// It is generic in the file type F its Open returns because Go matches
// method results exactly: nodes.Disk.Open returns a nodes.File, not a
// wal.File, so nodes.Disk could not satisfy a Disk whose Open returned
// File. It does satisfy Disk[nodes.File], and Open infers F, so a caller
// passes its nodes.Disk as it is.
type Disk[F File] interface {
	// Open opens the named file, creating it empty if it does not exist.
	Open(name string) (F, error)
	// Remove deletes a file, durably at once; a missing file is no error.
	Remove(name string) error
	// List returns the names of all files, sorted.
	List() ([]string, error)
}

// dirOps is a Disk with its file type erased, so that WAL itself need
// not be generic.
type dirOps interface {
	open(name string) (File, error)
	remove(name string) error
	list() ([]string, error)
}

// diskAdapter turns a Disk[F] into dirOps.
type diskAdapter[F File] struct{ d Disk[F] }

func (a diskAdapter[F]) open(name string) (File, error) {
	f, err := a.d.Open(name)
	if err != nil {
		return nil, err
	}
	var file File = f
	if file == nil {
		return nil, fmt.Errorf("disk returned no file and no error for %s", name)
	}
	return file, nil
}

func (a diskAdapter[F]) remove(name string) error { return a.d.Remove(name) }

func (a diskAdapter[F]) list() ([]string, error) { return a.d.List() }

// readFull fills p from f at off. io.ReaderAt may report io.EOF along with
// a full read; that counts as success.
func readFull(f File, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil || err == io.EOF {
		return fmt.Errorf("short read: %d of %d bytes at offset %d", n, len(p), off)
	}
	return err
}
