//go:build tools

// Blank import so `go mod tidy` keeps etcd's requirements (the main package is built, not imported).
package tools

import _ "go.etcd.io/etcd/server/v3"
