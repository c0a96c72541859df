package escpos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/color"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// FuzzEncode feeds document JSON, as the API receives it, to the encoder on
// profiles that exercise every path (native and raster QR and barcodes, the
// three raster methods, cutters and none). It must never panic; its output
// must be bounded, start with ESC @ and be the same on a second run.
//
//	go test ./escpos -run '^$' -fuzz FuzzEncode -fuzztime 60s
func FuzzEncode(f *testing.F) {
	logo := base64.StdEncoding.EncodeToString(logoPNG(f, 24, 12))
	seeds := []string{
		`[{"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2}, {"text": "Mesa 12 · Camarero: Lucía"}, {"line": "-"}]`,
		`[{"columns": ["2x Tortilla española", "17,00 €"]}, {"text": "Sin cebolla", "underline": true, "font": "b"}]`,
		`[{"qr": "https://example.com/t/8812", "size": 6, "level": "m"}, {"barcode": "4006381333931", "type": "ean13", "hri": true}]`,
		`[{"image": "` + logo + `", "align": "right"}, {"feed": 2}, {"cut": "partial"}, {"drawer": 1}, {"beep": 2}]`,
		`[{"barcode": "Mesa{12}", "type": "code128"}, {"barcode": "01234565", "type": "upce"}, {"barcode": "A123B", "type": "codabar"}]`,
		`[{"text": "\u001b@\u001dV\u0000 \t x\r\ny"}, {"line": "═"}, {"cut": true}, {"line": true}]`,
		`[{"text": "` + strings.Repeat("palabra ", 40) + `", "width": 8, "font": "b"}]`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Add(pngWithHeaderFuzz(f))

	var profiles []*core.Profile
	for _, name := range []string{"generic-80mm", "generic-58mm", "epson-tm-t88vi"} {
		profiles = append(profiles, profile(f, name))
	}
	p := profile(f, "epson-tm-t20iii")
	p.Barcodes, p.Raster, p.MaxBandHeight, p.Cuts, p.CutFeed = nil, core.RasterGS8L, 64, nil, 40
	profiles = append(profiles, p)
	p = profile(f, "epson-tm-m30")
	p.Raster = core.RasterESCStar
	profiles = append(profiles, p)

	f.Fuzz(func(t *testing.T, data []byte) {
		var doc core.Document
		if err := json.Unmarshal(data, &doc); err != nil {
			return
		}
		for _, p := range profiles {
			out, err := Encode(doc, p)
			if err != nil {
				if err.Error() == "" {
					t.Fatal("empty error message")
				}
				continue
			}
			if len(out) > MaxOutput+1<<20 {
				t.Fatalf("%s: %d bytes out, bound is %d", p.Name, len(out), MaxOutput)
			}
			if !bytes.HasPrefix(out, []byte{ESC, '@', ESC, 't'}) {
				t.Fatalf("%s: output starts % x", p.Name, out[:min(4, len(out))])
			}
			again, err := Encode(doc, p)
			if err != nil || !bytes.Equal(out, again) {
				t.Fatalf("%s: second encoding differs (%v)", p.Name, err)
			}
		}
	})
}

// pngWithHeaderFuzz is a seed whose image claims to be huge.
func pngWithHeaderFuzz(f *testing.F) []byte {
	img := testPNG(f, 2, 2, func(x, y int) color.Color { return color.Black })
	return []byte(fmt.Sprintf(`[{"image": %q}]`, base64.StdEncoding.EncodeToString(img)))
}
