//go:build tools

// Blank import so `go mod tidy` keeps the CLI's requirements (the main package is built, not imported).
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
