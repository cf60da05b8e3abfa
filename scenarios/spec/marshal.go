package spec

import (
	"bytes"
	"fmt"
	"reflect"

	yaml "go.yaml.in/yaml/v3"
)

// Marshal writes s as a scenario file that Parse accepts and that parses
// back to a scenario equal to s (File and the faults' Line aside), with its
// defaults filled in. Durations are written as "1.5s"; each fault, workload
// and small mapping takes one line. It fails if s does not validate.
func Marshal(s *Scenario) ([]byte, error) {
	c := s.Clone()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("marshal scenario: %w", err)
	}
	var root yaml.Node
	if err := root.Encode(c); err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", c.Name, err)
	}
	tidy(&root)
	flowLeaves(&root, 0)
	plainOn(&root)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", c.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("marshal scenario %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

// tidy leaves out top-level fields with nothing in them ("disk: {}") and
// writes settle right after duration.
func tidy(root *yaml.Node) {
	var kept, settle []*yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch {
		case v.Kind == yaml.MappingNode && len(v.Content) == 0:
		case k.Value == "settle":
			settle = []*yaml.Node{k, v}
		default:
			kept = append(kept, k, v)
		}
	}
	at := len(kept)
	for i := 0; i < len(kept); i += 2 {
		if kept[i].Value == "duration" {
			at = i + 2
		}
	}
	root.Content = append(kept[:at:at], append(settle, kept[at:]...)...)
}

// plainOn writes the key "on" unquoted: the encoder quotes it because
// YAML 1.1 read it as true, which this package's YAML 1.2 decoder does not.
func plainOn(n *yaml.Node) {
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 0 && c.Value == "on" {
			c.Style = 0
		}
		plainOn(c)
	}
}

// flowLeaves writes every mapping below the top level in flow style
// ({a: 1, b: 2}), and the lists of the top level in block style, one item
// a line.
func flowLeaves(n *yaml.Node, depth int) {
	switch n.Kind {
	case yaml.MappingNode:
		if depth >= 1 {
			n.Style = yaml.FlowStyle
			return
		}
		for _, c := range n.Content {
			flowLeaves(c, depth+1)
		}
	case yaml.SequenceNode:
		for _, c := range n.Content {
			if c.Kind == yaml.MappingNode {
				c.Style = yaml.FlowStyle
			} else {
				flowLeaves(c, depth+1)
			}
		}
		if depth >= 1 && len(n.Content) > 0 && n.Content[0].Kind == yaml.ScalarNode {
			n.Style = yaml.FlowStyle
		}
	}
}

// Clone returns a deep copy of s: changing one does not change the other.
func (s *Scenario) Clone() *Scenario {
	if s == nil {
		return nil
	}
	out := reflect.New(scenarioType)
	deepCopy(out.Elem(), reflect.ValueOf(s).Elem())
	return out.Interface().(*Scenario)
}

// deepCopy copies src into dst, which has src's type, sharing no pointer
// or slice.
func deepCopy(dst, src reflect.Value) {
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			return
		}
		p := reflect.New(src.Type().Elem())
		deepCopy(p.Elem(), src.Elem())
		dst.Set(p)
	case reflect.Struct:
		for i := range src.NumField() {
			deepCopy(dst.Field(i), src.Field(i))
		}
	case reflect.Slice:
		if src.IsNil() {
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i))
		}
		dst.Set(s)
	default:
		dst.Set(src)
	}
}
