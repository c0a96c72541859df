package escpos

import (
	"fmt"
	"testing"

	"github.com/comandera/comandera/core"
)

// receipt is a typical 80 mm customer receipt: a logo, a header, about 40
// lines of items and totals, a QR code, an EAN-13 and a cut.
func receipt(b testing.TB) core.Document {
	doc := core.Document{
		{Kind: core.KindImage, Image: logoPNG(b, 200, 80), Align: "center"},
		{Kind: core.KindText, Text: "CASA LUCÍA", Align: "center", Bold: true, Width: 2, Height: 2},
		{Kind: core.KindText, Text: "Calle Mayor 12 · 28013 Madrid\nNIF B-12345678 · Tel. 910 000 000", Align: "center"},
		{Kind: core.KindLine},
		{Kind: core.KindText, Text: "Factura simplificada 2024-008812\nMesa 12 · Camarero: Lucía · 21:47"},
		{Kind: core.KindLine},
	}
	items := []string{"Tortilla española", "Croquetas de jamón ibérico (8 uds.)", "Pimientos de Padrón",
		"Pulpo a la gallega", "Ensalada mixta", "Agua mineral 1 l", "Caña de cerveza", "Vino tinto Rioja crianza (copa)"}
	for i := 0; i < 28; i++ {
		it := items[i%len(items)]
		doc = append(doc, core.Block{Kind: core.KindColumns,
			Columns: []string{fmt.Sprintf("%dx %s", i%3+1, it), fmt.Sprintf("%d,%02d €", 3+i%17, (i*35)%100)}})
	}
	doc = append(doc,
		core.Block{Kind: core.KindLine},
		core.Block{Kind: core.KindColumns, Columns: []string{"Base imponible", "198,18 €"}},
		core.Block{Kind: core.KindColumns, Columns: []string{"IVA 10 %", "19,82 €"}},
		core.Block{Kind: core.KindColumns, Columns: []string{"TOTAL", "218,00 €"}, Bold: true, Width: 2, Height: 2},
		core.Block{Kind: core.KindLine, Text: "="},
		core.Block{Kind: core.KindText, Text: "¡Gracias por su visita! Escanee el código para dejar su opinión o pedir la factura completa.", Align: "center"},
		core.Block{Kind: core.KindQR, Text: "https://example.com/f/2024-008812?t=218.00", Size: 6, Align: "center"},
		core.Block{Kind: core.KindBarcode, Text: "4006381333931", Symbology: "ean13", HRI: true, Align: "center"},
		core.Block{Kind: core.KindFeed, N: 2},
		core.Block{Kind: core.KindCut, Cut: "partial"},
	)
	return doc
}

// BenchmarkEncodeReceipt encodes a typical 80 mm receipt (about 40 lines, a
// QR code and a small logo):
//
//	go test ./escpos -run '^$' -bench EncodeReceipt -benchmem
func BenchmarkEncodeReceipt(b *testing.B) {
	doc := receipt(b)
	for _, name := range []string{"generic-80mm", "generic-58mm"} { // native QR; raster QR
		p := profile(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var n int
			for b.Loop() {
				out, err := Encode(doc, p)
				if err != nil {
					b.Fatal(err)
				}
				n = len(out)
			}
			b.SetBytes(int64(n))
		})
	}
}
