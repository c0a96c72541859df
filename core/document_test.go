package core

import (
	"encoding/json"
	"strings"
	"testing"
)

const designDoc = `[
  {"text": "COCINA", "align": "center", "bold": true, "width": 2, "height": 2},
  {"text": "Mesa 12 · Camarero: Lucía"},
  {"line": "-"},
  {"columns": ["2x Tortilla española", "17,00 €"]},
  {"text": "Sin cebolla", "underline": true, "invert": false, "font": "b"},
  {"qr": "https://example.com/t/8812", "size": 6, "level": "m"},
  {"barcode": "4006381333931", "type": "ean13", "hri": true},
  {"image": "iVBORw0KGgo="},
  {"feed": 2},
  {"cut": "partial"},
  {"drawer": 1},
  {"beep": 2}
]`

func TestDocumentJSONRoundTrip(t *testing.T) {
	var d Document
	if err := json.Unmarshal([]byte(designDoc), &d); err != nil {
		t.Fatal(err)
	}
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	if len(d) != 12 || d[0].Kind != KindText || d[0].Width != 2 || !d[0].Bold || d[0].Align != "center" {
		t.Fatalf("decoded %+v", d[0])
	}
	if d[6].Symbology != "ean13" || !d[6].HRI || d[9].Cut != "partial" || d[10].N != 1 || d[11].N != 2 {
		t.Fatalf("decoded %+v %+v %+v", d[6], d[9], d[10])
	}
	out, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var d2 Document
	if err := json.Unmarshal(out, &d2); err != nil {
		t.Fatal(err)
	}
	again, _ := json.Marshal(d2)
	if string(again) != string(out) {
		t.Fatalf("round trip changed the document:\n%s\n%s", out, again)
	}
}

func TestBlockErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[{"bold": true}]`, `block has no kind`},
		{`[{"text": "a", "qr": "b"}]`, `two kinds, "qr" and "text"`},
		{`[{"text": "a", "colour": "red"}]`, `unknown option "colour"`},
		{`[{"feed": 2, "bold": true}]`, `"feed" block takes no options`},
		{`[{"text": 5}]`, `"text"`},
		{`["text"]`, `must be a JSON object`},
		{`[{"text": "a", "width": "2"}]`, `"text" block`},
	} {
		var d Document
		err := json.Unmarshal([]byte(tc.in), &d)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[]`, `empty`},
		{`[{"text": "a", "width": 9}]`, `document[0]: width 9: want 1 to 8`},
		{`[{"text": "a"}, {"cut": "half"}]`, `document[1]: cut "half"`},
		{`[{"barcode": "123"}]`, `needs a type`},
		{`[{"barcode": "123", "type": "pdf417"}]`, `type "pdf417"`},
		{`[{"columns": ["a"]}]`, `want 2`},
		{`[{"drawer": 3}]`, `pin 1 or 2`},
		{`[{"qr": ""}]`, `qr data is empty`},
		{`[{"text": "a", "align": "middle"}]`, `align "middle"`},
		{`[{"feed": -1}]`, `feed -1`},
		{`[{"beep": 0}]`, `beep 0`},
	} {
		var d Document
		if err := json.Unmarshal([]byte(tc.in), &d); err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		err := d.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDocumentJSON(f *testing.F) {
	f.Add([]byte(designDoc))
	f.Add([]byte(`[{"text":"x","width":8}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Document
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if d.Validate() != nil {
			return
		}
		out, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("valid document does not marshal: %v", err)
		}
		var d2 Document
		if err := json.Unmarshal(out, &d2); err != nil {
			t.Fatalf("marshalled document does not unmarshal: %v\n%s", err, out)
		}
	})
}
