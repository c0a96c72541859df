package sim

import (
	"fmt"
	"io"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// typicalReceipt is a typical 80 mm receipt: a 256×96 logo, 40 lines of
// text (a title at double size, items, totals) and a QR code.
func typicalReceipt(t testing.TB) []byte {
	cm := charmap.CodePage858
	bits, stride := logo(256, 96)
	b := bs(esc, '@', esc, 't', 19, esc, 'a', 1, gs, 'v', '0', 0, stride, 0, 96, 0, bits,
		gs, '!', 0x11, esc, 'E', 1, enc(t, cm, "Casa Lucía"), lf, gs, '!', 0, esc, 'E', 0,
		enc(t, cm, "Calle Mayor 7 · 28013 Madrid"), lf, esc, 'a', 0, strings.Repeat("-", 48), lf)
	for i := range 32 {
		item := fmt.Sprintf("%dx Plato del día número %d", i%3+1, i+1)
		price := fmt.Sprintf("%d,%02d €", 5+i, (i*37)%100)
		b = append(b, enc(t, cm, item+strings.Repeat(" ", 48-len([]rune(item))-len([]rune(price)))+price)...)
		b = append(b, lf)
	}
	b = append(b, bs(strings.Repeat("-", 48), lf,
		gs, '!', 0x11, esc, 'E', 1, enc(t, cm, "TOTAL      412,50 €"), lf, gs, '!', 0, esc, 'E', 0,
		enc(t, cm, "IVA 10 % incluido"), lf,
		esc, 'a', 1, qrBytes("https://example.com/t/8812", 6, 49), lf,
		enc(t, cm, "¡Gracias por su visita!"), lf, esc, 'd', 3, gs, 'V', 66, 0)...)
	return b
}

// BenchmarkRender measures interpretation and drawing of a typical receipt
// (no PNG encoding): go test -bench Render -benchmem ./drivers/sim
func BenchmarkRender(b *testing.B) {
	data := typicalReceipt(b)
	res := render(b, data, "") // loads the fonts
	if n := len(lines(res)); n < 38 {
		b.Fatalf("receipt has %d lines", n)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Render(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderText is Render without drawing (render = false).
func BenchmarkRenderText(b *testing.B) {
	data := typicalReceipt(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := RenderOptions(data, nil, Options{NoImage: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderPNG measures encoding the rendered receipt as a PNG.
func BenchmarkRenderPNG(b *testing.B) {
	res := render(b, typicalReceipt(b), "")
	b.ReportAllocs()
	for b.Loop() {
		if err := EncodePNG(io.Discard, res.Image); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(res.Image.Bounds().Dy()), "rows")
}
