// Package pluginpb holds the protocol buffer messages and gRPC service of the
// quirks plugin contract, generated from quirks.proto. Plugin authors in Go
// use package plugins instead; this package is for the adapters and for
// plugins written in other languages (which compile quirks.proto themselves).
package pluginpb

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative quirks.proto
