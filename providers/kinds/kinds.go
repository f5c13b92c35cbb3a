// Package kinds is the table of the kinds of directory dirgate can be
// configured with. Each kind is one line: its name in the configuration,
// its ProviderKind value in the schema, its configuration (decoded
// strictly from the provider's keys, with its own defaults and checks),
// its constructor, and its demo. Adding a directory is a new package
// under providers/, one line here, one ProviderKind value, and the docs.
package kinds

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/dirgate/dirgate/providers/concur"
	"github.com/dirgate/dirgate/providers/concur/identity"
	"github.com/dirgate/dirgate/providers/driver"
	"github.com/dirgate/dirgate/providers/file"
	"github.com/dirgate/dirgate/providers/getbill"
	"github.com/dirgate/dirgate/providers/scim"
	"github.com/dirgate/dirgate/providers/vendorhttp"
)

// Config is a kind's configuration: a struct with yaml tags, decoded
// strictly from the provider's own keys.
type Config interface {
	// Check applies the defaults and checks the configuration; its errors
	// name the yaml key and never quote a value.
	Check() error
}

// Demo starts a kind's part of the no-configuration demo: it serves users
// (for company) on loopback, or writes them where the kind reads them, and
// returns the configuration of a provider over them.
type Demo func(env DemoEnv, users []driver.User, company *driver.Company) (Config, error)

// DemoEnv is what the demo offers a kind.
type DemoEnv interface {
	// Serve serves h on a loopback address until the demo ends, and
	// returns its base URL.
	Serve(h http.Handler) (string, error)
	// Dir is a directory removed when the demo ends.
	Dir() string
}

// Kind is one kind of directory.
type Kind struct {
	// Name is the kind's value of providers[].kind.
	Name string
	// GraphQL is the kind's value of the schema's ProviderKind.
	GraphQL string
	// Whole is true for a kind whose directory is read whole and cached,
	// to which cacheTTL and maxStale apply.
	Whole bool
	// NewConfig returns a configuration to decode the provider's keys
	// into.
	NewConfig func() Config
	// Open builds the adapter from its checked configuration.
	Open func(cfg Config, env vendorhttp.Env) (driver.Provider, error)
	// Demo is the kind's part of the demo.
	Demo Demo
}

// table is every kind, by name, made once: Lookup runs for every
// provider { kind } a response holds.
var table = []Kind{
	kind("concur", "CONCUR", false, concur.Open, served(concur.Demo)),
	kind("concur-identity", "CONCUR_IDENTITY", false, identity.Open, served(identity.Demo)),
	kind("file", "FILE", true, file.Open, written(file.Demo)),
	kind("getbill", "GETBILL", true, getbill.Open, served(getbill.Demo)),
	kind("scim", "SCIM", false, scim.Open, served(scim.Demo)),
}

// All returns every kind, by name.
func All() []Kind { return slices.Clone(table) }

// Lookup returns the kind with the name.
func Lookup(name string) (Kind, bool) {
	for _, k := range table {
		if k.Name == name {
			return k, true
		}
	}
	return Kind{}, false
}

// Names lists the kinds' names, for error messages.
func Names() string {
	var names []string
	for _, k := range All() {
		names = append(names, k.Name)
	}
	return strings.Join(names, ", ")
}

// kind makes a table line from a kind package's typed functions.
func kind[C any, PC interface {
	*C
	Config
}](name, gql string, whole bool, open func(*C, vendorhttp.Env) (driver.Provider, error), demo func(DemoEnv, []driver.User, *driver.Company) (PC, error)) Kind {
	return Kind{
		Name: name, GraphQL: gql, Whole: whole,
		NewConfig: func() Config { return PC(new(C)) },
		Open: func(cfg Config, env vendorhttp.Env) (driver.Provider, error) {
			c, ok := cfg.(PC)
			if !ok {
				return nil, fmt.Errorf("kind %s: a configuration of type %T", name, cfg)
			}
			return open(c, env)
		},
		Demo: func(env DemoEnv, users []driver.User, company *driver.Company) (Config, error) {
			return demo(env, users, company)
		},
	}
}

// served adapts the demo of a kind that emulates an HTTP API.
func served[C any](demo func(base string, users []driver.User, company *driver.Company) (C, http.Handler)) func(DemoEnv, []driver.User, *driver.Company) (C, error) {
	return func(env DemoEnv, users []driver.User, company *driver.Company) (C, error) {
		var zero C
		var h atomic.Pointer[http.Handler] // set once the base URL is known
		base, err := env.Serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if p := h.Load(); p != nil {
				(*p).ServeHTTP(w, r)
				return
			}
			http.Error(w, "starting", http.StatusServiceUnavailable)
		}))
		if err != nil {
			return zero, err
		}
		cfg, handler := demo(base, users, company)
		h.Store(&handler)
		return cfg, nil
	}
}

// written adapts the demo of a kind that reads a file.
func written[C any](demo func(dir string, users []driver.User, company *driver.Company) (C, error)) func(DemoEnv, []driver.User, *driver.Company) (C, error) {
	return func(env DemoEnv, users []driver.User, company *driver.Company) (C, error) {
		return demo(env.Dir(), users, company)
	}
}
