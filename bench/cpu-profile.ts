import { readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

/** The parts of V8's .cpuprofile (what `node --cpu-prof` writes) that a self-time summary needs. */
interface CpuProfile {
  nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
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

/** file:line (1-based) of a call frame, relative to `root`, mapped to TypeScript where a map exists. */
function location(root: string, url: string, line: number, column: number): string {
  if (!url) return "";
  if (!url.startsWith("file://")) return `${url}:${line + 1}`;
  const file = fileURLToPath(url);
  const entry = sourceMapFor(file)?.findEntry(line, column) as { originalSource?: string; originalLine?: number } | undefined;
  if (entry?.originalSource !== undefined && entry.originalLine !== undefined) {
    const source = entry.originalSource.startsWith("file://") ? fileURLToPath(entry.originalSource) : path.resolve(path.dirname(file), entry.originalSource);
    return `${shortPath(root, source)}:${entry.originalLine + 1}`;
  }
  return `${shortPath(root, file)}:${line + 1}`;
}

/** Paths inside the vault's tree relative to it; packages from node_modules/ on, wherever it lives. */
function shortPath(root: string, file: string): string {
  const modules = file.lastIndexOf("/node_modules/");
  if (modules >= 0) return file.slice(modules + 1);
  const rel = path.relative(root, file);
  return rel.startsWith("..") ? file : rel;
}

// V8's own buckets: they have no caller worth naming.
const V8_BUCKETS = new Set(["(garbage collector)", "(program)", "(idle)", "(root)"]);

/** The area a location belongs to: src/<folder>, a node_modules package, node internals, or V8's own bucket. */
function area(where: string, functionName: string): string {
  if (!where) return functionName; // (garbage collector), (program), native code
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(where);
  if (pkg) return pkg[1]!;
  if (where.startsWith("node:")) return "node internals";
  const src = /^(src\/[^/:]+)/.exec(where);
  return src ? src[1]! : where.split(":")[0]!;
}

/**
 * A frame's label. Native frames (writev, postMessage, ...) have no file, so they are named with their
 * nearest JavaScript caller: "writev" alone does not say whether the pg socket or the HTTP answer writes.
 */
function labeller(profile: CpuProfile, root: string): (id: number) => { key: string; area: string } {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const cache = new Map<number, { key: string; area: string }>();
  const where = (frame: CallFrame) => location(root, frame.url, frame.lineNumber, frame.columnNumber);
  return (id) => {
    let label = cache.get(id);
    if (label) return label;
    const frame = byId.get(id)!.callFrame;
    const name = frame.functionName || "(anonymous)";
    const here = where(frame);
    if (here || V8_BUCKETS.has(frame.functionName)) {
      label = { key: `${name}${here ? ` ${here}` : ""}`, area: area(here, frame.functionName) };
    } else {
      // The nearest caller in a file (the vault or a package), past node's own stream and socket layers.
      const callers: CallFrame[] = [];
      for (let up = parent.get(id); up !== undefined; up = parent.get(up)) callers.push(byId.get(up)!.callFrame);
      const caller = callers.find((c) => c.url.startsWith("file://")) ?? callers.find((c) => c.url);
      const via = caller ? where(caller) : "";
      label = { key: `${name} (native${caller ? `, from ${caller.functionName || "(anonymous)"} ${via}` : ""})`, area: via ? area(via, "") : `${name} (native)` };
    }
    cache.set(id, label);
    return label;
  };
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
export function summariseProfile(file: string, root: string, windowUs: { from: number; to: number }, n = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const label = labeller(profile, root);
  const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === "(idle)").map((node) => node.id));
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
    const id = profile.samples[i]!;
    if (idle.has(id)) {
      idleMs += ms;
      continue;
    }
    busyMs += ms;
    const { key, area: group } = label(id);
    frames.set(key, (frames.get(key) ?? 0) + ms);
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
    `profile   ${label}: ${shortPath(repoRoot, file)}`,
    `          ${s.windowed ? "the measured" : "WHOLE PROFILE (the measured window did not match its clock):"} ${s.windowSeconds.toFixed(1)} s, ` +
      `main thread busy ${(s.busyShare * 100).toFixed(0)}%; top self time (share of busy time):`,
    ...s.top.map((f, i) => `          ${String(i + 1).padStart(2)}. ${(f.share * 100).toFixed(1).padStart(5)}%  ${f.ms.toFixed(0).padStart(6)} ms  ${f.frame}`),
    `          by area: ${s.areas.map((a) => `${a.frame} ${(a.share * 100).toFixed(0)}%`).join(", ")}`,
  ];
}
