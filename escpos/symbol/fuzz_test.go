package symbol

import (
	"testing"
	"unicode/utf8"
)

// FuzzBarcode feeds GS k data from outside to every symbology: no panic, an
// error or a well-formed code, never both.
//
//	go test -run '^$' -fuzz FuzzBarcode -fuzztime 60s ./escpos/symbol/
func FuzzBarcode(f *testing.F) {
	for _, tc := range cases {
		for i, s := range Symbologies {
			if s == tc.sym {
				f.Add(uint8(i), []byte(tc.data))
			}
		}
	}
	f.Add(uint8(8), []byte("{B{S{{{4{1\x7f"))
	f.Add(uint8(4), []byte("*A*B*"))
	f.Fuzz(func(t *testing.T, i uint8, data []byte) {
		sym := Symbologies[int(i)%len(Symbologies)]
		c, err := Barcode(sym, data)
		if (c == nil) == (err == nil) {
			t.Fatalf("%s %q: code %v and error %v", sym, data, c, err)
		}
		if err != nil {
			return
		}
		if !utf8.ValidString(c.HRI) || c.HRI == "" {
			t.Fatalf("%s %q: HRI %q", sym, data, c.HRI)
		}
		if len(c.Rest) > len(data) {
			t.Fatalf("%s %q: rest %q longer than the data", sym, data, c.Rest)
		}
		for n := 1; n <= 6; n++ {
			row := c.Dots(n)
			if len(row) != c.Width(n) || !row[0] || !row[len(row)-1] {
				t.Fatalf("%s %q at n=%d: %d dots, width %d", sym, data, n, len(row), c.Width(n))
			}
		}
		// 255 characters of at most 16 modules (CODE39 at 15 + gap) bound the symbol.
		if w := c.Width(1); w > (MaxData+4)*16 {
			t.Fatalf("%s %q: %d modules", sym, data, w)
		}
	})
}

// FuzzQR feeds GS ( k data: no panic, a square QR matrix or an error.
//
//	go test -run '^$' -fuzz FuzzQR -fuzztime 60s ./escpos/symbol/
func FuzzQR(f *testing.F) {
	f.Add([]byte("https://example.com/t/8812"), byte('M'))
	f.Add([]byte("0123456789"), byte('0'))
	f.Add([]byte{0, 0xFF, 0x80}, byte('H'))
	f.Fuzz(func(t *testing.T, data []byte, level byte) {
		m, err := QR(data, level)
		if err != nil {
			return
		}
		n := len(m)
		if n < 21 || n > 177 || (n-17)%4 != 0 {
			t.Fatalf("%d modules", n)
		}
		for _, row := range m {
			if len(row) != n {
				t.Fatalf("row of %d modules in a %d matrix", len(row), n)
			}
		}
	})
}

func BenchmarkBarcode(b *testing.B) {
	for _, tc := range []struct{ sym, data string }{
		{EAN13, "400638133393"},
		{UPCE, "04210000526"},
		{Code39, "ORDER-8812"},
		{ITF, "00112233445566778899"},
		{Codabar, "A40156B"},
		{Code93, "ORDER-8812"},
		{Code128, "{BNo.{C\x0c\x22\x38\x4e\x5a"},
	} {
		b.Run(tc.sym, func(b *testing.B) {
			b.ReportAllocs()
			data := []byte(tc.data)
			for b.Loop() {
				c, err := Barcode(tc.sym, data)
				if err != nil {
					b.Fatal(err)
				}
				_ = c.Dots(2)
			}
		})
	}
}

func BenchmarkQR(b *testing.B) {
	data := []byte("https://example.com/t/8812")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := QR(data, 'M'); err != nil {
			b.Fatal(err)
		}
	}
}
