package main

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/go-plugin"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/plugins"
)

func builtin(t *testing.T, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStatusOverGRPC: across the real gRPC boundary the star plugin says to
// ask ESC ACK SOH and decodes the ASB a Star-mode printer answers; a Star
// in ESC/POS emulation is left to the host's DLE EOT.
func TestStatusOverGRPC(t *testing.T) {
	client, _ := plugin.TestPluginGRPCConn(t, false, plugin.PluginSet{plugins.PluginName: &plugins.GRPCPlugin{Impl: star{}}})
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(plugins.PluginName)
	if err != nil {
		t.Fatal(err)
	}
	q := raw.(plugins.Quirks)
	ctx := context.Background()
	in, err := q.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in.StatusRequest, []byte{0x1b, 0x06, 0x01}) {
		t.Errorf("StatusRequest % x, want ESC ACK SOH", in.StatusRequest)
	}
	paperOut := []byte{0x23, 0x06, 0x08, 0, 0, 0x0c, 0, 0, 0}
	for _, name := range []string{"star-tsp650", "star-tsp100"} {
		st, err := q.ParseStatus(ctx, paperOut, builtin(t, name))
		if err != nil || st.State() != core.StatePaperOut {
			t.Errorf("%s: ParseStatus = %+v, %v; want paper out", name, st, err)
		}
		if _, err := q.ParseStatus(ctx, []byte{0x12}, builtin(t, name)); err == nil {
			t.Errorf("%s: a DLE EOT reply decoded as an ASB", name)
		}
	}
	esc := builtin(t, "star-tsp100").Clone()
	esc.CommandSet, esc.Raster = core.CommandSetESCPOS, core.RasterGSv0
	if _, err := q.ParseStatus(ctx, paperOut, esc); !errors.Is(err, plugins.ErrUnsupported) {
		t.Errorf("ESC/POS emulation: %v, want ErrUnsupported", err)
	}
}
