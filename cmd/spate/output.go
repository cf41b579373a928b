package main

import (
	"encoding/json"
	"errors"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// jsonFlag is on every admin command: the result as one JSON document on
// stdout, for scripts, instead of the table or lines people read.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print the result as one JSON document (for scripts)"}
}

// output is where an admin command writes its result: text, or with
// --json a JSON document. Errors still go to stderr and set the exit
// status; with --json the document also carries them, per item.
type output struct {
	io.Writer
	json bool
}

// stdout is the command's output on os.Stdout, as --json asks.
func stdout(c *cli.Context) output { return output{Writer: os.Stdout, json: c.Bool("json")} }

// print writes v as JSON under --json, else calls text.
func (o output) print(v any, text func(w io.Writer) error) error {
	if o.json {
		return json.NewEncoder(o.Writer).Encode(v)
	}
	return text(o.Writer)
}

// itemResult is the JSON of one item (topic, group) of a command that acts
// on several: its name, and the error that item failed with, if any.
type itemResult struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
}

// printResults prints one line per item that succeeded ("<done> NAME"), or
// under --json every item with its error, and returns the errors joined.
func (o output) printResults(done string, results []itemResult, errs []error) error {
	err := o.print(results, func(w io.Writer) error {
		for _, r := range results {
			if r.Error == "" {
				if _, err := io.WriteString(w, done+" "+r.Name+"\n"); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}
