package config

import (
	"os"
	"regexp"
	"testing"

	"github.com/comandera/comandera/core"
	"github.com/hashicorp/hcl/v2/gohcl"
)

// TestExampleDocumentsEveryOption checks that the repo-root printers.hcl
// mentions every attribute and block of the schema (set or commented out),
// so a new option cannot be added without documenting it there.
func TestExampleDocumentsEveryOption(t *testing.T) {
	src, err := os.ReadFile("../printers.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for block, body := range map[string]any{
		"server":    &serverBody{},
		"tls":       &connectorTLSBody{}, // a superset of the server's tls
		"printer":   &printerBody{},
		"plugin":    &pluginBody{},
		"connector": &mqttBody{},
		"profile":   &core.Profile{},
	} {
		if !documentedBlock(src, block) {
			t.Errorf("printers.hcl does not show a %s block", block)
		}
		schema, _ := gohcl.ImpliedBodySchema(body)
		for _, a := range schema.Attributes {
			if !documentedAttr(src, a.Name) {
				t.Errorf("printers.hcl does not document %s's %q", block, a.Name)
			}
		}
		for _, b := range schema.Blocks {
			if !documentedBlock(src, b.Type) {
				t.Errorf("printers.hcl does not show %s's %s block", block, b.Type)
			}
		}
	}
	// The schema of serverTLSBody must stay a subset of what is checked.
	srv, _ := gohcl.ImpliedBodySchema(&serverTLSBody{})
	for _, a := range srv.Attributes {
		if !documentedAttr(src, a.Name) {
			t.Errorf("printers.hcl does not document the server tls %q", a.Name)
		}
	}
	for _, d := range []string{"usblp", "libusb", "serial", "net", "sim"} {
		if !documentedBlock(src, d) {
			t.Errorf("printers.hcl has no example of a %s driver block", d)
		}
	}
	for _, f := range []string{`env("`, `file("`, `trimspace(`} {
		if !regexp.MustCompile(regexp.QuoteMeta(f)).Match(src) {
			t.Errorf("printers.hcl does not mention the function %s…)", f)
		}
	}
}

// documentedAttr reports whether src has a line setting name, commented out
// or not.
func documentedAttr(src []byte, name string) bool {
	return regexp.MustCompile(`(?m)^\s*(#\s*)?` + regexp.QuoteMeta(name) + `\s*=`).Match(src)
}

// documentedBlock reports whether src opens a block of that type, commented
// out or not.
func documentedBlock(src []byte, typ string) bool {
	return regexp.MustCompile(`(?m)^\s*(#\s*)?` + regexp.QuoteMeta(typ) + `(\s+"[^"]*")*\s*\{`).Match(src)
}

func TestDocumentedMatchers(t *testing.T) {
	src := []byte("server {\n  # listen = 1\n  tls {\n}\n# printer \"x\" {\n")
	for _, c := range []struct {
		ok   bool
		what string
	}{
		{documentedAttr(src, "listen"), "listen"},
		{!documentedAttr(src, "token"), "no token"},
		{documentedBlock(src, "tls"), "tls"},
		{documentedBlock(src, "printer"), "printer"},
		{!documentedBlock(src, "plugin"), "no plugin"},
	} {
		if !c.ok {
			t.Errorf("matcher wrong for %s", c.what)
		}
	}
}
