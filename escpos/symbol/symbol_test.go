package symbol

import (
	"bytes"
	"image"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/oned"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// draw1D renders a code at GS w n with a quiet zone of 12 modules on each
// side, 40 dots tall, as a printer would put it on paper.
func draw1D(c *Code, n int) *image.Gray {
	row := c.Dots(n)
	quiet := 12 * n
	img := image.NewGray(image.Rect(0, 0, len(row)+2*quiet, 40))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	for y := 0; y < 40; y++ {
		for x, black := range row {
			if black {
				img.Pix[y*img.Stride+quiet+x] = 0
			}
		}
	}
	return img
}

func reader(sym string) gozxing.Reader {
	switch sym {
	case UPCA:
		return oned.NewUPCAReader()
	case UPCE:
		return oned.NewUPCEReader()
	case EAN13:
		return oned.NewEAN13Reader()
	case EAN8:
		return oned.NewEAN8Reader()
	case Code39:
		return oned.NewCode39Reader()
	case ITF:
		return oned.NewITFReader()
	case Codabar:
		return oned.NewCodaBarReader()
	case Code93:
		return oned.NewCode93Reader()
	case Code128:
		return oned.NewCode128Reader()
	}
	panic(sym)
}

// decode1D reads img with gozxing's reader for sym.
func decode1D(sym string, img image.Image, length int) (*gozxing.Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return nil, err
	}
	hints := map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_PURE_BARCODE:             true,
		gozxing.DecodeHintType_RETURN_CODABAR_START_END: true,
		gozxing.DecodeHintType_ALLOWED_LENGTHS:          []int{length},
	}
	return reader(sym).Decode(bmp, hints)
}

// cases: data as sent in GS k, the text an independent decoder must read,
// and the HRI the printer prints.
var cases = []struct {
	sym, data, decoded, hri string
}{
	// Check digits below are from published examples, not from this package.
	{UPCA, "03600029145", "036000291452", "036000291452"},
	{UPCA, "036000291452", "036000291452", "036000291452"},
	{UPCA, "01234567890", "012345678905", "012345678905"},
	{UPCE, "425261", "04252614", "425261"},   // UPC-A 042100005264
	{UPCE, "0425261", "04252614", "425261"},  // with number system
	{UPCE, "04252614", "04252614", "425261"}, // with check digit
	{UPCE, "04210000526", "04252614", "425261"},
	{UPCE, "042100005264", "04252614", "425261"},
	{UPCE, "01230000045", "01234531", "123453"}, // UPC-A 012300000451: ...3 rule
	{UPCE, "01234000005", "01234543", "123454"}, // UPC-A 012340000053: ...4 rule
	{UPCE, "01234500007", "01234572", "123457"}, // UPC-A 012345000072: 5-9 rule
	{UPCE, "654321", "06543217", "654321"},      // UPC-A 065100004327
	{EAN13, "400638133393", "4006381333931", "4006381333931"},
	{EAN13, "4006381333931", "4006381333931", "4006381333931"},
	{EAN13, "590123412345", "5901234123457", "5901234123457"},
	{EAN13, "978020137962", "9780201379624", "9780201379624"},
	{EAN8, "9638507", "96385074", "96385074"},
	{EAN8, "73513537", "73513537", "73513537"},
	{Code39, "CODE39", "CODE39", "*CODE39*"},
	{Code39, "*ABC-123*", "ABC-123", "*ABC-123*"},
	{Code39, "HELLO WORLD $/+%.", "HELLO WORLD $/+%.", "*HELLO WORLD $/+%.*"},
	{Code39, "0123456789", "0123456789", "*0123456789*"},
	{ITF, "1234", "1234", "1234"},
	{ITF, "12345678", "12345678", "12345678"},
	{ITF, "00112233445566778899", "00112233445566778899", "00112233445566778899"},
	{Codabar, "A40156B", "A40156B", "A40156B"},
	{Codabar, "C12-$:/.+34D", "C12-$:/.+34D", "C12-$:/.+34D"},
	{Codabar, "a31117013206375b", "A31117013206375B", "a31117013206375b"},
	{Code93, "CODE93", "CODE93", "□CODE93□"},
	{Code93, "Hello, World!", "Hello, World!", "□Hello, World!□"},
	{Code93, "a\x01b\x1b\x00\x7fz*", "a\x01b\x1b\x00\x7fz*", "□a■Ab■A■U■Tz*□"},
	{Code93, "TEST-93 $/+%.", "TEST-93 $/+%.", "□TEST-93 $/+%.□"},
	{Code128, "{BHello, World!", "Hello, World!", "Hello, World!"},
	{Code128, "{AABC\x01\x1fDEF", "ABC\x01\x1fDEF", "ABC  DEF"},
	{Code128, "{C\x0c\x22\x38", "123456", "123456"},
	{Code128, "{BNo.{C\x0c\x22\x38", "No.123456", "No.123456"}, // Epson's example
	{Code128, "{B{{x}", "{x}", "{x}"},
	{Code128, "{AAB{Sc", "ABc", "ABc"},
	{Code128, "{Bab{S\x09A", "ab\x09A", "ab A"},
	{Code128, "{C12", "4950", "4950"}, // set C takes byte values: '1' is 49
	{Code128, "{C\x01{B-X{C\x63", "01-X99", "01-X99"},
	{Code128, "{B{A{BOK", "OK", "OK"},
	{Code128, "{B{4A", "\xc1", " A"},    // FNC4: extended ASCII
	{Code128, "{A{3X{2Y", "XY", " X Y"}, // FNC3, FNC2 are not data
}

func TestBarcodeDecodes(t *testing.T) {
	for _, tc := range cases {
		for _, n := range []int{2, 3} {
			c, err := Barcode(tc.sym, []byte(tc.data))
			if err != nil {
				t.Errorf("%s %q: %v", tc.sym, tc.data, err)
				continue
			}
			if c.Warning != "" {
				t.Errorf("%s %q: unexpected warning %q", tc.sym, tc.data, c.Warning)
			}
			if c.HRI != tc.hri {
				t.Errorf("%s %q: HRI %q, want %q", tc.sym, tc.data, c.HRI, tc.hri)
			}
			if c.Symbology != tc.sym {
				t.Errorf("%s %q: Symbology %q", tc.sym, tc.data, c.Symbology)
			}
			res, err := decode1D(tc.sym, draw1D(c, n), len(tc.decoded))
			if err != nil {
				t.Errorf("%s %q at GS w %d: gozxing cannot decode: %v", tc.sym, tc.data, n, err)
				continue
			}
			if res.GetText() != tc.decoded {
				t.Errorf("%s %q at GS w %d: decoded %q, want %q", tc.sym, tc.data, n, res.GetText(), tc.decoded)
			}
		}
	}
}

// TestCode128AllValues runs every code set C value 00..99 through an
// independent decoder (with the code set changes and start codes, this
// exercises every pattern of the table).
func TestCode128AllValues(t *testing.T) {
	data := []byte("{C")
	var want strings.Builder
	for v := range 100 {
		data = append(data, byte(v))
		want.WriteString(string([]byte{'0' + byte(v/10), '0' + byte(v%10)}))
	}
	c, err := Barcode(Code128, data)
	if err != nil {
		t.Fatal(err)
	}
	res, err := decode1D(Code128, draw1D(c, 2), 0)
	if err != nil {
		t.Fatalf("gozxing cannot decode: %v", err)
	}
	if res.GetText() != want.String() || c.HRI != want.String() {
		t.Errorf("decoded %q, HRI %q, want %q", res.GetText(), c.HRI, want.String())
	}
	for v, w := range code128Widths {
		sum, want := 0, 11
		for _, d := range w {
			sum += int(d - '0')
		}
		if v == c128Stop {
			want = 13
		}
		if sum != want {
			t.Errorf("value %d: pattern %s is %d modules, want %d", v, w, sum, want)
		}
	}
}

func TestCode128FNC1(t *testing.T) {
	c, err := Barcode(Code128, []byte("{C{1\x01\x09\x05\x00\x00\x01\x01\x00\x0c"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := decode1D(Code128, draw1D(c, 2), 0)
	if err != nil {
		t.Fatalf("gozxing cannot decode: %v", err)
	}
	if res.GetText() != "010905000001010012" {
		t.Errorf("decoded %q", res.GetText())
	}
	if got := res.GetResultMetadata()[gozxing.ResultMetadataType_SYMBOLOGY_IDENTIFIER]; got != "]C1" {
		t.Errorf("symbology identifier %v, want ]C1 (FNC1 in first position, GS1-128)", got)
	}
	if c.HRI != " 010905000001010012" {
		t.Errorf("HRI %q", c.HRI)
	}
}

// TestWrongCheckDigit: a printer prints a sent check digit without checking
// it; so does Barcode, with a warning, and a scanner then rejects the symbol.
func TestWrongCheckDigit(t *testing.T) {
	for _, tc := range []struct{ sym, data, hri string }{
		{EAN13, "4006381333932", "4006381333932"},
		{EAN8, "96385075", "96385075"},
		{UPCA, "036000291453", "036000291453"},
		{UPCE, "04252615", "425261"},
		{UPCE, "042100005265", "425261"},
	} {
		c, err := Barcode(tc.sym, []byte(tc.data))
		if err != nil {
			t.Errorf("%s %q: %v", tc.sym, tc.data, err)
			continue
		}
		if !strings.Contains(c.Warning, "check digit") {
			t.Errorf("%s %q: warning %q, want one about the check digit", tc.sym, tc.data, c.Warning)
		}
		if c.HRI != tc.hri {
			t.Errorf("%s %q: HRI %q, want %q", tc.sym, tc.data, c.HRI, tc.hri)
		}
		if res, err := decode1D(tc.sym, draw1D(c, 2), 0); err == nil {
			t.Errorf("%s %q: decoded as %q despite the wrong check digit", tc.sym, tc.data, res.GetText())
		}
	}
}

func TestCode39Stop(t *testing.T) {
	for _, tc := range []struct{ data, hri, rest string }{
		{"ABC*DEF", "*ABC*", "DEF"},
		{"*ABC*", "*ABC*", ""},
		{"*ABC", "*ABC*", ""},
		{"ABC*", "*ABC*", ""},
		{"*AB*C*", "*AB*", "C*"},
	} {
		c, err := Barcode(Code39, []byte(tc.data))
		if err != nil {
			t.Errorf("%q: %v", tc.data, err)
			continue
		}
		if c.HRI != tc.hri || string(c.Rest) != tc.rest {
			t.Errorf("%q: HRI %q rest %q, want %q %q", tc.data, c.HRI, c.Rest, tc.hri, tc.rest)
		}
	}
}

func TestWidths(t *testing.T) {
	c, err := Barcode(Code39, []byte("A"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.Binary() {
		t.Fatal("CODE39 is binary-level")
	}
	// *A*: 3 characters of 3 wide and 6 narrow elements, 2 narrow gaps.
	for n, want := range map[int]int{1: 3*(3*3+6) + 2, 2: 3*(3*5+6*2) + 2*2, 3: 3*(3*8+6*3) + 2*3, 6: 3*(3*16+6*6) + 2*6} {
		if got := c.Width(n); got != want || len(c.Dots(n)) != want {
			t.Errorf("GS w %d: width %d (dots %d), want %d", n, got, len(c.Dots(n)), want)
		}
	}
	e, err := Barcode(EAN13, []byte("400638133393"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Binary() || e.Width(1) != 95 || e.Width(3) != 285 {
		t.Errorf("EAN-13: binary %v, width %d modules, %d dots at n=3; want 95, 285", e.Binary(), e.Width(1), e.Width(3))
	}
	u, _ := Barcode(UPCE, []byte("425261"))
	if u.Width(1) != 51 {
		t.Errorf("UPC-E is %d modules, want 51", u.Width(1))
	}
	row := e.Dots(2)
	if !row[0] || !row[len(row)-1] {
		t.Error("a symbol must start and end with a bar")
	}
}

func TestByCommand(t *testing.T) {
	for m, want := range map[byte]string{0: UPCA, 1: UPCE, 2: EAN13, 3: EAN8, 4: Code39, 5: ITF, 6: Codabar,
		65: UPCA, 66: UPCE, 67: EAN13, 68: EAN8, 69: Code39, 70: ITF, 71: Codabar, 72: Code93, 73: Code128} {
		if got, ok := ByCommand(m); !ok || got != want {
			t.Errorf("ByCommand(%d) = %q, %v; want %q", m, got, ok, want)
		}
	}
	for _, m := range []byte{7, 64, 74, 255} {
		if got, ok := ByCommand(m); ok {
			t.Errorf("ByCommand(%d) = %q, want none", m, got)
		}
	}
}

func TestBarcodeErrors(t *testing.T) {
	for _, tc := range []struct{ sym, data, want string }{
		{"pdf417", "123", "unknown symbology"},
		{UPCA, "", "no data"},
		{Code128, "{B" + strings.Repeat("x", 254), "at most 255"},
		{UPCA, "0123456789", "10 digits, want 11 or 12"},
		{UPCA, "0123456789A", "only digits"},
		{UPCE, "12345", "want 6, 7, 8, 11 or 12"},
		{UPCE, "1425261", "number system 1"},
		{UPCE, "01234567890", "cannot be zero-suppressed"},
		{UPCE, "01234500004", "cannot be zero-suppressed"}, // 5-9 rule needs a last digit 5-9
		{EAN13, "12345678901", "11 digits"},
		{EAN13, "12345678901x", "only digits"},
		{EAN8, "12345", "want 7 or 8"},
		{Code39, "abc", "not a CODE39 character"},
		{Code39, "**", "no data"},
		{Code39, "*", "no data"},
		{Code39, "A\x00B", "not a CODE39 character"},
		{ITF, "123", "even number"},
		{ITF, "12AB", "only digits"},
		{Codabar, "1234", "start/stop"},
		{Codabar, "A", "start/stop"},
		{Codabar, "A12E4B", "not a CODABAR data character"},
		{Codabar, "A1B2B", "not a CODABAR data character"},
		{Code93, "caf\xe9", "not ASCII"},
		{Code128, "Hello", "code set selector"},
		{Code128, "{DHello", "code set selector"},
		{Code128, "{B", "no data"},
		{Code128, "{B{1", "no data"},
		{Code128, "{C\x64", "cannot be encoded in code set C"},
		{Code128, "{Aabc", "cannot be encoded in code set A"},
		{Code128, "{B\x01", "cannot be encoded in code set B"},
		{Code128, "{B\x80", "cannot be encoded in code set B"},
		{Code128, "{A{{", "cannot be encoded in code set A"},
		{Code128, "{C{S\x01", "not allowed in code set C"},
		{Code128, "{C{2", "not allowed in code set C"},
		{Code128, "{Bab{S", "at the end"},
		{Code128, "{Bab{S{1x", "must be followed by a data character"},
		{Code128, "{Bab{", "at the end of the data"},
		{Code128, "{B{X", `unknown special character "{X"`},
		{Code128, "{B{\x00", `unknown special character "{\x00"`},
	} {
		c, err := Barcode(tc.sym, []byte(tc.data))
		if err == nil {
			t.Errorf("%s %q: no error (HRI %q)", tc.sym, tc.data, c.HRI)
			continue
		}
		if c != nil {
			t.Errorf("%s %q: a code with the error", tc.sym, tc.data)
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "symbol: ") {
			t.Errorf("%s %q: error %q, want it to contain %q", tc.sym, tc.data, err, tc.want)
		}
	}
}

// drawQR renders a module matrix at 4 dots per module with a 4-module
// quiet zone.
func drawQR(m [][]bool) *image.Gray {
	const s, q = 4, 4
	n := len(m)
	img := image.NewGray(image.Rect(0, 0, (n+2*q)*s, (n+2*q)*s))
	for i := range img.Pix {
		img.Pix[i] = 0xFF
	}
	for y, row := range m {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range s {
				for dx := range s {
					img.Pix[((y+q)*s+dy)*img.Stride+(x+q)*s+dx] = 0
				}
			}
		}
	}
	return img
}

func decodeQR(m [][]bool, binary bool) (*gozxing.Result, error) {
	bmp, err := gozxing.NewBinaryBitmapFromImage(drawQR(m))
	if err != nil {
		return nil, err
	}
	hints := map[gozxing.DecodeHintType]interface{}{gozxing.DecodeHintType_PURE_BARCODE: true}
	if binary {
		hints[gozxing.DecodeHintType_CHARACTER_SET] = "ISO-8859-1"
	}
	return qrcode.NewQRCodeReader().Decode(bmp, hints)
}

func TestQRDecodes(t *testing.T) {
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(255 - i)
	}
	long := strings.Repeat("Tortilla española 17,00 € ", 40)
	datas := []string{
		"A",
		"https://example.com/t/8812",
		"0123456789012345678901234567890123456789",
		"HTTPS://EXAMPLE.COM/T/8812",
		"Mesa 12 · Camarero: Lucía — 2x Tortilla española 17,00 €",
		string(bin),
		"\x00\x01\x02\xff\xfe{}",
		long,
	}
	for _, level := range []byte{'L', 'M', 'Q', 'H'} {
		for _, d := range datas {
			m, err := QR([]byte(d), level)
			if err != nil {
				t.Errorf("level %c, %d bytes: %v", level, len(d), err)
				continue
			}
			if n := len(m); n < 21 || n > 177 || (n-17)%4 != 0 || len(m[0]) != n {
				t.Errorf("level %c, %d bytes: %d×%d modules is not a QR size", level, len(d), len(m[0]), n)
			}
			if !m[0][0] || !m[6][6] || m[7][7] {
				t.Errorf("level %c: the matrix has a border or no finder pattern at its corner", level)
			}
			binary := !utf8.ValidString(d)
			res, err := decodeQR(m, binary)
			if err != nil {
				t.Errorf("level %c, %d bytes: gozxing cannot decode: %v", level, len(d), err)
				continue
			}
			got := res.GetText()
			if binary {
				var b []byte
				for _, r := range got {
					b = append(b, byte(r))
				}
				got = string(b)
			}
			if got != d {
				t.Errorf("level %c: decoded %q, want %q", level, got, d)
			}
			if l := res.GetResultMetadata()[gozxing.ResultMetadataType_ERROR_CORRECTION_LEVEL]; l != string(level) {
				t.Errorf("level %c: decoder reports level %v", level, l)
			}
		}
	}
}

func TestQRLimits(t *testing.T) {
	// The largest version 40 symbols: 2953 bytes at L, 7089 digits at L.
	for _, tc := range []struct {
		data  []byte
		level byte
		ok    bool
	}{
		{bytes.Repeat([]byte{0xAA}, 2953), 'L', true},
		{bytes.Repeat([]byte{0xAA}, 2954), 'L', false},
		{bytes.Repeat([]byte{0xAA}, 1273), 'H', true},
		{bytes.Repeat([]byte{0xAA}, 1274), 'H', false},
		{bytes.Repeat([]byte("7"), 7089), 'L', true},
		{bytes.Repeat([]byte("7"), 7090), 'L', false},
		{bytes.Repeat([]byte("7"), 1<<20), 'L', false},
		{nil, 'L', false},
		{[]byte("x"), 'X', false},
		{[]byte("x"), 0, false},
	} {
		m, err := QR(tc.data, tc.level)
		if tc.ok && (err != nil || len(m) != 177) {
			t.Errorf("%d bytes at %c: %d modules, %v; want version 40", len(tc.data), tc.level, len(m), err)
		}
		if !tc.ok && (err == nil || !strings.HasPrefix(err.Error(), "symbol: qr: ")) {
			t.Errorf("%d bytes at level %q: error %v, want one", len(tc.data), tc.level, err)
		}
	}
	for _, l := range []byte{'0', '1', '2', '3', 'l', 'm', 'q', 'h'} {
		if _, err := QR([]byte("x"), l); err != nil {
			t.Errorf("level %q: %v", l, err)
		}
	}
}

func TestQRSizeMatchesQR(t *testing.T) {
	for _, data := range []string{"1", "https://example.com/t/8812", strings.Repeat("ñ", 300)} {
		for _, lv := range []byte("LMQH") {
			m, err := QR([]byte(data), lv)
			if err != nil {
				t.Fatal(err)
			}
			n, err := QRSize([]byte(data), lv)
			if err != nil || n != len(m) {
				t.Errorf("%q at %c: QRSize %d (%v), QR draws %d", data, lv, n, err, len(m))
			}
		}
	}
	if _, err := QRSize(nil, 'M'); err == nil {
		t.Error("QRSize of no data: no error")
	}
}
