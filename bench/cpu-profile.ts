import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** The parts of V8's .cpuprofile (what `node --cpu-prof` writes) that a self-time summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface SelfTime {
  /** `function file:line`, the file mapped back to src/*.ts through dist/'s source maps. */
  frame: string;
  ms: number;
  /** Share of the busy (non-idle) samples in the window. */
  share: number;
}

export interface ProfileSummary {
  /** The measured window, in profile time; the whole profile when `windowUs` did not overlap it. */
  windowSeconds: number;
  windowed: boolean;
  busyShare: number;
  top: SelfTime[];
  /** Self time grouped by src/ folder, node_modules package or node internals. */
  areas: SelfTime[];
}

const sourceMaps = new Map<string, SourceMap | null>();

function sourceMapFor(file: string): SourceMap | null {
  if (!sourceMaps.has(file)) {
    let map: SourceMap | null = null;
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, "utf8")));
    } catch {
      // No map (node_modules, node internals): the JavaScript position is the one to show.
    }
    sourceMaps.set(file, map);
  }
  return sourceMaps.get(file) ?? null;
}

/** file:line (1-based) of a call frame, relative to the repo, mapped to TypeScript where a map exists. */
function location(url: string, line: number, column: number): string {
  if (!url) return "";
  if (!url.startsWith("file://")) return `${url}:${line + 1}`;
  const file = fileURLToPath(url);
  const entry = sourceMapFor(file)?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
    const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
    return `${path.relative(repoRoot, source)}:${entry.originalLine + 1}`;
  }
  return `${path.relative(repoRoot, file)}:${line + 1}`;
}

/** The area a location belongs to: src/<folder>, a node_modules package, node internals, or V8's own bucket. */
function area(where: string, functionName: string): string {
  if (!where) return functionName; // (garbage collector), (program), native code
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1]!;
  if (where.startsWith("node:")) return "node internals";
  const src = /^(src\/[^/:]+)/.exec(where);
  return src ? src[1]! : where.split(":")[0]!;
}

function ranked(totals: Map<string, number>, busyMs: number, n: number): SelfTime[] {
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([frame, ms]) => ({ frame, ms, share: busyMs > 0 ? ms / busyMs : 0 }));
}

/**
 * Self time per function over the samples taken inside `windowUs` (microseconds of the monotonic
 * clock, which V8's profile timestamps and process.hrtime share on Linux), so the vault's start-up
 * and warm-up do not count. Each sample is charged the time until the next one, as DevTools does.
 */
export function summariseProfile(file: string, windowUs: { from: number; to: number }, n = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node.callFrame]));
  const windowed = windowUs.from < profile.endTime && windowUs.to > profile.startTime;
  const from = windowed ? windowUs.from : profile.startTime;
  const to = windowed ? windowUs.to : profile.endTime;
  const frames = new Map<string, number>();
  const areas = new Map<string, number>();
  let busyMs = 0;
  let idleMs = 0;
  let t = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const frame = byId.get(profile.samples[i]!);
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const where = location(frame.url, frame.lineNumber, frame.columnNumber);
    const key = `${frame.functionName || "(anonymous)"}${where ? ` ${where}` : ""}`;
    frames.set(key, (frames.get(key) ?? 0) + ms);
    const group = area(where, frame.functionName);
    areas.set(group, (areas.get(group) ?? 0) + ms);
  }
  return {
    windowSeconds: (to - from) / 1e6,
    windowed,
    busyShare: busyMs + idleMs > 0 ? busyMs / (busyMs + idleMs) : 0,
    top: ranked(frames, busyMs, n),
    areas: ranked(areas, busyMs, 8),
  };
}

/** The summary as report lines. */
export function profileRows(label: string, file: string, s: ProfileSummary): string[] {
  return [
    `profile   ${label}: ${path.relative(repoRoot, file)}`,
    `          ${s.windowed ? "the measured" : "WHOLE PROFILE (the measured window did not match its clock):"} ${s.windowSeconds.toFixed(1)} s, ` +
      `main thread busy ${(s.busyShare * 100).toFixed(0)}%; top self time (share of busy time):`,
    ...s.top.map((f, i) => `          ${String(i + 1).padStart(2)}. ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.frame}`),
    `          by area: ${s.areas.map((a) => `${a.frame} ${(a.share * 100).toFixed(0)}%`).join(", ")}`,
  ];
}
