package config

import (
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
)

// Kubernetes gives every container the "service links" of each Service in its namespace (unless the pod
// sets enableServiceLinks: false), named after the Service: for "authbridge", or "authbridge-redis",
// they start with AUTHBRIDGE_ like our own keys. The kubelet (pkg/kubelet/envvars) writes, per Service
// <S> with cluster IP <ip> and ports <n>/<proto> (proto TCP, UDP or SCTP; first port first):
//
//	<S>_SERVICE_HOST=<ip>              <S>_PORT=<proto>://<ip>:<first n>
//	<S>_SERVICE_PORT=<first n>         <S>_PORT_<n>_<PROTO>=<proto>://<ip>:<n>
//	<S>_SERVICE_PORT_<NAME>=<n>        <S>_PORT_<n>_<PROTO>_PROTO=<proto>
//	                                   <S>_PORT_<n>_<PROTO>_PORT=<n>
//	                                   <S>_PORT_<n>_<PROTO>_ADDR=<ip>
//
// <S> and <NAME> are the names upper-cased with "-" turned into "_". A variable is a service link only
// if both its name and its value have one of these shapes, so that AUTHBRIDGE_PORT=8080 (someone
// guessing at a listen key) is still refused as an unknown key.
var (
	linkServiceHost = regexp.MustCompile(`^AUTHBRIDGE(?:_[A-Z0-9_]+)?_SERVICE_HOST$`)
	linkServicePort = regexp.MustCompile(`^AUTHBRIDGE(?:_[A-Z0-9_]+)?_SERVICE_PORT(?:_[A-Z0-9_]+)?$`)
	linkPort        = regexp.MustCompile(`^AUTHBRIDGE(?:_[A-Z0-9_]+)?_PORT$`)
	linkPortProto   = regexp.MustCompile(`^AUTHBRIDGE(?:_[A-Z0-9_]+)?_PORT_([0-9]+)_(TCP|UDP|SCTP)(?:_(PROTO|PORT|ADDR))?$`)
)

// isServiceLink reports whether the environment variable name=value is one that Kubernetes injects for
// a Service whose name is authbridge or starts with authbridge-.
func isServiceLink(name, value string) bool {
	if m := linkPortProto.FindStringSubmatch(name); m != nil {
		n, proto := m[1], strings.ToLower(m[2])
		if !isPort(n) {
			return false
		}
		switch m[3] {
		case "":
			u, ok := linkURL(value)
			return ok && u.proto == proto && u.port == n
		case "PROTO":
			return value == proto
		case "PORT":
			return value == n
		case "ADDR":
			return isIP(value)
		}
		return false
	}
	switch {
	case linkServiceHost.MatchString(name):
		return isIP(value)
	case linkServicePort.MatchString(name) && isPort(value):
		return true
	case linkPort.MatchString(name):
		_, ok := linkURL(value)
		return ok
	}
	return false
}

// isPort reports whether s is a port number exactly as strconv.Itoa writes it.
func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n <= 65535 && strconv.Itoa(n) == s
}

func isIP(s string) bool {
	_, err := netip.ParseAddr(s)
	return err == nil && !strings.Contains(s, "%") // a zone never appears in a cluster IP
}

type link struct{ proto, port string }

// linkURL parses <proto>://<ip>:<port> as written by net.JoinHostPort (IPv6 in brackets).
func linkURL(s string) (link, bool) {
	proto, hostPort, ok := strings.Cut(s, "://")
	if !ok || (proto != "tcp" && proto != "udp" && proto != "sctp") {
		return link{}, false
	}
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil || !isIP(host) || !isPort(port) || net.JoinHostPort(host, port) != hostPort {
		return link{}, false
	}
	return link{proto: proto, port: port}, true
}
