package plugins

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
	"github.com/comandera/comandera/plugins/star/stargraphic"
	"github.com/comandera/comandera/plugins/star/starline"
)

// kitchenTicket is a typical kitchen ticket: a header, eight items with
// notes, a total, a QR code and a cut.
func kitchenTicket(b testing.TB) core.Document {
	var doc core.Document
	src := `[
	  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
	  {"text": "Mesa 12 · Camarero: Lucía · 21:43"},
	  {"line": "-"},
	  {"columns": ["2x Tortilla española", "17,00 €"]},
	  {"text": "   Sin cebolla", "underline": true, "font": "b"},
	  {"columns": ["1x Pulpo a la gallega", "18,50 €"]},
	  {"columns": ["3x Croquetas de jamón ibérico (ración)", "27,00 €"]},
	  {"text": "   ¡Una sin gluten!", "bold": true, "font": "b"},
	  {"columns": ["1x Ensalada mixta", "9,50 €"]},
	  {"columns": ["2x Caña", "5,00 €"]},
	  {"columns": ["1x Agua con gas", "2,20 €"]},
	  {"columns": ["1x Crema catalana", "6,00 €"]},
	  {"columns": ["1x Café cortado", "1,80 €"]},
	  {"line": "="},
	  {"columns": ["TOTAL", "87,00 €"], "bold": true, "width": 2},
	  {"qr": "https://example.com/t/8812", "size": 6, "level": "m", "align": "center"},
	  {"feed": 2},
	  {"cut": "partial"}
	]`
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		b.Fatal(err)
	}
	return doc
}

// BenchmarkEncodeRoundTrip measures what a plugin adds to a job: encoding a
// kitchen ticket in-process against the same work through the real gRPC
// boundary to a built plugin binary (star: one Encode call; clone: Encode
// answering unsupported, the built-in encoder, then Transform).
func BenchmarkEncodeRoundTrip(b *testing.B) {
	doc := kitchenTicket(b)
	ctx := context.Background()
	tsp := core.Builtin()["star-tsp650"]
	xp := core.Builtin()["xprinter-xp80"]
	h := NewHost(slog.New(slog.NewTextHandler(io.Discard, nil)))
	defer h.Close()
	loadB := func(name string) *Plugin {
		path, sum := install(b, name)
		p, err := h.Load(ctx, Config{Name: name, Path: path, SHA256: sum})
		if err != nil {
			b.Fatal(err)
		}
		return p
	}
	star, clone := loadB("star"), loadB("clone")

	b.Run("star/in-process", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := starline.Encode(doc, tsp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("star/plugin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := star.Encode(ctx, doc, tsp); err != nil {
				b.Fatal(err)
			}
		}
	})
	tsp100 := core.Builtin()["star-tsp100"]
	b.Run("stargraphic/in-process", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := stargraphic.Encode(doc, tsp100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("stargraphic/plugin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := star.Encode(ctx, doc, tsp100); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clone/in-process-escpos", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := escpos.Encode(doc, xp); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("clone/plugin", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Encode(ctx, clone, doc, xp, escpos.Encode); err != nil {
				b.Fatal(err)
			}
		}
	})
}
