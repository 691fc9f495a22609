// A lookup through Go's own stub resolver (PreferGo, built with CGO_ENABLED=0), as a Go
// service in a distroless image resolves: A and AAAA. The modes of gai.c:
//
//	gai-go NAME                             one lookup, one line per address
//	gai-go --loop INTERVAL_MS COUNT SECONDS NAME...
//	                                        COUNT lookups, none started after SECONDS,
//	                                        a line each: "ok|nxdomain|fail MS NAME"
//	                                        (nxdomain: the name does not exist)
//	gai-go --wait                           block until SIGTERM
//
// Exit 0 with addresses (or a finished loop), 2 when the name does not resolve, 64 on bad
// usage. The loop is bounded by COUNT (at most 100000) and SECONDS (at most 3600).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

var resolver = &net.Resolver{PreferGo: true}

func loop(interval, count, seconds int, names []string) int {
	if interval < 0 || count < 1 || count > 100000 || seconds < 1 || seconds > 3600 || len(names) == 0 {
		return 64
	}
	next := time.Now()
	end := next.Add(time.Duration(seconds) * time.Second)
	for i := 0; i < count && time.Now().Before(end); i++ {
		name := names[i%len(names)]
		start := time.Now()
		_, err := resolver.LookupHost(context.Background(), name)
		status := "ok"
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			status = "nxdomain"
		} else if err != nil {
			status = "fail"
		}
		fmt.Printf("%s %.1f %s\n", status, float64(time.Since(start).Microseconds())/1e3, name)
		next = next.Add(time.Duration(interval) * time.Millisecond)
		if wait := time.Until(next); wait > 0 {
			time.Sleep(wait)
		} else {
			next = time.Now()
		}
	}
	return 0
}

func main() {
	args := os.Args[1:]
	switch {
	case len(args) == 1 && args[0] == "--wait":
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM, syscall.SIGINT)
		<-c
		return
	case len(args) >= 5 && args[0] == "--loop":
		interval, err1 := strconv.Atoi(args[1])
		count, err2 := strconv.Atoi(args[2])
		seconds, err3 := strconv.Atoi(args[3])
		if err1 != nil || err2 != nil || err3 != nil {
			os.Exit(64)
		}
		os.Exit(loop(interval, count, seconds, args[4:]))
	case len(args) != 1 || args[0] == "" || args[0][0] == '-':
		fmt.Fprintln(os.Stderr, "usage: gai-go NAME | gai-go --loop INTERVAL_MS COUNT SECONDS NAME... | gai-go --wait")
		os.Exit(64)
	}
	addrs, err := resolver.LookupHost(context.Background(), args[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, a := range addrs {
		fmt.Println(a)
	}
}
