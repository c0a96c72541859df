package escpos

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/color"
	"slices"
	"strings"
	"testing"

	"github.com/comandera/comandera/core"
)

// designExample is the document from DESIGN.md, with a real PNG for its image.
func designExample(t testing.TB) core.Document {
	logo := base64.StdEncoding.EncodeToString(logoPNG(t, 64, 32))
	src := `{"printer": "kitchen", "idempotency_key": "order-8812-kitchen", "document": [
  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
  {"text": "Mesa 12 · Camarero: Lucía"},
  {"line": "-"},
  {"columns": ["2x Tortilla española", "17,00 €"]},
  {"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
  {"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
  {"barcode": "4006381333931", "type": "ean13", "hri": true},
  {"image": "` + logo + `"},
  {"feed": 2},
  {"cut": "partial"},
  {"drawer": 1},
  {"beep": 2}
]}`
	var job struct {
		Document core.Document `json:"document"`
	}
	if err := json.Unmarshal([]byte(src), &job); err != nil {
		t.Fatal(err)
	}
	return job.Document
}

func mustDoc(t testing.TB, src string) core.Document {
	t.Helper()
	var d core.Document
	if err := json.Unmarshal([]byte(src), &d); err != nil {
		t.Fatalf("%s: %v", src, err)
	}
	return d
}

// TestEncodeGolden encodes a small document per feature and compares the
// bytes with testdata/encode/NAME.hex.
func TestEncodeGolden(t *testing.T) {
	small := base64.StdEncoding.EncodeToString(logoPNG(t, 40, 30))
	for _, tc := range []struct {
		name    string
		profile string
		change  func(*core.Profile)
		doc     string // JSON; empty for the DESIGN.md example
	}{
		{name: "design-example", profile: "generic-80mm"},
		{name: "design-example-tm-t88vi", profile: "epson-tm-t88vi"},
		{name: "design-example-58mm", profile: "generic-58mm"},
		{name: "text-styles", profile: "generic-80mm", doc: `[
			{"text": "plain"},
			{"text": "bold", "bold": true},
			{"text": "underline", "underline": true},
			{"text": "invert", "invert": true},
			{"text": "w2h3", "width": 2, "height": 3},
			{"text": "w8h8", "width": 8, "height": 8},
			{"text": "centre", "align": "center"},
			{"text": "right", "align": "right"},
			{"text": "font b", "font": "b"},
			{"text": "all", "bold": true, "underline": true, "invert": true, "width": 2, "height": 2, "align": "center", "font": "b"},
			{"text": "after"}]`},
		{name: "text-wrap", profile: "generic-58mm", doc: `[
			{"text": "Una tortilla de patatas con cebolla caramelizada y pimientos del piquillo, bien jugosa\nSegunda línea\n\n  sangrado con espacios que también se parte en varias líneas\n"},
			{"text": "Palabraextremadamentelargaquenocabeenunalínea", "width": 2},
			{"text": "font b is narrower so more words fit on one line of paper", "font": "b"},
			{"text": ""},
			{"text": "tabs\tand\r\nCRLF"}]`},
		{name: "line", profile: "generic-80mm", doc: `[
			{"line": "-"}, {"line": true}, {"line": "="}, {"line": "═", "bold": true}, {"line": "*", "font": "b"}, {"text": "x"}]`},
		{name: "columns", profile: "generic-80mm", doc: `[
			{"columns": ["2x Tortilla española", "17,00 €"]},
			{"columns": ["1x Ración de croquetas caseras de jamón ibérico con alioli y ensalada", "9,50 €"]},
			{"columns": ["TOTAL", "26,50 €"], "bold": true, "width": 2, "height": 2},
			{"columns": ["", "solo precio"]},
			{"columns": ["sin precio", ""]},
			{"columns": ["Item", "a price far too long to share its line with anything at all"], "font": "b"}]`},
		{name: "qr-native", profile: "generic-80mm", doc: `[
			{"qr": "https://example.com/t/8812"},
			{"qr": "HELLO", "size": 3, "level": "l", "align": "center"},
			{"qr": "big", "size": 16, "level": "h", "align": "right"}]`},
		{name: "qr-raster", profile: "generic-58mm", doc: `[{"qr": "8812", "size": 2, "level": "q", "align": "center"}]`},
		{name: "barcode-native", profile: "generic-80mm", doc: `[
			{"barcode": "03600029145", "type": "upca", "hri": true},
			{"barcode": "036000291452", "type": "upca"},
			{"barcode": "01234565", "type": "upce", "hri": true},
			{"barcode": "4006381333931", "type": "ean13", "hri": true, "align": "center"},
			{"barcode": "9638507", "type": "ean8", "bar_height": 40, "module_width": 2},
			{"barcode": "CODE 39", "type": "code39", "hri": true},
			{"barcode": "1234567890", "type": "itf", "align": "right"},
			{"barcode": "A40156B", "type": "codabar"},
			{"barcode": "Code93", "type": "code93"},
			{"barcode": "12345678", "type": "code128"},
			{"barcode": "Mesa{12}", "type": "code128", "hri": true, "module_width": 6}]`},
		{name: "barcode-raster", profile: "generic-80mm", change: func(p *core.Profile) { p.Barcodes = nil }, doc: `[
			{"barcode": "4006381333931", "type": "ean13", "hri": true, "align": "center", "bar_height": 30, "module_width": 2},
			{"barcode": "01234565", "type": "upce", "bar_height": 20, "module_width": 2}]`},
		{name: "image-gs-v-0", profile: "generic-80mm", change: func(p *core.Profile) { p.MaxBandHeight = 8 },
			doc: `[{"image": "` + small + `", "align": "center"}]`},
		{name: "image-gs-8-l", profile: "generic-80mm", change: func(p *core.Profile) { p.Raster = core.RasterGS8L; p.MaxBandHeight = 16 },
			doc: `[{"image": "` + small + `", "align": "right"}]`},
		{name: "image-esc-star", profile: "generic-80mm", change: func(p *core.Profile) { p.Raster = core.RasterESCStar },
			doc: `[{"image": "` + small + `", "align": "center"}, {"text": "after"}]`},
		{name: "feed-cut-drawer-beep", profile: "epson-tm-m30", doc: `[
			{"feed": 3}, {"feed": 0}, {"cut": "full"}, {"cut": "partial"}, {"cut": true},
			{"drawer": 1}, {"drawer": 2}, {"beep": 3}]`},
		{name: "cut-no-cutter", profile: "generic-58mm", doc: `[{"cut": "full"}, {"drawer": 1}, {"beep": 1}]`},
		{name: "cut-feed-dots", profile: "epson-tm-t20iii", change: func(p *core.Profile) { p.CutFeed = 300 },
			doc: `[{"cut": "full"}, {"cut": "partial"}]`},
		{name: "codepage-switch", profile: "epson-tm-t20iii", doc: `[
			{"text": "Total: 12,50 € — ¡gracias! ñandú"}, {"text": "Ελληνικά · Кириллица · 寿司"}, {"text": "plain"}]`},
		{name: "injection", profile: "generic-80mm", doc: `[
			{"text": "a\u001b@b\u001dV\u0000c\u0010\u0004\u0001"}, {"columns": ["\u001bp\u0000", "\u001d!"]}, {"line": "\u001b"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := profile(t, tc.profile)
			if tc.change != nil {
				tc.change(p)
			}
			var doc core.Document
			if tc.doc == "" {
				doc = designExample(t)
			} else {
				doc = mustDoc(t, tc.doc)
			}
			out, err := Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			ops := parseOut(t, out) // every byte is a known command or text
			checkGolden(t, tc.name, out)
			again, _ := Encode(doc, p)
			if !bytes.Equal(out, again) {
				t.Error("two encodings of the same document differ")
			}
			// No block leaks a style: the output ends with defaults in force.
			st := map[string]byte{}
			for _, o := range ops {
				switch o.name {
				case "ESC a", "ESC M", "ESC E", "ESC -", "GS B", "GS !":
					st[o.name] = o.args[0]
				}
			}
			for k, v := range st {
				if v != 0 {
					t.Errorf("output ends with %s %d in force", k, v)
				}
			}
		})
	}
}

// TestEncodePlainTextAndReprint covers the helpers the server uses for the
// old API's plain `content` and for reprints after a crash.
func TestEncodePlainTextAndReprint(t *testing.T) {
	p := profile(t, "generic-58mm")
	out, err := EncodeText("Mesa 4\nCafé con leche\n\u001bp\u0000 ñ\n", p)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "plain-text", out)
	if got, want := printedText(t, p, parseOut(t, out)), "Mesa 4\nCafé con leche\n?p? ñ\n"; got != want {
		t.Errorf("printed %q, want %q", got, want)
	}
	marked, err := MarkReprint(out, p)
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "reprint", marked)
	if !bytes.HasSuffix(marked, out) {
		t.Error("MarkReprint changed the job")
	}
	if got := printedText(t, p, parseOut(t, marked)); !strings.HasPrefix(got, ReprintText+"\n") {
		t.Errorf("reprint prints %q first, want the banner", got)
	}
	if _, err := MarkReprint(out, profile(t, "star-tsp650")); err == nil {
		t.Error("MarkReprint on a Star Line profile gave no error")
	}
}

func TestTextDocument(t *testing.T) {
	long := strings.Repeat("línea de texto\n", 3000) // about 48 KB
	doc := TextDocument(long + "\xff")
	if err := doc.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(doc) < 3 {
		t.Fatalf("%d blocks for %d bytes", len(doc), len(long))
	}
	var joined []string
	for _, b := range doc {
		joined = append(joined, b.Text)
	}
	if got := strings.Join(joined, "\n"); got != long+"\uFFFD" {
		t.Errorf("blocks do not join back to the text (%d vs %d bytes)", len(got), len(long)+3)
	}
	one := TextDocument(strings.Repeat("ñ", core.MaxTextLen)) // one line, 2 bytes a rune
	if err := one.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(one) != 2 {
		t.Errorf("%d blocks, want 2", len(one))
	}
	if d := TextDocument(""); len(d) != 1 || d.Validate() != nil {
		t.Errorf("empty text: %v", d)
	}
}

// TestEncodeSpanishEveryProfile encodes Spanish on every built-in ESC/POS
// profile and decodes the bytes back with the code pages' own tables.
func TestEncodeSpanishEveryProfile(t *testing.T) {
	doc := core.Document{
		{Kind: core.KindText, Text: spanish},
		{Kind: core.KindColumns, Columns: []string{"Año", spanish}},
		{Kind: core.KindText, Text: spanish, Bold: true, Width: 2},
	}
	for _, p := range escposProfiles(t) {
		t.Run(p.Name, func(t *testing.T) {
			out, err := Encode(doc, p)
			if err != nil {
				t.Fatal(err)
			}
			def, _ := p.CodePageNumber(p.DefaultCodePage)
			if !bytes.HasPrefix(out, []byte{ESC, '@', ESC, 't', byte(def)}) {
				t.Fatalf("output starts % x, want ESC @ ESC t %d", out[:min(5, len(out))], def)
			}
			ops := parseOut(t, out)
			for _, o := range ops {
				if o.name == "ESC t" {
					if _, ok := p.CodePageByNumber(int(o.args[0])); !ok {
						t.Errorf("ESC t %d: not a code page of %s", o.args[0], p.Name)
					}
				}
			}
			got := printedText(t, p, ops)
			if len([]rune(spanish)) <= p.Columns("a") && !strings.HasPrefix(got, spanish+"\n") {
				t.Errorf("first line %q, want %q", strings.SplitN(got, "\n", 2)[0], spanish)
			}
			squash := strings.NewReplacer(" ", "", "\n", "")
			if g, w := squash.Replace(got), squash.Replace(spanish+"Año"+spanish+spanish); g != w {
				t.Errorf("printed %q, want %q (spaces and line breaks aside)", g, w)
			}
			if strings.ContainsRune(got, '?') {
				t.Errorf("a character was replaced: %q", got)
			}
		})
	}
}

// TestEncodeCodePageStaysInForce checks ESC t is sent only on a change.
func TestEncodeCodePageStaysInForce(t *testing.T) {
	p := profile(t, "epson-tm-t20iii") // default PC437: no €
	doc := mustDoc(t, `[{"text": "1 €"}, {"text": "2 €"}, {"text": "ñ"}, {"text": "3"}]`)
	out, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	var pages []int
	for _, o := range parseOut(t, out) {
		if o.name == "ESC t" {
			pages = append(pages, int(o.args[0]))
		}
	}
	// PC437 at the start; € selects PC858 (19), the first Western page that
	// has it, which stays in force for the second €, for ñ and for "3".
	if want := []int{0, 19}; !slices.Equal(pages, want) {
		t.Errorf("ESC t sequence %v, want %v", pages, want)
	}
}

func TestEncodeNoInjection(t *testing.T) {
	p := profile(t, "generic-80mm")
	var evil strings.Builder
	for c := 0; c < 0x20; c++ {
		evil.WriteByte(byte(c))
	}
	evil.WriteString("\u007f\u0085\u2028")
	doc := core.Document{
		{Kind: core.KindText, Text: evil.String()},
		{Kind: core.KindColumns, Columns: []string{evil.String(), evil.String()}},
		{Kind: core.KindLine, Text: "\x1b"},
	}
	out, err := Encode(doc, p)
	if err != nil {
		t.Fatal(err)
	}
	ops := parseOut(t, out) // fails on any control byte outside a command
	for _, o := range ops {
		switch o.name {
		case "text", "LF", "ESC @", "ESC t", "ESC a", "ESC M", "ESC E", "ESC -", "GS B", "GS !":
		default:
			t.Errorf("text produced a %s command", o.name)
		}
	}
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in   string
		cols int
		want []string
	}{
		{"", 10, []string{""}},
		{"short", 10, []string{"short"}},
		{"exactly10!", 10, []string{"exactly10!"}},
		{"two words", 5, []string{"two", "words"}},
		{"hello world again", 11, []string{"hello world", "again"}},
		{"hello   world", 7, []string{"hello", "world"}},
		{"abcdefghijkl", 5, []string{"abcde", "fghij", "kl"}},
		{"  indented text here", 10, []string{"  indented", "text here"}},
		{"ñandú ñandú", 6, []string{"ñandú", "ñandú"}},
		{"a bcdefghijk", 5, []string{"a", "bcdef", "ghijk"}},
		{"trailing    ", 8, []string{"trailing"}},
	} {
		var got []string
		for _, l := range wrap([]rune(tc.in), tc.cols) {
			got = append(got, string(l))
		}
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.cols, got, tc.want)
		}
		for _, l := range got {
			if len([]rune(l)) > tc.cols {
				t.Errorf("wrap(%q, %d): line %q too long", tc.in, tc.cols, l)
			}
		}
	}
}

func TestEncodeColumns(t *testing.T) {
	p := profile(t, "generic-58mm") // 32 columns in font A
	for _, tc := range []struct {
		doc  string
		want string
	}{
		{`[{"columns": ["Café", "1,50 €"]}]`, "Café                      1,50 €\n"},
		{`[{"columns": ["2x Tortilla española con cebolla", "17,00 €"]}]`,
			"2x Tortilla española con 17,00 €\ncebolla\n"},
		{`[{"columns": ["2x Tortilla española con cebolla y pimiento", "17,00 €"]}]`,
			"2x Tortilla española con 17,00 €\ncebolla y pimiento\n"},
		{`[{"columns": ["TOTAL", "26,50"], "width": 2}]`, "TOTAL      26,50\n"},
		{`[{"columns": ["Item", "precio larguísimo que no cabe junto"]}]`,
			"Item\n   precio larguísimo que no cabe\n                           junto\n"},
	} {
		out, err := Encode(mustDoc(t, tc.doc), p)
		if err != nil {
			t.Fatal(err)
		}
		if got := printedText(t, p, parseOut(t, out)); got != tc.want {
			t.Errorf("%s printed\n%q\nwant\n%q", tc.doc, got, tc.want)
		}
	}
}

func TestEncodeRefusesOtherCommandSets(t *testing.T) {
	doc := mustDoc(t, `[{"text": "x"}]`)
	for name, plugin := range map[string]string{"star-tsp650": `"star"`, "star-tsp100": `"star"`} {
		_, err := Encode(doc, profile(t, name))
		if err == nil || !strings.Contains(err.Error(), plugin) {
			t.Errorf("%s: error %v, want one naming the %s plugin", name, err, plugin)
		}
	}
	p := profile(t, "star-tsp650")
	p.Quirks = ""
	if _, err := Encode(doc, p); err == nil || !strings.Contains(err.Error(), "starline") {
		t.Errorf("no quirks: %v", err)
	}
	if _, err := Encode(doc, nil); err == nil {
		t.Error("nil profile: no error")
	}
	q := profile(t, "generic-80mm")
	q.Raster, q.MaxBandHeight = core.RasterESCStar, 8
	if _, err := Encode(doc, q); err == nil || !strings.Contains(err.Error(), "24-dot") {
		t.Errorf("esc_star with 8-dot bands: %v", err)
	}
}

func TestEncodeErrorsNameTheBlock(t *testing.T) {
	p := profile(t, "generic-80mm")
	for _, tc := range []struct{ doc, want string }{
		{`[]`, "document is empty"},
		{`[{"text": "ok"}, {"width": 9, "text": "x"}]`, "document[1]: width 9"},
		{`[{"text": "ok"}, {"barcode": "4006381333932", "type": "ean13"}]`, "document[1]: ean13: check digit is 1, data says 2"},
		{`[{"image": "aGVsbG8="}]`, "document[0]: image: not a readable PNG"},
		{`[{"qr": "` + strings.Repeat("x", 2000) + `", "level": "h"}]`, "document[0]: qr: 2000 bytes do not fit in a QR code at level h"},
	} {
		var doc core.Document
		_ = json.Unmarshal([]byte(tc.doc), &doc)
		_, err := Encode(doc, p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60s: error %v, want %q", tc.doc, err, tc.want)
		}
	}
}

func TestEncodeCut(t *testing.T) {
	withCuts := func(name string, cuts []string, feed int) *core.Profile {
		p := profile(t, name)
		p.Cuts, p.CutFeed = cuts, feed
		return p
	}
	for _, tc := range []struct {
		p    *core.Profile
		cut  string
		want []byte
	}{
		{withCuts("generic-80mm", []string{"full", "partial"}, 0), "partial", []byte{GS, 'V', 66, 0}},
		{withCuts("generic-80mm", []string{"full", "partial"}, 0), "full", []byte{GS, 'V', 65, 0}},
		{withCuts("generic-80mm", []string{"partial"}, 0), "full", []byte{GS, 'V', 66, 0}},
		{withCuts("generic-80mm", []string{"full"}, 0), "partial", []byte{GS, 'V', 65, 0}},
		{withCuts("generic-80mm", []string{"full", "partial"}, 120), "partial", []byte{ESC, 'J', 120, GS, 'V', 1}},
		{withCuts("generic-80mm", []string{"full"}, 120), "full", []byte{ESC, 'J', 120, GS, 'V', 0}},
		{withCuts("generic-80mm", nil, 0), "full", []byte{ESC, 'd', tearBarLines}},
		{withCuts("generic-80mm", nil, 80), "partial", []byte{ESC, 'J', 80}},
	} {
		out, err := Encode(core.Document{{Kind: core.KindCut, Cut: tc.cut}}, tc.p)
		if err != nil {
			t.Fatal(err)
		}
		if got := out[5:]; !bytes.Equal(got, tc.want) {
			t.Errorf("cuts %v feed %d, cut %s: % x, want % x", tc.p.Cuts, tc.p.CutFeed, tc.cut, got, tc.want)
		}
	}
}

func TestEncodeDrawerAndBeep(t *testing.T) {
	doc := mustDoc(t, `[{"drawer": 1}, {"drawer": 2}, {"beep": 2}]`)
	for _, tc := range []struct {
		name string
		want []byte
	}{
		{"generic-80mm", []byte{ESC, 'p', 0, 25, 250, ESC, 'p', 1, 25, 250}}, // drawer, no buzzer
		{"generic-58mm", nil}, // neither
		{"epson-tm-t88vi", []byte{ESC, 'p', 0, 25, 250, ESC, 'p', 1, 25, 250, ESC, '(', 'A', 4, 0, 48, 49, 2, 10}}, // both
	} {
		out, err := Encode(doc, profile(t, tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if got := out[5:]; !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
}

// TestEncodeOutputBounded: a document that encodes to more than the bound
// is refused rather than built. The bound is MaxOutput (16 MiB); the test
// uses a smaller one so it runs fast, and checks a full receipt stays far
// under MaxOutput.
func TestEncodeOutputBounded(t *testing.T) {
	p := profile(t, "generic-80mm")
	// 576×512 black dots are 36,864 raster bytes from a PNG of a few hundred.
	black := testPNG(t, 576, 512, func(x, y int) color.Color { return color.Black })
	var doc core.Document
	for range 10 {
		doc = append(doc, core.Block{Kind: core.KindImage, Image: black})
	}
	_, err := encode(doc, p, 100_000)
	if err == nil || !strings.Contains(err.Error(), "document[2]: the document encodes to more than 100000 bytes") {
		t.Fatalf("error %v, want the output bound at the third image", err)
	}
	if _, err := encode(doc[:2], p, 100_000); err != nil {
		t.Fatalf("two images under the bound: %v", err)
	}
	out, err := Encode(receipt(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > MaxOutput/100 {
		t.Errorf("a receipt is %d bytes: MaxOutput (%d) leaves too little room", len(out), MaxOutput)
	}
}
