package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

var quiet = slog.New(slog.DiscardHandler)

// h decodes hex with spaces, and quoted ASCII: h(`1b 40 "AB"`).
func h(s string) []byte {
	var out []byte
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			break
		}
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"') + 1
			out = append(out, s[1:end]...)
			s = s[end+1:]
			continue
		}
		f := strings.Fields(s)[0]
		b, err := hex.DecodeString(f)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
		s = s[len(f):]
	}
	return out
}

func xp80(t testing.TB) *core.Profile {
	p, err := core.Builtin().Lookup("xprinter-xp80")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTransform(t *testing.T) {
	p := xp80(t)
	small := p.Clone()
	small.MaxBandHeight = 2
	for _, tc := range []struct {
		name string
		p    *core.Profile
		in   string
		want string
	}{
		// FS . placement.
		{"after ESC @", p, `1b 40 "Año"`, `1b 40 1c 2e "Año"`},
		{"before text with no ESC @", p, `"hola" 0a`, `1c 2e "hola" 0a`},
		{"before the first text, after controls", p, `0a 1b 45 01 "x"`, `0a 1b 45 01 1c 2e "x"`},
		{"after every ESC @", p, `1b 40 "a" 0a 1b 40 "b"`, `1b 40 1c 2e "a" 0a 1b 40 1c 2e "b"`},
		{"not twice", p, `1b 40 1c 2e "a"`, `1b 40 1c 2e "a"`},
		{"FS & kept", p, `1c 26 b0 a1`, `1c 26 b0 a1`},
		{"1B 40 inside image data is not ESC @", p, `1d 76 30 00 01 00 02 00 1b 40`, `1d 76 30 00 01 00 02 00 1b 40`},
		// ESC t: Epson's numbers to the clone's.
		{"WPC1250 45 to 72", p, `1b 74 2d`, `1b 74 48`},
		{"WPC1251 46 to 73", p, `1b 74 2e`, `1b 74 49`},
		{"PC855 34 to 60", p, `1b 74 22`, `1b 74 3c`},
		{"WPC1257 51 to 25", p, `1b 74 33`, `1b 74 19`},
		{"PC858 19 unchanged", p, `1b 74 13`, `1b 74 13`},
		{"WPC1252 16 unchanged", p, `1b 74 10`, `1b 74 10`},
		{"already the clone's number", p, `1b 74 48`, `1b 74 48`},
		{"page the clone lacks kept", p, `1b 74 28`, `1b 74 28`},
		{"number Epson does not define kept", p, `1b 74 c8`, `1b 74 c8`},
		// Band splitting: 1 byte wide, 5 rows, bands of 2.
		{"tall raster split", small, `1d 76 30 00 01 00 05 00 01 02 03 04 05`,
			`1d 76 30 00 01 00 02 00 01 02 1d 76 30 00 01 00 02 00 03 04 1d 76 30 00 01 00 01 00 05`},
		{"mode and width kept", small, `1d 76 30 03 02 00 03 00 a1 a2 b1 b2 c1 c2`,
			`1d 76 30 03 02 00 02 00 a1 a2 b1 b2 1d 76 30 03 02 00 01 00 c1 c2`},
		{"short raster unchanged", small, `1d 76 30 00 01 00 02 00 01 02`, `1d 76 30 00 01 00 02 00 01 02`},
		{"truncated raster passed through", small, `1d 76 30 00 01 00 05 00 01`, `1d 76 30 00 01 00 05 00 01`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := transform(h(tc.in), tc.p, quiet)
			if want := h(tc.want); !bytes.Equal(got, want) {
				t.Errorf("\n got % x\nwant % x", got, want)
			}
		})
	}
}

// TestTransformEncoded runs the built-in encoder's output for the DESIGN.md
// document through Transform: it gains FS . after ESC @ and nothing else,
// and a second pass changes nothing.
func TestTransformEncoded(t *testing.T) {
	p := xp80(t)
	var doc core.Document
	src := `[{"text":"COCINA","align":"center","bold":true,"width":2,"height":2},
		{"text":"Mesa 12 · Camarero: Lucía"},{"line":"-"},
		{"columns":["2x Tortilla española","17,00 €"]},{"text":"Sin cebolla","underline":true,"font":"b"},
		{"qr":"https://example.com/t/8812","size":6,"level":"m"},
		{"barcode":"4006381333931","type":"ean13","hri":true},{"feed":2},{"cut":"partial"},{"drawer":1}]`
	if err := json.Unmarshal([]byte(src), &doc); err != nil {
		t.Fatal(err)
	}
	enc, err := escpos.Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	got := transform(enc, p, quiet)
	want := append(h(`1b 40 1c 2e`), enc[2:]...)
	if !bytes.Equal(got, want) {
		t.Fatalf("\n got % x\nwant % x", got[:40], want[:40])
	}
	if again := transform(got, p, quiet); !bytes.Equal(again, got) {
		t.Error("a second pass changed the bytes")
	}
}

// FuzzTransform: any bytes give bytes, never a panic; the output is bounded,
// a second pass changes nothing, and every ESC @ is followed by FS ..
func FuzzTransform(f *testing.F) {
	f.Add(h(`1b 40 "Año" 1b 74 2d 1d 76 30 00 01 00 05 00 01 02 03 04 05`))
	f.Add(h(`"x" 1c 26 1b 40 1c 2e 1c 2e`))
	f.Add(h(`1d 76 30 00 02 00 ff ff`))
	p := xp80(f).Clone()
	p.MaxBandHeight = 2
	f.Fuzz(func(t *testing.T, in []byte) {
		out := transform(in, p, quiet)
		// Bands of 2 rows of at least 1 byte add at most 8 bytes per 2 data
		// bytes; FS . adds 2 per ESC @ plus 2.
		if len(out) > 5*len(in)+2 {
			t.Fatalf("%d bytes in, %d out", len(in), len(out))
		}
		if again := transform(out, p, quiet); !bytes.Equal(again, out) {
			t.Fatalf("not idempotent:\n in % x\nout % x\n2nd % x", in, out, again)
		}
		var prev escpos.Command
		for c := range escpos.All(out) {
			if prev.Kind == escpos.KindCommand && prev.Op == escpos.OpInit &&
				!(c.Kind == escpos.KindCommand && c.Op == escpos.OpKanjiOff) {
				t.Fatalf("ESC @ followed by %v in % x", c, out)
			}
			prev = c
		}
	})
}
