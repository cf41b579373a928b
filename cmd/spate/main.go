// Command spate is Spate's single binary: the broker, the everyday CLI
// (topics, produce, consume) and the load generator.
//
// Each subcommand lives in its own file: flags, then a config, then one
// call into a package.
package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// version is stamped by the linker (-X main.version=...) in release builds.
var version = "dev"

func main() {
	app := &cli.App{
		Name:    "spate",
		Usage:   "a distributed commit log, built for speed",
		Version: version,
		Commands: []*cli.Command{
			brokerCommand(),
			clusterCommand(),
			topicCommand(),
			produceCommand(),
			consumeCommand(),
			groupCommand(),
			benchCommand(),
		},
		EnableBashCompletion: true,
	}
	if err := app.Run(os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "spate:", err)
		os.Exit(1)
	}
}
