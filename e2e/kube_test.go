package e2e_test

import (
	"encoding/json"
	"errors"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// objectMeta is the metadata of a Kubernetes object, as far as the shipped manifests use it.
type objectMeta struct {
	Name        string            `yaml:"name"`
	Namespace   string            `yaml:"namespace"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

// decodeStrict decodes every YAML document of raw into a T, refusing keys that T does not have.
func decodeStrict[T any](raw string) ([]T, error) {
	dec := yaml.NewDecoder(strings.NewReader(raw))
	dec.KnownFields(true)
	var out []T
	for {
		var v T
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// nodeProto decodes a YAML subtree into m strictly, as istiod reads its API objects: YAML to JSON, then
// protojson with unknown fields refused.
func nodeProto(n *yaml.Node, m proto.Message) error {
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	j, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return protojson.UnmarshalOptions{DiscardUnknown: false}.Unmarshal(j, m)
}
