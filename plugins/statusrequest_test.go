package plugins

import (
	"bytes"
	"context"
	"testing"

	"github.com/comandera/comandera/core"
)

// TestStatusRequestRoundTrip: Info.StatusRequest crosses the real gRPC
// boundary byte for byte (NUL and 0xff included), an empty one stays
// empty, and the answer to it is decoded by ParseStatus on the other side.
func TestStatusRequestRoundTrip(t *testing.T) {
	ctx := context.Background()
	for _, req := range [][]byte{{0x1b, 0x06, 0x01}, {0x00, 0xff, 0x10, 0x04, 0x01}, nil} {
		m := &Mock{
			StatusRequest: req,
			ParseStatusFunc: func(_ context.Context, reply []byte, p *core.Profile) (core.Status, error) {
				if !bytes.Equal(reply, []byte{0x23, 0x06, 0x28, 0, 0, 0, 0, 0, 0}) || p.CommandSet != core.CommandSetStarLine {
					t.Errorf("plugin got reply % x for %s", reply, p.CommandSet)
				}
				return core.Status{Known: true, CoverOpen: true}, nil
			},
		}
		q := dial(t, m)
		in, err := q.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(in.StatusRequest, req) || (req == nil) != (len(in.StatusRequest) == 0) {
			t.Errorf("StatusRequest % x across gRPC, want % x", in.StatusRequest, req)
		}
		if in.Name != "mock" || in.APIVersion != APIVersion {
			t.Errorf("Info = %+v", in)
		}
		st, err := q.ParseStatus(ctx, []byte{0x23, 0x06, 0x28, 0, 0, 0, 0, 0, 0}, builtin(t, "star-tsp650"))
		if err != nil || st != (core.Status{Known: true, CoverOpen: true}) {
			t.Errorf("ParseStatus = %+v, %v", st, err)
		}
	}
}

// TestMockStatusRequest: the Mock's default Info carries its StatusRequest,
// as a copy.
func TestMockStatusRequest(t *testing.T) {
	m := &Mock{StatusRequest: []byte{0x1b, 0x06, 0x01}}
	in, err := m.Info(context.Background())
	if err != nil || !bytes.Equal(in.StatusRequest, []byte{0x1b, 0x06, 0x01}) {
		t.Fatalf("Info = %+v, %v", in, err)
	}
	in.StatusRequest[0] = 0
	if m.StatusRequest[0] != 0x1b {
		t.Error("Info shares the Mock's slice")
	}
}
