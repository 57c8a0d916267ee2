// Command berth is the whole of berth in one binary. The first thing main
// does is pick a mode from the program name or the first argument, before
// any flag or configuration is read:
//
//	berth runtime ...   the runc-compatible OCI runtime (also as "berth-runc")
//	berth init          a container's first process (started by the runtime)
//	berth daemon        the daemon serving the Docker Engine API
//	berth monitor       the monitor holding containers' stdio (started by the daemon)
//	berth …             anything else: the docker-compatible CLI
//	docker-init         the minimal init of `run --init` (berth bind-mounted
//	                    into the container under that name)
//
//go:debug containermaxprocs=0
//go:debug updatemaxprocs=0
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/berth-project/berth/internal/cli"
	"github.com/berth-project/berth/internal/daemon"
	"github.com/berth-project/berth/internal/initproc"
	"github.com/berth-project/berth/internal/monitor"
	"github.com/berth-project/berth/internal/runtime"
	_ "github.com/berth-project/berth/internal/runtime/nsenter"
	"github.com/berth-project/berth/internal/runtimecmd"
)

func main() {
	name := filepath.Base(os.Args[0])
	if strings.HasSuffix(name, "-runc") || name == "runc" {
		os.Exit(runtimeMain(os.Args[1:]))
	}
	if name == "docker-init" {
		os.Exit(initproc.Main(os.Args[1:]))
	}
	if len(os.Args) < 2 {
		os.Exit(cli.Main(nil))
	}
	switch os.Args[1] {
	case "init":
		runtime.InitMain()
	case "daemon":
		os.Exit(daemon.Main(os.Args[2:]))
	case "runtime":
		os.Exit(runtimeMain(os.Args[2:]))
	case "monitor":
		os.Exit(monitor.Main(os.Args[2:]))
	default:
		os.Exit(cli.Main(os.Args[1:]))
	}
}

// runtimeMain is the runtime's command line in berth itself. Normally the
// C constructor in internal/runtime/nsenter has already executed the
// small runtime binary instead, from the file the runtime writes to
// /run/berth; when the file was not there yet, this writes it for the
// next command.
func runtimeMain(args []string) int {
	runtime.WriteInitBinary()
	return runtimecmd.Main(args)
}
