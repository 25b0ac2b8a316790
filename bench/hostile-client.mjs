// The hostile-CEL attacker, run as its own process so that its work (building and sending ~1 MB
// bodies) never shares an event loop with whoever measures /healthz: `npm run bench` (hostile-cel
// phase) and test/integration/cel-isolation.test.ts both spawn it.
//
//   node bench/hostile-client.mjs <vault url> <api key> <concurrency> <list length> <seconds>
//
// Each of <concurrency> loops posts /request-clearance for `send_email` with a <list length> address
// list, the shape of issue 11 item 5, until <seconds> have passed. It prints "started" once the first
// request is out, and at the end one JSON line: answers by HTTP status and by reason_code, the
// request ids of a few answers, and client-side latencies.
const [url, apiKey, concurrencyArg, lengthArg, secondsArg] = process.argv.slice(2);
if (!url || !apiKey) {
  process.stderr.write("usage: hostile-client.mjs <url> <api key> <concurrency> <list length> <seconds>\n");
  process.exit(2);
}
const concurrency = Number(concurrencyArg ?? 10);
const length = Number(lengthArg ?? 45_000);
const deadline = Date.now() + Number(secondsArg ?? 10) * 1000;

// Short addresses, so that 45,000 of them fit the default 1 MiB body limit, as in the report.
// The one outside address is last, so the condition reads the whole list before it matches.
const to = Array.from({ length: Math.max(0, length - 1) }, (_, i) => `u${i}@example.com`);
to.push("mallory@evil.test");
const body = JSON.stringify({ tool_name: "send_email", tool_args: { to, subject: "hi" }, context: { policy_id: "hostile-cel" } });

const byStatus = {};
const byReason = {};
const requestIds = [];
const latencies = [];
let started = false;

async function loop() {
  while (Date.now() < deadline) {
    const t0 = performance.now();
    let key = "error";
    try {
      const res = await fetch(`${url}/request-clearance`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-vault-api-key": apiKey },
        body,
      });
      const text = await res.text();
      key = String(res.status);
      let parsed;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = {};
      }
      const reason = parsed.reason_code ?? parsed.code ?? "none";
      byReason[`${parsed.status ?? res.status}/${reason}`] = (byReason[`${parsed.status ?? res.status}/${reason}`] ?? 0) + 1;
      if (parsed.request_id && requestIds.length < 20) requestIds.push(parsed.request_id);
    } catch {
      // Counted as "error": a refused or reset connection is a result too.
    }
    latencies.push(performance.now() - t0);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
    if (!started) {
      started = true;
      process.stdout.write("started\n");
    }
  }
}

const firstOut = setTimeout(() => {
  // The first answer may take a while; the sender is busy from the first request on.
  if (!started) {
    started = true;
    process.stdout.write("started\n");
  }
}, 50);
await Promise.all(Array.from({ length: concurrency }, () => loop()));
clearTimeout(firstOut);
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.ceil((p / 100) * latencies.length) - 1)] ?? 0;
process.stdout.write(
  `${JSON.stringify({ sent: latencies.length, byStatus, byReason, requestIds, p50Ms: +at(50).toFixed(1), p99Ms: +at(99).toFixed(1), bodyBytes: body.length })}\n`,
);
