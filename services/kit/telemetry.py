"""OpenTelemetry tracing: an OTLP exporter when `OTEL_EXPORTER_OTLP_ENDPOINT` is set."""

from __future__ import annotations

import os

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_PROPAGATOR = TraceContextTextMapPropagator()


class QueryRedactor(SpanProcessor):
    """Keeps query-string values out of spans: the names stay, every value becomes `REDACTED`.

    Query strings carry personal data (the lookup's last four digits, an officer's search for
    a name or an ID number), and spans leave the process for the trace collector."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        query = (span.attributes or {}).get("url.query")
        if isinstance(query, str) and query:
            # the names as sent (still percent-encoded); every value, empty or not, replaced
            span.set_attribute("url.query", "&".join(f"{part.partition('=')[0]}=REDACTED" for part in query.split("&")))


def setup_tracing(service: str) -> TracerProvider:
    """Install a tracer provider for this process (idempotent)."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current
    provider = TracerProvider(resource=Resource.create({"service.name": f"motcua-{service}"}))
    provider.add_span_processor(QueryRedactor())  # first: before any exporter sees the span
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def current_trace_carrier() -> dict[str, str]:
    """The W3C `traceparent` (and `tracestate`) of the current span, to store or send."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def attach_carrier(carrier: dict[str, str]) -> object:
    """Make a stored trace context current; returns a token for `detach`."""
    return otel_context.attach(_PROPAGATOR.extract(carrier))


def detach(token: object) -> None:
    otel_context.detach(token)  # type: ignore[arg-type]


def trace_id_from_traceparent(traceparent: str | None) -> str | None:
    if not traceparent:
        return None
    parts = traceparent.split("-")
    return parts[1] if len(parts) == 4 else None
