/** What every phase reports, so the vault figures and the raw baseline are computed the same way. */
export interface PhaseStats {
  /** Successful operations (approved decisions, burned tokens, committed inserts). */
  ok: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Connection errors and timeouts. */
  errors: number;
  /** Completed answers that were not the expected success (non-2xx, or 2xx with the wrong body). */
  unexpected: number;
  statusCodes: Record<string, number>;
  /** The first unexpected answer, so a failing run says why. */
  sample?: string;
  /** Kept so runs of the same phase can be merged; left out of the JSON summary. */
  latencies?: LatencyRecorder;
}

/** Nearest-rank percentile of latencies (ms) sorted ascending. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? NaN;
}

/** Collects per-operation latencies without boxing 100k numbers into an array of objects. */
export class LatencyRecorder {
  private buf = new Float64Array(1 << 16);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.buf.length) {
      const bigger = new Float64Array(this.buf.length * 2);
      bigger.set(this.buf);
      this.buf = bigger;
    }
    this.buf[this.n++] = ms;
  }

  addAll(other: LatencyRecorder): void {
    for (let i = 0; i < other.n; i++) this.add(other.buf[i]!);
  }

  summary(): { p50Ms: number; p99Ms: number } {
    const sorted = this.buf.slice(0, this.n).sort();
    return { p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99) };
  }
}

export function failed(s: PhaseStats): boolean {
  return s.errors > 0 || s.unexpected > 0 || s.ok === 0;
}

/** One figure from several runs of the same phase: total work over total time, percentiles over all samples. */
export function merge(parts: PhaseStats[]): PhaseStats {
  const all = new LatencyRecorder();
  for (const p of parts) if (p.latencies) all.addAll(p.latencies);
  const ok = parts.reduce((a, p) => a + p.ok, 0);
  const seconds = parts.reduce((a, p) => a + p.seconds, 0);
  return {
    ok,
    seconds,
    perSecond: ok / seconds,
    ...all.summary(),
    errors: parts.reduce((a, p) => a + p.errors, 0),
    unexpected: parts.reduce((a, p) => a + p.unexpected, 0),
    statusCodes: {},
    sample: parts.find((p) => p.sample)?.sample,
    latencies: all,
  };
}

/** One report line: rate, p50, p99 and count, aligned with the other phases. */
export function row(label: string, s: PhaseStats, extra = ""): string {
  const ms = (v: number) => `${v.toFixed(1).padStart(5)} ms`;
  return `${label} ${".".repeat(Math.max(2, 46 - label.length))} ${Math.round(s.perSecond).toString().padStart(6)}/s  p50 ${ms(s.p50Ms)}  p99 ${ms(s.p99Ms)}  n=${s.ok}${extra}`;
}

/** The JSON form of a phase: rounded, without the raw latency samples. */
export function figures(s: PhaseStats) {
  const { latencies: _, ...rest } = s;
  return { ...rest, perSecond: Math.round(s.perSecond), seconds: +s.seconds.toFixed(2), p50Ms: +s.p50Ms.toFixed(2), p99Ms: +s.p99Ms.toFixed(2) };
}
