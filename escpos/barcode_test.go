package escpos

import (
	"bytes"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"

	"github.com/comandera/comandera/core"
)

func TestValidateBarcode(t *testing.T) {
	for _, tc := range []struct {
		sym, data string
		want      string // error substring; empty: valid
	}{
		{"ean13", "4006381333931", ""},
		{"ean13", "400638133393", ""},
		{"ean13", "4006381333932", "ean13: check digit is 1, data says 2"},
		{"ean13", "5901234123451", "ean13: check digit is 7, data says 1"},
		{"ean13", "40063813339", "ean13: 11 digits: want 12 or 13"},
		{"ean13", "40063813339A", `ean13: "40063813339A" has 'A' at 12: want digits only`},
		{"ean8", "96385074", ""},
		{"ean8", "96385075", "ean8: check digit is 4, data says 5"},
		{"ean8", "123456", "ean8: 6 digits: want 7 or 8"},
		{"upca", "036000291452", ""},
		{"upca", "036000291453", "upca: check digit is 2, data says 3"},
		{"upca", "03600029145", ""},
		{"upce", "01234565", ""},
		{"upce", "0123456", ""},
		{"upce", "123456", ""},
		{"upce", "01234566", "upce: check digit is 5, data says 6"},
		{"upce", "11234565", "upce: number system 1"},
		{"upce", "012345000065", ""},
		{"upce", "012345678905", "cannot be compressed to UPC-E"},
		{"upce", "12345", "upce: 5 digits: want 6 or 7 or 8 or 11 or 12"},
		{"itf", "1234567890", ""},
		{"itf", "12345", "itf: 5 digits: want an even number"},
		{"itf", "12a4", "digits only"},
		{"code39", "CODE 39-$/+%.", ""},
		{"code39", "*ABC*", ""},
		{"code39", "abc", `code39: 'a' is not in Code 39's character set`},
		{"code39", "A*B", `code39: '*' is not`},
		{"code39", "**", "code39: no data"},
		{"codabar", "A40156B", ""},
		{"codabar", "40156", ""},
		{"codabar", "a123d", ""},
		{"codabar", "A40156", "codabar: \"A40156\": start and stop characters (A-D) go at both ends or at neither"},
		{"codabar", "12X4", "codabar: 'X' is not in Codabar's character set"},
		{"code93", "Code 93 \x01", ""},
		{"code93", "ñ", "code93: 'ñ' is not ASCII"},
		{"code128", "Mesa {12}", ""},
		{"code128", "123456", ""},
		{"code128", "12345", ""},
		{"code128", "tab\there", `code128: '\t' cannot be encoded`},
		{"code128", "€", "code128: '€' cannot be encoded"},
		{"code128", strings.Repeat("{", 130), "code128: 262 bytes to send, more than the 255"},
		{"ean13", "", "ean13: data is empty"},
		{"qr", "x", `unknown barcode type "qr"`},
	} {
		err := ValidateBarcode(tc.sym, tc.data)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s %q: %v", tc.sym, tc.data, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s %q: error %v, want %q", tc.sym, tc.data, err, tc.want)
		}
	}
}

// TestBarcodeNative checks the GS k payload per symbology.
func TestBarcodeNative(t *testing.T) {
	p := profile(t, "generic-80mm")
	for _, tc := range []struct {
		sym, data string
		m         byte
		payload   string
	}{
		{"upca", "03600029145", 65, "03600029145"},
		{"upce", "01234565", 66, "01234500006"},
		{"upce", "654321", 66, "06510000432"},
		{"ean13", "4006381333931", 67, "4006381333931"},
		{"ean8", "9638507", 68, "9638507"},
		{"code39", "ABC 1", 69, "*ABC 1*"},
		{"itf", "00123456", 70, "00123456"},
		{"codabar", "40156", 71, "A40156A"},
		{"code93", "Ab", 72, "Ab"},
		{"code128", "0123456789", 73, "{C\x01\x17\x2d\x43\x59"},
		{"code128", "12345", 73, "{B12345"},
		{"code128", "a{b", 73, "{Ba{{b"},
	} {
		doc := core.Document{{Kind: core.KindBarcode, Text: tc.data, Symbology: tc.sym, HRI: true}}
		out, err := Encode(doc, p)
		if err != nil {
			t.Fatalf("%s: %v", tc.sym, err)
		}
		var k *op
		ops := parseOut(t, out)
		for i := range ops {
			if ops[i].name == "GS k" {
				k = &ops[i]
			}
		}
		if k == nil || k.args[0] != tc.m || string(k.data) != tc.payload {
			t.Errorf("%s %q: GS k %v % x, want m=%d %q", tc.sym, tc.data, k.args, k.data, tc.m, tc.payload)
		}
	}
}

// TestUPCE checks the UPC-E expansion and compression on the examples of
// the GS1 rules (one per last-digit case).
func TestUPCE(t *testing.T) {
	for e, a := range map[string]string{
		"0123450": "01200000345", "0123451": "01210000345", "0123452": "01220000345",
		"0123453": "01230000045", "0123454": "01234000005", "0123455": "01234500005",
		"0654325": "06543200005", "0654321": "06510000432",
	} {
		if got := upceExpand(e); got != a {
			t.Errorf("expand %s = %s, want %s", e, got, a)
		}
		if got, ok := upceCompress(a); !ok || "0"+got != e {
			t.Errorf("compress %s = %s %v, want %s", a, got, ok, e[1:])
		}
	}
}

// TestBarcodeRasterDecodes draws every symbology as a raster image (on a
// profile with no native barcodes) and reads it back with gozxing.
func TestBarcodeRasterDecodes(t *testing.T) {
	p := profile(t, "generic-80mm")
	p.Barcodes = nil
	for _, tc := range []struct {
		sym, data string
		reader    gozxing.Reader
		want      string
	}{
		{"upca", "03600029145", oned.NewUPCAReader(), "036000291452"},
		{"upce", "01234565", oned.NewUPCEReader(), "01234565"},
		{"ean13", "4006381333931", oned.NewEAN13Reader(), "4006381333931"},
		{"ean8", "9638507", oned.NewEAN8Reader(), "96385074"},
		{"code39", "CODE 39", oned.NewCode39Reader(), "CODE 39"},
		{"itf", "1234567890", oned.NewITFReader(), "1234567890"},
		{"codabar", "A40156B", oned.NewCodaBarReader(), "40156"},
		{"code93", "Code 93", oned.NewCode93Reader(), "Code 93"},
		{"code128", "Mesa{12}", oned.NewCode128Reader(), "Mesa{12}"},
		{"code128", "0123456789", oned.NewCode128Reader(), "0123456789"},
	} {
		doc := core.Document{{Kind: core.KindBarcode, Text: tc.data, Symbology: tc.sym, HRI: true, BarHeight: 40}}
		out, err := Encode(doc, p)
		if err != nil {
			t.Fatalf("%s: %v", tc.sym, err)
		}
		ops := parseOut(t, out)
		for _, o := range ops {
			if o.name == "GS k" {
				t.Fatalf("%s: GS k on a profile without native barcodes", tc.sym)
			}
		}
		img := rasterImage(t, ops, 40)
		bmp, err := gozxing.NewBinaryBitmapFromImage(img)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tc.reader.Decode(bmp, nil)
		if err != nil {
			t.Errorf("%s %q: gozxing cannot read the raster: %v", tc.sym, tc.data, err)
			continue
		}
		if res.GetText() != tc.want {
			t.Errorf("%s: decoded %q, want %q", tc.sym, res.GetText(), tc.want)
		}
		// The human-readable text is printed under the bars.
		if got := printedText(t, p, ops); !strings.Contains(got, strings.Trim(tc.data, "*")) && tc.sym != "upce" && tc.sym != "upca" {
			t.Errorf("%s: HRI text %q does not show %q", tc.sym, got, tc.data)
		}
	}
}

func TestBarcodeFitsPaper(t *testing.T) {
	p := profile(t, "generic-58mm") // 384 dots
	// 20 characters of code39 are about 350 modules: 6 dots each would be
	// 2100 dots; the encoder narrows the modules to 2 dots… which is still
	// too wide, so it is refused.
	_, err := Encode(core.Document{{Kind: core.KindBarcode, Text: "ABCDEFGHIJKLMNOPQRST", Symbology: "code39", ModuleWidth: 6}}, p)
	if err == nil || !strings.Contains(err.Error(), "wider than the paper") {
		t.Errorf("error %v, want wider than the paper", err)
	}
	// EAN-13 at 6 dots is 570 dots: narrowed to 4 (380 dots).
	out, err := Encode(core.Document{{Kind: core.KindBarcode, Text: "4006381333931", Symbology: "ean13", ModuleWidth: 6}}, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(out, []byte{GS, 'w', 4}) {
		t.Errorf("module width not narrowed to 4: % x", out)
	}
}
