// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

package system

import (
	"fmt"
	"runtime"
	"text/tabwriter"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/berth-project/berth/internal/cli/formatter"
	"github.com/spf13/cobra"

	"github.com/berth-project/berth/internal/version"
)

// Version is the CLI's version: berth's.
var Version = version.Version

// ClientVersion is the client half of "version".
type ClientVersion struct {
	Version           string
	APIVersion        string `json:"ApiVersion"`
	DefaultAPIVersion string `json:"DefaultAPIVersion,omitempty"`
	GoVersion         string
	Os                string
	Arch              string
	Context           string
}

// ServerVersion is the server half of "version".
type ServerVersion struct {
	client.ServerVersionResult
	KernelVersion string `json:",omitempty"`
}

// VersionInfo is what "version --format" templates see.
type VersionInfo struct {
	Client ClientVersion
	Server *client.ServerVersionResult
}

const versionTemplate = `Client:
 Version:	{{.Client.Version}}
 API version:	{{.Client.APIVersion}}{{if ne .Client.APIVersion .Client.DefaultAPIVersion}} (downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 Go version:	{{.Client.GoVersion}}
 OS/Arch:	{{.Client.Os}}/{{.Client.Arch}}
 Context:	{{.Client.Context}}
{{- if .Server}}{{with .Server}}

Server:{{if .Platform.Name}} {{.Platform.Name}}{{end}}
{{- range $c := .Components}}
 {{$c.Name}}:
  {{- if eq $c.Name "Engine"}}
  Version:	{{.Version}}
  API version:	{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:	{{index .Details "GoVersion"}}
  Git commit:	{{index .Details "GitCommit"}}
  Built:	{{index .Details "BuildTime"}}
  OS/Arch:	{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:	{{index .Details "Experimental"}}
  {{- else}}
  Version:	{{$c.Version}}
  {{- range $k, $v := $c.Details}}
  {{$k}}:	{{$v}}
  {{- end}}
  {{- end}}
{{- end}}
{{- end}}{{end}}
`

// NewVersionCommand returns "version".
func NewVersionCommand(cli *command.Cli) *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "version [OPTIONS]",
		Short: "Show the Docker version information",
		Args:  command.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			tmplText := format
			if format == formatter.JSONFormatKey {
				tmplText = formatter.JSONFormat
			}
			if tmplText == "" {
				tmplText = versionTemplate
			}
			tmpl, err := formatter.ParseTemplate(tmplText)
			if err != nil {
				return fmt.Errorf("template parsing error: %w", err)
			}
			v := VersionInfo{Client: ClientVersion{
				Version: Version, APIVersion: client.MaxAPIVersion, DefaultAPIVersion: client.MaxAPIVersion,
				GoVersion: runtime.Version(), Os: runtime.GOOS, Arch: runtime.GOARCH, Context: "default",
			}}
			var serverErr error
			cl, err := cli.Client()
			if err == nil {
				var sv client.ServerVersionResult
				sv, serverErr = cl.ServerVersion(cmd.Context(), client.ServerVersionOptions{})
				if serverErr == nil {
					v.Server = &sv
				}
				v.Client.APIVersion = cl.ClientVersion()
			} else {
				serverErr = err
			}
			tw := tabwriter.NewWriter(cli.Out(), 20, 1, 1, ' ', 0)
			if err := tmpl.Execute(tw, v); err != nil {
				return fmt.Errorf("template parsing error: %w", err)
			}
			if format != "" {
				fmt.Fprintln(tw)
			}
			tw.Flush()
			return serverErr
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "Format output using a custom template")
	return cmd
}
