# Comandera: build, test and release.
#
#   make build     this machine's comandera and plugins in dist/
#   make test      the test command of the README: go test ./...
#   make release   static linux/arm64 and linux/amd64 binaries, tarballs with
#                  the installer, .deb packages and SHA256SUMS in dist/
#   make clean     remove dist/
#
# Binaries are pure Go (CGO_ENABLED=0): the libusb driver, which needs cgo,
# is not in them. VERSION defaults to `git describe`; override it with
# `make release VERSION=v1.2.3`.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DELETE_ON_ERROR:

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
ifeq ($(strip $(VERSION)),)
VERSION := dev
endif
ARCHES  ?= arm64 amd64
DIST    ?= dist
MODULE  := github.com/comandera/comandera
LDFLAGS := -s -w -X $(MODULE)/core.version=$(VERSION)
# nfpm builds the .deb; run at a pinned version, not a go.mod dependency.
NFPM    ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

# The quirks plugins shipped with the server: those of plugins/star and
# plugins/clone that are main packages when the build runs.
PLUGINS = $(shell for p in star clone; do \
	  [ "$$($(GO) list -f '{{.Name}}' ./plugins/$$p 2>/dev/null)" = main ] && echo $$p; done; true)

# A Debian version must start with a digit: v1.2.3 -> 1.2.3,
# v1.2.3-4-gabcdef-dirty -> 1.2.3+4.gabcdef.dirty (after 1.2.3), and an
# untagged abcdef[-dirty] or dev -> 0.0.0~abcdef[.dirty] (before any release).
DEB_VERSION = $(shell v='$(VERSION)'; v=$${v#v}; \
	case "$$v" in ([0-9]*) printf '%s\n' "$$v" | sed 's/-/+/; s/-/./g';; \
	(*) printf '0.0.0~%s\n' "$$v" | sed 's/-/./g';; esac)

BUILD = CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
DEPLOY_FILES = deploy/install.sh deploy/comandera.service deploy/99-comandera.rules deploy/printers.hcl

.PHONY: all build test release clean $(ARCHES:%=release-%)

all: build

build:
	@mkdir -p $(DIST)/plugins
	$(BUILD) -o $(DIST)/comandera ./cmd/comandera
	@for p in $(PLUGINS); do \
	  echo "build $(DIST)/plugins/comandera-$$p"; \
	  $(BUILD) -o $(DIST)/plugins/comandera-$$p ./plugins/$$p; \
	done

test:
	$(GO) test ./...

# One architecture: dist/comandera_VERSION_linux_ARCH/ (binary, plugins/,
# installer and its files), its .tar.gz, and comandera_DEBVERSION_ARCH.deb.
$(ARCHES:%=release-%): release-%:
	@stage=$(DIST)/comandera_$(VERSION)_linux_$*; \
	rm -rf "$$stage"; mkdir -p "$$stage/plugins"; \
	echo "build $$stage/comandera (linux/$*, CGO_ENABLED=0, -trimpath, -ldflags \"$(LDFLAGS)\")"; \
	GOOS=linux GOARCH=$* $(BUILD) -o "$$stage/comandera" ./cmd/comandera; \
	for p in $(PLUGINS); do \
	  echo "build $$stage/plugins/comandera-$$p"; \
	  GOOS=linux GOARCH=$* $(BUILD) -o "$$stage/plugins/comandera-$$p" ./plugins/$$p; \
	done; \
	install -m 0755 deploy/install.sh "$$stage/"; \
	install -m 0644 deploy/comandera.service deploy/99-comandera.rules deploy/printers.hcl "$$stage/"; \
	tar -C $(DIST) --owner=0 --group=0 --numeric-owner --sort=name \
	  -czf "$$stage.tar.gz" "$$(basename "$$stage")"; \
	echo "nfpm pkg -> $(DIST)/comandera_$(DEB_VERSION)_$*.deb"; \
	GOOS= GOARCH= VERSION='$(DEB_VERSION)' ARCH=$* STAGE="$$stage" \
	  $(NFPM) pkg --config deploy/nfpm.yaml --packager deb \
	  --target "$(DIST)/comandera_$(DEB_VERSION)_$*.deb"

# SHA256SUMS: this version's tarballs, packages and binaries.
release: $(ARCHES:%=release-%)
	cd $(DIST) && { ls -d comandera_$(VERSION)_linux_*.tar.gz comandera_$(DEB_VERSION)_*.deb \
	    comandera_$(VERSION)_linux_*/comandera comandera_$(VERSION)_linux_*/plugins/* 2>/dev/null || true; } | \
	  LC_ALL=C sort | xargs sha256sum > SHA256SUMS
	@echo "release $(VERSION) in $(DIST)/:"; cd $(DIST) && cat SHA256SUMS

clean:
	rm -rf $(DIST)
