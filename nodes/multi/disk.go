package multi

import (
	"fmt"
	"slices"
	"strings"

	"github.com/distsync/distsync/nodes"
)

// diskView is one part's view of its composite's Disk: the part's file
// "f" is the file prefix+"f" of the real Disk, where prefix is the part's
// name and a '.'. Part names are [a-z0-9-] (no '.'), so no part's prefix
// is a prefix of another's, and the views are disjoint.
//
// The prefixed names are valid wherever the inner names are: both Disks
// (the simulator's and nodes/runtime.DirDisk) accept exactly what
// nodes.ValidateFileName accepts, the prefix uses only characters it
// allows, and a prefixed name is never "." or "..". Only the length
// shrinks: an inner name may be at most nodes.MaxFileNameBytes minus the
// prefix long.
type diskView struct {
	env    nodes.Env // whose Disk is viewed, asked at every call
	prefix string
}

var _ nodes.Disk = (*diskView)(nil)

// full returns the real name of the part's file name, or an error wrapping
// nodes.ErrBadFileName.
func (d *diskView) full(name string) (string, error) {
	if err := nodes.ValidateFileName(name); err != nil {
		return "", err
	}
	full := d.prefix + name
	if len(full) > nodes.MaxFileNameBytes {
		return "", fmt.Errorf("%w: %q is %d bytes with the part's prefix %q, at most %d",
			nodes.ErrBadFileName, name, len(full), d.prefix, nodes.MaxFileNameBytes)
	}
	return full, nil
}

// Open implements nodes.Disk.
func (d *diskView) Open(name string) (nodes.File, error) {
	full, err := d.full(name)
	if err != nil {
		return nil, err
	}
	f, err := d.env.Disk().Open(full)
	if err != nil {
		return nil, err
	}
	return &viewFile{File: f, name: name}, nil
}

// Remove implements nodes.Disk.
func (d *diskView) Remove(name string) error {
	full, err := d.full(name)
	if err != nil {
		return err
	}
	return d.env.Disk().Remove(full)
}

// Rename implements nodes.Disk.
func (d *diskView) Rename(oldName, newName string) error {
	oldFull, err := d.full(oldName)
	if err != nil {
		return err
	}
	newFull, err := d.full(newName)
	if err != nil {
		return err
	}
	return d.env.Disk().Rename(oldFull, newFull)
}

// List implements nodes.Disk: the part's files only, prefix stripped,
// sorted.
func (d *diskView) List() ([]string, error) {
	all, err := d.env.Disk().List()
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(all))
	for _, full := range all {
		name, ok := strings.CutPrefix(full, d.prefix)
		if !ok || nodes.ValidateFileName(name) != nil {
			continue // another part's, or the bare prefix: not a file of this view
		}
		names = append(names, name)
	}
	slices.Sort(names) // already sorted if the Disk keeps its promise; cheap
	return names, nil
}

// viewFile is a file opened through a diskView: it names itself by the
// part's name for it, as File.Name promises ("its name on its Disk"), so
// code that compares names (the WAL does) sees the names it opened.
type viewFile struct {
	nodes.File
	name string
}

// Name implements nodes.File.
func (f *viewFile) Name() string { return f.name }
