package plugins

import (
	"context"
	"slices"
	"testing"

	"github.com/comandera/comandera/core"
)

// cached is a Mock whose Info the host already knows, as *Plugin's is.
type cached struct {
	*Mock
	info Info
}

func (c cached) LoadedInfo() Info { return c.info }

func TestEncodeSkipsCallsTheInfoRulesOut(t *testing.T) {
	p := &core.Profile{CommandSet: core.CommandSetESCPOS}
	doc := core.Document{{Kind: core.KindText, Text: "x"}}
	builtin := func(core.Document, *core.Profile) ([]byte, error) { return []byte("esc"), nil }
	transform := func(_ context.Context, b []byte, _ *core.Profile) ([]byte, error) { return append(b, '+'), nil }
	for _, tc := range []struct {
		name  string
		info  Info
		calls []string
		out   string
	}{
		{"transform only: no Encode round trip", Info{APIVersion: 1, Capabilities: []string{CapTransform}}, []string{"Transform"}, "esc+"},
		{"encodes other command sets only", Info{APIVersion: 1, Capabilities: []string{CapEncode, CapTransform}, CommandSets: []string{"starline"}}, []string{"Transform"}, "esc+"},
		{"neither: no call at all", Info{APIVersion: 1}, nil, "esc"},
		{"never started: every call is made", Info{}, []string{"Encode", "Transform"}, "esc+"},
	} {
		m := &Mock{TransformFunc: transform}
		out, err := Encode(context.Background(), cached{m, tc.info}, doc, p, builtin)
		if err != nil || string(out) != tc.out || !slices.Equal(m.Calls(), tc.calls) {
			t.Errorf("%s: %q %v, calls %v; want %q, calls %v", tc.name, out, err, m.Calls(), tc.out, tc.calls)
		}
	}
}
