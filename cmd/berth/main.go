// Command berth is the whole of berth in one binary. The first thing main
// does is pick a mode from the program name or the first argument, before
// any flag or configuration is read:
//
//	berth runtime ...   the runc-compatible OCI runtime (also as "berth-runc")
//	berth init          a container's first process (started by the runtime)
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/cli"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/berth-project/berth/internal/runtimecmd"
)

func main() {
	name := filepath.Base(os.Args[0])
	if strings.HasSuffix(name, "-runc") || name == "runc" {
		os.Exit(runtimecmd.Main(os.Args[1:]))
	}
	if len(os.Args) < 2 {
		usage()
		os.Exit(1)
	}
	switch os.Args[1] {
	case "init":
		runtime.InitMain()
	case "runtime":
		os.Exit(runtimecmd.Main(os.Args[2:]))
	case "monitor":
		os.Exit(monitor.Main(os.Args[2:]))
	case "version", "--version", "-v":
		fmt.Println("berth version " + runtimecmd.Version)
	case "help", "--help", "-h":
		usage()
	default:
		os.Exit(cli.Main(os.Args[1:]))
	}
}

func usage() {
	fmt.Fprint(os.Stderr, `Usage: berth COMMAND

Commands:
  runtime   the OCI runtime (runc-compatible; also invoked as berth-runc)
  version   show the berth version
`)
}
