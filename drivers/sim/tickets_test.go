package sim

import (
	"image"
	"slices"
	"strings"
	"testing"

	"golang.org/x/text/encoding/charmap"
)

// kitchenTicket is a Spanish kitchen order as a POS program would send it,
// written by hand in ESC/POS (PC858).
func kitchenTicket(t testing.TB) []byte {
	cm := charmap.CodePage858
	e := func(s string) []byte { return enc(t, cm, s) }
	rule := strings.Repeat("-", 48)
	return bs(esc, '@', esc, 't', 19,
		esc, 'a', 1, gs, '!', 0x11, esc, 'E', 1, "COCINA", lf,
		gs, '!', 0, esc, 'E', 0, e("Pedido nº 8812 · 21:47"), lf,
		esc, 'a', 0, gs, '!', 0x01, e("Mesa 12 · Comensales: 4"), lf,
		gs, '!', 0, e("Camarero: Lucía"), lf,
		rule, lf,
		gs, '!', 0x11, e("2x Tortilla española"), lf, gs, '!', 0,
		esc, '-', 1, e("   Sin cebolla, poco hecha"), esc, '-', 0, lf,
		gs, '!', 0x11, e("1x Pulpo a la gallega"), lf,
		e("3x Croquetas jamón"), lf,
		e("1x Chuletón 1 kg"), lf, gs, '!', 0,
		gs, 'B', 1, e(" ¡PUNTO: POCO HECHO! "), gs, 'B', 0, lf,
		gs, '!', 0x11, e("1x Ensalada mixta"), lf, gs, '!', 0,
		esc, 'M', 1, e("   Aliño aparte · Alérgico a los frutos secos"), esc, 'M', 0, lf,
		rule, lf,
		esc, 'E', 1, e("¿Postres? Preguntar al terminar."), esc, 'E', 0, lf,
		esc, 'a', 2, "21:47:05", lf, esc, 'a', 0,
		esc, 'd', 3, gs, 'V', 66, 0)
}

// customerReceipt is a restaurant bill with VAT, a QR code and an EAN-13.
func customerReceipt(t testing.TB) []byte {
	cm := charmap.CodePage858
	e := func(s string) []byte { return enc(t, cm, s) }
	row := func(left, right string) []byte {
		l, r := []rune(left), []rune(right)
		pad := 48 - len(l) - len(r)
		return e(left + strings.Repeat(" ", max(pad, 1)) + right + "\n")
	}
	bits, stride := logo(160, 64)
	url := "https://example.com/t/8812"
	return bs(esc, '@', esc, 't', 19, esc, 'a', 1,
		gs, 'v', '0', 0, stride, 0, 64, 0, bits,
		esc, 'J', 12,
		gs, '!', 0x11, esc, 'E', 1, e("Casa Lucía"), lf, gs, '!', 0, esc, 'E', 0,
		e("Calle Mayor 7 · 28013 Madrid"), lf, "NIF B-12345678", lf,
		esc, 'a', 0, strings.Repeat("=", 48), lf,
		e("Factura simplificada nº 2024/08812"), lf,
		e("Mesa 12 · Camarero: Lucía · 21:52"), lf,
		strings.Repeat("-", 48), lf,
		row("2x Tortilla española", "17,00 €"),
		row("1x Pulpo a la gallega", "22,50 €"),
		row("3x Croquetas de jamón", "13,50 €"),
		row("1x Chuletón de buey (1 kg)", "48,00 €"),
		row("1x Ensalada mixta", "9,00 €"),
		row("4x Agua mineral 50 cl", "8,00 €"),
		row("1x Vino tinto Ribera (botella)", "24,00 €"),
		row("2x Café solo", "3,00 €"),
		strings.Repeat("-", 48), lf,
		row("Base imponible", "131,82 €"),
		row("IVA 10 %", "13,18 €"),
		gs, '!', 0x11, esc, 'E', 1, e("TOTAL"), esc, '$', 0, 1, e("145,00 €"), lf, gs, '!', 0, esc, 'E', 0,
		row("Tarjeta ****4821", "145,00 €"),
		lf, esc, 'a', 1, e("Consulte su factura:"), lf,
		qrBytes(url, 6, 49), lf,
		gs, 'h', 70, gs, 'w', 2, gs, 'H', 2, gs, 'f', 0, gs, 'k', 67, 13, "4006381333931", lf,
		esc, 'E', 1, e("¡Gracias por su visita!"), esc, 'E', 0, lf,
		esc, 'd', 2, gs, 'V', 65, 0)
}

func TestKitchenTicket(t *testing.T) {
	res := render(t, kitchenTicket(t), "")
	golden(t, "kitchen", res.Image)
	want := []string{
		"COCINA", "Pedido nº 8812 · 21:47", "Mesa 12 · Comensales: 4", "Camarero: Lucía",
		strings.Repeat("-", 48),
		"2x Tortilla española", "   Sin cebolla, poco hecha", "1x Pulpo a la gallega", "3x Croquetas jamón",
		"1x Chuletón 1 kg", " ¡PUNTO: POCO HECHO!", "1x Ensalada mixta",
		"   Aliño aparte · Alérgico a los frutos secos",
		strings.Repeat("-", 48), "¿Postres? Preguntar al terminar.", "21:47:05",
	}
	if len(res.Tickets) != 1 {
		t.Fatalf("%d tickets, want 1", len(res.Tickets))
	}
	tk := res.Tickets[0]
	if !slices.Equal(tk.Lines, want) {
		t.Errorf("transcript:\n%s\nwant:\n%s", tk.Text(), strings.Join(want, "\n"))
	}
	if tk.Cut != "partial" || len(tk.Warnings) > 0 {
		t.Errorf("cut %q, warnings %q", tk.Cut, tk.Warnings)
	}
	if mm := tk.LengthMM(); mm < 60 || mm > 150 {
		t.Errorf("paper length %.1f mm, want a kitchen ticket's 60–150 mm", mm)
	}
}

func TestCustomerReceipt(t *testing.T) {
	res := render(t, customerReceipt(t), "")
	golden(t, "receipt", res.Image)
	if len(res.Tickets) != 1 || res.Tickets[0].Cut != "full" {
		t.Fatalf("tickets %d", len(res.Tickets))
	}
	tk := res.Tickets[0]
	text := tk.Text()
	for _, s := range []string{
		"[IMAGE 160x64]", "Casa Lucía", "Calle Mayor 7 · 28013 Madrid",
		"2x Tortilla española                     17,00 €",
		"1x Chuletón de buey (1 kg)               48,00 €",
		"IVA 10 %                                 13,18 €",
		"TOTAL", "145,00 €", "Consulte su factura:",
		"[QR: https://example.com/t/8812]", "[EAN13: 4006381333931]", "¡Gracias por su visita!",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("transcript lacks %q:\n%s", s, text)
		}
	}
	if len(tk.Warnings) > 0 {
		t.Errorf("warnings %q", tk.Warnings)
	}
	// Both symbols decode with an independent decoder. Decode each from
	// the band of the receipt it occupies, as a scanner would aim at it.
	qrTop, eanTop := findRows(t, res, "QR"), findRows(t, res, "EAN13")
	qr := res.Image.SubImage(image.Rect(0, qrTop-20, 576, qrTop+250)).(*image.Paletted)
	if got, err := zxDecode(t, "qr", qr); err != nil || got != "https://example.com/t/8812" {
		t.Errorf("QR decodes as %q, %v", got, err)
	}
	ean := res.Image.SubImage(image.Rect(0, eanTop, 576, eanTop+100)).(*image.Paletted)
	if got, err := zxDecode(t, "ean13", ean); err != nil || got != "4006381333931" {
		t.Errorf("EAN-13 decodes as %q, %v", got, err)
	}
	// The whole receipt decodes too (a phone camera sees it all).
	if got, err := zxDecode(t, "qr", res.Image); err != nil || got != "https://example.com/t/8812" {
		t.Errorf("QR in the whole receipt decodes as %q, %v", got, err)
	}
}

// findRows renders the receipt again with the symbol replaced by nothing to
// find where it starts: the first row where the images differ.
func findRows(t *testing.T, res *Result, which string) int {
	t.Helper()
	var data []byte
	full := customerReceipt(t)
	switch which {
	case "QR":
		qr := qrBytes("https://example.com/t/8812", 6, 49)
		i := strings.Index(string(full), string(qr))
		data = append(append([]byte{}, full[:i]...), full[i+len(qr):]...)
	case "EAN13":
		k := bs(gs, 'k', 67, 13, "4006381333931")
		i := strings.Index(string(full), string(k))
		data = append(append([]byte{}, full[:i]...), full[i+len(k):]...)
	}
	other := render(t, data, "")
	w := res.Image.Stride
	for y := 0; y*w < len(other.Image.Pix) && y*w < len(res.Image.Pix); y++ {
		if !slices.Equal(other.Image.Pix[y*w:(y+1)*w], res.Image.Pix[y*w:(y+1)*w]) {
			return y
		}
	}
	t.Fatalf("%s: no difference found", which)
	return 0
}

// TestTicketSplit checks tickets split at cuts, and the whole-roll text.
func TestTicketSplit(t *testing.T) {
	data := bs(kitchenTicket(t), "Second", lf, gs, 'V', 0, "Third, no cut", lf)
	res := render(t, data, "")
	if len(res.Tickets) != 3 {
		t.Fatalf("%d tickets, want 3", len(res.Tickets))
	}
	cuts := []string{res.Tickets[0].Cut, res.Tickets[1].Cut, res.Tickets[2].Cut}
	if !slices.Equal(cuts, []string{"partial", "full", ""}) {
		t.Errorf("cuts %q", cuts)
	}
	text := res.Text()
	if !strings.Contains(text, "21:47:05\n--- partial cut ---\nSecond\n--- full cut ---\nThird, no cut\n") {
		t.Errorf("roll text:\n%s", text)
	}
}
