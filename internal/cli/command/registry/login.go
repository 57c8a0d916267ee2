// SPDX-License-Identifier: Apache-2.0
// Copyright The berth authors

// Package registry holds "login" and "logout". Credentials are stored in
// config.json (DOCKER_CONFIG or ~/.docker) in docker's format.
package registry

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/berth-project/berth/internal/cli/client"
	"github.com/berth-project/berth/internal/cli/command"
	"github.com/moby/term"
	"github.com/spf13/cobra"
)

// LoginOptions are the flags of "login".
type LoginOptions struct {
	Server, User, Password string
	PasswordStdin          bool
}

func serverKey(s string) string {
	if s == "" || command.ConvertToHostname(s) == "docker.io" || command.ConvertToHostname(s) == "index.docker.io" ||
		command.ConvertToHostname(s) == "registry-1.docker.io" {
		return command.IndexServer
	}
	return command.ConvertToHostname(s)
}

// NewLoginCommand returns "login".
func NewLoginCommand(cli *command.Cli) *cobra.Command {
	var opts LoginOptions
	cmd := &cobra.Command{
		Use:   "login [OPTIONS] [SERVER]",
		Short: "Authenticate to a registry",
		Args:  command.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Server = args[0]
			}
			return runLogin(cmd, cli, &opts)
		},
	}
	fs := cmd.Flags()
	fs.StringVarP(&opts.User, "username", "u", "", "Username")
	fs.StringVarP(&opts.Password, "password", "p", "", "Password or Personal Access Token (PAT)")
	fs.BoolVar(&opts.PasswordStdin, "password-stdin", false, "Take the Password or Personal Access Token (PAT) from stdin")
	return cmd
}

func runLogin(cmd *cobra.Command, cli *command.Cli, opts *LoginOptions) error {
	if opts.Password != "" {
		fmt.Fprintln(cli.Err(), "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
		if opts.PasswordStdin {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
	}
	in := bufio.NewReader(cli.In())
	if opts.PasswordStdin {
		if opts.User == "" {
			return errors.New("must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(in)
		if err != nil {
			return err
		}
		opts.Password = strings.TrimRight(string(b), "\r\n")
	}
	server := serverKey(opts.Server)
	cf, err := cli.LoadConfig()
	if err != nil {
		return err
	}
	if opts.User == "" {
		if !cli.In().IsTerminal() {
			return errors.New("cannot perform an interactive login from a non TTY device")
		}
		fmt.Fprint(cli.Out(), "Username: ")
		line, _ := in.ReadString('\n')
		opts.User = strings.TrimSpace(line)
		if opts.User == "" {
			return errors.New("Error: Non-null Username Required")
		}
	}
	if opts.Password == "" {
		if !cli.In().IsTerminal() {
			return errors.New("cannot perform an interactive login from a non TTY device")
		}
		st, err := term.SaveState(cli.In().FD())
		if err != nil {
			return err
		}
		term.DisableEcho(cli.In().FD(), st)
		fmt.Fprint(cli.Out(), "Password: ")
		line, _ := in.ReadString('\n')
		term.RestoreTerminal(cli.In().FD(), st)
		fmt.Fprintln(cli.Out())
		opts.Password = strings.TrimRight(line, "\r\n")
		if opts.Password == "" {
			return errors.New("Error: Password Required")
		}
	}
	cl, err := cli.Client()
	if err != nil {
		return err
	}
	res, err := cl.RegistryLogin(cmd.Context(), client.RegistryLoginOptions{
		Username: opts.User, Password: opts.Password, ServerAddress: server,
	})
	if err != nil {
		return err
	}
	entry := command.AuthEntry{Auth: base64.StdEncoding.EncodeToString([]byte(opts.User + ":" + opts.Password))}
	if res.Auth.IdentityToken != "" {
		entry = command.AuthEntry{Auth: base64.StdEncoding.EncodeToString([]byte(opts.User + ":")), IdentityToken: res.Auth.IdentityToken}
	}
	cf.Auths[server] = entry
	if err := cf.Save(); err != nil {
		return fmt.Errorf("error saving credentials: %w", err)
	}
	fmt.Fprintf(cli.Err(), "\nWARNING! Your credentials are stored unencrypted in '%s'.\nConfigure a credential helper to remove this warning. See\nhttps://docs.docker.com/go/credential-store/\n\n", cf.Path())
	if res.Auth.Status != "" {
		fmt.Fprintln(cli.Out(), res.Auth.Status)
	} else {
		fmt.Fprintln(cli.Out(), "Login Succeeded")
	}
	return nil
}

// NewLogoutCommand returns "logout".
func NewLogoutCommand(cli *command.Cli) *cobra.Command {
	return &cobra.Command{
		Use:   "logout [SERVER]",
		Short: "Log out from a registry",
		Args:  command.RequiresMaxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			server := ""
			if len(args) == 1 {
				server = args[0]
			}
			key := serverKey(server)
			cf, err := cli.LoadConfig()
			if err != nil {
				return err
			}
			found := ""
			for k := range cf.Auths {
				if k == key || command.ConvertToHostname(k) == command.ConvertToHostname(key) {
					found = k
				}
			}
			// Like docker 28, say so and succeed even when there was
			// nothing stored.
			fmt.Fprintf(cli.Out(), "Removing login credentials for %s\n", key)
			if found == "" {
				return nil
			}
			delete(cf.Auths, found)
			return cf.Save()
		},
	}
}
