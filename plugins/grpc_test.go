package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/go-plugin"

	"github.com/comandera/comandera/core"
)

// designDoc is the document of DESIGN.md.
func designDoc(t testing.TB) core.Document {
	t.Helper()
	var doc core.Document
	src := `[
	  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
	  {"text": "Mesa 12 · Camarero: Lucía"},
	  {"line": "-"},
	  {"columns": ["2x Tortilla española", "17,00 €"]},
	  {"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
	  {"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
	  {"barcode": "4006381333931", "type": "ean13", "hri": true, "bar_height": 60, "module_width": 2},
	  {"image": "iVBORw0KGgo="},
	  {"feed": 2},
	  {"cut": "partial"},
	  {"drawer": 1},
	  {"beep": 2}
	]`
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8))); err != nil {
		t.Fatal(err)
	}
	doc[7].Image = buf.Bytes()
	return doc
}

func builtin(t testing.TB, name string) *core.Profile {
	t.Helper()
	p, err := core.Builtin().Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// dial serves impl in-process across a real gRPC connection and returns the
// host-side Quirks.
func dial(t *testing.T, impl Quirks) Quirks {
	t.Helper()
	client, _ := plugin.TestPluginGRPCConn(t, false, plugin.PluginSet{PluginName: &GRPCPlugin{Impl: impl}})
	// Close asks the server to shut down (go-plugin's controller), so the
	// test does not stop it a second time.
	t.Cleanup(func() { client.Close() })
	raw, err := client.Dispense(PluginName)
	if err != nil {
		t.Fatal(err)
	}
	return raw.(Quirks)
}

var equateEmpty = cmpopts.EquateEmpty()

func TestGRPCRoundTrip(t *testing.T) {
	doc := designDoc(t)
	prof := builtin(t, "star-tsp100") // has empty lists (barcodes = [])
	var gotDoc core.Document
	var gotProf *core.Profile
	var gotData, gotReply []byte
	m := &Mock{
		InfoFunc: func(context.Context) (Info, error) {
			return Info{Name: "m", Version: "1.2", APIVersion: APIVersion,
				CommandSets: []string{"starline"}, Capabilities: []string{CapEncode, CapStatus}}, nil
		},
		EncodeFunc: func(_ context.Context, d core.Document, p *core.Profile) ([]byte, error) {
			gotDoc, gotProf = d, p
			return []byte("encoded\x00\xff"), nil
		},
		TransformFunc: func(_ context.Context, data []byte, p *core.Profile) ([]byte, error) {
			gotData = data
			return append([]byte("T"), data...), nil
		},
		ParseStatusFunc: func(_ context.Context, reply []byte, p *core.Profile) (core.Status, error) {
			gotReply = reply
			return core.Status{Known: true, CoverOpen: true, PaperLow: true, Detail: "cover"}, nil
		},
	}
	q := dial(t, m)
	ctx := context.Background()

	in, err := q.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(Info{Name: "m", Version: "1.2", APIVersion: APIVersion,
		CommandSets: []string{"starline"}, Capabilities: []string{CapEncode, CapStatus}}, in); d != "" {
		t.Errorf("Info (-want +got):\n%s", d)
	}

	out, err := q.Encode(ctx, doc, prof)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "encoded\x00\xff" {
		t.Errorf("Encode = %q", out)
	}
	if d := cmp.Diff(doc, gotDoc, equateEmpty); d != "" {
		t.Errorf("document across the boundary (-sent +received):\n%s", d)
	}
	if d := cmp.Diff(prof, gotProf, equateEmpty); d != "" {
		t.Errorf("profile across the boundary (-sent +received):\n%s", d)
	}

	out, err = q.Transform(ctx, []byte{0x1b, '@', 0}, prof)
	if err != nil || string(out) != "T\x1b@\x00" || !bytes.Equal(gotData, []byte{0x1b, '@', 0}) {
		t.Errorf("Transform = %q, %v (plugin got %q)", out, err, gotData)
	}

	st, err := q.ParseStatus(ctx, []byte{0x23, 0x86}, prof)
	if err != nil || st != (core.Status{Known: true, CoverOpen: true, PaperLow: true, Detail: "cover"}) {
		t.Errorf("ParseStatus = %+v, %v", st, err)
	}
	if !bytes.Equal(gotReply, []byte{0x23, 0x86}) {
		t.Errorf("plugin got reply % x", gotReply)
	}
	want := []string{"Info", "Encode", "Transform", "ParseStatus"}
	if d := cmp.Diff(want, m.Calls()); d != "" {
		t.Errorf("calls (-want +got):\n%s", d)
	}
}

func TestGRPCErrors(t *testing.T) {
	prof := builtin(t, "star-tsp650")
	doc := core.Document{{Kind: core.KindText, Text: "x"}}
	ctx := context.Background()

	t.Run("ErrUnsupported crosses the boundary", func(t *testing.T) {
		q := dial(t, &Mock{}) // every method unsupported
		_, err := q.Encode(ctx, doc, prof)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Encode: %v", err)
		}
		_, err = q.Transform(ctx, []byte("x"), prof)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("Transform: %v", err)
		}
		_, err = q.ParseStatus(ctx, []byte("x"), prof)
		if !errors.Is(err, ErrUnsupported) {
			t.Errorf("ParseStatus: %v", err)
		}
	})

	t.Run("wrapped ErrUnsupported keeps its message", func(t *testing.T) {
		q := dial(t, &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) {
			return nil, fmt.Errorf("no raster on this model: %w", ErrUnsupported)
		}})
		_, err := q.Encode(ctx, doc, prof)
		if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), "no raster on this model") {
			t.Errorf("Encode: %v", err)
		}
	})

	t.Run("a plugin's own error is neither unsupported nor unavailable", func(t *testing.T) {
		q := dial(t, &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) {
			return nil, errors.New("document[3]: ean13: check digit is 2, data says 1")
		}})
		_, err := q.Encode(ctx, doc, prof)
		if err == nil || err.Error() != "document[3]: ean13: check digit is 2, data says 1" {
			t.Errorf("Encode: %v", err)
		}
		if errors.Is(err, ErrUnsupported) || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrTimeout) {
			t.Errorf("Encode error %v classified wrongly", err)
		}
	})

	t.Run("invalid input is refused before the implementation", func(t *testing.T) {
		m := &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) {
			return []byte("x"), nil
		}}
		q := dial(t, m)
		_, err := q.Encode(ctx, core.Document{{Kind: core.KindText, Width: 9}}, prof)
		if err == nil || !strings.Contains(err.Error(), "width 9") {
			t.Errorf("bad document: %v", err)
		}
		_, err = q.Encode(ctx, doc, nil)
		if err == nil || !strings.Contains(err.Error(), "no profile") {
			t.Errorf("no profile: %v", err)
		}
		bad := prof.Clone()
		bad.DotsPerLine = 5
		_, err = q.Transform(ctx, nil, bad)
		if err == nil || !strings.Contains(err.Error(), "dots_per_line") {
			t.Errorf("bad profile: %v", err)
		}
		if len(m.Calls()) != 0 {
			t.Errorf("implementation called: %v", m.Calls())
		}
	})

	t.Run("a panic fails the call, not the plugin", func(t *testing.T) {
		var n atomic.Int32
		q := dial(t, &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) {
			if n.Add(1) == 1 {
				panic("boom")
			}
			return []byte("ok"), nil
		}})
		_, err := q.Encode(ctx, doc, prof)
		if err == nil || !strings.Contains(err.Error(), "panicked") {
			t.Fatalf("Encode: %v", err)
		}
		out, err := q.Encode(ctx, doc, prof)
		if err != nil || string(out) != "ok" {
			t.Errorf("after the panic: %q, %v", out, err)
		}
	})

	t.Run("deadline", func(t *testing.T) {
		q := dial(t, &Mock{EncodeFunc: func(ctx context.Context, _ core.Document, _ *core.Profile) ([]byte, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}})
		cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		defer cancel()
		_, err := q.Encode(cctx, doc, prof)
		if !errors.Is(err, ErrTimeout) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Encode: %v", err)
		}
	})
}

func TestHelpers(t *testing.T) {
	ctx := context.Background()
	prof := builtin(t, "xprinter-xp80")
	doc := core.Document{{Kind: core.KindText, Text: "x"}}
	var builtinCalls int
	enc := func(core.Document, *core.Profile) ([]byte, error) {
		builtinCalls++
		return []byte("escpos"), nil
	}
	decode := func([]byte) (core.Status, error) { return core.Status{Known: true, Online: true}, nil }

	// No plugin: the built-in encoder alone.
	out, err := Encode(ctx, nil, doc, prof, enc)
	if err != nil || string(out) != "escpos" {
		t.Errorf("nil quirks: %q, %v", out, err)
	}
	// Encode unsupported: built-in encoder, then the plugin's Transform.
	m := &Mock{TransformFunc: func(_ context.Context, data []byte, _ *core.Profile) ([]byte, error) {
		return append([]byte("clone:"), data...), nil
	}}
	out, err = Encode(ctx, m, doc, prof, enc)
	if err != nil || string(out) != "clone:escpos" {
		t.Errorf("fallback: %q, %v", out, err)
	}
	if d := cmp.Diff([]string{"Encode", "Transform"}, m.Calls()); d != "" {
		t.Errorf("calls: %s", d)
	}
	// The plugin encodes: no built-in encoder, no Transform.
	builtinCalls = 0
	m = &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) { return []byte("star"), nil }}
	out, err = Encode(ctx, m, doc, prof, enc)
	if err != nil || string(out) != "star" || builtinCalls != 0 {
		t.Errorf("plugin encodes: %q, %v, built-in called %d times", out, err, builtinCalls)
	}
	// A plugin error is the job's error.
	m = &Mock{EncodeFunc: func(context.Context, core.Document, *core.Profile) ([]byte, error) { return nil, errors.New("bad") }}
	if _, err := Encode(ctx, m, doc, prof, enc); err == nil || err.Error() != "bad" {
		t.Errorf("plugin error: %v", err)
	}
	// Transform unsupported: bytes unchanged.
	out, err = Transform(ctx, &Mock{}, []byte("raw"), prof)
	if err != nil || string(out) != "raw" {
		t.Errorf("Transform: %q, %v", out, err)
	}
	// ParseStatus unsupported: the built-in decoder.
	st, err := ParseStatus(ctx, &Mock{}, []byte{0x12}, prof, decode)
	if err != nil || !st.Online {
		t.Errorf("ParseStatus: %+v, %v", st, err)
	}
}
