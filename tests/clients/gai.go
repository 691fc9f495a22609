// A lookup through Go's own stub resolver (PreferGo, built with CGO_ENABLED=0), as a Go
// service in a distroless image resolves: A and AAAA, one line per address.
// Exit 0 with addresses, 2 when the name does not resolve, 64 on bad usage.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gai-go NAME")
		os.Exit(64)
	}
	r := &net.Resolver{PreferGo: true}
	addrs, err := r.LookupHost(context.Background(), os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
}
