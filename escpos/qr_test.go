package escpos

import (
	"bytes"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/comandera/comandera/core"
)

// TestQRRasterDecodes prints QR codes on generic-58mm (no native QR) and
// reads the GS v 0 bytes back with gozxing, an independent decoder: the
// bitmap is rebuilt from the command bytes, not taken from the encoder.
func TestQRRasterDecodes(t *testing.T) {
	p := profile(t, "generic-58mm")
	if p.QR {
		t.Fatal("generic-58mm has native QR; the test needs a profile without")
	}
	for _, tc := range []struct {
		data  string
		size  int
		level string
		align string
	}{
		{"https://example.com/t/8812", 0, "", ""},
		{"Mesa 12 · Lucía · 17,00 €", 3, "h", "center"},
		{"12345678901234567890", 2, "l", "right"},
		{strings.Repeat("comandera ", 40), 16, "q", ""}, // too big at 16: shrinks to fit
	} {
		doc := core.Document{{Kind: core.KindQR, Text: tc.data, Size: tc.size, Level: tc.level, Align: tc.align}}
		out, err := Encode(doc, p)
		if err != nil {
			t.Fatal(err)
		}
		ops := parseOut(t, out)
		for _, o := range ops {
			if o.name == "GS ( k" {
				t.Fatal("GS ( k sent to a profile without native QR")
			}
			if o.name == "GS v 0" && int(o.args[3])|int(o.args[4])<<8 > p.MaxBandHeight {
				t.Errorf("band of %d dots, profile allows %d", int(o.args[3])|int(o.args[4])<<8, p.MaxBandHeight)
			}
			if o.name == "GS v 0" && 8*(int(o.args[1])|int(o.args[2])<<8) > p.DotsPerLine+7 {
				t.Errorf("raster %d bytes wide: wider than the paper", o.args[1])
			}
		}
		img := rasterImage(t, ops, 16)
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := zxqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Errorf("%q: gozxing cannot read the raster QR: %v", tc.data, err)
			continue
		}
		if res.GetText() != tc.data {
			t.Errorf("decoded %q, want %q", res.GetText(), tc.data)
		}
	}
}

func TestQRNative(t *testing.T) {
	p := profile(t, "generic-80mm")
	data := "https://example.com/t/8812"
	out, err := Encode(core.Document{{Kind: core.KindQR, Text: data, Size: 5, Level: "q", Align: "center"}}, p)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{ESC, 'a', 1,
		GS, '(', 'k', 4, 0, 49, 65, 50, 0,
		GS, '(', 'k', 3, 0, 49, 67, 5,
		GS, '(', 'k', 3, 0, 49, 69, 50,
		GS, '(', 'k', byte(len(data) + 3), 0, 49, 80, 48}
	want = append(want, data...)
	want = append(want, GS, '(', 'k', 3, 0, 49, 81, 48, LF, ESC, 'a', 0)
	if got := out[5:]; !bytes.Equal(got, want) {
		t.Errorf("got\n% x\nwant\n% x", got, want)
	}
	// A version 40 symbol (177 modules) at 16 dots would be 2832 dots: the
	// module size shrinks to what fits 576 dots (3).
	big := strings.Repeat("a", 2900) // byte mode: more than version 39-L holds (2809)
	out, err = Encode(core.Document{{Kind: core.KindQR, Text: big, Size: 16, Level: "l"}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte{GS, '(', 'k', 3, 0, 49, 67, 3}) {
		t.Error("module size not shrunk to 3 for a version 40 symbol")
	}
}
