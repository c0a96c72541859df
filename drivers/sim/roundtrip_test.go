package sim

import (
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/comandera/comandera/escpos"
)

// TestRoundTrip encodes a Spanish document with escpos.Encode for every
// built-in ESC/POS profile, prints the bytes on the sim and checks the
// transcript says what the document says.
func TestRoundTrip(t *testing.T) {
	spanish := "ñ á é í ó ú ü ¿ ¡ €"
	doc := core.Document{
		{Kind: core.KindText, Text: "COCINA", Align: "center", Bold: true, Width: 2, Height: 2},
		{Kind: core.KindText, Text: "Mesa 12 · Camarero: Lucía"},
		{Kind: core.KindText, Text: spanish},
		{Kind: core.KindText, Text: "¿Año? ¡Señor Muñoz! Pingüino, acción, €5", Font: "b"},
		{Kind: core.KindLine, Text: "-"},
		{Kind: core.KindColumns, Columns: []string{"2x Tortilla española", "17,00 €"}},
		{Kind: core.KindText, Text: "Sin cebolla", Underline: true, Invert: true},
		{Kind: core.KindQR, Text: "https://example.com/t/8812", Size: 4},
		{Kind: core.KindBarcode, Text: "4006381333931", Symbology: "ean13", HRI: true},
		{Kind: core.KindFeed, N: 2},
		{Kind: core.KindCut, Cut: "partial"},
	}
	ps := core.Builtin()
	n := 0
	for _, name := range ps.Names() {
		p := ps[name]
		if p.CommandSet != core.CommandSetESCPOS {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			data, err := escpos.Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Render(data, p)
			if err != nil {
				t.Fatal(err)
			}
			text := res.Text()
			wants := []string{
				"COCINA", "Mesa 12 · Camarero: Lucía", spanish, "¿Año? ¡Señor Muñoz! Pingüino, acción, €5",
				"2x Tortilla española", "17,00 €", "Sin cebolla", "[EAN13: 4006381333931]",
			}
			if p.QR {
				wants = append(wants, "[QR: https://example.com/t/8812]")
			} else {
				// Without native QR the encoder sends the symbol as an
				// image: it must still scan.
				wants = append(wants, "[IMAGE ")
				if got, err := zxDecode(t, "qr", res.Image); err != nil || got != "https://example.com/t/8812" {
					t.Errorf("raster QR decodes as %q, %v", got, err)
				}
			}
			for _, want := range wants {
				if !strings.Contains(text, want) {
					t.Errorf("transcript lacks %q:\n%s", want, text)
				}
			}
			// The one '?' is the one written: nothing was replaced.
			if n := strings.Count(text, "?"); n != 1 {
				t.Errorf("transcript has %d '?', want 1 (replacement characters?):\n%s", n, text)
			}
			if w := res.Warnings(); len(w) > 0 {
				t.Errorf("warnings: %q", w)
			}
			if len(res.Tickets) == 0 || (len(p.Cuts) > 0 && res.Tickets[0].Cut == "") {
				t.Errorf("tickets %d, cut missing", len(res.Tickets))
			}
			if got := res.Image.Bounds().Dx(); got != p.DotsPerLine {
				t.Errorf("image %d dots wide, profile has %d", got, p.DotsPerLine)
			}
		})
	}
	if n < 5 {
		t.Errorf("only %d ESC/POS profiles", n)
	}
}
