import type { RequestHandler } from "express";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

/** The route label of an answer given before any route was reached: a refusal by middleware, or no such route. */
export const UNROUTED = "unmatched";

/**
 * Request durations and errors by route and status, for Prometheus. Express's requests are timed by a middleware
 * listening for each answer's end; the fast scan path, which writes its answers itself, counts them with `answered`
 * into the same series, with no listener per request.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"],
    buckets: DURATION_BUCKETS,
    registers: [registry],
  });
  const errors = new Counter({
    name: "http_errors_total",
    help: "HTTP answers with status >= 400 by route and status",
    labelNames: ["method", "route", "status"],
    registers: [registry],
  });
  const middleware: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on("finish", () => {
      const labels = { method: req.method, route: (req.route as { path?: string } | undefined)?.path ?? UNROUTED, status: String(res.statusCode) };
      end(labels);
      if (res.statusCode >= 400) errors.inc(labels);
    });
    next();
  };
  // The labelled series of one route, kept per status: a lookup by status instead of hashing labels per answer.
  const routeSeries = (method: string, route: string) => {
    const byStatus = new Map<number, { duration: ReturnType<typeof duration.labels>; errors?: ReturnType<typeof errors.labels> }>();
    return (status: number, seconds: number) => {
      let series = byStatus.get(status);
      if (!series) {
        const labels = { method, route, status: String(status) };
        byStatus.set(status, (series = { duration: duration.labels(labels), errors: status >= 400 ? errors.labels(labels) : undefined }));
      }
      series.duration.observe(seconds);
      series.errors?.inc();
    };
  };
  return { registry, middleware, routeSeries };
}

export type Metrics = ReturnType<typeof createMetrics>;
