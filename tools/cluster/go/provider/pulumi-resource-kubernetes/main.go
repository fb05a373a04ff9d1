// The provider's own command, rebuilt here because upstream's main package embeds two files that
// its `go generate` writes and the module does not ship. `python -m tools.cluster build` writes
// them beside this file (schema-embed.json from the module's schema.json with the version set,
// terraform-mapping-embed.json compacted); both are build outputs, ignored by git.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
