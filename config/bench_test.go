package config_test

import (
	"testing"

	"github.com/comandera/comandera/config"
)

// BenchmarkParseDefault parses the embedded default printers.hcl.
func BenchmarkParseDefault(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, diags := config.Default(); diags.HasErrors() {
			b.Fatal(config.Format(diags))
		}
	}
}
