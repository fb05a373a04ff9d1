//go:build tools

// Blank import so `go mod tidy` keeps kwok's requirements (the main package is built, not imported).
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
