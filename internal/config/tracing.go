package config

import "net/url"

// Tracing configures OpenTelemetry tracing (server.tracing). It is off
// unless Enabled; the standard OTEL_* environment variables fill in what
// it leaves out (OTEL_EXPORTER_OTLP_ENDPOINT, _HEADERS, _CERTIFICATE,
// OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER, ...),
// and OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it off.
type Tracing struct {
	Enabled bool `yaml:"enabled"`
	// Protocol is the OTLP transport: "http/protobuf" or "grpc". Empty:
	// $OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, $OTEL_EXPORTER_OTLP_PROTOCOL,
	// else http/protobuf.
	Protocol string `yaml:"protocol"`
	// Endpoint is the collector's URL, such as http://otel-collector:4318
	// (the exporter adds /v1/traces) or http://otel-collector:4317 for
	// grpc. Empty: the OTEL_EXPORTER_OTLP_* variables, else localhost.
	Endpoint string `yaml:"endpoint"`
	// SampleRatio is the share of new traces recorded, from 0 to 1, below
	// a caller's decision (a sampled traceparent is always recorded).
	// Nil: $OTEL_TRACES_SAMPLER, else every trace.
	SampleRatio *float64 `yaml:"sampleRatio"`
}

// OTLP protocols.
const (
	ProtocolHTTP = "http/protobuf"
	ProtocolGRPC = "grpc"
)

func (t *Tracing) check(bad func(path, format string, args ...any)) {
	switch t.Protocol {
	case "", ProtocolHTTP, ProtocolGRPC:
	default:
		bad("server.tracing.protocol", "must be http/protobuf or grpc")
	}
	if t.Endpoint != "" {
		if u, err := url.Parse(t.Endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("server.tracing.endpoint", "must be an http or https URL, such as http://otel-collector:4318")
		}
	}
	if r := t.SampleRatio; r != nil && (*r < 0 || *r > 1) {
		bad("server.tracing.sampleRatio", "must be between 0 and 1")
	}
}
