package app

import (
	"net/http"
	"net/http/pprof"
)

// DebugHandler serves the Go runtime's profiles (net/http/pprof) under
// /debug/pprof/. It is served only on its own listener (DANBAO_DEBUG_ADDR,
// off by default), never by Handler: profiles reveal the program's
// internals and a CPU profile costs a core for its duration.
func DebugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
